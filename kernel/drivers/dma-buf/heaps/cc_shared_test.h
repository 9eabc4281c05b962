/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared fixture of the system_cc_shared KUnit suites (emulation backend).
 */
#ifndef _CC_SHARED_TEST_H
#define _CC_SHARED_TEST_H

#include <kunit/test.h>

#include "cc_shared_heap.h"

struct dma_buf;

/**
 * struct ccsh_snap - the heap's counters and the model's page counts
 */
struct ccsh_snap {
	s64 buffers, shared_bytes, pooled_bytes, leaked_bytes;
	s64 share_calls, unshare_calls, share_failures, unshare_failures;
	s64 pool_hits, pool_misses;
	unsigned long emu_shared, emu_lost, violations;
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
void ccsh_fail_nth(struct fault_attr *attr, unsigned int nth);
int ccsh_test_init(struct kunit *test);
int ccsh_test_init_no_pool(struct kunit *test);
void ccsh_test_exit(struct kunit *test);
struct dma_buf *ccsh_test_alloc(struct kunit *test, unsigned long len);
void ccsh_test_put(struct dma_buf *dmabuf);

#endif /* _CC_SHARED_TEST_H */
