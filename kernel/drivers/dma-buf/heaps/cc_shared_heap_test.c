// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit specification of the system_cc_shared heap, run against the
 * emulation backend (boot with cc_shared_heap.emulate=1): the pages of a
 * buffer, the dma-buf, and the emulation model itself. The fixture in
 * cc_shared_test_fixture.c checks the heap's invariants after every case.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/swiotlb.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <trace/events/dma.h>

#include "cc_shared_test.h"

/* ---------------------------------------------------------------------- */
/* Pages of a buffer                                                        */
/* ---------------------------------------------------------------------- */

static const unsigned long ccsh_sizes[] = {
	SZ_4K, 3 * SZ_4K, SZ_64K, SZ_64K + SZ_4K, SZ_1M + 3 * SZ_4K,
	SZ_2M, SZ_2M + SZ_64K + SZ_4K, 5 * SZ_2M + 7 * SZ_4K, SZ_32M,
};

static void ccsh_size_desc(const unsigned long *size, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%lu bytes", *size);
}

KUNIT_ARRAY_PARAM(ccsh_size, ccsh_sizes, ccsh_size_desc);

static unsigned long ccsh_table_bytes(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned long sum = 0;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i)
		sum += sg->length;
	return sum;
}

static void pages_cover_exactly_the_requested_length(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct ccsh_pages p;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	KUNIT_EXPECT_EQ(test, ccsh_table_bytes(&p.sgt), len);
	ccsh_pages_release(&p);
}

static void pages_are_shared_while_allocated(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct sg_page_iter it;
	unsigned long private = 0;
	struct ccsh_pages p;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	for_each_sgtable_page(&p.sgt, &it, 0)
		private += !ccsh_emu_page_shared(sg_page_iter_page(&it));
	KUNIT_EXPECT_EQ(test, private, 0UL);
	/* and nothing else is, but the unused rest of a block cut from */
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages() - ctx->base.emu_shared,
			(len + atomic64_read(&ccsh_stats.pooled_bytes)) >> PAGE_SHIFT);
	ccsh_pages_release(&p);
}

static void pages_read_zero_although_sharing_scrambles_them(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct scatterlist *sg;
	struct ccsh_pages p;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	for_each_sgtable_sg(&p.sgt, sg, i)
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(sg_virt(sg), 0, sg->length),
				      "chunk %u not zeroed after sharing", i);
	ccsh_pages_release(&p);
}

static void chunks_are_sorted_by_physical_address(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	unsigned long last = 0;
	struct scatterlist *sg;
	struct ccsh_pages p;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	for_each_sgtable_sg(&p.sgt, sg, i) {
		KUNIT_EXPECT_GE_MSG(test, page_to_pfn(sg_page(sg)), last,
				    "entry %u", i);
		last = page_to_pfn(sg_page(sg));
	}
	ccsh_pages_release(&p);
}

static void release_converts_every_run_back(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;
	struct ccsh_snap now;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	ccsh_pages_release(&p);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_GT(test, now.share_calls - ctx->base.share_calls, 0);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls,
			now.share_calls - ctx->base.share_calls);
	KUNIT_EXPECT_EQ(test, now.emu_shared, ctx->base.emu_shared);
}

/* Large chunks only, or skip: with a fragmented memory the case proves nothing. */
static void ccsh_require_large_chunks(struct kunit *test, struct ccsh_pages *p)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(&p->sgt, sg, i) {
		if (sg->length != PAGE_SIZE << CCSH_LARGE_ORDER) {
			ccsh_pages_release(p);
			kunit_skip(test, "no free large blocks (fragmented memory)");
		}
	}
}

/* A conversion never covers part of a large block when it could cover all. */
static void two_mib_multiples_convert_whole_aligned_blocks(struct kunit *test)
{
	unsigned long block = 1UL << CCSH_LARGE_ORDER, i;
	struct ccsh_emu_call c;
	struct ccsh_pages p;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, 4 * block << PAGE_SHIFT), 0);
	ccsh_require_large_chunks(test, &p);
	ccsh_pages_release(&p);
	KUNIT_EXPECT_GE(test, ccsh_emu_log_len(), 2UL);
	for (i = 0; ccsh_emu_log_entry(i, &c); i++) {
		KUNIT_EXPECT_EQ_MSG(test, c.pfn % block, 0UL,
				    "call %lu starts inside a block", i);
		KUNIT_EXPECT_EQ_MSG(test, c.nr % block, 0UL,
				    "call %lu ends inside a block", i);
	}
}

/*
 * Calls a table of large chunks needs with runs capped: one per cap's
 * worth of each physically contiguous stretch. @longest gets the longest
 * stretch, in pages.
 */
