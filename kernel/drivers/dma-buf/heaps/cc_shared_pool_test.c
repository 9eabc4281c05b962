// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit specification of the pool of already-shared chunks.
 *
 * Each case starts with an empty pool whose limit it sets itself; the
 * fixture drains the pool afterwards and checks that nothing is left
 * shared.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/dma-buf.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "cc_shared_test.h"

static void ccsh_cycle(struct kunit *test, unsigned long len)
{
	struct ccsh_pages p;

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, len), 0);
	ccsh_pages_release(&p);
}

/* The 64 KiB is cut from a block: the block goes back whole. */
static void released_chunks_stay_shared_in_the_pool(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_cycle(test, SZ_2M + SZ_64K);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.pooled_bytes, (s64)(2 * SZ_2M));
	KUNIT_EXPECT_EQ(test, now.unshare_calls, ctx->base.unshare_calls);
	KUNIT_EXPECT_EQ(test, (now.emu_shared - ctx->base.emu_shared) * PAGE_SIZE,
			(unsigned long)now.pooled_bytes);
}

static void allocation_takes_pooled_chunks_without_converting(struct kunit *test)
{
	struct ccsh_snap before, now;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_cycle(test, SZ_2M);
	ccsh_snap_take(&before);
	ccsh_cycle(test, SZ_2M);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.share_calls, before.share_calls);
	KUNIT_EXPECT_EQ(test, now.pool_hits - before.pool_hits, 1);
	KUNIT_EXPECT_EQ(test, now.pooled_bytes, (s64)SZ_2M);
}

static void reused_chunk_never_shows_the_previous_contents(struct kunit *test)
{
	struct page *first;
	struct ccsh_pages p;

	ccsh_pool_set_limit(SZ_16M);
	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, SZ_2M), 0);
	first = sg_page(p.sgt.sgl);
	memset(page_address(first), 0xa5, SZ_2M);	/* the previous user */
	ccsh_pages_release(&p);

	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, SZ_2M), 0);
	/* only meaningful if the pool handed the same chunk back */
	KUNIT_ASSERT_PTR_EQ(test, sg_page(p.sgt.sgl), first);
	KUNIT_EXPECT_NULL(test, memchr_inv(page_address(first), 0, SZ_2M));
	ccsh_pages_release(&p);
}

static void pool_holds_no_more_than_its_limit(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p[3];
	struct ccsh_snap now;
	unsigned int i;

	ccsh_pool_set_limit(SZ_2M);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p[i], SZ_2M), 0);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		ccsh_pages_release(&p[i]);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.pooled_bytes, (s64)SZ_2M);
	KUNIT_EXPECT_GT(test, now.unshare_calls, ctx->base.unshare_calls);
	KUNIT_EXPECT_EQ(test, (now.emu_shared - ctx->base.emu_shared) * PAGE_SIZE,
			(unsigned long)SZ_2M);
}

static void lowering_the_limit_gives_chunks_back(struct kunit *test)
{
	ccsh_pool_set_limit(SZ_16M);
	ccsh_cycle(test, 4 * SZ_2M);
	KUNIT_ASSERT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)(4 * SZ_2M));
	ccsh_pool_set_limit(SZ_2M);
	KUNIT_EXPECT_LE(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)SZ_2M);
	ccsh_pool_set_limit(0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes), 0);
}

static void shrinking_converts_back_and_frees_every_chunk(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	unsigned long got;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_cycle(test, SZ_2M + SZ_64K + SZ_4K);	/* the rest: one block */
	got = ccsh_pool_shrink(ULONG_MAX);
	KUNIT_EXPECT_EQ(test, got, (2 * SZ_2M) >> PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes), 0);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages(), ctx->base.emu_shared);
}

/* Pages 0 and 2 of a split block: shared, pooled, never adjacent. */
static struct page *ccsh_pool_two_apart(struct kunit *test)
{
	struct page *block = alloc_pages(GFP_KERNEL, 2);

