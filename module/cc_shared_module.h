/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parts of the out-of-tree module that the in-tree heap does not have.
 *
 *   cc_shared_misc.c           the heap as a misc device (< 6.18)
 *   cc_shared_dma_inplace.c    device mappings without DMA_ATTR_CC_SHARED
 *   cc_shared_memcg.c          pool accounting without exported charging
 *   cc_shared_fault_knobs.c    fault injection without fault_attr (tests)
 *   cc_shared_test_importer.c  a dma-buf importer for tests without vgem
 *   cc_shared_ns.c             symbol namespaces the module imports
 */
#ifndef _CC_SHARED_MODULE_H
#define _CC_SHARED_MODULE_H

/* ccsh_importer_init() and _exit() are declared in cc_shared_heap.h */

#endif /* _CC_SHARED_MODULE_H */