static unsigned long ccsh_capped_calls(struct sg_table *sgt,
				       unsigned long *longest)
{
	unsigned long stretch = 0, next = 0, calls = 0;
	struct scatterlist *sg;
	unsigned int i;

	*longest = 0;
	for_each_sgtable_sg(sgt, sg, i) {
		if (stretch && page_to_pfn(sg_page(sg)) != next) {
			calls += DIV_ROUND_UP(stretch, CCSH_RUN_MAX_PAGES);
			stretch = 0;
		}
		stretch += sg->length >> PAGE_SHIFT;
		next = page_to_pfn(sg_page(sg)) + (sg->length >> PAGE_SHIFT);
		*longest = max(*longest, stretch);
	}
	return calls + DIV_ROUND_UP(stretch, CCSH_RUN_MAX_PAGES);
}

static void conversions_are_capped_at_the_run_limit(struct kunit *test)
{
	unsigned long longest, want, i, share = 0, unshare = 0;
	struct ccsh_emu_call c;
	struct ccsh_pages p;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, 4 * CCSH_RUN_MAX_PAGES << PAGE_SHIFT), 0);
	ccsh_require_large_chunks(test, &p);
	want = ccsh_capped_calls(&p.sgt, &longest);
	ccsh_pages_release(&p);
	if (longest <= CCSH_RUN_MAX_PAGES)
		kunit_skip(test, "no contiguous stretch longer than a run");
	for (i = 0; ccsh_emu_log_entry(i, &c); i++) {
		KUNIT_EXPECT_LE_MSG(test, c.nr, CCSH_RUN_MAX_PAGES, "call %lu", i);
		if (c.share)
			share++;
		else
			unshare++;
	}
	KUNIT_EXPECT_EQ(test, share, want);
	KUNIT_EXPECT_EQ(test, unshare, want);
}

/*
 * Hand-built tables: single pages of one split 8-page block, so that which
 * of them are physically adjacent is known. @pick lists the pages used.
 */
static void ccsh_build_table(struct kunit *test, struct ccsh_pages *p,
			     const unsigned int *pick, unsigned int n)
{
	struct page *block = alloc_pages(GFP_KERNEL, 3);
	unsigned int i, used = 0;
	struct scatterlist *sg;

	KUNIT_ASSERT_NOT_NULL(test, block);
	split_page(block, 3);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(&p->sgt, n, GFP_KERNEL), 0);
	sg = p->sgt.sgl;
	for (i = 0; i < n; i++, sg = sg_next(sg)) {
		sg_set_page(sg, block + pick[i], PAGE_SIZE, 0);
		used |= BIT(pick[i]);
	}
	for (i = 0; i < 8; i++)
		if (!(used & BIT(i)))
			__free_page(block + i);
	p->policy = NULL;
}

static const unsigned int ccsh_apart[] = { 0, 2, 4 };

struct ccsh_layout {
	const char *what;
	unsigned int pick[3];
	s64 calls;
};

static const struct ccsh_layout ccsh_layouts[] = {
	{ "three adjacent pages", { 0, 1, 2 }, 1 },
	{ "two adjacent, one apart", { 0, 1, 3 }, 2 },
	{ "three pages apart", { 0, 2, 4 }, 3 },
};

static void ccsh_layout_desc(const struct ccsh_layout *l, char *desc)
{
	strscpy(desc, l->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ccsh_layout, ccsh_layouts, ccsh_layout_desc);

static void each_contiguous_run_is_converted_in_one_call(struct kunit *test)
{
	const struct ccsh_layout *l = test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;

	ccsh_build_table(test, &p, l->pick, ARRAY_SIZE(l->pick));
	KUNIT_ASSERT_EQ(test, ccsh_pages_share(&p), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.share_calls) -
			ctx->base.share_calls, l->calls);
	ccsh_pages_release(&p);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.unshare_calls) -
			ctx->base.unshare_calls, l->calls);
}

static const unsigned int ccsh_run_idx[] = { 1, 2, 3 };

static void ccsh_run_desc(const unsigned int *nth, char *desc)
{
	static const char * const names[] = { "first", "middle", "last" };

	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s run", names[*nth - 1]);
}

KUNIT_ARRAY_PARAM(ccsh_run, ccsh_run_idx, ccsh_run_desc);

/* Exactly page @lost (UINT_MAX: none) of the three apart pages is lost; none is shared. */
static void ccsh_expect_only_lost(struct kunit *test, struct page *block,
				  unsigned int lost)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ccsh_apart); i++) {
		struct page *page = block + ccsh_apart[i];

		KUNIT_EXPECT_EQ_MSG(test, ccsh_emu_page_lost(page), i == lost,
				    "page %u", i);
		KUNIT_EXPECT_FALSE_MSG(test, ccsh_emu_page_shared(page),
				       "page %u", i);
	}
}

static void share_failure_leaks_only_the_failed_run(struct kunit *test)
{
	unsigned int nth = *(const unsigned int *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	struct ccsh_pages p;
	struct page *block;

	ccsh_test_fail_nth(test, CCSH_FAIL_SHARE, nth);
	ccsh_build_table(test, &p, ccsh_apart, 3);
	block = sg_page(p.sgt.sgl);
	KUNIT_EXPECT_EQ(test, ccsh_pages_share(&p), -EIO);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.leaked_bytes - ctx->base.leaked_bytes,
			(s64)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, now.share_calls - ctx->base.share_calls, (s64)nth);
	/* only the runs shared before the failure are converted back */
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls,
			(s64)nth - 1);
	ccsh_expect_only_lost(test, block, nth - 1);
}

