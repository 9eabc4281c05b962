// SPDX-License-Identifier: GPL-2.0
/*
 * Symbol namespaces the module imports: dma_buf_export() and friends live
 * in DMA_BUF; dma_heap_add(), where exported (6.18), in DMA_BUF_HEAP.
 * MODULE_IMPORT_NS() took a bare name before 6.13 and a string since.
 */
#include <linux/module.h>

#ifdef CCSH_NS_BARE
MODULE_IMPORT_NS(DMA_BUF);
#ifdef CCSH_HAVE_DMA_HEAP_ADD
MODULE_IMPORT_NS(DMA_BUF_HEAP);
#endif
#else
MODULE_IMPORT_NS("DMA_BUF");
#ifdef CCSH_HAVE_DMA_HEAP_ADD
MODULE_IMPORT_NS("DMA_BUF_HEAP");
#endif
#endif
