// SPDX-License-Identifier: GPL-2.0
/*
 * Device mappings of system_cc_shared buffers: in place, or not at all.
 *
 * The pages are shared with the host already. A device must be given their
 * unencrypted DMA address and nothing else: not an IOVA through which an
 * IOMMU maps them as private memory, not a bounce slot (a silent copy
 * defeats the heap and, where bouncing is forced, can fill swiotlb for
 * everyone), not an address past what the device can reach. A device the
 * DMA core would treat in any of those ways gets -EINVAL before anything
 * is mapped, and a mapping that still comes back elsewhere is undone and
 * refused the same way. -EINVAL is the one refusal: a retry cannot help,
 * as dma_map_sgtable() documents it.
 */
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/iommu.h>
#include <linux/scatterlist.h>
#include <linux/swiotlb.h>

#include "cc_shared_heap.h"

/* translated by an IOMMU domain or by DMA ops of its own */
static bool ccsh_dma_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	if (get_dma_ops(dev))
		return true;
	return domain && domain->type != IOMMU_DOMAIN_IDENTITY;
}

/* confined to a restricted DMA pool, or bounced through swiotlb always */
static bool ccsh_dma_bounced(struct device *dev, bool forced_bounce_ok)
{
#ifdef CONFIG_SWIOTLB
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;

	if (mem && mem->for_alloc)
		return true;
	return !forced_bounce_ok && is_swiotlb_force_bounce(dev);
#else
	return false;
#endif
}

/**
 * ccsh_dma_in_place_ok() - whether @dev can take the pages of @sgt in place
 * @dev: the importing device
 * @sgt: the attachment's table, not yet mapped (its page links are valid)
 * @forced_bounce_ok: the mapping ignores swiotlb=force for shared memory
 *
 * Return: true when @dev is on dma-direct without translation, is not
 * confined to a restricted pool, is not bounced where that is forced
 * (unless @forced_bounce_ok), and reaches every page within its DMA mask
 * and bus limit.
 */
bool ccsh_dma_in_place_ok(struct device *dev, struct sg_table *sgt,
			  bool forced_bounce_ok)
{
	u64 limit = min_not_zero(dma_get_mask(dev), dev->bus_dma_limit);
	struct scatterlist *sg;
	unsigned int i;

	if (ccsh_dma_translated(dev) || ccsh_dma_bounced(dev, forced_bounce_ok))
		return false;
	for_each_sgtable_sg(sgt, sg, i) {
		dma_addr_t addr = phys_to_dma_unencrypted(dev, sg_phys(sg));

		if (addr + sg->length - 1 > limit)
			return false;
	}
	return true;
}

#ifdef DMA_ATTR_CC_SHARED
/*
 * Mainline's DMA_ATTR_CC_SHARED (the one that came with
 * __DMA_ATTR_ALLOC_CC_SHARED) still bounces shared memory where swiotlb
 * bouncing is forced for the device; the 6.12 series' never bounces it.
 */
#ifdef __DMA_ATTR_ALLOC_CC_SHARED
#define CCSH_CORE_IGNORES_FORCED_BOUNCE false
#else
#define CCSH_CORE_IGNORES_FORCED_BOUNCE true
#endif

/* every entry at its own page's unencrypted address, none merged */
static bool ccsh_dma_mapped_in_place(struct device *dev, struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	if (sgt->nents != sgt->orig_nents)
		return false;
	for_each_sgtable_sg(sgt, sg, i)
		if (sg_dma_address(sg) != phys_to_dma_unencrypted(dev, sg_phys(sg)))
			return false;
	return true;
}

/**
 * ccsh_dma_map() - map a buffer's pages for @dev in place
 * @dev: the importing device
 * @sgt: the attachment's table; its DMA addresses are filled in
 * @dir: transfer direction
 *
 * Return: 0, -EINVAL for a device that cannot take the pages in place
 * (see ccsh_dma_in_place_ok()), or -ENOMEM.
 */
int ccsh_dma_map(struct device *dev, struct sg_table *sgt,
		 enum dma_data_direction dir)
{
	int ret;

	if (!ccsh_dma_in_place_ok(dev, sgt, CCSH_CORE_IGNORES_FORCED_BOUNCE))
		return -EINVAL;
	ret = dma_map_sgtable(dev, sgt, dir, DMA_ATTR_CC_SHARED);
	if (ret)
		return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	if (!ccsh_dma_mapped_in_place(dev, sgt)) {
		/* nothing went to the device: nothing to copy back */
		dma_unmap_sgtable(dev, sgt, dir,
				  DMA_ATTR_CC_SHARED | DMA_ATTR_SKIP_CPU_SYNC);
		return -EINVAL;
	}
	return 0;
}

/**
 * ccsh_dma_unmap() - undo ccsh_dma_map()
 * @dev: the importing device
 * @sgt: the table ccsh_dma_map() mapped
 * @dir: transfer direction
 */
void ccsh_dma_unmap(struct device *dev, struct sg_table *sgt,
		    enum dma_data_direction dir)
{
	dma_unmap_sgtable(dev, sgt, dir, DMA_ATTR_CC_SHARED);
}

/**
 * ccsh_dma_sync() - make a mapped buffer coherent for the CPU or a device
 * @dev: the importing device
 * @sgt: the mapped table
 * @dir: transfer direction
 * @for_cpu: towards the CPU rather than the device
 *
 * By DMA address, entry by entry: while the importer holds the table, the
 * dma-buf core may have scrambled its page links (CONFIG_DMABUF_DEBUG does,
 * to catch importers that look at pages), so nothing here follows them.
 */
void ccsh_dma_sync(struct device *dev, struct sg_table *sgt,
		   enum dma_data_direction dir, bool for_cpu)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (for_cpu)
			dma_sync_single_for_cpu(dev, sg_dma_address(sg),
						sg_dma_len(sg), dir);
		else
			dma_sync_single_for_device(dev, sg_dma_address(sg),
						   sg_dma_len(sg), dir);
	}
}
#endif /* DMA_ATTR_CC_SHARED */