static void unshare_failure_leaks_only_the_failed_run(struct kunit *test)
{
	unsigned int nth = *(const unsigned int *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	struct ccsh_pages p;
	struct page *block;

	ccsh_test_fail_nth(test, CCSH_FAIL_UNSHARE, nth);
	ccsh_build_table(test, &p, ccsh_apart, 3);
	block = sg_page(p.sgt.sgl);
	KUNIT_ASSERT_EQ(test, ccsh_pages_share(&p), 0);
	ccsh_pages_release(&p);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.leaked_bytes - ctx->base.leaked_bytes,
			(s64)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls, 3);
	KUNIT_EXPECT_EQ(test, now.unshare_failures - ctx->base.unshare_failures, 1);
	ccsh_expect_only_lost(test, block, nth - 1);
}

static void fatal_signal_before_allocation_converts_nothing(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;
	int ret;

	allow_signal(SIGKILL);
	send_sig(SIGKILL, current, 1);
	ret = ccsh_pages_alloc(&p, SZ_32M);
	disallow_signal(SIGKILL);	/* also drops the pending signal */
	KUNIT_EXPECT_EQ(test, ret, -EINTR);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.share_calls),
			ctx->base.share_calls);
}

static void ccsh_kill_current(bool share)
{
	if (share)
		send_sig(SIGKILL, current, 1);
}

static void fatal_signal_between_runs_gives_everything_back(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	struct ccsh_pages p;
	struct page *block;
	int ret;

	ccsh_build_table(test, &p, ccsh_apart, 3);
	block = sg_page(p.sgt.sgl);
	allow_signal(SIGKILL);
	ccsh_emu_test_hook = ccsh_kill_current;	/* killed during the 1st run */
	ret = ccsh_pages_share(&p);
	ccsh_emu_test_hook = NULL;
	disallow_signal(SIGKILL);
	KUNIT_EXPECT_EQ(test, ret, -EINTR);
	ccsh_snap_take(&now);
	/* stopped after the first run, which went back to private */
	KUNIT_EXPECT_EQ(test, now.share_calls - ctx->base.share_calls, 1);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls, 1);
	ccsh_expect_only_lost(test, block, UINT_MAX);
}

static struct kunit_case ccsh_pages_cases[] = {
	KUNIT_CASE_PARAM(pages_cover_exactly_the_requested_length,
			 ccsh_size_gen_params),
	KUNIT_CASE_PARAM(pages_are_shared_while_allocated, ccsh_size_gen_params),
	KUNIT_CASE_PARAM(pages_read_zero_although_sharing_scrambles_them,
			 ccsh_size_gen_params),
	KUNIT_CASE_PARAM(chunks_are_sorted_by_physical_address,
			 ccsh_size_gen_params),
	KUNIT_CASE_PARAM(release_converts_every_run_back, ccsh_size_gen_params),
	KUNIT_CASE(two_mib_multiples_convert_whole_aligned_blocks),
	KUNIT_CASE(conversions_are_capped_at_the_run_limit),
	KUNIT_CASE_PARAM(each_contiguous_run_is_converted_in_one_call,
			 ccsh_layout_gen_params),
	KUNIT_CASE_PARAM(share_failure_leaks_only_the_failed_run,
			 ccsh_run_gen_params),
	KUNIT_CASE_PARAM(unshare_failure_leaks_only_the_failed_run,
			 ccsh_run_gen_params),
	KUNIT_CASE(fatal_signal_before_allocation_converts_nothing),
	KUNIT_CASE(fatal_signal_between_runs_gives_everything_back),
	{}
};

/* the pool is off here: these cases specify conversion without reuse */
static struct kunit_suite ccsh_pages_suite = {
	.name = "cc_shared_heap_pages",
	.init = ccsh_test_init_no_pool,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_pages_cases,
};

/* ---------------------------------------------------------------------- */
/* The dma-buf                                                              */
/* ---------------------------------------------------------------------- */

struct ccsh_bad_request {
	const char *what;
	unsigned long len;
	u32 fd_flags;
	u64 heap_flags;
	int err;
};

static const struct ccsh_bad_request ccsh_bad_requests[] = {
	{ "heap_flags set", SZ_4K, O_RDWR, 1, -EINVAL },
	{ "fd_flags O_NONBLOCK", SZ_4K, O_RDWR | O_NONBLOCK, 0, -EINVAL },
	{ "len 0", 0, O_RDWR, 0, -EINVAL },
	{ "len not page aligned", SZ_4K + 1, O_RDWR, 0, -EINVAL },
	{ "len beyond RAM", 1UL << 50, O_RDWR, 0, -ENOMEM },
	{ "len near ULONG_MAX", ULONG_MAX & PAGE_MASK, O_RDWR, 0, -ENOMEM },
};

