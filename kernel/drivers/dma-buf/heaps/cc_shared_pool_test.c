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
#include <linux/delay.h>
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

/* No pool, no block left shared for pieces: each chunk is its own. */
static void without_a_pool_small_buffers_share_only_their_own_pages(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;

	ccsh_pool_set_limit(0);
	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p, SZ_4K), 0);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages() - ctx->base.emu_shared, 1UL);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes), 0);
	ccsh_pages_release(&p);
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages(), ctx->base.emu_shared);
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
	s64 lowest = 0;

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
		/* pooled_bytes is never seen below 0 while they run */
		while (!completion_done(&w[i].done)) {
			lowest = min_t(s64, lowest,
				       atomic64_read(&ccsh_stats.pooled_bytes));
			usleep_range(20, 50);
		}
		KUNIT_EXPECT_EQ_MSG(test, w[i].errors, 0, "thread %u", i);
	}
	KUNIT_EXPECT_GE(test, lowest, 0);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ(test, now.buffers, ctx->base.buffers);
	KUNIT_EXPECT_EQ(test, now.shared_bytes, ctx->base.shared_bytes);
	KUNIT_EXPECT_LE(test, now.pooled_bytes, (s64)SZ_4M);
	KUNIT_EXPECT_EQ(test, (now.emu_shared - ctx->base.emu_shared) * PAGE_SIZE,
			(unsigned long)now.pooled_bytes);
	KUNIT_EXPECT_GT(test, now.pool_hits, ctx->base.pool_hits);
}

/* Every chunk of @p reads as zeros. */
static bool ccsh_pages_clear(struct ccsh_pages *p)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(&p->sgt, sg, i)
		if (memchr_inv(page_address(sg_page(sg)), 0, sg->length))
			return false;
	return true;
}

/* Leave @bytes of freed memory dirty, in blocks and in single pages. */
static void ccsh_dirty_free_memory(struct kunit *test, unsigned long bytes)
{
	unsigned long n = bytes >> (CCSH_LARGE_ORDER + PAGE_SHIFT), i;
	struct page **blocks = kunit_kcalloc(test, n, sizeof(*blocks),
					     GFP_KERNEL);
	struct page *page;

	KUNIT_ASSERT_NOT_NULL(test, blocks);
	for (i = 0; i < n; i++) {
		blocks[i] = alloc_pages(GFP_KERNEL | __GFP_NOWARN,
					CCSH_LARGE_ORDER);
		if (blocks[i])
			memset(page_address(blocks[i]), 0xa5,
			       PAGE_SIZE << CCSH_LARGE_ORDER);
	}
	for (i = 0; i < 64; i++) {
		page = alloc_page(GFP_KERNEL);
		if (!page)
			break;
		memset(page_address(page), 0xa5, PAGE_SIZE);
		__free_page(page);
	}
	for (i = 0; i < n; i++)
		if (blocks[i])
			__free_pages(blocks[i], CCSH_LARGE_ORDER);
}

/* Cold buffers, large and small, on memory that held data: none shared dirty. */
static void ccsh_fresh_buffers_share_clean(struct kunit *test, bool keep)
{
	unsigned long stale;
	struct ccsh_pages big, small;
	bool was;

	ccsh_pool_set_limit(SZ_16M);
	was = ccsh_emu_set_keep_contents(keep);
	ccsh_dirty_free_memory(test, SZ_8M);
	stale = ccsh_emu_stale_pages();
	KUNIT_EXPECT_EQ(test, ccsh_pages_alloc(&big, SZ_8M), 0);
	KUNIT_EXPECT_EQ(test, ccsh_pages_alloc(&small, SZ_64K + SZ_4K), 0);
	ccsh_emu_set_keep_contents(was);
	KUNIT_EXPECT_EQ_MSG(test, ccsh_emu_stale_pages() - stale, 0UL,
			    "pages shared while holding data");
	KUNIT_EXPECT_TRUE(test, ccsh_pages_clear(&big));
	KUNIT_EXPECT_TRUE(test, ccsh_pages_clear(&small));
	ccsh_pages_release(&small);
	ccsh_pages_release(&big);
}