	KUNIT_ASSERT_NOT_NULL(test, block);
	split_page(block, 2);
	__free_page(block + 1);
	__free_page(block + 3);
	KUNIT_ASSERT_EQ(test, ccsh_share(block, 1), 0);
	KUNIT_ASSERT_EQ(test, ccsh_share(block + 2, 1), 0);
	KUNIT_ASSERT_TRUE(test, ccsh_pool_put(block, 0));
	KUNIT_ASSERT_TRUE(test, ccsh_pool_put(block + 2, 0));
	return block;
}

static void shrink_failure_leaks_exactly_the_failed_run(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	struct page *block;

	/* runs are given back in address order: page 0 first */
	ccsh_test_fail_nth(test, CCSH_FAIL_UNSHARE, 1);
	ccsh_pool_set_limit(SZ_16M);
	block = ccsh_pool_two_apart(test);
	KUNIT_EXPECT_EQ(test, ccsh_pool_shrink(ULONG_MAX), 2UL);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.leaked_bytes - ctx->base.leaked_bytes,
			(s64)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, now.unshare_calls - ctx->base.unshare_calls, 2);
	KUNIT_EXPECT_TRUE(test, ccsh_emu_page_lost(block));
	KUNIT_EXPECT_FALSE(test, ccsh_emu_page_lost(block + 2));
	KUNIT_EXPECT_EQ(test, now.pooled_bytes, 0);
}

static void shrinking_converts_contiguous_chunks_in_one_call(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct page *block = alloc_pages(GFP_KERNEL, 1);

	KUNIT_ASSERT_NOT_NULL(test, block);
	split_page(block, 1);
	KUNIT_ASSERT_EQ(test, ccsh_share(block, 2), 0);
	ccsh_pool_set_limit(SZ_16M);
	/* pooled in reverse order: the shrinker sorts them */
	KUNIT_ASSERT_TRUE(test, ccsh_pool_put(block + 1, 0));
	KUNIT_ASSERT_TRUE(test, ccsh_pool_put(block, 0));
	ccsh_pool_shrink(ULONG_MAX);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.unshare_calls) -
			ctx->base.unshare_calls, 1);
}

/* ---------------------------------------------------------------------- */
/* Small chunks cut from whole shared blocks                                */
/* ---------------------------------------------------------------------- */

/*
 * @len bytes (below a block) of pieces; skip when the page allocator has
 * no free block for them to be cut from.
 */
static void ccsh_alloc_pieces(struct kunit *test, struct ccsh_pages *p,
			      unsigned long len)
{
	struct page *probe = alloc_pages(GFP_KERNEL | __GFP_NOWARN |
					 __GFP_NORETRY, CCSH_LARGE_ORDER);

	if (!probe && !ccsh_carve_blocks())
		kunit_skip(test, "no free large blocks (fragmented memory)");
	if (probe)
		__free_pages(probe, CCSH_LARGE_ORDER);
	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(p, len), 0);
	if (!ccsh_carve_blocks()) {
		ccsh_pages_release(p);
		KUNIT_FAIL_AND_ABORT(test, "no block was cut for %lu bytes", len);
	}
}

static unsigned long ccsh_block_of(struct ccsh_pages *p)
{
	return page_to_pfn(sg_page(p->sgt.sgl)) / CCSH_BLOCK_PAGES;
}

static void small_buffer_shares_one_whole_aligned_block(struct kunit *test)
{
	struct ccsh_emu_call c;
	struct ccsh_pages p;

	ccsh_alloc_pieces(test, &p, SZ_64K + SZ_4K);
	KUNIT_EXPECT_EQ(test, ccsh_emu_log_len(), 1UL);
	KUNIT_ASSERT_TRUE(test, ccsh_emu_log_entry(0, &c));
	KUNIT_EXPECT_TRUE(test, c.share);
	KUNIT_EXPECT_EQ(test, c.nr, CCSH_BLOCK_PAGES);
	KUNIT_EXPECT_EQ(test, c.pfn % CCSH_BLOCK_PAGES, 0UL);
	KUNIT_EXPECT_EQ(test, ccsh_block_of(&p), c.pfn / CCSH_BLOCK_PAGES);
	ccsh_pages_release(&p);
}