static void ccsh_bad_desc(const struct ccsh_bad_request *r, char *desc)
{
	strscpy(desc, r->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ccsh_bad, ccsh_bad_requests, ccsh_bad_desc);

static void bad_request_is_rejected_cleanly(struct kunit *test)
{
	const struct ccsh_bad_request *r = test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct dma_buf *dmabuf;

	dmabuf = ccsh_heap_allocate("kunit", r->len, r->fd_flags, r->heap_flags);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(dmabuf), r->err);
	if (!IS_ERR(dmabuf))
		ccsh_test_put(dmabuf);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.share_calls),
			ctx->base.share_calls);
}

static void live_buffer_is_counted_until_released(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct dma_buf *dmabuf;

	dmabuf = ccsh_test_alloc(test, SZ_1M + SZ_4K);
	KUNIT_EXPECT_EQ(test, dmabuf->size, (size_t)(SZ_1M + SZ_4K));
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.buffers) -
			ctx->base.buffers, 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.shared_bytes) -
			ctx->base.shared_bytes, SZ_1M + SZ_4K);
	ccsh_test_put(dmabuf);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.buffers),
			ctx->base.buffers);
}

static void vmap_shows_a_zeroed_buffer(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_2M + SZ_64K);
	struct iosys_map map;

	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &map), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(map.vaddr, 0, dmabuf->size));
	dma_buf_vunmap_unlocked(dmabuf, &map);
	ccsh_test_put(dmabuf);
}

static struct device *ccsh_test_named_device(struct kunit *test,
					     const char *name, u64 mask)
{
	struct device *dev = kunit_device_register(test, name);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(dev, mask), 0);
	return dev;
}

static struct device *ccsh_test_device(struct kunit *test, u64 mask)
{
	return ccsh_test_named_device(test, "ccsh-dma", mask);
}

static void vmap_maps_the_pages_in_buffer_order(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K + 2 * SZ_4K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));
	struct dma_buf_attachment *at;
	struct sg_dma_page_iter it;
	struct sg_table *sgt;
	struct iosys_map map;
	unsigned int i;

	if (CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED && is_swiotlb_force_bounce(dev)) {
		ccsh_test_put(dmabuf);
		kunit_skip(test, "the heap refuses a device this DMA core would bounce for");
	}
	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &map), 0);
	for (i = 0; i < dmabuf->size / PAGE_SIZE; i++)
		memset(map.vaddr + i * PAGE_SIZE, i + 1, PAGE_SIZE);

	/*
	 * A device sees the buffer's pages in order: compare with what it
	 * reads at each DMA address (a bounce slot holds a copy). Importers
	 * must not look at the table's pages: the dma-buf core scrambles
	 * them with CONFIG_DMABUF_DEBUG.
	 */
	at = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	i = 0;
	for_each_sgtable_dma_page(sgt, &it, 0) {
		u8 *p = phys_to_virt(dma_to_phys(dev,
						 sg_page_iter_dma_address(&it)));

		KUNIT_EXPECT_EQ_MSG(test, p[0], (u8)(i + 1), "page %u", i);
		KUNIT_EXPECT_EQ_MSG(test, p[PAGE_SIZE - 1], (u8)(i + 1), "page %u", i);
		i++;
	}
	dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, at);
	dma_buf_vunmap_unlocked(dmabuf, &map);
	ccsh_test_put(dmabuf);
}

/*
 * The heap's own vmap and vunmap ops, called as the dma-buf core calls
 * them. The core counts kernel mappings itself and calls the op once, so
 * only a direct call can show the heap's count at work.
 */
static int ccsh_test_vmap_op(struct dma_buf *dmabuf, struct iosys_map *map)
{
	int ret;

	dma_resv_lock(dmabuf->resv, NULL);
	ret = dmabuf->ops->vmap(dmabuf, map);
	dma_resv_unlock(dmabuf->resv);
	return ret;
}

static void ccsh_test_vunmap_op(struct dma_buf *dmabuf, struct iosys_map *map)
{
	dma_resv_lock(dmabuf->resv, NULL);
	dmabuf->ops->vunmap(dmabuf, map);
	dma_resv_unlock(dmabuf->resv);
}

/*
 * Two users of the kernel mapping share one, and it stays until the last
 * of them unmaps it: the first to map unmapping first must not take the
 * pages from under the second.
 */
