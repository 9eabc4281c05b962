// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit specification of DMA_ATTR_CC_SHARED.
 *
 * Memory mapped with the attribute is mapped in place, at its unencrypted
 * DMA address, and never bounced through swiotlb. The cases run with and
 * without swiotlb=force; those that only mean something when bouncing is
 * forced skip otherwise and say so. A control case checks that the forced
 * environment really bounces memory mapped without the attribute.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include <linux/swiotlb.h>

#define CC DMA_ATTR_CC_SHARED

static struct device *cc_test_device(struct kunit *test)
{
	struct device *dev = kunit_device_register(test, "dma-cc-shared");

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)), 0);
	return dev;
}

static void cc_free_pages(void *page)
{
	__free_pages(page, compound_order(page));
}

static struct page *cc_test_pages(struct kunit *test, unsigned int order)
{
	struct page *page = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_COMP,
					order);

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, cc_free_pages,
							page), 0);
	return page;
}

static void cc_require_forced_bounce(struct kunit *test, struct device *dev)
{
	if (!is_swiotlb_force_bounce(dev))
		kunit_skip(test, "swiotlb does not force bouncing (boot with swiotlb=force)");
}

/*
 * With no encryption bit in DMA addresses and no forced bouncing, a plain
 * mapping also sits at the unencrypted address and is not bounced: such a
 * case could not tell a working attribute from an ignored one.
 */
static void cc_require_distinguishable(struct kunit *test, struct device *dev)
{
	if (phys_to_dma(dev, 0) == phys_to_dma_unencrypted(dev, 0) &&
	    !is_swiotlb_force_bounce(dev))
		kunit_skip(test, "plain and shared mappings look alike (needs swiotlb=force)");
}

static bool cc_is_bounced(struct device *dev, dma_addr_t addr)
{
	return swiotlb_find_pool(dev, dma_to_phys(dev, addr));
}

static void map_page_uses_the_unencrypted_address(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);
	dma_addr_t addr;

	cc_require_distinguishable(test, dev);
	addr = dma_map_page_attrs(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, CC);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, addr));
	KUNIT_EXPECT_EQ(test, addr, phys_to_dma_unencrypted(dev, page_to_phys(page)));
	KUNIT_EXPECT_FALSE(test, cc_is_bounced(dev, addr));
	dma_unmap_page_attrs(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, CC);
}

static void map_sgtable_maps_every_entry_in_place(struct kunit *test)
{
	static const unsigned int orders[] = { 9, 4, 0 };
	struct device *dev = cc_test_device(test);
	struct scatterlist *sg;
	struct sg_table sgt;
	unsigned int i;

	cc_require_distinguishable(test, dev);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(&sgt, ARRAY_SIZE(orders), GFP_KERNEL), 0);
	for_each_sgtable_sg(&sgt, sg, i) {
		struct page *page = cc_test_pages(test, orders[i]);

		sg_set_page(sg, page, page_size(page), 0);
	}
	KUNIT_ASSERT_EQ(test, dma_map_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, CC), 0);
	KUNIT_EXPECT_EQ(test, sgt.nents, sgt.orig_nents);
	for_each_sgtable_dma_sg(&sgt, sg, i) {
		KUNIT_EXPECT_EQ_MSG(test, sg_dma_address(sg),
				    phys_to_dma_unencrypted(dev, sg_phys(sg)),
				    "entry %u", i);
		KUNIT_EXPECT_EQ(test, sg_dma_len(sg), sg->length);
		KUNIT_EXPECT_FALSE(test, cc_is_bounced(dev, sg_dma_address(sg)));
	}
	dma_unmap_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, CC);
	sg_free_table(&sgt);
}

/* Control: without the attribute, forced swiotlb does bounce. */
static void private_memory_is_bounced_when_bouncing_is_forced(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);
	dma_addr_t addr;

	cc_require_forced_bounce(test, dev);
	addr = dma_map_page_attrs(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, addr));
	KUNIT_EXPECT_TRUE(test, cc_is_bounced(dev, addr));
	dma_unmap_page_attrs(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
}

static void shared_memory_is_not_bounced_when_bouncing_is_forced(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 4);
	dma_addr_t addr;

	cc_require_forced_bounce(test, dev);
	/* 64 KiB at once: also more than one swiotlb slot */
	addr = dma_map_page_attrs(dev, page, 0, page_size(page), DMA_TO_DEVICE, CC);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, addr));
	KUNIT_EXPECT_FALSE(test, cc_is_bounced(dev, addr));
	KUNIT_EXPECT_EQ(test, addr, phys_to_dma_unencrypted(dev, page_to_phys(page)));
	dma_unmap_page_attrs(dev, addr, page_size(page), DMA_TO_DEVICE, CC);
}

/*
 * A bounced mapping copies the bounce slot over the page on sync and on
 * unmap. A shared mapping must leave what the device (here: the CPU)
 * wrote into the page alone.
 */