static void small_buffers_are_cut_from_one_block(struct kunit *test)
{
	static const unsigned long sizes[] = { SZ_4K, SZ_64K, SZ_1M };
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p[ARRAY_SIZE(sizes)];
	struct ccsh_snap now;
	unsigned int i;

	ccsh_pool_set_limit(SZ_16M);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		ccsh_alloc_pieces(test, &p[i], sizes[i]);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.share_calls - ctx->base.share_calls, 1);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 1UL);
	KUNIT_EXPECT_EQ(test, ccsh_block_of(&p[1]), ccsh_block_of(&p[0]));
	KUNIT_EXPECT_EQ(test, ccsh_block_of(&p[2]), ccsh_block_of(&p[0]));
	KUNIT_EXPECT_EQ(test, now.pooled_bytes,
			(s64)(SZ_2M - SZ_4K - SZ_64K - SZ_1M));
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		ccsh_pages_release(&p[i]);
}

static void block_goes_to_the_pool_only_when_whole(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages a, b;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_alloc_pieces(test, &a, SZ_64K);
	ccsh_alloc_pieces(test, &b, SZ_4K);
	ccsh_pages_release(&a);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 1UL);
	KUNIT_EXPECT_EQ(test, ccsh_pool_shrink(ULONG_MAX), 0UL);
	ccsh_pages_release(&b);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)SZ_2M);
	KUNIT_EXPECT_EQ(test, ccsh_pool_shrink(ULONG_MAX),
			(unsigned long)CCSH_BLOCK_PAGES);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.unshare_calls) -
			ctx->base.unshare_calls, 1);
}

static void without_a_pool_the_last_piece_converts_its_block_back(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_emu_call c;
	struct ccsh_pages a, b;

	ccsh_pool_set_limit(0);
	ccsh_alloc_pieces(test, &a, SZ_4K);
	ccsh_alloc_pieces(test, &b, SZ_64K);
	ccsh_pages_release(&b);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.unshare_calls),
			ctx->base.unshare_calls);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages() - ctx->base.emu_shared,
			(unsigned long)CCSH_BLOCK_PAGES);
	ccsh_pages_release(&a);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages(), ctx->base.emu_shared);
	KUNIT_ASSERT_EQ(test, ccsh_emu_log_len(), 2UL);
	KUNIT_ASSERT_TRUE(test, ccsh_emu_log_entry(1, &c));
	KUNIT_EXPECT_FALSE(test, c.share);
	KUNIT_EXPECT_EQ(test, c.nr, CCSH_BLOCK_PAGES);
}

static void failed_block_share_fails_the_buffer_and_leaks_the_block(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_test_fail_nth(test, CCSH_FAIL_SHARE, 1);
	KUNIT_EXPECT_EQ(test, ccsh_pages_alloc(&p, SZ_4K), -EIO);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.leaked_bytes) -
			ctx->base.leaked_bytes, (s64)SZ_2M);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes), 0);
}

static void reused_piece_never_shows_the_previous_contents(struct kunit *test)
{
	struct ccsh_pages p;
	struct page *first;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_alloc_pieces(test, &p, SZ_64K);
	first = sg_page(p.sgt.sgl);
	memset(page_address(first), 0xa5, SZ_64K);	/* the previous user */
	ccsh_pages_release(&p);

	ccsh_alloc_pieces(test, &p, SZ_64K);
	/* only meaningful if the same piece was cut again */
	KUNIT_ASSERT_PTR_EQ(test, sg_page(p.sgt.sgl), first);
	KUNIT_EXPECT_NULL(test, memchr_inv(page_address(first), 0, SZ_64K));
	ccsh_pages_release(&p);
}

