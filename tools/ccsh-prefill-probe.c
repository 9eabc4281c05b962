// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-prefill-probe: what the first allocations after boot convert when
 * the heap was booted with cc_shared_heap.prefill=SIZE. Run it before
 * anything else touches the heap.
 *
 * It waits (up to a minute) for the background prefill to have shared
 * SIZE bytes into the pool, then allocates SIZE bytes as buffers of
 * BUF_KIB KiB, all alive at once (so that small buffers are cut from the
 * prefilled blocks too), and reads the heap's counters before and after.
 *
 * Output: one "name value" per line, then the goal: the first SIZE bytes
 * allocated after boot make no conversion call.
 *
 *	ccsh-prefill-probe [BUF_KIB]	(default 1024)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#define HEAP	"/dev/dma_heap/system_cc_shared"
#define STATS	"/sys/kernel/debug/cc_shared_heap/stats"
#define PREFILL	"/sys/module/cc_shared_heap/parameters/prefill"
#define MAX_BUFS	4096

/* The number in @path, or -1. */
static long long read_number(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (f && fscanf(f, "%lld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

/* The value of counter @key in the heap's stats, or -1. */
static long long stat_value(const char *key)
{
	char name[64];
	long long v, found = -1;
	FILE *f = fopen(STATS, "re");

	while (f && fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

/* Milliseconds until the pool holds @want bytes (at most 60 s), or -1. */
static long wait_for_pool(long long want)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	long ms;

	for (ms = 0; ms <= 60000; ms += 100) {
		if (stat_value("pooled_bytes") >= want)
			return ms;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* @n buffers of @len bytes, all alive at once, then freed: 0 or -errno. */
static int alloc_all(int heap, unsigned long long len, unsigned int n)
{
	static int fds[MAX_BUFS];
	struct dma_heap_allocation_data data = {
		.len = len,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	unsigned int i, got;
	int err = 0;

	for (got = 0; got < n; got++) {
		data.fd = 0;
		if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0) {
			err = -errno;
			break;
		}
		fds[got] = data.fd;
	}
	for (i = 0; i < got; i++)
		close(fds[i]);
	return err;
}

int main(int argc, char **argv)
{
	unsigned long long buf = (argc > 1 ? strtoull(argv[1], NULL, 0) : 1024) << 10;
	long long want = read_number(PREFILL), shares, hits;
	unsigned int n;
	long waited;
	int heap, err;

	printf("prefill_bytes %lld\n", want);
	if (want <= 0 || !buf) {
		printf("prefill_probe_skipped 1\n");	/* boot with prefill=SIZE */
		return 0;
	}
	n = want / buf;
	if (!n || n > MAX_BUFS) {
		fprintf(stderr, "ccsh-prefill-probe: %lld bytes in %llu-byte buffers: out of range\n",
			want, buf);
		return 1;
	}
	waited = wait_for_pool(want);
	printf("prefill_wait_ms %ld\n", waited);
	heap = open(HEAP, O_RDONLY | O_CLOEXEC);
	if (heap < 0 || waited < 0) {
		fprintf(stderr, "ccsh-prefill-probe: %s\n",
			heap < 0 ? strerror(errno) : "the pool never filled");
		return 1;
	}
	shares = stat_value("share_calls");
	hits = stat_value("pool_hits");
	err = alloc_all(heap, buf, n);
	close(heap);
	if (err) {
		fprintf(stderr, "ccsh-prefill-probe: allocation: %s\n", strerror(-err));
		return 1;
	}
	shares = stat_value("share_calls") - shares;
	printf("prefill_probe_buffer_bytes %llu\n", buf);
	printf("prefill_probe_buffers %u\n", n);
	printf("prefill_first_bytes_share_calls %lld\n", shares);
	printf("prefill_first_bytes_pool_hits %lld\n", stat_value("pool_hits") - hits);
	printf("goal_prefill_first_bytes_convert_nothing %d\n", shares == 0);
	return 0;
}
