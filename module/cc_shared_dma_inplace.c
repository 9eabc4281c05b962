// SPDX-License-Identifier: GPL-2.0
/*
 * Device mappings of system_cc_shared buffers on kernels without
 * DMA_ATTR_CC_SHARED (before 7.1), for the out-of-tree module.
 *
 * The pages are already shared, so a device reaches them at their
 * unencrypted DMA address and nothing is bounced, even where swiotlb
 * bouncing is forced. The module can only compute that address the way
 * dma-direct does for a device without a DMA offset map, so it maps in
 * place only for such a device: on dma-direct (no DMA ops, so no IOMMU
 * translation the module cannot program), not confined to a restricted
 * DMA pool, cache-coherent (nothing to write back), and able to reach
 * every page within its DMA mask. Every other device gets -EOPNOTSUPP,
 * and an address beyond the mask -EIO: never a bounce through private
 * memory, never a private mapping of a shared page.
 */
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/scatterlist.h>
#include <linux/swiotlb.h>

#include "cc_shared_heap.h"

static bool ccsh_dma_device_ok(struct device *dev)
{
	if (get_dma_ops(dev) || dev->dma_range_map || !dev_is_dma_coherent(dev))
		return false;
#ifdef CONFIG_SWIOTLB
	/* a restricted-dma-pool: the device may touch nothing else */
	if (dev->dma_io_tlb_mem && dev->dma_io_tlb_mem->for_alloc)
		return false;
#endif
	return true;
}

/**
 * ccsh_dma_map() - map a buffer's pages for @dev at their shared address
 * @dev: the importing device
 * @sgt: the attachment's table; its DMA addresses are filled in
 * @dir: transfer direction (nothing depends on it: nothing is bounced)
 *
 * Return: 0, -EOPNOTSUPP for a device that cannot be given shared memory
 * in place (see above), or -EIO when a page lies beyond its DMA mask.
 */
int ccsh_dma_map(struct device *dev, struct sg_table *sgt,
		 enum dma_data_direction dir)
{
	struct scatterlist *sg;
	unsigned int i;

	if (!ccsh_dma_device_ok(dev))
		return -EOPNOTSUPP;
	for_each_sgtable_sg(sgt, sg, i) {
		dma_addr_t addr = phys_to_dma_unencrypted(dev, sg_phys(sg));

		if (!dma_capable(dev, addr, sg->length, true))
			return -EIO;
		sg_dma_address(sg) = addr;
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
