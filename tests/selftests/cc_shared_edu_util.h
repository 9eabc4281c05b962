/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace side of the real-DMA rig's test importer,
 * cc_shared_edu_test (QEMU's edu device): its commands and state through
 * debugfs, the pattern its device writes and checks, and swiotlb's slot
 * count. For the kselftest and for ccsh-dma-edu-bench; include after
 * cc_shared_heap_util.h.
 */
#ifndef CC_SHARED_EDU_UTIL_H
#define CC_SHARED_EDU_UTIL_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#define CTL		"/sys/kernel/debug/cc_shared_edu_test/ctl"
#define IO_TLB_USED	"/sys/kernel/debug/swiotlb/io_tlb_used"

/* Word @i of the pattern of @seed, as the driver computes it. */
static inline unsigned int edu_word(unsigned int seed, unsigned int i)
{
	unsigned int x = seed ^ (i * 0x9e3779b9u);

	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/* @p[0..@len) := the pattern of @seed (or its complement if @invert). */
static inline void fill_pattern(unsigned int *p, size_t len, unsigned int seed, bool invert)
{
	unsigned int i;

	for (i = 0; i < len / 4; i++)
		p[i] = htole32(invert ? ~edu_word(seed, i) : edu_word(seed, i));
}

/* Words of @p[0..@len) that differ from the pattern of @seed; the first at *@first. */
static inline long long wrong_words(const unsigned int *p, size_t len,
				    unsigned int seed, long long *first)
{
	long long wrong = 0;
	unsigned int i;

	*first = -1;
	for (i = 0; i < len / 4; i++) {
		if (le32toh(p[i]) == edu_word(seed, i))
			continue;
		if (!wrong++)
			*first = 4LL * i;
	}
	return wrong;
}

/* One command to the driver: 0, or the errno it failed with. */
static inline int edu_cmd(const char *fmt, ...)
{
	char cmd[64];
	va_list ap;
	ssize_t n;
	int fd, err = 0;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fd = open(CTL, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, cmd, strlen(cmd));
	if (n < 0)
		err = errno;
	else if (n != (ssize_t)strlen(cmd))
		err = EIO;	/* a command is one write, taken whole */
	close(fd);
	return err;
}

/* The driver's one-line state; 0 when read. */
#define STATE_FORMAT \
	"entries %lld bytes %lld transfers %lld mismatches %lld first_bad %lld"
struct edu_state {
	long long entries, bytes, transfers, mismatches, first_bad;
};

static inline int edu_read_state(struct edu_state *s)
{
	FILE *f = fopen(CTL, "re");
	int got = 0;

	memset(s, 0, sizeof(*s));
	s->first_bad = -1;
	if (f) {
		got = fscanf(f, STATE_FORMAT, &s->entries, &s->bytes,
			     &s->transfers, &s->mismatches, &s->first_bad);
		fclose(f);
	}
	return got == 5 ? 0 : -1;
}

/* swiotlb slots in use; 0 where this kernel set up no swiotlb. */
static inline long long swiotlb_slots(void)
{
	long long v = read_ll(IO_TLB_USED);

	return v < 0 ? 0 : v;
}

/* A buffer of @len bytes from the heap at @node: its fd, or -errno. */
static inline int alloc_buf(const char *node, size_t len)
{
	struct dma_heap_allocation_data data = {
		.len = len,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open(node, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (heap < 0)
		return -errno;
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		err = -errno;
	close(heap);
	return err ? err : (int)data.fd;
}

/* A DMA_BUF_IOCTL_SYNC of @buf: 0, or the errno. */
static inline int buf_sync(int buf, unsigned long long flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync) ? errno : 0;
}

#endif /* CC_SHARED_EDU_UTIL_H */