static void kernel_mapping_lives_until_its_last_user_unmaps(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K);
	struct iosys_map a, b;
	struct page *page;
	void *vaddr;

	KUNIT_ASSERT_EQ(test, ccsh_test_vmap_op(dmabuf, &a), 0);
	KUNIT_ASSERT_EQ(test, ccsh_test_vmap_op(dmabuf, &b), 0);
	KUNIT_EXPECT_PTR_EQ(test, a.vaddr, b.vaddr);
	vaddr = b.vaddr;
	page = vmalloc_to_page(vaddr);
	KUNIT_ASSERT_NOT_NULL(test, page);
	memset(vaddr, 0x5a, PAGE_SIZE);

	ccsh_test_vunmap_op(dmabuf, &a);
	KUNIT_EXPECT_PTR_EQ_MSG(test, vmalloc_to_page(vaddr), page,
				"the first unmap took the second user's mapping");
	if (vmalloc_to_page(vaddr) == page)
		KUNIT_EXPECT_NULL(test, memchr_inv(vaddr, 0x5a, PAGE_SIZE));

	ccsh_test_vunmap_op(dmabuf, &b);
	KUNIT_EXPECT_NULL_MSG(test, vmalloc_to_page(vaddr),
			      "still mapped after its last user unmapped it");
	ccsh_test_put(dmabuf);
}

/*
 * A device is given each page of the buffer at its own unencrypted DMA
 * address (never a bounce slot), in buffer order, and every page once.
 * Where the platform has no encryption bit this is the plain address; it
 * still shows that the table covers the buffer in order and in place.
 */
static void device_maps_every_page_in_place(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_2M + SZ_64K + SZ_4K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));
	unsigned long i = 0, pages = dmabuf->size / PAGE_SIZE, elsewhere = 0;
	dma_addr_t got, want, first_got = 0, first_want = 0;
	struct dma_buf_attachment *at;
	struct sg_dma_page_iter it;
	struct iosys_map map;
	struct sg_table *sgt;

	if (CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED && is_swiotlb_force_bounce(dev)) {
		ccsh_test_put(dmabuf);
		kunit_skip(test, "the heap refuses a device this DMA core would bounce for");
	}
	/* the buffer's pages in order, without peeking at the importer's table */
	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &map), 0);
	at = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	for_each_sgtable_dma_page(sgt, &it, 0) {
		if (i < pages) {
			got = sg_page_iter_dma_address(&it);
			want = page_to_phys(vmalloc_to_page(map.vaddr +
							    i * PAGE_SIZE));
			want = phys_to_dma_unencrypted(dev, want);
			if (got != want && !elsewhere++) {
				first_got = got;
				first_want = want;
			}
		}
		i++;
	}
	KUNIT_EXPECT_EQ_MSG(test, elsewhere, 0UL,
			    "first: DMA address %pad where page %pad was expected",
			    &first_got, &first_want);
	KUNIT_EXPECT_EQ(test, i, pages);
	dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, at);
	dma_buf_vunmap_unlocked(dmabuf, &map);
	ccsh_test_put(dmabuf);
}

/* The DMA syncs one device was given, seen at the DMA core's trace events. */
struct ccsh_syncs_seen {
	struct device *dev;
	size_t for_cpu, for_device;		/* bytes */
	unsigned int other_dir;
	enum dma_data_direction dir;
};

static void ccsh_saw_sync(struct ccsh_syncs_seen *s, struct device *dev,
			  size_t size, enum dma_data_direction dir,
			  bool for_cpu)
{
	if (dev != s->dev)
		return;
	if (dir != s->dir)
		s->other_dir++;
	if (for_cpu)
		s->for_cpu += size;
	else
		s->for_device += size;
}

static void ccsh_saw_sync_for_cpu(void *data, struct device *dev,
				  dma_addr_t addr, size_t size,
				  enum dma_data_direction dir)
{
	struct ccsh_syncs_seen *s = data;

	ccsh_saw_sync(&s[0], dev, size, dir, true);
	ccsh_saw_sync(&s[1], dev, size, dir, true);
}

static void ccsh_saw_sync_for_device(void *data, struct device *dev,
				     dma_addr_t addr, size_t size,
				     enum dma_data_direction dir)
{
	struct ccsh_syncs_seen *s = data;

	ccsh_saw_sync(&s[0], dev, size, dir, false);
	ccsh_saw_sync(&s[1], dev, size, dir, false);
}

/*
 * CPU access is bracketed by DMA syncs: begin_cpu_access syncs the whole
 * buffer for the CPU on each mapped attachment, end_cpu_access for the
 * device, in the direction asked; an attachment not mapped is left alone.
 * A coherent device's syncs do nothing, so the DMA core skips them: the
 * devices here are told they need them, as a non-coherent one would be,
 * and the syncs are counted at the DMA core's trace events.
 */