static void sync_and_unmap_leave_device_writes_in_place(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);
	u8 *va = page_address(page);
	dma_addr_t addr;

	/* without bouncing, sync and unmap copy nothing anyway */
	cc_require_forced_bounce(test, dev);
	addr = dma_map_page_attrs(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, CC);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, addr));
	memset(va, 0xd5, PAGE_SIZE);		/* "the device writes" */
	dma_sync_single_for_cpu(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_NULL(test, memchr_inv(va, 0xd5, PAGE_SIZE));
	dma_sync_single_for_device(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL);
	memset(va, 0x3c, PAGE_SIZE);
	dma_unmap_page_attrs(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, CC);
	KUNIT_EXPECT_NULL(test, memchr_inv(va, 0x3c, PAGE_SIZE));
}

/* Mapping @page with the attribute fails: as a page, and in a table with @sg_err. */
static void cc_expect_refused(struct kunit *test, struct device *dev,
			      struct page *page, int sg_err)
{
	struct sg_table sgt;
	dma_addr_t addr;

	addr = dma_map_page_attrs(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE, CC);
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(dev, addr));

	KUNIT_ASSERT_EQ(test, sg_alloc_table(&sgt, 1, GFP_KERNEL), 0);
	sg_set_page(sgt.sgl, page, PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, dma_map_sgtable(dev, &sgt, DMA_TO_DEVICE, CC), sg_err);
	sg_free_table(&sgt);
}

static void unreachable_memory_fails_instead_of_bouncing(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);
	phys_addr_t phys = page_to_phys(page);

	if (phys < SZ_1M)
		kunit_skip(test, "page too low to put it out of reach");
	dev->bus_dma_limit = phys - 1;
	cc_expect_refused(test, dev, page, -EIO);
}

/*
 * A restricted-dma-pool confines its device to the pool: even shared
 * memory outside it must not be handed to the device.
 */
static void device_confined_to_a_restricted_pool_is_refused(struct kunit *test)
{
#ifdef CONFIG_SWIOTLB
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);
	struct io_tlb_mem *pool, *saved = dev->dma_io_tlb_mem;

	/* flagged as a restricted pool is; never used for a mapping here */
	pool = kunit_kzalloc(test, sizeof(*pool), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pool);
	pool->force_bounce = true;
	pool->for_alloc = true;
	dev->dma_io_tlb_mem = pool;
	cc_expect_refused(test, dev, page, -EIO);
	dev->dma_io_tlb_mem = saved;
#else
	kunit_skip(test, "kernel without swiotlb");
#endif
}

#ifdef CONFIG_ARCH_HAS_DMA_OPS
static unsigned int cc_fake_ops_calls;

static dma_addr_t cc_fake_map_page(struct device *dev, struct page *page,
				   unsigned long offset, size_t size,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
	cc_fake_ops_calls++;
	return page_to_phys(page) + offset;
}

static int cc_fake_map_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
	cc_fake_ops_calls++;
	return nents;
}

static const struct dma_map_ops cc_fake_ops = {
	.map_page = cc_fake_map_page,
	.map_sg = cc_fake_map_sg,
};

static void other_dma_ops_refuse_shared_memory(struct kunit *test)
{
	struct device *dev = cc_test_device(test);
	struct page *page = cc_test_pages(test, 0);

	set_dma_ops(dev, &cc_fake_ops);
	cc_fake_ops_calls = 0;
	cc_expect_refused(test, dev, page, -EINVAL);
	KUNIT_EXPECT_EQ(test, cc_fake_ops_calls, 0U);
	set_dma_ops(dev, NULL);
}
#else
static void other_dma_ops_refuse_shared_memory(struct kunit *test)
{
	kunit_skip(test, "kernel without dma_map_ops (needs ARCH_HAS_DMA_OPS)");
}
#endif

static struct kunit_case dma_cc_shared_cases[] = {
	KUNIT_CASE(map_page_uses_the_unencrypted_address),
	KUNIT_CASE(map_sgtable_maps_every_entry_in_place),
	KUNIT_CASE(private_memory_is_bounced_when_bouncing_is_forced),
	KUNIT_CASE(shared_memory_is_not_bounced_when_bouncing_is_forced),
	KUNIT_CASE(sync_and_unmap_leave_device_writes_in_place),
	KUNIT_CASE(unreachable_memory_fails_instead_of_bouncing),
	KUNIT_CASE(device_confined_to_a_restricted_pool_is_refused),
	KUNIT_CASE(other_dma_ops_refuse_shared_memory),
	{}
};

static struct kunit_suite dma_cc_shared_suite = {
	.name = "dma_cc_shared",
	.test_cases = dma_cc_shared_cases,
};

kunit_test_suite(dma_cc_shared_suite);

MODULE_DESCRIPTION("KUnit tests for DMA_ATTR_CC_SHARED");
MODULE_LICENSE("GPL");
