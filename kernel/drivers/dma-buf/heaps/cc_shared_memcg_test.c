// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit specification of the heap's memory-cgroup charges at the limit.
 *
 * A cgroup at its memory.max must see the heap fail with -ENOMEM, never
 * start its OOM killer, and a pooled chunk must be charged with the same
 * reclaim policy as a new chunk of its order. The cases charge a cgroup
 * no task has ever been in, /ccsh-kunit with memory.max 0, so that the
 * heap's own charge is the only one that can meet the limit. Only
 * userspace can create that cgroup: the test VM's init does, then runs
 * this suite again through /sys/kernel/debug/kunit/<suite>/run. At boot
 * the cases skip.
 */
#include <kunit/test.h>
#include <linux/cgroup.h>
#include <linux/memcontrol.h>
#include <linux/page_counter.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>

#include "cc_shared_test.h"

#define CCSH_TEST_CGROUP "/ccsh-kunit"

static void ccsh_css_put(void *css)
{
	css_put(css);
}

/* The empty cgroup at its limit, or skip. Released at the end of the case. */
static struct mem_cgroup *ccsh_full_memcg(struct kunit *test)
{
	struct cgroup_subsys_state *css;
	struct mem_cgroup *memcg;
	struct cgroup *cgrp;

	cgrp = cgroup_get_from_path(CCSH_TEST_CGROUP);
	if (IS_ERR(cgrp))
		kunit_skip(test, "no cgroup %s (the test VM's init makes it)",
			   CCSH_TEST_CGROUP);
	css = cgroup_get_e_css(cgrp, &memory_cgrp_subsys);
	cgroup_put(cgrp);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ccsh_css_put, css), 0);
	memcg = mem_cgroup_from_css(css);
	if (mem_cgroup_is_root(memcg))
		kunit_skip(test, "no memory controller for %s", CCSH_TEST_CGROUP);
	if (page_counter_read(&memcg->memory) || READ_ONCE(memcg->memory.max))
		kunit_skip(test, "%s must be unused, with memory.max 0",
			   CCSH_TEST_CGROUP);
	return memcg;
}

static long ccsh_memcg_events(struct mem_cgroup *memcg, int event)
{
	return atomic_long_read(&memcg->memory_events[event]);
}

/* One shared chunk of @order in the pool. */
static void ccsh_pool_one(struct kunit *test, unsigned int order)
{
	struct page *page = alloc_pages(GFP_KERNEL, order);

	KUNIT_ASSERT_NOT_NULL(test, page);
	ccsh_pool_set_limit(SZ_16M);
	KUNIT_ASSERT_EQ(test, ccsh_share(page, 1U << order), 0);
	KUNIT_ASSERT_TRUE(test, ccsh_pool_put(page, order));
}

static void pooled_page_at_the_limit_fails_without_oom_kill(struct kunit *test)
{
	struct mem_cgroup *old, *memcg = ccsh_full_memcg(test);
	struct ccsh_ctx *ctx = test->priv;
	long ooms = ccsh_memcg_events(memcg, MEMCG_OOM);
	struct ccsh_pages p;
	s64 shares;
	int ret;

	ccsh_pool_one(test, 0);
	shares = atomic64_read(&ccsh_stats.share_calls);
	old = set_active_memcg(memcg);
	ret = ccsh_pages_alloc(&p, PAGE_SIZE);
	set_active_memcg(old);
	if (!ret)
		ccsh_pages_release(&p);
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_EXPECT_EQ(test, ccsh_memcg_events(memcg, MEMCG_OOM), ooms);
	/* the chunk went back to the pool, and so did any block shared to cut it */
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes) - PAGE_SIZE,
			(atomic64_read(&ccsh_stats.share_calls) - shares) * SZ_2M);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pool_hits),
			ctx->base.pool_hits);
}

/*
 * A block taken from the pool for a piece the cgroup then refuses goes
 * back: the allocation got nothing, from the pool or new, and counts as
 * neither a hit nor a miss.
 */
static void refused_piece_counts_neither_pool_hit_nor_miss(struct kunit *test)
{
	struct mem_cgroup *old, *memcg = ccsh_full_memcg(test);
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_pages p;
	int ret;

	ccsh_pool_one(test, CCSH_LARGE_ORDER);
	old = set_active_memcg(memcg);
	ret = ccsh_pages_alloc(&p, PAGE_SIZE);
	set_active_memcg(old);
	if (!ret)
		ccsh_pages_release(&p);
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pool_hits),
			ctx->base.pool_hits);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pool_misses),
			ctx->base.pool_misses);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)(PAGE_SIZE << CCSH_LARGE_ORDER));
}

static const unsigned int ccsh_large_orders[] = {
	CCSH_LARGE_ORDER, CCSH_MID_ORDER,
};

static void ccsh_order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "order %u", *order);
}

KUNIT_ARRAY_PARAM(ccsh_large_order, ccsh_large_orders, ccsh_order_desc);

/*
 * A new chunk of this order would not reclaim: nor may its pooled twin.
 * Each reclaim attempt counts a "max" event; a charge refused without
 * reclaim counts none (6.12) or one (7.3).
 */
static void pooled_chunk_at_the_limit_fails_without_reclaim(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct mem_cgroup *old, *memcg = ccsh_full_memcg(test);
	long reclaims = ccsh_memcg_events(memcg, MEMCG_MAX);
	long ooms = ccsh_memcg_events(memcg, MEMCG_OOM);
	struct page *page;

	ccsh_pool_one(test, order);
	old = set_active_memcg(memcg);
	page = ccsh_pool_take(order, ccsh_chunk_gfp(order));
	set_active_memcg(old);
	KUNIT_EXPECT_NULL(test, page);
	KUNIT_EXPECT_LE(test, ccsh_memcg_events(memcg, MEMCG_MAX) - reclaims, 1);
	KUNIT_EXPECT_EQ(test, ccsh_memcg_events(memcg, MEMCG_OOM), ooms);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ccsh_stats.pooled_bytes),
			(s64)(PAGE_SIZE << order));
	if (page)
		ccsh_pool_put(page, order);
}

static struct kunit_case ccsh_memcg_cases[] = {
	KUNIT_CASE(pooled_page_at_the_limit_fails_without_oom_kill),
	KUNIT_CASE(refused_piece_counts_neither_pool_hit_nor_miss),
	KUNIT_CASE_PARAM(pooled_chunk_at_the_limit_fails_without_reclaim,
			 ccsh_large_order_gen_params),
	{}
};

/*
 * KUnit keeps a case's status from one run of the suite to the next and
 * does not run again a case whose status is "skipped": clear it, so that
 * the run from debugfs after boot runs the cases that skipped at boot.
 */
static int ccsh_memcg_suite_init(struct kunit_suite *suite)
{
	struct kunit_case *tc;

	kunit_suite_for_each_test_case(suite, tc)
		tc->status = KUNIT_SUCCESS;
	return 0;
}

static struct kunit_suite ccsh_memcg_suite = {
	.name = "cc_shared_heap_memcg",
	.suite_init = ccsh_memcg_suite_init,
	.init = ccsh_test_init,
	.exit = ccsh_test_exit,
	.test_cases = ccsh_memcg_cases,
};

kunit_test_suite(ccsh_memcg_suite);
