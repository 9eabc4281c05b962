// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit specification of the system_cc_shared heap, run against the
 * emulation backend (boot with cc_shared_heap.emulate=1).
 *
 * After every case the fixture checks the invariants that must hold
 * whatever the case did: no page is left shared, no buffer is left alive,
 * every leaked byte is a page the model saw fail, and the model saw no
 * misuse beyond what the case provoked on purpose.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "cc_shared_heap.h"

struct ccsh_snap {
	s64 buffers, shared_bytes, leaked_bytes;
	s64 share_calls, unshare_calls, share_failures, unshare_failures;
	unsigned long emu_shared, emu_lost, violations;
};

struct ccsh_ctx {
	struct ccsh_snap base;
	unsigned long provoked_violations;
};

static void ccsh_snap_take(struct ccsh_snap *s)
{
	s->buffers = atomic64_read(&ccsh_stats.buffers);
	s->shared_bytes = atomic64_read(&ccsh_stats.shared_bytes);
	s->leaked_bytes = atomic64_read(&ccsh_stats.leaked_bytes);
	s->share_calls = atomic64_read(&ccsh_stats.share_calls);
	s->unshare_calls = atomic64_read(&ccsh_stats.unshare_calls);
	s->share_failures = atomic64_read(&ccsh_stats.share_failures);
	s->unshare_failures = atomic64_read(&ccsh_stats.unshare_failures);
	s->emu_shared = ccsh_emu_shared_pages();
	s->emu_lost = ccsh_emu_lost_pages();
	s->violations = ccsh_emu_violations();
}

static void ccsh_fail_reset(struct fault_attr *attr)
{
	attr->probability = 0;
	attr->interval = 1;
	attr->count = 0;
	atomic_set(&attr->times, 1);
	atomic_set(&attr->space, 0);
}

/* Make the @nth conversion call through @attr fail, and only that one. */
static void ccsh_fail_nth(struct fault_attr *attr, unsigned int nth)
{
	ccsh_fail_reset(attr);
	attr->interval = nth;
	attr->probability = 100;
}

static int ccsh_test_init(struct kunit *test)
{
	struct ccsh_ctx *ctx;

	if (!ccsh_emulating())
		kunit_skip(test, "needs cc_shared_heap.emulate=1");
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ccsh_fail_reset(&ccsh_fail_share);
	ccsh_fail_reset(&ccsh_fail_unshare);
	ccsh_snap_take(&ctx->base);
	test->priv = ctx;
	return 0;
}

static void ccsh_test_exit(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;

	if (!ctx)
		return;
	ccsh_fail_reset(&ccsh_fail_share);
	ccsh_fail_reset(&ccsh_fail_unshare);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ_MSG(test, now.emu_shared, ctx->base.emu_shared,
			    "pages left shared");
	KUNIT_EXPECT_EQ_MSG(test, now.buffers, ctx->base.buffers,
			    "buffers left alive");
	KUNIT_EXPECT_EQ_MSG(test, now.shared_bytes, ctx->base.shared_bytes,
			    "shared_bytes not back to its start");
	KUNIT_EXPECT_EQ_MSG(test, (now.emu_lost - ctx->base.emu_lost) * PAGE_SIZE,
			    (unsigned long)(now.leaked_bytes - ctx->base.leaked_bytes),
			    "leaked_bytes differs from the pages that failed");
	KUNIT_EXPECT_EQ_MSG(test, now.violations - ctx->base.violations,
			    ctx->provoked_violations,
			    "emulation saw misuse of the conversion rules");
}

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
	struct sg_table sgt;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, len), 0);
	KUNIT_EXPECT_EQ(test, ccsh_table_bytes(&sgt), len);
	ccsh_pages_release(&sgt);
}

static void pages_are_shared_while_allocated(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct sg_page_iter it;
	unsigned long private = 0;
	struct sg_table sgt;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, len), 0);
	for_each_sgtable_page(&sgt, &it, 0)
		private += !ccsh_emu_page_shared(sg_page_iter_page(&it));
	KUNIT_EXPECT_EQ(test, private, 0UL);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages() - ctx->base.emu_shared,
			len >> PAGE_SHIFT);
	ccsh_pages_release(&sgt);
}

static void pages_read_zero_although_sharing_scrambles_them(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct scatterlist *sg;
	struct sg_table sgt;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, len), 0);
	for_each_sgtable_sg(&sgt, sg, i)
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(sg_virt(sg), 0, sg->length),
				      "chunk %u not zeroed after sharing", i);
	ccsh_pages_release(&sgt);
}

static void release_converts_every_chunk_back(struct kunit *test)
{
	unsigned long len = *(const unsigned long *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct sg_table sgt;
	struct ccsh_snap now;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, len), 0);
	ccsh_pages_release(&sgt);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_GT(test, now.share_calls - ctx->base.share_calls, 0);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls,
			now.share_calls - ctx->base.share_calls);
	KUNIT_EXPECT_EQ(test, now.emu_shared, ctx->base.emu_shared);
}

