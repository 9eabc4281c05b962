// SPDX-License-Identifier: GPL-2.0
/*
 * Device mappings of system_cc_shared buffers on kernels without
 * DMA_ATTR_CC_SHARED (before 7.1), for the out-of-tree module.
 *
 * The pages are already shared, so a device reaches them at their
 * unencrypted DMA address and nothing is bounced, even where swiotlb
 * bouncing is forced. The module can only compute that address the way
 * dma-direct does for a device without a DMA offset map, so it maps in
 * place only for a device that ccsh_dma_in_place_ok() accepts (dma-direct
 * without IOMMU translation, no restricted pool, every page within reach)
 * and that is cache-coherent (nothing to write back) and has no offset
 * map. Every other device gets -EINVAL, as from the in-tree heap: never a
 * bounce through private memory, never a private mapping of a shared page.
 */
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/scatterlist.h>

#include "cc_shared_heap.h"

/**
 * ccsh_dma_map() - map a buffer's pages for @dev at their shared address
 * @dev: the importing device
 * @sgt: the attachment's table; its DMA addresses are filled in
 * @dir: transfer direction (nothing depends on it: nothing is bounced)
 *
 * Return: 0, or -EINVAL for a device that cannot be given shared memory
 * in place (see above).
 */
int ccsh_dma_map(struct device *dev, struct sg_table *sgt,
		 enum dma_data_direction dir)
{
	struct scatterlist *sg;
	unsigned int i;

	if (dev->dma_range_map || !dev_is_dma_coherent(dev) ||
	    !ccsh_dma_in_place_ok(dev, sgt, true))
		return -EINVAL;
	for_each_sgtable_sg(sgt, sg, i) {
		sg_dma_address(sg) = phys_to_dma_unencrypted(dev, sg_phys(sg));
		sg_dma_len(sg) = sg->length;
	}
	sgt->nents = sgt->orig_nents;
	return 0;
}

/**
 * ccsh_dma_unmap() - undo ccsh_dma_map()
 * @dev: the importing device
 * @sgt: the table ccsh_dma_map() filled in
 * @dir: transfer direction
 *
 * Nothing was bounced or translated, so nothing is to be undone.
 */
void ccsh_dma_unmap(struct device *dev, struct sg_table *sgt,
		    enum dma_data_direction dir)
{
}

/**
 * ccsh_dma_sync() - make a mapped buffer coherent for the CPU or a device
 * @dev: the importing device
 * @sgt: the mapped table
 * @dir: transfer direction
 * @for_cpu: towards the CPU rather than the device
 *
 * Only cache-coherent devices are mapped and nothing is bounced: there is
 * nothing to copy or write back.
 */
void ccsh_dma_sync(struct device *dev, struct sg_table *sgt,
		   enum dma_data_direction dir, bool for_cpu)
{
}
