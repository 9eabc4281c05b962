/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared fixture of the system_cc_shared KUnit suites (emulation backend).
 */
#ifndef _CC_SHARED_TEST_H
#define _CC_SHARED_TEST_H

#include <kunit/test.h>

#include "cc_shared_heap.h"
#include "cc_shared_test_base.h"

struct dma_buf;

/**
 * struct ccsh_snap - the heap's counters and the model's page counts
 * @buffers: &ccsh_stats.buffers
 * @shared_bytes: &ccsh_stats.shared_bytes
 * @pooled_bytes: &ccsh_stats.pooled_bytes
 * @leaked_bytes: &ccsh_stats.leaked_bytes
 * @share_calls: &ccsh_stats.share_calls
 * @unshare_calls: &ccsh_stats.unshare_calls
 * @share_failures: &ccsh_stats.share_failures
 * @unshare_failures: &ccsh_stats.unshare_failures
 * @pool_hits: &ccsh_stats.pool_hits
 * @pool_misses: &ccsh_stats.pool_misses
 * @emu_shared: pages the emulation holds as shared
 * @emu_lost: pages the emulation saw fail a conversion
 * @emu_stray: pages the heap holds that are neither shared nor lost
 * @violations: misuse the emulation refused
 */
struct ccsh_snap {
	s64 buffers;
	s64 shared_bytes;
	s64 pooled_bytes;
	s64 leaked_bytes;
	s64 share_calls;
	s64 unshare_calls;
	s64 share_failures;
	s64 unshare_failures;
	s64 pool_hits;
	s64 pool_misses;
	unsigned long emu_shared;
	unsigned long emu_lost;
	unsigned long emu_stray;
	unsigned long violations;
};

/**
 * struct ccsh_ctx - per-case fixture
 * @base: counters when the case started (pool drained)
 * @pool_limit: the pool's limit to restore afterwards
 * @provoked_violations: rule breaks the case caused on purpose
 */
struct ccsh_ctx {
	struct ccsh_snap base;
	u64 pool_limit;
	unsigned long provoked_violations;
};

void ccsh_snap_take(struct ccsh_snap *s);
void ccsh_test_fail_nth(struct kunit *test, enum ccsh_fail_dir dir,
			unsigned int nth);
int ccsh_test_init(struct kunit *test);
int ccsh_test_init_no_pool(struct kunit *test);
void ccsh_test_exit(struct kunit *test);
struct dma_buf *ccsh_test_alloc(struct kunit *test, unsigned long len);
void ccsh_test_put(struct dma_buf *dmabuf);

#endif /* _CC_SHARED_TEST_H */
