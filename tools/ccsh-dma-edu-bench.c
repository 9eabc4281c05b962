// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-dma-edu-bench: real device DMA into and out of heap buffers, through
 * QEMU's edu device and the test importer cc_shared_edu_test, for several
 * heaps in the same boot.
 *
 *   ccsh-dma-edu-bench [-t TOTAL] [-b BUFFER] HEAP...
 *
 * For each heap (a name under /dev/dma_heap/), TOTAL bytes (default
 * 64 MiB) are moved device -> memory, then memory -> device, in buffers of
 * BUFFER bytes (default 256 KiB: where the system heap is bounced, its
 * segments must fit swiotlb's 256 KiB limit). Each buffer is allocated,
 * attached and mapped, moved by the device, synced as the dma-buf rules
 * ask, checked word for word (by the CPU after device -> memory, by the
 * device after memory -> device), detached and freed.
 *
 * The clock is split in two. "dev" is the time of the device's transfers
 * (the to_mem and from_mem commands); "api" is the rest of the way a
 * buffer takes through the DMA API: attach and map, the syncs around the
 * CPU's access, unmap and detach. That is where a bounce copies. The CPU's
 * own writing and checking of the pattern is in neither. Under TCG the
 * device moves 2 KiB per 100 ms of the machine's clock, so "dev" bounds
 * every heap alike; booted with -icount the machine's clock skips the
 * waits, and its time is then an instruction count, not wall time.
 *
 * Output, one line per heap and direction:
 *   edu <heap> <to_mem|from_mem> bytes B api_ns A dev_ns D slots S wrong W
 * (S: the most swiotlb slots in use while one of its buffers was mapped;
 * W: 32-bit words that came out wrong), then for every heap after the
 * first, per direction, its time over the first heap's:
 *   edu_ratio <heap> <to_mem|from_mem> api X total Y
 * Exit status 1 if a buffer could not be moved or a word came out wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "../tests/selftests/cc_shared_heap_util.h"
#include "../tests/selftests/cc_shared_edu_util.h"

#define SEED 0x5eedbe0cu

struct edu_result {
	unsigned long long api_ns, dev_ns, bytes, wrong;
	long long slots;
};

static unsigned long long ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A sync ioctl, timed into @api. */
static int timed_sync(int buf, unsigned long long flags,
		      unsigned long long *api)
{
	unsigned long long t = ns_now();
	int ret = buf_sync(buf, flags);

	*api += ns_now() - t;
	return ret;
}

/* One buffer of @len bytes through the device; the times go into @r. */
static int move_one(const char *node, size_t len, bool to_mem,
		    struct edu_result *r)
{
	unsigned long long t, api = 0, dev = 0;
	struct edu_state st;
	long long first, used;
	unsigned int *p;
	int buf, ret = -1;

	buf = alloc_buf(node, len);
	if (buf < 0) {
		errno = -buf;
		return -1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED)
		goto out;
	t = ns_now();
	if (edu_cmd("attach %d", buf))
		goto unmap;
	api += ns_now() - t;
	used = swiotlb_slots();
	if (used > r->slots)
		r->slots = used;
	if (!to_mem) {
		/* the CPU writes what the device is to read */
		timed_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, &api);
		fill_pattern(p, len, SEED, false);
		timed_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE, &api);
	}
	t = ns_now();
	if (edu_cmd("%s %u", to_mem ? "to_mem" : "from_mem", SEED))
		goto detach;
	dev += ns_now() - t;
	if (to_mem) {
		timed_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, &api);
		r->wrong += wrong_words(p, len, SEED, &first);
		timed_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, &api);
	} else if (!edu_read_state(&st)) {
		r->wrong += st.mismatches;
	}
	ret = 0;
detach:
	t = ns_now();
	edu_cmd("detach");
	api += ns_now() - t;
	if (!ret) {
		r->api_ns += api;
		r->dev_ns += dev;
		r->bytes += len;
	}
unmap:
	munmap(p, len);
out:
	close(buf);
	return ret;
}

static int move_all(const char *name, size_t total, size_t len, bool to_mem,
		    struct edu_result *r)
{
	char node[128];
	size_t done;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	snprintf(node, sizeof(node), "/dev/dma_heap/%s", name);
	for (done = 0; done < total && !ret; done += len)
		ret = move_one(node, len, to_mem, r);
	if (ret)
		fprintf(stderr, "%s: %s failed after %zu bytes: %s\n", name,
			to_mem ? "to_mem" : "from_mem", done - len,
			strerror(errno));
	printf("edu %s %s bytes %llu api_ns %llu dev_ns %llu slots %lld wrong %llu\n",
	       name, to_mem ? "to_mem" : "from_mem", r->bytes, r->api_ns,
	       r->dev_ns, r->slots, r->wrong);
	return ret || r->wrong ? -1 : 0;
}

static double ratio(unsigned long long a, unsigned long long b)
{
	return b ? (double)a / b : 0;
}

int main(int argc, char **argv)
{
	size_t total = 64UL << 20, len = 256UL << 10;
	struct edu_result (*res)[2];
	int opt, h, d, n, bad = 0;

	while ((opt = getopt(argc, argv, "t:b:")) != -1) {
		switch (opt) {
		case 't':
			total = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			len = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	n = argc - optind;
	if (n < 1 || !len || len % 4096 || total % len)
		goto usage;
	res = calloc(n, sizeof(*res));
	if (!res)
		return 1;
	for (d = 0; d < 2; d++)
		for (h = 0; h < n; h++)
			if (move_all(argv[optind + h], total, len, !d, &res[h][d]))
				bad = 1;
	for (h = 1; h < n; h++)
		for (d = 0; d < 2; d++)
			printf("edu_ratio %s %s api %.3f total %.3f\n",
			       argv[optind + h], d ? "from_mem" : "to_mem",
			       ratio(res[h][d].api_ns, res[0][d].api_ns),
			       ratio(res[h][d].api_ns + res[h][d].dev_ns,
				     res[0][d].api_ns + res[0][d].dev_ns));
	free(res);
	return bad;
usage:
	fprintf(stderr, "usage: %s [-t TOTAL] [-b BUFFER] HEAP...\n", argv[0]);
	return 2;
}
