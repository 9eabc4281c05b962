// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture of the system_cc_shared KUnit suites.
 *
 * Every case starts with an empty pool, no fault injection and an empty
 * call log. After it, whatever it did, the pool is drained and these must
 * hold: no page is left shared, no buffer alive, every leaked byte is a
 * page the model itself failed to convert, no page the heap allocated is
 * left private without an owner, and the model saw no misuse beyond what
 * the case provoked.
 */
#include <linux/dma-buf.h>
#include <linux/fcntl.h>
#include <linux/file.h>

#include "cc_shared_test.h"

/**
 * ccsh_snap_take() - read every counter at once
 * @s: filled in
 */
void ccsh_snap_take(struct ccsh_snap *s)
{
	s->buffers = atomic64_read(&ccsh_stats.buffers);
	s->shared_bytes = atomic64_read(&ccsh_stats.shared_bytes);
	s->pooled_bytes = atomic64_read(&ccsh_stats.pooled_bytes);
	s->leaked_bytes = atomic64_read(&ccsh_stats.leaked_bytes);
	s->share_calls = atomic64_read(&ccsh_stats.share_calls);
	s->unshare_calls = atomic64_read(&ccsh_stats.unshare_calls);
	s->share_failures = atomic64_read(&ccsh_stats.share_failures);
	s->unshare_failures = atomic64_read(&ccsh_stats.unshare_failures);
	s->pool_hits = atomic64_read(&ccsh_stats.pool_hits);
	s->pool_misses = atomic64_read(&ccsh_stats.pool_misses);
	s->emu_shared = ccsh_emu_shared_pages();
	s->emu_lost = ccsh_emu_lost_pages();
	s->emu_stray = ccsh_emu_stray_pages();
	s->violations = ccsh_emu_violations();
}

static void ccsh_fail_reset_all(void)
{
#ifdef CCSH_FAULT_ATTR
	struct fault_attr *attrs[] = { &ccsh_fail_share, &ccsh_fail_unshare };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		attrs[i]->probability = 0;
		attrs[i]->interval = 1;
		attrs[i]->count = 0;
		atomic_set(&attrs[i]->times, 1);
		atomic_set(&attrs[i]->space, 0);
	}
#endif
}

/**
 * ccsh_test_fail_nth() - make the @nth conversion call in @dir fail
 * @test: the case; skipped in a kernel without fault injection, so call
 *	this before the case has anything to clean up
 * @dir: CCSH_FAIL_SHARE or CCSH_FAIL_UNSHARE
 * @nth: 1 for the next call
 *
 * Only that one call fails.
 */
void ccsh_test_fail_nth(struct kunit *test, enum ccsh_fail_dir dir,
			unsigned int nth)
{
#ifdef CCSH_FAULT_ATTR
	struct fault_attr *attr = dir == CCSH_FAIL_SHARE ? &ccsh_fail_share :
							   &ccsh_fail_unshare;

	ccsh_fail_reset_all();
	attr->interval = nth;
	attr->probability = 100;
#else
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
#endif
}

/**
 * ccsh_test_init() - start a case: emulation on, pool empty, no injection
 * @test: the case
 *
 * Return: 0.
 */
int ccsh_test_init(struct kunit *test)
{
	struct ccsh_ctx *ctx;

	if (!ccsh_emulating())
		kunit_skip(test, "needs cc_shared_heap.emulate=1");
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ccsh_fail_reset_all();
	ctx->pool_limit = ccsh_pool_get_limit();
	ccsh_pool_shrink(ULONG_MAX);
	ccsh_emu_log_clear();
	ccsh_snap_take(&ctx->base);
	test->priv = ctx;
	return 0;
}

/**
 * ccsh_test_init_no_pool() - as ccsh_test_init(), with the pool disabled
 * @test: the case
 *
 * Return: 0.
 */
int ccsh_test_init_no_pool(struct kunit *test)
{
	ccsh_test_init(test);
	ccsh_pool_set_limit(0);
	return 0;
}

/**
 * ccsh_test_exit() - end a case: drain the pool, check the invariants
 * @test: the case
 */
void ccsh_test_exit(struct kunit *test)
{
	struct ccsh_ctx *ctx = test->priv;
	struct ccsh_snap now;

	if (!ctx)
		return;
	ccsh_fail_reset_all();
	ccsh_pool_shrink(ULONG_MAX);
	ccsh_pool_set_limit(ctx->pool_limit);
	ccsh_snap_take(&now);
	KUNIT_EXPECT_EQ_MSG(test, now.emu_shared, ctx->base.emu_shared,
			    "pages left shared");
	KUNIT_EXPECT_EQ_MSG(test, now.pooled_bytes, 0, "pool not empty");
	KUNIT_EXPECT_EQ_MSG(test, now.buffers, ctx->base.buffers,
			    "buffers left alive");
	KUNIT_EXPECT_EQ_MSG(test, now.shared_bytes, ctx->base.shared_bytes,
			    "shared_bytes not back to its start");
	KUNIT_EXPECT_EQ_MSG(test, (now.emu_lost - ctx->base.emu_lost) * PAGE_SIZE,
			    (unsigned long)(now.leaked_bytes - ctx->base.leaked_bytes),
			    "leaked_bytes differs from the pages the model lost");
	KUNIT_EXPECT_EQ_MSG(test, now.emu_stray, ctx->base.emu_stray,
			    "pages the heap allocated are left private");
	KUNIT_EXPECT_EQ_MSG(test, now.violations - ctx->base.violations,
			    ctx->provoked_violations,
			    "emulation saw misuse of the conversion rules");
}

/**
 * ccsh_test_alloc() - allocate a heap buffer or fail the case
 * @test: the case
 * @len: bytes
 *
 * Return: the dma-buf.
 */
struct dma_buf *ccsh_test_alloc(struct kunit *test, unsigned long len)
{
	struct dma_buf *dmabuf;

	dmabuf = ccsh_heap_allocate("kunit", len, O_RDWR | O_CLOEXEC, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dmabuf);
	return dmabuf;
}

/**
 * ccsh_test_put() - release a buffer now
 * @dmabuf: the buffer
 *
 * dma_buf_put() from a kernel thread releases later; cases need it now.
 */
void ccsh_test_put(struct dma_buf *dmabuf)
{
	__fput_sync(dmabuf->file);
}