/* pKVM, s390 PV: the host reads a shared page as it was. */
static void fresh_pages_are_clean_before_sharing_that_keeps_contents(struct kunit *test)
{
	ccsh_fresh_buffers_share_clean(test, true);
}

/* SEV-SNP, TDX: sharing scrambles the page; it is cleared after as well. */
static void fresh_pages_are_clean_before_sharing_that_scrambles(struct kunit *test)
{
	ccsh_fresh_buffers_share_clean(test, false);
}

/*
 * One block opened by a 64 KiB piece and filled with single pages, all
 * freed but one per 16-page group, so that no 64 KiB piece fits in what
 * is left: what a task can leave in no buffer without paying for it.
 * The kept pieces go to @kept, the 64 KiB one first.
 */
static void ccsh_strand_a_block(struct kunit *test, struct ccsh_pages *kept)
{
	unsigned int n = CCSH_BLOCK_PAGES - 16, i;
	struct ccsh_pages *p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&kept[0], SZ_64K), 0);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p[i], PAGE_SIZE), 0);
	for (i = 0; i < n; i++) {
		if (i % 16)
			ccsh_pages_release(&p[i]);
		else
			kept[1 + i / 16] = p[i];
	}
	kunit_kfree(test, p);
}

#define CCSH_STRAND_ROUNDS	6
#define CCSH_STRAND_KEPT	(CCSH_BLOCK_PAGES / 16)	/* 1 + (pages - 16) / 16 */

static void stranded_pages_of_open_blocks_stay_within_the_pool_limit(struct kunit *test)
{
	struct ccsh_pages *kept;
	unsigned int r, i;

	kept = kunit_kcalloc(test, CCSH_STRAND_ROUNDS * CCSH_STRAND_KEPT,
			     sizeof(*kept), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kept);
	ccsh_pool_set_limit(SZ_4M);
	for (r = 0; r < CCSH_STRAND_ROUNDS; r++) {
		ccsh_strand_a_block(test, &kept[r * CCSH_STRAND_KEPT]);
		KUNIT_EXPECT_LE_MSG(test, atomic64_read(&ccsh_stats.pooled_bytes),
				    (s64)SZ_4M, "round %u", r);
	}
	for (i = 0; i < CCSH_STRAND_ROUNDS * CCSH_STRAND_KEPT; i++) {
		KUNIT_EXPECT_TRUE(test, ccsh_pages_clear(&kept[i]));
		ccsh_pages_release(&kept[i]);
	}
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
}

/* Fill a new block with single pages into @p[0..CCSH_BLOCK_PAGES). */
static void ccsh_fill_a_block(struct kunit *test, struct ccsh_pages *p)
{
	unsigned long blocks = ccsh_carve_blocks();
	unsigned int i;

	for (i = 0; i < CCSH_BLOCK_PAGES; i++)
		KUNIT_ASSERT_EQ(test, ccsh_pages_alloc(&p[i], PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, ccsh_carve_blocks(), blocks + 1);
}

/*
 * Room for one block's unused pages, two blocks full of single pages, and
 * all but the first page of the first block freed: that fills the room.
 * Return: the pages, the second block's at CCSH_BLOCK_PAGES.
 */
static struct ccsh_pages *ccsh_two_blocks_at_the_limit(struct kunit *test)
{
	struct ccsh_pages *a;
	unsigned int i;

	a = kunit_kcalloc(test, 2 * CCSH_BLOCK_PAGES, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	ccsh_pool_set_limit((CCSH_BLOCK_PAGES - 1) * PAGE_SIZE);
	ccsh_fill_a_block(test, a);
	ccsh_fill_a_block(test, a + CCSH_BLOCK_PAGES);
	for (i = 1; i < CCSH_BLOCK_PAGES; i++)
		ccsh_pages_release(&a[i]);
	return a;
}

/*
 * Room for one block's unused pages: two full blocks, then all but one
 * page of each freed. The first block's pages fill the room; the second's
 * go back to private as they come, and its block is freed whole at last.
 */
static void piece_freed_beyond_the_limit_goes_back_to_private_at_once(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages *a = ccsh_two_blocks_at_the_limit(test);
	struct ccsh_pages *b = a + CCSH_BLOCK_PAGES;
	unsigned int i;

	for (i = 1; i < CCSH_BLOCK_PAGES; i++)
		ccsh_pages_release(&b[i]);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)((CCSH_BLOCK_PAGES - 1) * PAGE_SIZE));
	/* the first block whole but one page in use, the second's page */
	KUNIT_EXPECT_EQ(test, ccsh_emu_shared_pages() - ctx->base.emu_shared,
			(unsigned long)CCSH_BLOCK_PAGES + 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.unshare_calls) -
			ctx->base.unshare_calls, (s64)CCSH_BLOCK_PAGES - 1);
	KUNIT_EXPECT_TRUE(test, ccsh_pages_clear(&b[0]));
	ccsh_pages_release(&b[0]);
	ccsh_pages_release(&a[0]);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
	KUNIT_EXPECT_EQ(test, ccsh_emu_stray_pages(), ctx->base.emu_stray);
}

