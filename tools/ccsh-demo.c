// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-demo: allocate a buffer from the system_cc_shared heap, map it,
 * write and read it, and show the heap's counters at each step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#define HEAP_NODE "/dev/dma_heap/system_cc_shared"
#define STATS "/sys/kernel/debug/cc_shared_heap/stats"

static void show_stats(const char *when)
{
	char line[128];
	FILE *f = fopen(STATS, "r");

	printf("-- stats %s --\n", when);
	if (!f) {
		printf("   (no %s)\n", STATS);
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("   %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoul(argv[1], NULL, 0) : 4) << 20;
	struct dma_heap_allocation_data data = {
		.len = len, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	unsigned char *p;
	size_t i, bad = 0;
	int heap;

	heap = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	if (heap < 0) {
		printf("%s: %s\n", HEAP_NODE, strerror(errno));
		return 1;
	}
	show_stats("before");
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0) {
		printf("DMA_HEAP_IOCTL_ALLOC(%zu): %s\n", len, strerror(errno));
		return 1;
	}
	printf("allocated %zu bytes as dma-buf fd %u\n", len, data.fd);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, data.fd, 0);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < len; i++)
		bad += p[i] != 0;
	printf("mapped; %zu non-zero bytes in the fresh buffer\n", bad);
	memset(p, 0xab, len);
	for (i = 0, bad = 0; i < len; i++)
		bad += p[i] != 0xab;
	printf("wrote and read back %zu bytes, %zu mismatches\n", len, bad);
	show_stats("while the buffer is alive");
	munmap(p, len);
	close(data.fd);
	show_stats("after close");
	return 0;
}