#define CCSH_THREADS	4
#define CCSH_ROUNDS	40

struct ccsh_worker {
	struct completion done;
	int errors;
};

static int ccsh_worker_fn(void *arg)
{
	static const unsigned long sizes[] = {
		SZ_4K, SZ_64K + SZ_4K, SZ_2M, SZ_2M + SZ_64K,
	};
	struct ccsh_worker *w = arg;
	unsigned int i;

	for (i = 0; i < CCSH_ROUNDS; i++) {
		struct dma_buf *b = ccsh_heap_allocate("kunit", sizes[i % 4],
						       O_RDWR, 0);

		if (IS_ERR(b))
			w->errors++;
		else
			ccsh_test_put(b);
	}
	complete(&w->done);
	return 0;
}

static void concurrent_alloc_and_free_keep_counters_exact(struct kunit *test)
{
	struct ccsh_worker w[CCSH_THREADS];
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;
	unsigned int i;

	bool started[CCSH_THREADS];

	ccsh_pool_set_limit(SZ_4M);	/* small: both paths get exercised */
	for (i = 0; i < CCSH_THREADS; i++) {
		init_completion(&w[i].done);
		w[i].errors = 0;
		started[i] = !IS_ERR(kthread_run(ccsh_worker_fn, &w[i],
						 "ccsh-test/%u", i));
		KUNIT_EXPECT_TRUE_MSG(test, started[i], "thread %u", i);
	}
	for (i = 0; i < CCSH_THREADS; i++) {
		if (!started[i])
			continue;
		wait_for_completion(&w[i].done);
		KUNIT_EXPECT_EQ_MSG(test, w[i].errors, 0, "thread %u", i);
	}
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.buffers, ctx->base.buffers);
	KUNIT_EXPECT_EQ(test, now.shared_bytes, ctx->base.shared_bytes);
	KUNIT_EXPECT_LE(test, now.pooled_bytes, (s64)SZ_4M);
	KUNIT_EXPECT_EQ(test, (now.emu_shared - ctx->base.emu_shared) * PAGE_SIZE,
			(unsigned long)now.pooled_bytes);
	KUNIT_EXPECT_GT(test, now.pool_hits, ctx->base.pool_hits);
}

static struct kunit_case ccsh_pool_cases[] = {
	KUNIT_CASE(released_chunks_stay_shared_in_the_pool),
	KUNIT_CASE(allocation_takes_pooled_chunks_without_converting),
	KUNIT_CASE(reused_chunk_never_shows_the_previous_contents),
	KUNIT_CASE(pool_holds_no_more_than_its_limit),
	KUNIT_CASE(lowering_the_limit_gives_chunks_back),
	KUNIT_CASE(shrinking_converts_back_and_frees_every_chunk),
	KUNIT_CASE(shrink_failure_leaks_exactly_the_failed_run),
	KUNIT_CASE(shrinking_converts_contiguous_chunks_in_one_call),
	KUNIT_CASE(concurrent_alloc_and_free_keep_counters_exact),
	KUNIT_CASE(small_buffer_shares_one_whole_aligned_block),
	KUNIT_CASE(small_buffers_are_cut_from_one_block),
	KUNIT_CASE(block_goes_to_the_pool_only_when_whole),
	KUNIT_CASE(without_a_pool_the_last_piece_converts_its_block_back),
	KUNIT_CASE(failed_block_share_fails_the_buffer_and_leaks_the_block),
	KUNIT_CASE(reused_piece_never_shows_the_previous_contents),
	{}
};

static struct kunit_suite ccsh_pool_suite = {
	.name = "cc_shared_heap_pool",
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_pool_cases,
};

kunit_test_suite(ccsh_pool_suite);