static void cpu_access_syncs_every_mapped_attachment(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_2M + SZ_64K + SZ_4K);
	struct device *mapped = ccsh_test_device(test, DMA_BIT_MASK(64));
	struct ccsh_syncs_seen seen[2] = {};
	struct dma_buf_attachment *at, *idle;
	struct sg_table *sgt;
	int ret;

	if (!IS_ENABLED(CONFIG_TRACEPOINTS) || !IS_ENABLED(CONFIG_DMA_NEED_SYNC)) {
		ccsh_test_put(dmabuf);
		kunit_skip(test, "needs TRACEPOINTS and DMA_NEED_SYNC to see DMA syncs");
	}
	if (CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED && is_swiotlb_force_bounce(mapped)) {
		ccsh_test_put(dmabuf);
		kunit_skip(test, "the heap refuses a device this DMA core would bounce for");
	}
	seen[0].dev = mapped;
	seen[1].dev = ccsh_test_named_device(test, "ccsh-dma-idle",
					     DMA_BIT_MASK(64));
	dma_reset_need_sync(seen[0].dev);
	dma_reset_need_sync(seen[1].dev);
	at = dma_buf_attach(dmabuf, seen[0].dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	idle = dma_buf_attach(dmabuf, seen[1].dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, idle);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);

	ret = register_trace_dma_sync_single_for_cpu(ccsh_saw_sync_for_cpu, seen);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = register_trace_dma_sync_single_for_device(ccsh_saw_sync_for_device,
							seen);
	KUNIT_ASSERT_EQ(test, ret, 0);
	seen[0].dir = DMA_FROM_DEVICE;
	KUNIT_EXPECT_EQ(test, dma_buf_begin_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);
	seen[0].dir = DMA_TO_DEVICE;
	KUNIT_EXPECT_EQ(test, dma_buf_end_cpu_access(dmabuf, DMA_TO_DEVICE), 0);
	unregister_trace_dma_sync_single_for_device(ccsh_saw_sync_for_device,
						    seen);
	unregister_trace_dma_sync_single_for_cpu(ccsh_saw_sync_for_cpu, seen);
	tracepoint_synchronize_unregister();

	KUNIT_EXPECT_EQ(test, seen[0].for_cpu, dmabuf->size);
	KUNIT_EXPECT_EQ(test, seen[0].for_device, dmabuf->size);
	KUNIT_EXPECT_EQ(test, seen[0].other_dir, 0U);
	KUNIT_EXPECT_EQ(test, seen[1].for_cpu + seen[1].for_device, (size_t)0);

	dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, idle);
	dma_buf_detach(dmabuf, at);
	ccsh_test_put(dmabuf);
}

/* Map @dmabuf for @dev; the attachment is detached again. */
static long ccsh_test_map_errno(struct kunit *test, struct dma_buf *dmabuf,
				struct device *dev)
{
	struct dma_buf_attachment *at = dma_buf_attach(dmabuf, dev);
	struct sg_table *sgt;
	long ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	ret = PTR_ERR_OR_ZERO(sgt);
	if (!ret)
		dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, at);
	return ret;
}

#ifdef CONFIG_ARCH_HAS_DMA_OPS
static unsigned int ccsh_fake_map_sg_calls;

static int ccsh_fake_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	ccsh_fake_map_sg_calls++;
	return nents;
}

static void ccsh_fake_unmap_sg(struct device *dev, struct scatterlist *sgl,
			       int nents, enum dma_data_direction dir,
			       unsigned long attrs)
{
}

static const struct dma_map_ops ccsh_fake_ops = {
	.map_sg = ccsh_fake_map_sg,
	.unmap_sg = ccsh_fake_unmap_sg,
};

/* A device on DMA ops of its own would map shared pages as private ones. */
static void device_on_dma_ops_of_its_own_gets_einval(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));

	set_dma_ops(dev, &ccsh_fake_ops);
	ccsh_fake_map_sg_calls = 0;
	KUNIT_EXPECT_EQ(test, ccsh_test_map_errno(test, dmabuf, dev), -EINVAL);
	KUNIT_EXPECT_EQ(test, ccsh_fake_map_sg_calls, 0U);
	set_dma_ops(dev, NULL);
	ccsh_test_put(dmabuf);
}
#else
static void device_on_dma_ops_of_its_own_gets_einval(struct kunit *test)
{
	kunit_skip(test, "kernel without dma_map_ops (needs ARCH_HAS_DMA_OPS)");
}
#endif

/*
 * A device whose DMA mask stops below the buffer: neither a bounce nor a
 * DMA core warning, a clean -EINVAL. The heap's pages lie above 16 MiB,
 * outside ZONE_DMA, which the page allocator gives out last.
 */
static void device_that_cannot_reach_the_buffer_gets_einval(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(24));

	KUNIT_EXPECT_EQ(test, ccsh_test_map_errno(test, dmabuf, dev), -EINVAL);
	ccsh_test_put(dmabuf);
}

/* Where this DMA core bounces shared memory (swiotlb=force), no silent bounce. */
static void device_that_would_be_bounced_gets_einval(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));

	if (!CCSH_TEST_SHARED_BOUNCES_WHEN_FORCED || !is_swiotlb_force_bounce(dev)) {
		ccsh_test_put(dmabuf);
		kunit_skip(test, "this DMA core maps shared memory in place here");
	}
	KUNIT_EXPECT_EQ(test, ccsh_test_map_errno(test, dmabuf, dev), -EINVAL);
	ccsh_test_put(dmabuf);
}