/*
 * A 2 MiB + 64 KiB + 4 KiB buffer on a fresh test VM is three chunks.
 * Failure cases use it to aim at the first, middle and last chunk.
 */
#define CCSH_THREE_CHUNKS (SZ_2M + SZ_64K + SZ_4K)
static const unsigned long ccsh_chunk_bytes[] = { SZ_2M, SZ_64K, SZ_4K };

static void ccsh_require_three_chunks(struct kunit *test)
{
	struct scatterlist *sg;
	struct sg_table sgt;
	unsigned int i;
	bool as_planned;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, CCSH_THREE_CHUNKS), 0);
	as_planned = sgt.orig_nents == ARRAY_SIZE(ccsh_chunk_bytes);
	for_each_sgtable_sg(&sgt, sg, i)
		as_planned &= i < 3 && sg->length == ccsh_chunk_bytes[i];
	ccsh_pages_release(&sgt);
	if (!as_planned)
		kunit_skip(test, "memory too fragmented for a 2 MiB chunk");
}

static const unsigned int ccsh_chunk_idx[] = { 1, 2, 3 };

static void ccsh_chunk_desc(const unsigned int *nth, char *desc)
{
	static const char * const names[] = { "first", "middle", "last" };

	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s chunk", names[*nth - 1]);
}

KUNIT_ARRAY_PARAM(ccsh_chunk, ccsh_chunk_idx, ccsh_chunk_desc);

static void share_failure_leaks_only_the_failed_chunk(struct kunit *test)
{
	unsigned int nth = *(const unsigned int *)test->param_value;
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap before, now;
	struct sg_table sgt;

	ccsh_require_three_chunks(test);
	ccsh_snap_take(&before);
	ccsh_fail_nth(&ccsh_fail_share, nth);
	KUNIT_EXPECT_EQ(test, ccsh_pages_alloc(&sgt, CCSH_THREE_CHUNKS), -EIO);
	ccsh_snap_take(&now);

	KUNIT_EXPECT_EQ(test, now.leaked_bytes - before.leaked_bytes,
			(s64)ccsh_chunk_bytes[nth - 1]);
	KUNIT_EXPECT_EQ(test, now.share_calls - before.share_calls, (s64)nth);
	KUNIT_EXPECT_EQ(test, now.share_failures - before.share_failures, 1);
	/* only the chunks shared before the failure are converted back */
	KUNIT_EXPECT_EQ(test, now.unshare_calls - before.unshare_calls,
			(s64)nth - 1);
	KUNIT_EXPECT_EQ(test, now.emu_shared, ctx->base.emu_shared);
}

static void unshare_failure_leaks_only_the_failed_chunk(struct kunit *test)
{
	unsigned int nth = *(const unsigned int *)test->param_value;
	struct ccsh_snap before, now;
	struct sg_table sgt;

	ccsh_require_three_chunks(test);
	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&sgt, CCSH_THREE_CHUNKS), 0);
	ccsh_snap_take(&before);
	ccsh_fail_nth(&ccsh_fail_unshare, nth);
	ccsh_pages_release(&sgt);
	ccsh_snap_take(&now);

	KUNIT_EXPECT_EQ(test, now.leaked_bytes - before.leaked_bytes,
			(s64)ccsh_chunk_bytes[nth - 1]);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - before.unshare_calls, 3);
	KUNIT_EXPECT_EQ(test, now.unshare_failures - before.unshare_failures, 1);
	KUNIT_EXPECT_EQ(test, now.emu_lost - before.emu_lost,
			ccsh_chunk_bytes[nth - 1] >> PAGE_SHIFT);
}

static void fatal_signal_interrupts_allocation(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct sg_table sgt;
	int ret;

	allow_signal(SIGKILL);
	send_sig(SIGKILL, current, 1);
	ret = ccsh_pages_alloc(&sgt, SZ_32M);
	disallow_signal(SIGKILL);	/* also drops the pending signal */
	KUNIT_EXPECT_EQ(test, ret, -EINTR);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.share_calls),
			ctx->base.share_calls);
}

static struct kunit_case ccsh_pages_cases[] = {
	KUNIT_CASE_PARAM(pages_cover_exactly_the_requested_length,
			 ccsh_size_gen_params),
	KUNIT_CASE_PARAM(pages_are_shared_while_allocated, ccsh_size_gen_params),
	KUNIT_CASE_PARAM(pages_read_zero_although_sharing_scrambles_them,
			 ccsh_size_gen_params),
	KUNIT_CASE_PARAM(release_converts_every_chunk_back, ccsh_size_gen_params),
	KUNIT_CASE_PARAM(share_failure_leaks_only_the_failed_chunk,
			 ccsh_chunk_gen_params),
	KUNIT_CASE_PARAM(unshare_failure_leaks_only_the_failed_chunk,
			 ccsh_chunk_gen_params),
	KUNIT_CASE(fatal_signal_interrupts_allocation),
	{}
};

