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
 * Then the fault path's growth with the buffer's size: aligned mmap + first
 * touch of system_cc_shared per GiB, at 1 GiB and at LARGE_MIB (or, where
 * that cannot be allocated, the largest multiple of 256 MiB below it that
 * can), with transparent huge pages (a PMD entry per 2 MiB chunk) and
 * without (prctl(PR_SET_THP_DISABLE): each chunk mapped page by page on its
 * first fault). Each fault looks its chunk up in the buffer's table, so a
 * lookup that grows with the table shows here as time per GiB growing.
 *
 * Output: one "name value" per line, then the ratios and the goals
 * (huge mmap + touch at most 1/4 of the system heap's time; random reads
 * faster than the system heap's; per-GiB time at LARGE_MIB at most 1.2
 * times that at 1 GiB).
 *
 *	ccsh-mmap-bench [SIZE_MIB [LARGE_MIB]]	(default 1024, no scaling rows)
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
#include <sys/prctl.h>
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

/* mmap @len bytes of @buf, write once to every page, munmap. */
static int touch_once(int buf, size_t len, enum place where)
{
	char *p = map_buf(buf, len, where);
	size_t off;

	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return -1;
	}
	for (off = 0; off < len; off += PAGE)
		p[off] = 1;
	munmap(p, len);	/* p escapes: the writes above happen */
	return 0;
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

		if (touch_once(buf, len, where)) {
			close(buf);
			return -1;
		}
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

/*
 * Aligned mmap + first touch + munmap of a new @len buffer, ns per GiB, with
 * transparent huge pages and without (every 2 MiB chunk is then mapped
 * page by page on its first fault): once each, into @huge and @flat.
 */
static int per_gib_once(const char *heap, size_t len, uint64_t *huge,
			uint64_t *flat)
{
	double per_gib = (double)(1UL << 30) / len;
	int buf = alloc_buf(heap, len), ret = -1;
	uint64_t t0;

	if (buf < 0)
		return -1;
	t0 = now_ns();
	if (touch_once(buf, len, ALIGNED))
		goto out;
	*huge = (now_ns() - t0) * per_gib;
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		goto out;
	t0 = now_ns();
	ret = touch_once(buf, len, ALIGNED);
	*flat = (now_ns() - t0) * per_gib;
	if (prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0))
		ret = -1;
out:
	close(buf);
	return ret;
}

/*
 * The scaling rows: per-GiB times at 1 GiB and at @large (or the largest
 * multiple of 256 MiB below it the heap gives), the sizes alternating
 * round by round so that a busy host slows both alike; medians of ROUNDS.
 */
static int scaling_rows(const char *heap, size_t large)
{
	uint64_t huge[2][ROUNDS], flat[2][ROUNDS];
	size_t len[2] = { 1UL << 30, large };
	int64_t h[2], f[2];
	int buf = -1, i, r;

	for (; buf < 0 && len[1] > len[0]; len[1] -= 256UL << 20)
		buf = alloc_buf(heap, len[1]);
	if (buf < 0)
		return -1;
	close(buf);
	len[1] += 256UL << 20;
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < 2; i++)
			if (per_gib_once(heap, len[i], &huge[i][r], &flat[i][r]))
				return -1;
	for (i = 0; i < 2; i++) {
		qsort(huge[i], ROUNDS, sizeof(uint64_t), ccsh_cmp_u64);
		qsort(flat[i], ROUNDS, sizeof(uint64_t), ccsh_cmp_u64);
		h[i] = ccsh_median(huge[i], ROUNDS);
		f[i] = ccsh_median(flat[i], ROUNDS);
	}
	printf("scale_large_bytes %zu\n", len[1]);
	printf("scale_huge_1g_ns_per_gib %" PRId64
	       "\nscale_huge_large_ns_per_gib %" PRId64 "\n", h[0], h[1]);
	printf("scale_nothp_1g_ns_per_gib %" PRId64
	       "\nscale_nothp_large_ns_per_gib %" PRId64 "\n", f[0], f[1]);
	printf("scale_huge_large_over_1g_x1000 %" PRId64 "\n",
	       h[1] * 1000 / h[0]);
	printf("scale_nothp_large_over_1g_x1000 %" PRId64 "\n",
	       f[1] * 1000 / f[0]);
	printf("goal_per_gib_growth_at_most_20_percent %d\n",
	       h[1] * 5 <= h[0] * 6 && f[1] * 5 <= f[0] * 6);
	return 0;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
	size_t large = (size_t)(argc > 2 ? atoi(argv[2]) : 0) << 20;
	int64_t sys, before, after, huge, rsys, rhuge;
	const char *cc = HEAP_DIR "system_cc_shared", *sh = HEAP_DIR "system";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!len || len % HUGE || large % HUGE || set_naive("1"))
		return fprintf(stderr,
			       "usage: ccsh-mmap-bench [SIZE_MIB [LARGE_MIB]], even (needs %s)\n",
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
	return large && scaling_rows(cc, large) ? 1 : 0;
}
