// SPDX-License-Identifier: GPL-2.0
/*
 * DMA mapping benchmark for the system_cc_shared heap (debug builds).
 *
 * Reading /sys/kernel/debug/cc_shared_heap/dma_bench maps and unmaps, for
 * a test device, 64 MiB of the heap's pages (with DMA_ATTR_CC_SHARED, as
 * the heap's attachments do) and 64 MiB of private pages allocated like
 * the system heap's (1 MiB chunks, no attribute), in segments of swiotlb's
 * largest mapping, both directions, several rounds. Under swiotlb=force
 * the private pages are bounced and the shared ones are not (unless the
 * DMA core bounces shared memory where bouncing is forced, as mainline's
 * does); the file reports both times, their ratio and whether any segment
 * of each was bounced.
 *
 * The bench is part of the heap, the exporter: it takes the shared pages
 * as a buffer gets them (ccsh_pages_alloc()), from the table the heap
 * keeps for itself. It never reads the pages of a table mapped for an
 * importer: those page links are not the importer's to follow, and
 * CONFIG_DMABUF_DEBUG scrambles them while the importer holds the table.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/swiotlb.h>

#include "cc_shared_heap.h"

#define BENCH_BYTES	SZ_64M
#define BENCH_SEGMENT	SZ_256K		/* swiotlb's largest mapping */
#define BENCH_ROUNDS	4

struct bench_run {
	u64 ns;
	bool bounced;
	int err;
};

/*
 * Map and unmap every segment of @sgt, a table of pages the bench owns,
 * once per round. Whether a segment was bounced is read from its DMA
 * address: the bench's device is a root device on dma-direct (no IOMMU,
 * no DMA ops, no offset map), for which dma_to_phys() undoes the DMA
 * address dma-direct gave, encryption bit included, so a bounced segment
 * translates to a slot of a swiotlb pool.
 */
static void bench_map_loop(struct device *dev, struct sg_table *sgt,
			   unsigned long attrs, struct bench_run *run)
{
	struct scatterlist *sg;
	unsigned int i, round, off, seg;
	ktime_t start = ktime_get();

	for (round = 0; round < BENCH_ROUNDS && !run->err; round++) {
		for_each_sgtable_sg(sgt, sg, i) {
			for (off = 0; off < sg->length; off += seg) {
				dma_addr_t addr;

				seg = min_t(unsigned int, BENCH_SEGMENT,
					    sg->length - off);
				addr = dma_map_page_attrs(dev, sg_page(sg), off,
							  seg, DMA_BIDIRECTIONAL,
							  attrs);
				if (dma_mapping_error(dev, addr)) {
					run->err = -EIO;
					return;
				}
				run->bounced |= !!swiotlb_find_pool(dev,
						dma_to_phys(dev, addr));
				dma_unmap_page_attrs(dev, addr, seg,
						     DMA_BIDIRECTIONAL, attrs);
			}
			cond_resched();
		}
	}
	run->ns = ktime_to_ns(ktime_sub(ktime_get(), start));
}

static void bench_free_private(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i)
		if (sg_page(sg))
			__free_pages(sg_page(sg), get_order(sg->length));
	sg_free_table(sgt);
}

/* Private pages in 1 MiB chunks, as the system heap takes them. */
static int bench_alloc_private(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	if (sg_alloc_table(sgt, BENCH_BYTES / SZ_1M, GFP_KERNEL))
		return -ENOMEM;
	for_each_sgtable_sg(sgt, sg, i) {
		struct page *page = alloc_pages(GFP_KERNEL | __GFP_NOWARN,
						get_order(SZ_1M));

		if (!page) {
			bench_free_private(sgt);
			return -ENOMEM;
		}
		sg_set_page(sg, page, SZ_1M, 0);
	}
	return 0;
}

/* The heap's own pages, shared and zeroed as for a buffer, mapped in place. */
static void bench_shared(struct device *dev, struct bench_run *run)
{
	struct ccsh_pages pages = {};

	run->err = ccsh_pages_alloc(&pages, BENCH_BYTES);
	if (run->err)
		return;
	bench_map_loop(dev, &pages.sgt, DMA_ATTR_CC_SHARED, run);
	ccsh_pages_release(&pages);
}

static int bench_show(struct seq_file *m, void *unused)
{
	struct bench_run shared = {}, private = {};
	struct sg_table sgt;
	struct device *dev;
	bool forced;

	dev = root_device_register("cc_shared_dma_bench");
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	forced = is_swiotlb_force_bounce(dev);

	bench_shared(dev, &shared);
	private.err = bench_alloc_private(&sgt);
	if (!private.err) {
		bench_map_loop(dev, &sgt, 0, &private);
		bench_free_private(&sgt);
	}
	root_device_unregister(dev);

	seq_printf(m, "bytes %u\nsegment_bytes %u\nrounds %u\n",
		   BENCH_BYTES, BENCH_SEGMENT, BENCH_ROUNDS);
	seq_printf(m, "swiotlb_forced %d\n", forced);
	seq_printf(m, "cc_shared_err %d\ncc_shared_bounced %d\ncc_shared_ns %llu\n",
		   shared.err, shared.bounced, shared.ns);
	seq_printf(m, "private_err %d\nprivate_bounced %d\nprivate_ns %llu\n",
		   private.err, private.bounced, private.ns);
	if (!shared.err && !private.err && shared.ns)
		seq_printf(m, "private_over_cc_shared_x100 %llu\n",
			   div64_u64(private.ns * 100, shared.ns));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bench);

static int __init ccsh_dma_bench_init(void)
{
	struct dentry *dir = debugfs_lookup("cc_shared_heap", NULL);

	if (IS_ERR_OR_NULL(dir))
		return 0;	/* heap not registered */
	debugfs_create_file("dma_bench", 0400, dir, NULL, &bench_fops);
	dput(dir);
	return 0;
}
late_initcall(ccsh_dma_bench_init);
