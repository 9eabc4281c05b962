/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the system_cc_shared heap needs from Linux 6.12 that later kernels
 * spell differently.
 */
#ifndef _CC_SHARED_BASE_H
#define _CC_SHARED_BASE_H

#include <linux/slab.h>

/* one zeroed object of *P's type (kzalloc_obj() in later kernels) */
#define kzalloc_obj(P)	kzalloc(sizeof(P), GFP_KERNEL)

#endif /* _CC_SHARED_BASE_H */