/* A hole whose conversion fails is lost alone: the rest of its block is freed. */
static void failed_hole_conversion_loses_only_the_hole(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages *a = ccsh_two_blocks_at_the_limit(test);
	struct ccsh_pages *b = a + CCSH_BLOCK_PAGES;
	unsigned int i;

	ccsh_test_fail_nth(test, CCSH_FAIL_UNSHARE, 1);
	for (i = 1; i < CCSH_BLOCK_PAGES; i++)
		ccsh_pages_release(&b[i]);
	ccsh_pages_release(&b[0]);
	ccsh_pages_release(&a[0]);
	KUNIT_EXPECT_EQ(test, ccsh_emu_lost_pages() - ctx->base.emu_lost, 1UL);
	KUNIT_EXPECT_EQ(test, ccsh_emu_stray_pages(), ctx->base.emu_stray);
	KUNIT_EXPECT_EQ(test, ccsh_carve_blocks(), 0UL);
}

/* What ccsh_spare_bytes() adds to MemAvailable less its reserve, in pages. */
static long ccsh_spare_beyond_available(void)
{
	long before = si_mem_available(), spare, after;

	spare = ccsh_spare_bytes() >> PAGE_SHIFT;
	after = si_mem_available();
	/* the least it could be adding, whichever way MemAvailable moved */
	return spare - max(before, after) + (long)(totalram_pages() / 32);
}

static void spare_bytes_count_no_pages_stranded_in_open_blocks(struct kunit *test)
{
	struct ccsh_pages kept[CCSH_STRAND_KEPT];
	unsigned int i;
	long extra;

	ccsh_pool_set_limit(SZ_16M);
	ccsh_strand_a_block(test, kept);
	KUNIT_ASSERT_GT(test, atomic64_read(&ccsh_stats.pooled_bytes), (s64)SZ_1M);
	KUNIT_ASSERT_EQ(test, ccsh_pool_whole_bytes(), 0UL);
	extra = ccsh_spare_beyond_available();
	/* 64 pages of slack for MemAvailable moving between the reads */
	KUNIT_EXPECT_LE(test, extra, 64L);
	for (i = 0; i < CCSH_STRAND_KEPT; i++)
		ccsh_pages_release(&kept[i]);
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
	KUNIT_CASE(without_a_pool_small_buffers_share_only_their_own_pages),
	KUNIT_CASE(failed_block_share_fails_the_buffer_and_leaks_the_block),
	KUNIT_CASE(reused_piece_never_shows_the_previous_contents),
	KUNIT_CASE(fresh_pages_are_clean_before_sharing_that_keeps_contents),
	KUNIT_CASE(fresh_pages_are_clean_before_sharing_that_scrambles),
	KUNIT_CASE(stranded_pages_of_open_blocks_stay_within_the_pool_limit),
	KUNIT_CASE(piece_freed_beyond_the_limit_goes_back_to_private_at_once),
	KUNIT_CASE(failed_hole_conversion_loses_only_the_hole),
	KUNIT_CASE(spare_bytes_count_no_pages_stranded_in_open_blocks),
	{}
};

static struct kunit_suite ccsh_pool_suite = {
	.name = "cc_shared_heap_pool",
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_pool_cases,
};

kunit_test_suite(ccsh_pool_suite);