#ifdef CCSH_HUGE_PFNMAP
/* The PMD slot of @addr in @mm, which a fault at @addr has populated. */
static pmd_t *ccsh_test_pmd(struct mm_struct *mm, unsigned long addr)
{
	pud_t *pud = pud_offset(p4d_offset(pgd_offset(mm, addr), addr), addr);

	return pud_present(*pud) && !pud_leaf(*pud) ? pmd_offset(pud, addr) :
						       NULL;
}

/*
 * Call the mapping's huge fault handler as the fault core would for a
 * write to a read-only PMD entry (@flags FAULT_FLAG_WRITE) or for a fault
 * that lost a race to fill the entry (@flags 0).
 */
static vm_fault_t ccsh_test_huge_fault(struct vm_area_struct *vma,
				       pmd_t *pmd, unsigned long addr,
				       unsigned int flags, unsigned int order)
{
	struct vm_fault vmf = {
		.vma = vma,
		.address = addr,
		.pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT),
		.flags = flags,
		.pmd = pmd,
		.orig_pmd = pmdp_get(pmd),
	};

	return vma->vm_ops->huge_fault(&vmf, order);
}
#endif

/*
 * huge_maps counts PMD entries installed, not calls of the handler: the
 * first touch of an aligned 2 MiB chunk counts once; a write upgrade, a
 * fault that finds the entry in place and a fallback do not count.
 */
static void huge_maps_counts_only_pmd_entries_installed(struct kunit *test)
{
#ifdef CCSH_HUGE_PFNMAP
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_2M);
	unsigned long addr, base = atomic64_read(&ccsh_stats.huge_maps);
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	vm_fault_t ret[3];
	bool huge;
	pmd_t *pmd;
	char c;

	addr = kunit_vm_mmap(test, dmabuf->file, SZ_1G, SZ_2M,
			     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, 0);
	if (addr != SZ_1G)
		ccsh_test_put(dmabuf);
	KUNIT_ASSERT_EQ(test, addr, (unsigned long)SZ_1G);
	KUNIT_EXPECT_EQ(test, copy_from_user(&c, (void __user *)addr, 1), 0);
	mm = current->mm;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	pmd = ccsh_test_pmd(mm, addr);
	huge = vma && pmd && pmd_leaf(pmdp_get(pmd));
	if (huge) {
		ret[0] = ccsh_test_huge_fault(vma, pmd, addr + PAGE_SIZE,
					      FAULT_FLAG_WRITE, PMD_ORDER);
		ret[1] = ccsh_test_huge_fault(vma, pmd, addr, 0, PMD_ORDER);
		ret[2] = ccsh_test_huge_fault(vma, pmd, addr, 0, PUD_ORDER);
	}
	mmap_read_unlock(mm);
	vm_munmap(addr, SZ_2M);
	ccsh_test_put(dmabuf);
	if (!huge)
		kunit_skip(test, "no PMD entry (no 2 MiB chunk, or THP off)");
	/* vm_fault_t is a bitwise type: compared, not printed */
	KUNIT_EXPECT_TRUE(test, ret[0] == VM_FAULT_NOPAGE);
	KUNIT_EXPECT_TRUE(test, ret[1] == VM_FAULT_NOPAGE);
	KUNIT_EXPECT_TRUE(test, ret[2] == VM_FAULT_FALLBACK);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.huge_maps) - base, 1);
#else
	kunit_skip(test, "no huge PFN mappings in this kernel");
#endif
}

static struct kunit_case ccsh_dmabuf_cases[] = {
	KUNIT_CASE_PARAM(bad_request_is_rejected_cleanly, ccsh_bad_gen_params),
	KUNIT_CASE(live_buffer_is_counted_until_released),
	KUNIT_CASE(vmap_shows_a_zeroed_buffer),
	KUNIT_CASE(vmap_maps_the_pages_in_buffer_order),
	KUNIT_CASE(kernel_mapping_lives_until_its_last_user_unmaps),
	KUNIT_CASE(device_maps_every_page_in_place),
	KUNIT_CASE(cpu_access_syncs_every_mapped_attachment),
	KUNIT_CASE(device_on_dma_ops_of_its_own_gets_einval),
	KUNIT_CASE(device_that_cannot_reach_the_buffer_gets_einval),
	KUNIT_CASE(device_that_would_be_bounced_gets_einval),
	KUNIT_CASE(huge_maps_counts_only_pmd_entries_installed),
	{}
};

static struct kunit_suite ccsh_dmabuf_suite = {
	.name = "cc_shared_heap_dmabuf",
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_dmabuf_cases,
};

/* ---------------------------------------------------------------------- */
/* The emulation model itself: the tests above are only as good as it is  */
/* ---------------------------------------------------------------------- */

static struct page *ccsh_test_page(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	KUNIT_ASSERT_NOT_NULL(test, page);
	return page;
}

static void emulation_scrambles_content_on_share(struct kunit *test)
{
	struct page *page = ccsh_test_page(test);

	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.share(page, 1), 0);
	KUNIT_EXPECT_NOT_NULL(test, memchr_inv(page_address(page), 0, PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.unshare(page, 1), 0);
	__free_page(page);
}

