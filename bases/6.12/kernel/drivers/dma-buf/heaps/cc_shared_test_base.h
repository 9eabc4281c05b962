/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the system_cc_shared tests expect of the DMA core of this base:
 * Linux 6.12 with this series, whose DMA_ATTR_CC_SHARED maps shared memory
 * in place even where swiotlb bouncing is forced, and makes other DMA ops
 * refuse it.
 */
#ifndef _CC_SHARED_TEST_BASE_H
#define _CC_SHARED_TEST_BASE_H

#define CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED	0

#endif /* _CC_SHARED_TEST_BASE_H */