static struct kunit_suite ccsh_pages_suite = {
	.name = "cc_shared_heap_pages",
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_pages_cases,
};

/* ---------------------------------------------------------------------- */
/* The dma-buf                                                              */
/* ---------------------------------------------------------------------- */

static struct dma_buf *ccsh_test_alloc(struct kunit *test, unsigned long len)
{
	struct dma_buf *dmabuf;

	dmabuf = ccsh_heap_allocate("kunit", len, O_RDWR | O_CLOEXEC, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dmabuf);
	return dmabuf;
}

/* dma_buf_put() from a kernel thread releases later; tests need it now */
static void ccsh_test_put(struct dma_buf *dmabuf)
{
	__fput_sync(dmabuf->file);
}

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

static struct device *ccsh_test_device(struct kunit *test, u64 mask)
{
	struct device *dev = kunit_device_register(test, "ccsh-dma");

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	dev->dma_mask = &dev->coherent_dma_mask;
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(dev, mask), 0);
	return dev;
}

static void vmap_maps_the_pages_in_buffer_order(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K + 2 * SZ_4K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));
	struct dma_buf_attachment *at;
	struct sg_page_iter it;
	struct sg_table *sgt;
	struct iosys_map map;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &map), 0);
	for (i = 0; i < dmabuf->size / PAGE_SIZE; i++)
		memset(map.vaddr + i * PAGE_SIZE, i + 1, PAGE_SIZE);

	/* an attachment lists the buffer's pages in order: compare with it */
	at = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	i = 0;
	for_each_sgtable_page(sgt, &it, 0) {
		u8 *p = page_address(sg_page_iter_page(&it));

		KUNIT_EXPECT_EQ_MSG(test, p[0], (u8)(i + 1), "page %u", i);
		KUNIT_EXPECT_EQ_MSG(test, p[PAGE_SIZE - 1], (u8)(i + 1), "page %u", i);
		i++;
	}
	dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, at);
	dma_buf_vunmap_unlocked(dmabuf, &map);
	ccsh_test_put(dmabuf);
}

static void vmap_twice_returns_one_mapping(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_64K);
	struct iosys_map a, b;

	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &a), 0);
	KUNIT_ASSERT_EQ(test, dma_buf_vmap_unlocked(dmabuf, &b), 0);
	KUNIT_EXPECT_PTR_EQ(test, a.vaddr, b.vaddr);
	dma_buf_vunmap_unlocked(dmabuf, &b);
	dma_buf_vunmap_unlocked(dmabuf, &a);
	ccsh_test_put(dmabuf);
}

static void device_maps_every_page_in_place(struct kunit *test)
{
	struct dma_buf *dmabuf = ccsh_test_alloc(test, SZ_2M + SZ_64K + SZ_4K);
	struct device *dev = ccsh_test_device(test, DMA_BIT_MASK(64));
	struct dma_buf_attachment *at;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned long bytes = 0;
	unsigned int i;

	at = dma_buf_attach(dmabuf, dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, at);
	sgt = dma_buf_map_attachment_unlocked(at, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		/* in place, at the unencrypted address: never a bounce slot */
		KUNIT_EXPECT_EQ_MSG(test, sg_dma_address(sg),
				    phys_to_dma_unencrypted(dev, sg_phys(sg)),
				    "entry %u", i);
		bytes += sg_dma_len(sg);
	}
	KUNIT_EXPECT_EQ(test, bytes, (unsigned long)dmabuf->size);
	KUNIT_EXPECT_EQ(test, dma_buf_begin_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);
	KUNIT_EXPECT_EQ(test, dma_buf_end_cpu_access(dmabuf, DMA_TO_DEVICE), 0);
	dma_buf_unmap_attachment_unlocked(at, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, at);
	ccsh_test_put(dmabuf);
}

static struct kunit_case ccsh_dmabuf_cases[] = {
	KUNIT_CASE_PARAM(bad_request_is_rejected_cleanly, ccsh_bad_gen_params),
	KUNIT_CASE(live_buffer_is_counted_until_released),
	KUNIT_CASE(vmap_shows_a_zeroed_buffer),
	KUNIT_CASE(vmap_maps_the_pages_in_buffer_order),
	KUNIT_CASE(vmap_twice_returns_one_mapping),
	KUNIT_CASE(device_maps_every_page_in_place),
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
	struct page *page = alloc_pages(GFP_KERNEL, 2);
	struct ccsh_snap now;

	KUNIT_ASSERT_NOT_NULL(test, page);
	ccsh_fail_nth(&ccsh_fail_share, 1);
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

kunit_test_suites(&ccsh_pages_suite, &ccsh_dmabuf_suite, &ccsh_emu_suite);

MODULE_DESCRIPTION("KUnit tests for the system_cc_shared heap");
MODULE_LICENSE("GPL");
