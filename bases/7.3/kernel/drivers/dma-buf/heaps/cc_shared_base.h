/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the system_cc_shared heap needs from its kernel that other kernels
 * spell differently: nothing on this one.
 */
#ifndef _CC_SHARED_BASE_H
#define _CC_SHARED_BASE_H

#endif /* _CC_SHARED_BASE_H */
