/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the system_cc_shared tests expect of the DMA core of this base:
 * mainline's DMA_ATTR_CC_SHARED (Linux 7.3). dma-direct maps shared memory
 * in place unless swiotlb bouncing is forced (swiotlb=force, a restricted
 * pool) or the device cannot reach it; then it bounces it, into a shared
 * pool. The heap refuses a device it would be bounced for.
 */
#ifndef _CC_SHARED_TEST_BASE_H
#define _CC_SHARED_TEST_BASE_H

#define CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED	1

#endif /* _CC_SHARED_TEST_BASE_H */
