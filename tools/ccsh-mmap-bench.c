// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-mmap-bench: time mmap() plus the first touch of every page of a
 * large dma-buf, in one run, for
 *   system    the stock system heap (a remap call per page);
 *   per_page  system_cc_shared with naive=1, which maps a page per call as
 *             the heap did before it mapped a chunk per call (the "before");
 *   per_chunk system_cc_shared mapped a page off a 2 MiB boundary, so
 *             that no chunk can have a PMD entry: page table entries, a
 *             chunk per call at mmap();
 *   huge      system_cc_shared mapped at a 2 MiB-aligned address, where its
 *             2 MiB chunks get one PMD entry each on first touch.
 * Each is measured ROUNDS times on one buffer; the median is reported.
 * Only mmap + touch + munmap are timed, not the allocation.
 *
 * Then TLB-miss-bound reads: READS 8-byte loads at random offsets over the
 * whole buffer, already mapped and touched, from the system heap and from
 * system_cc_shared mapped huge (the median of ROUNDS).
 *
 * Output: one "name value" per line, then the ratios and the goals
 * (huge mmap + touch at most 1/4 of the system heap's time; random reads
 * faster than the system heap's).
 *
 *	ccsh-mmap-bench [SIZE_MIB]	(default 1024)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
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
#define HUGE		(2UL << 20)
#define READS		(1UL << 22)

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

static int alloc_buf(const char *heap, size_t len)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = O_RDWR };
	int fd = open(heap, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0) {
		fprintf(stderr, "%s: %s\n", heap, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return d.fd;
}

enum place { ANYWHERE, ALIGNED, MISALIGNED };

/*
 * Map @len bytes of @buf where mmap() likes, or at a 2 MiB-aligned address
 * (or a page past one): a reserved range 4 MiB longer, the buffer mapped
 * over part of it, the rest given back.
 */
static char *map_buf(int buf, size_t len, enum place where)
{
	size_t extra = 2 * HUGE;
	uintptr_t at;
	char *p;

	if (where == ANYWHERE)
		return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	p = mmap(NULL, len + extra, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return p;
	at = (((uintptr_t)p + HUGE - 1) & ~(HUGE - 1)) +
	     (where == MISALIGNED ? PAGE : 0);
	munmap(p, len + extra);
	return mmap((char *)at, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED_NOREPLACE, buf, 0);
}

/* Median ns of mmap + one write per page + munmap of a @len buffer. */
static int64_t time_mapping(const char *heap, size_t len, enum place where)
{
	uint64_t ns[ROUNDS];
	int buf, i;

	buf = alloc_buf(heap, len);
	if (buf < 0)
		return -1;
	for (i = 0; i < ROUNDS; i++) {
		uint64_t t0 = now_ns();
		char *p = map_buf(buf, len, where);
		size_t off;

		if (p == MAP_FAILED) {
			fprintf(stderr, "mmap %s: %s\n", heap, strerror(errno));
			close(buf);
			return -1;
		}
		for (off = 0; off < len; off += PAGE)
			p[off] = 1;
		munmap(p, len);	/* p escapes: the writes above happen */
		ns[i] = now_ns() - t0;
	}
	close(buf);
	qsort(ns, ROUNDS, sizeof(ns[0]), ccsh_cmp_u64);
	return ccsh_median(ns, ROUNDS);
}

/* Median ns of READS random 8-byte loads over a mapped, touched buffer. */
static int64_t time_random_reads(const char *heap, size_t len,
				 enum place where)
{
	uint64_t ns[ROUNDS], x = 0x9e3779b97f4a7c15ULL, sum = 0;
	volatile uint64_t *p;
	size_t off, words = len / sizeof(uint64_t);
	int buf, i;
	unsigned long n;

	buf = alloc_buf(heap, len);
	if (buf < 0)
		return -1;
	p = (volatile uint64_t *)map_buf(buf, len, where);
	close(buf);
	if (p == MAP_FAILED)
		return -1;
	for (off = 0; off < words; off += PAGE / sizeof(uint64_t))
		sum += p[off];
	for (i = 0; i < ROUNDS; i++) {
		uint64_t t0 = now_ns();

		for (n = 0; n < READS; n++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += p[x % words];
		}
		ns[i] = now_ns() - t0;
	}
	munmap((void *)p, len);
	if (sum == 1)	/* keeps the loads; never true for zeroed memory */
		fprintf(stderr, "unexpected contents\n");
	qsort(ns, ROUNDS, sizeof(ns[0]), ccsh_cmp_u64);
	return ccsh_median(ns, ROUNDS);
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
	int64_t sys, before, after, huge, rsys, rhuge;
	const char *cc = HEAP_DIR "system_cc_shared", *sh = HEAP_DIR "system";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!len || len % HUGE || set_naive("1"))
		return fprintf(stderr, "usage: ccsh-mmap-bench [SIZE_MIB, even] (needs %s)\n",
			       NAIVE), 1;
	before = time_mapping(cc, len, ANYWHERE);
	set_naive("0");
	after = time_mapping(cc, len, MISALIGNED);
	huge = time_mapping(cc, len, ALIGNED);
	sys = time_mapping(sh, len, ANYWHERE);
	rhuge = time_random_reads(cc, len, ALIGNED);
	rsys = time_random_reads(sh, len, ANYWHERE);
	if (sys <= 0 || before <= 0 || after <= 0 || huge <= 0 || rsys <= 0 ||
	    rhuge <= 0)
		return 1;
	printf("mmap_bytes %zu\nmmap_rounds %d\n", len, ROUNDS);
	printf("system_ns %" PRId64 "\nper_page_ns %" PRId64
	       "\nper_chunk_ns %" PRId64 "\nhuge_ns %" PRId64 "\n",
	       sys, before, after, huge);
	printf("per_chunk_over_per_page_x1000 %" PRId64 "\n",
	       after * 1000 / before);
	printf("per_chunk_over_system_x1000 %" PRId64 "\n", after * 1000 / sys);
	printf("huge_over_system_x1000 %" PRId64 "\n", huge * 1000 / sys);
	printf("random_reads %lu\nrandom_system_ns %" PRId64
	       "\nrandom_huge_ns %" PRId64 "\n", READS, rsys, rhuge);
	printf("random_huge_over_system_x1000 %" PRId64 "\n",
	       rhuge * 1000 / rsys);
	printf("goal_huge_mmap_touch_at_most_quarter_of_system %d\n",
	       huge * 4 <= sys);
	printf("goal_random_reads_faster_than_system %d\n", rhuge < rsys);
	return 0;
}