static void emulation_refuses_to_share_a_shared_page(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct page *page = ccsh_test_page(test);

	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.share(page, 1), 0);
	KUNIT_EXPECT_EQ(test, ccsh_emu_backend.share(page, 1), -EINVAL);
	ctx->provoked_violations = 1;
	KUNIT_EXPECT_TRUE(test, ccsh_emu_page_shared(page));
	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.unshare(page, 1), 0);
	__free_page(page);
}

static void emulation_refuses_to_unshare_a_private_page(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct page *page = ccsh_test_page(test);

	KUNIT_EXPECT_EQ(test, ccsh_emu_backend.unshare(page, 1), -EINVAL);
	ctx->provoked_violations = 1;
	KUNIT_EXPECT_FALSE(test, ccsh_emu_page_shared(page));
	__free_page(page);
}

static void emulation_keeps_a_shared_page_from_the_allocator(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct page *page = ccsh_test_page(test);

	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.share(page, 1), 0);
	KUNIT_EXPECT_FALSE(test, ccsh_emu_backend.may_free(page, 1));
	ctx->provoked_violations = 1;
	KUNIT_ASSERT_EQ(test, ccsh_emu_backend.unshare(page, 1), 0);
	KUNIT_EXPECT_TRUE(test, ccsh_emu_backend.may_free(page, 1));
	__free_page(page);
}

static void failed_conversion_leaves_the_pages_lost(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	struct page *page;

	ccsh_test_fail_nth(test, CCSH_FAIL_SHARE, 1);
	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 2);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, ccsh_share(page, 4), -EIO);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.emu_lost - ctx->base.emu_lost, 4UL);
	KUNIT_EXPECT_EQ(test, now.leaked_bytes - ctx->base.leaked_bytes,
			(s64)(4 * PAGE_SIZE));
	/* a lost page can neither be converted nor freed */
	KUNIT_EXPECT_EQ(test, ccsh_emu_backend.share(page, 1), -EINVAL);
	KUNIT_EXPECT_FALSE(test, ccsh_emu_backend.may_free(page, 4));
	ctx->provoked_violations = 2;
	/* the pages stay allocated for ever, as a real leak would */
}

static struct kunit_case ccsh_emu_cases[] = {
	KUNIT_CASE(emulation_scrambles_content_on_share),
	KUNIT_CASE(emulation_refuses_to_share_a_shared_page),
	KUNIT_CASE(emulation_refuses_to_unshare_a_private_page),
	KUNIT_CASE(emulation_keeps_a_shared_page_from_the_allocator),
	KUNIT_CASE(failed_conversion_leaves_the_pages_lost),
	{}
};

static struct kunit_suite ccsh_emu_suite = {
	.name = "cc_shared_heap_emulation",
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_emu_cases,
};

/* ---------------------------------------------------------------------- */
/* Where the heap exists, and with which backend                            */
/* ---------------------------------------------------------------------- */

struct ccsh_platform {
	const char *what;
	bool emulate, emu_built, mem_encrypted, cc_guest;
	enum ccsh_backend_kind want;
};

static const struct ccsh_platform ccsh_platforms[] = {
	{ "plain machine", false, true, false, false, CCSH_BACKEND_NONE },
	{ "plain machine, emulate=1", true, true, false, false,
	  CCSH_BACKEND_EMULATED },
	{ "emulate=1, no emulation built", true, false, false, false,
	  CCSH_BACKEND_NONE },
	{ "SME host", false, true, true, false, CCSH_BACKEND_NONE },
	{ "SME host, emulate=1", true, true, true, false, CCSH_BACKEND_NONE },
	{ "confidential guest", false, true, true, true, CCSH_BACKEND_REAL },
	{ "confidential guest, emulate=1", true, true, true, true,
	  CCSH_BACKEND_REAL },
};

static void ccsh_platform_desc(const struct ccsh_platform *pl, char *desc)
{
	strscpy(desc, pl->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ccsh_platform, ccsh_platforms, ccsh_platform_desc);

/*
 * Real conversions only in a confidential guest; emulation only where
 * memory is not really encrypted.
 */
static void backend_matches_the_platform(struct kunit *test)
{
	const struct ccsh_platform *pl = test->param_value;

	KUNIT_EXPECT_EQ(test, ccsh_pick_backend(pl->emulate, pl->emu_built,
						pl->mem_encrypted,
						pl->cc_guest), pl->want);
}

static struct kunit_case ccsh_platform_cases[] = {
	KUNIT_CASE_PARAM(backend_matches_the_platform,
			 ccsh_platform_gen_params),
	{}
};

static struct kunit_suite ccsh_platform_suite = {
	.name = "cc_shared_heap_platform",
	.test_cases = ccsh_platform_cases,
};

kunit_test_suites(&ccsh_pages_suite, &ccsh_dmabuf_suite, &ccsh_emu_suite,
		  &ccsh_platform_suite);

MODULE_DESCRIPTION("KUnit tests for the system_cc_shared heap");
MODULE_LICENSE("GPL");
