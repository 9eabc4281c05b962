// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-mmap-bench: time mmap() plus the first touch of every page of a
 * large dma-buf, in one run, for
 *   system    the stock system heap (a remap call per page);
 *   per_page  system_cc_shared with naive=1, which maps a page per call as
 *             the heap did before it mapped a chunk per call (the "before");
 *   per_chunk system_cc_shared as it is (the "after").
 * Each is measured ROUNDS times on one buffer; the median is reported.
 * Only mmap + touch + munmap are timed, not the allocation. Output: one
 * "name value" per line, then the ratios.
 *
 *	ccsh-mmap-bench [SIZE_MIB]	(default 1024)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "ccsh-bench-model.h"

#define HEAP_DIR	"/dev/dma_heap/"
#define NAIVE		"/sys/kernel/debug/cc_shared_heap/naive"
#define ROUNDS		5
#define PAGE		4096UL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int set_naive(const char *val)
{
	int fd = open(NAIVE, O_WRONLY);
	int ok = fd >= 0 && write(fd, val, 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Median ns of mmap + one write per page + munmap of a @len buffer. */
static int64_t time_mapping(const char *heap, size_t len)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = O_RDWR };
	uint64_t ns[ROUNDS];
	int fd, i;

	fd = open(heap, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0) {
		fprintf(stderr, "%s: %s\n", heap, strerror(errno));
		return -1;
	}
	close(fd);
	for (i = 0; i < ROUNDS; i++) {
		uint64_t t0 = now_ns();
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       d.fd, 0);
		size_t off;

		if (p == MAP_FAILED) {
			fprintf(stderr, "mmap %s: %s\n", heap, strerror(errno));
			close(d.fd);
			return -1;
		}
		for (off = 0; off < len; off += PAGE)
			p[off] = 1;
		munmap(p, len);	/* p escapes: the writes above happen */
		ns[i] = now_ns() - t0;
	}
	close(d.fd);
	qsort(ns, ROUNDS, sizeof(ns[0]), ccsh_cmp_u64);
	return ccsh_median(ns, ROUNDS);
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
	int64_t sys, before, after;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!len || set_naive("1"))
		return fprintf(stderr, "usage: ccsh-mmap-bench [SIZE_MIB] (needs %s)\n",
			       NAIVE), 1;
	before = time_mapping(HEAP_DIR "system_cc_shared", len);
	set_naive("0");
	after = time_mapping(HEAP_DIR "system_cc_shared", len);
	sys = time_mapping(HEAP_DIR "system", len);
	if (sys <= 0 || before <= 0 || after <= 0)
		return 1;
	printf("mmap_bytes %zu\nmmap_rounds %d\n", len, ROUNDS);
	printf("system_ns %" PRId64 "\nper_page_ns %" PRId64
	       "\nper_chunk_ns %" PRId64 "\n", sys, before, after);
	printf("per_chunk_over_per_page_x1000 %" PRId64 "\n",
	       after * 1000 / before);
	printf("per_chunk_over_system_x1000 %" PRId64 "\n", after * 1000 / sys);
	return 0;
}
