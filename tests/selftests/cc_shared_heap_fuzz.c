// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzer of /dev/dma_heap/system_cc_shared.
 *
 * Four threads, each with a fixed seed (printed, so a run can be repeated
 * with -s), send the heap node random allocation requests: lengths from 0
 * through a few MiB to 1 << 62 and ~0, valid and invalid fd_flags,
 * heap_flags and fd fields, the command encoded with a smaller or larger
 * structure, another type, another direction or an unknown number, the
 * argument unaligned, straddling an unmapped page, on a read-only page,
 * NULL, PROT_NONE or in kernel space. Between the requests each thread
 * closes, dups, maps (shared, private, beyond the end), writes and reads
 * back, forks a child that writes through a mapping, changes the pool
 * limit, drains the pool and imports its buffers into a device (vgem, or
 * the module's test importer).
 *
 * It proves that every request either succeeds with a dma-buf fd of the
 * page-rounded length and the asked-for flags, or fails with an errno the
 * heap may give (EINVAL, ENOMEM, EIO, EINTR, EFAULT, EMFILE; ENOTTY never),
 * and the very errno the request calls for where it is certain; that
 * mappings behave (shared ones made, of read-only buffers too, private
 * ones refused with EINVAL, none beyond the end; fresh buffers read zero,
 * data reads back, a child's writes are seen);
 * and that once everything is closed no buffer is left and the heap's
 * counters match the emulated page states, without emulation violations.
 *
 *	cc_shared_heap_fuzz [-n CALLS] [-t SECONDS] [-s SEED]
 *
 * Stops after CALLS allocation ioctls in all (default 100000) or after
 * SECONDS (default 120), whichever comes first. Output is TAP.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "cc_shared_heap_util.h"

#define TEST_IMPORT	DEBUGFS "test_import"
#define THREADS		4
#define MAX_BUFS	16		/* entries a thread holds at most */
#define THREAD_BYTES	(32UL << 20)	/* bytes a thread keeps at most */
#define MAX_FD		4096
#define RW_BYTES	(5 * PAGE)	/* arena: 5 pages rw, none, ro, none */
#define ARENA_BYTES	(8 * PAGE)
#define STRUCT_SIZE	sizeof(struct dma_heap_allocation_data)
#define MAX_LEN		(4UL << 20)	/* most a request may really take */
#define NOTES_MAX	24		/* problems printed, of all threads */
#define CHECKS		11
#define BIT(n)		(1U << (n))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* --- results of a request --- */

enum outcome {
	O_OK, O_EINVAL, O_ENOMEM, O_EIO, O_EINTR, O_EFAULT, O_EMFILE,
	O_OTHER, O_NR
};

static const char *const outcome_names[O_NR] = {
	"ok", "EINVAL", "ENOMEM", "EIO", "EINTR", "EFAULT", "EMFILE", "other"
};

static enum outcome outcome_of(int err)
{
	switch (err) {
	case 0:		return O_OK;
	case EINVAL:	return O_EINVAL;
	case ENOMEM:	return O_ENOMEM;
	case EIO:	return O_EIO;
	case EINTR:	return O_EINTR;
	case EFAULT:	return O_EFAULT;
	case EMFILE:	return O_EMFILE;
	default:	return O_OTHER;
	}
}

/* what went wrong, counted per kind */
enum problem { P_PREDICT, P_FD, P_MAP, P_RO_MAP, P_DATA, P_FORK, P_NR };

struct tally {			/* all longs: sum() adds them up */
	long calls, outcome[O_NR], problem[P_NR];
	long closes, maps, touches, dups, forks, pool_writes, drains;
	long imports, import_errors, orphans, bytes_ok;
};

struct buf {
	int fd;			/* -1 once closed: the mapping lives on */
	size_t size;
	bool writable;
	bool fresh;		/* nobody wrote to it yet: it must read zero */
	unsigned char *map;
	size_t map_len;
};

struct worker {
	int idx;
	unsigned long long seed, rng;
	int heap;
	unsigned char *arena;
	struct buf bufs[MAX_BUFS];
	int nbufs;
	size_t bytes;
	unsigned int tag;
	struct tally t;
	pthread_t tid;
};

/* one request: the command, where its argument is, what it holds */
struct call {
	unsigned long cmd;
	unsigned char *arg;
	size_t readable;	/* bytes at arg the kernel can read */
	bool read_only;		/* the kernel cannot write at arg */
	struct dma_heap_allocation_data data;
};

static struct {
	long calls;
	int seconds;
	unsigned long long seed;
} opt = { 100000, 120, 0x5eedcc5ULL };

static atomic_long calls_left;
static atomic_int notes;
static double deadline;
static unsigned long long mem_total;
static long long pool_limit0 = -1;
static bool have_import;
static int vgem_fd = -1;
static pthread_rwlock_t fd_lock;
/* fds some thread has registered; each thread changes only its own */
static unsigned char known[MAX_FD];
static int tap_nr;
static bool all_ok = true;

/* --- small helpers --- */

static unsigned long long rnd(struct worker *w)
{
	return splitmix64(&w->rng);
}

static unsigned long long below(struct worker *w, unsigned long long n)
{
	return n ? rnd(w) % n : 0;
}

static unsigned long long page_align(unsigned long long len)
{
	return (len + PAGE - 1) & ~(PAGE - 1);	/* wraps to 0 as the kernel's */
}

static unsigned long long meminfo_total(void)
{
	long long bytes = meminfo_bytes("MemTotal:");

	return bytes > 0 ? bytes : 0;
}

/* A problem: counted, and the first few of all threads printed. */
static void note(struct worker *w, enum problem p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	w->t.problem[p]++;
	if (atomic_fetch_add(&notes, 1) >= NOTES_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("# thread %d: %s\n", w->idx, msg);
}

static void tap(bool ok, const char *name, const char *fmt, ...)
{
	char msg[512] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	all_ok &= ok;
	printf("%sok %d %s%s%s\n", ok ? "" : "not ", ++tap_nr, name,
	       msg[0] ? " # " : "", msg);
}

static void tap_skip(const char *name, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++tap_nr, name, why);
}

/* --- heap statistics --- */

/*
 * --- the fd table ---
 * A worker holds fd_lock for reading whenever it opens or closes an fd,
 * and for writing around a request whose success does not tell the fd
 * (the structure written back is too short for it): nobody else opens
 * an fd then, so the fd it gets is the lowest one free before it.
 */

static void lock_fds(bool exclusive)
{
	if (exclusive)
		pthread_rwlock_wrlock(&fd_lock);
	else
		pthread_rwlock_rdlock(&fd_lock);
}

static void unlock_fds(void)
{
	pthread_rwlock_unlock(&fd_lock);
}

static bool is_dmabuf(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strncmp(link, "/dmabuf:", 8);
}

/* The lowest fd free, the one the next fd opened gets; -1 if none. */
static int lowest_free_fd(int any)
{
	int fd = fcntl(any, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* With the workers gone: dma-buf fds still open, into @fds (up to @max). */
static int find_orphans(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, fd;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d) || (fd < MAX_FD && known[fd]) ||
		    !is_dmabuf(fd))
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* write_str() in a worker: opening the file takes an fd. */
static int write_locked(const char *path, const char *val)
{
	int ret;

	lock_fds(false);
	ret = write_str(path, val);
	unlock_fds();
	return ret;
}

/* --- a thread's buffers --- */

static struct buf *add_buf(struct worker *w, int fd, size_t size,
			   bool writable, bool fresh)
{
	struct buf *b = &w->bufs[w->nbufs++];

	*b = (struct buf){ .fd = fd, .size = size, .writable = writable,
			   .fresh = fresh };
	w->bytes += size;
	return b;
}

/* Close @b's fd; its mapping, if any, lives on. */
static void close_buf_fd(struct worker *w, struct buf *b)
{
	if (b->fd < 0)
		return;
	lock_fds(false);
	known[b->fd] = 0;
	if (close(b->fd))
		note(w, P_FD, "close(%d): %s", b->fd, strerror(errno));
	unlock_fds();
	b->fd = -1;
	w->t.closes++;
}

static void unmap_buf(struct worker *w, struct buf *b)
{
	if (b->map && munmap(b->map, b->map_len))
		note(w, P_MAP, "munmap: %s", strerror(errno));
	b->map = NULL;
}

static void drop_buf(struct worker *w, int i)
{
	struct buf *b = &w->bufs[i];

	unmap_buf(w, b);
	close_buf_fd(w, b);
	w->bytes -= b->size;
	*b = w->bufs[--w->nbufs];
}

/* A random entry that @want accepts, or NULL. */
static struct buf *pick(struct worker *w, bool (*want)(const struct buf *))
{
	int i, start;

	if (!w->nbufs)
		return NULL;
	start = below(w, w->nbufs);
	for (i = 0; i < w->nbufs; i++) {
		struct buf *b = &w->bufs[(start + i) % w->nbufs];

		if (want(b))
			return b;
	}
	return NULL;
}

static bool has_fd(const struct buf *b)
{
	return b->fd >= 0;
}

static bool unmapped_fd(const struct buf *b)
{
	return b->fd >= 0 && !b->map;
}

static bool mapped(const struct buf *b)
{
	return b->map;
}

static bool mapped_rw(const struct buf *b)
{
	return b->map && b->writable;
}

/* --- generating a request --- */

static unsigned long long gen_len(struct worker *w)
{
	switch (below(w, 24)) {
	case 0:  return 0;
	case 1:  return 1ULL << 62;
	case 2:  return ~0ULL;
	case 3:  return ~0ULL - below(w, 2 * PAGE);	/* wraps, or not */
	case 4:  return rnd(w);
	case 5:  return mem_total + below(w, mem_total);
	case 6:  return (1 + below(w, 1024)) * PAGE;	/* up to 4 MiB */
	case 7:
	case 8:
	case 9:  return 1 + below(w, 4 * PAGE);		/* unaligned */
	default: return (1 + below(w, 16)) * PAGE;
	}
}

static unsigned int gen_fd_flags(struct worker *w)
{
	static const unsigned int valid[] = {
		O_RDWR | O_CLOEXEC, O_RDWR | O_CLOEXEC, O_RDWR, O_CLOEXEC, 0,
	};
	static const unsigned int odd[] = {
		O_WRONLY, O_ACCMODE, O_RDWR | O_NONBLOCK, O_RDWR | O_APPEND,
		O_RDWR | O_CLOEXEC | O_DIRECT, O_RDWR | (1U << 31),
	};
	unsigned int roll = below(w, 100);

	if (roll < 82)
		return valid[below(w, ARRAY_SIZE(valid))];
	if (roll < 95)
		return odd[below(w, ARRAY_SIZE(odd))];
	return (unsigned int)rnd(w);
}

static void gen_data(struct worker *w, struct dma_heap_allocation_data *d)
{
	static const unsigned long long heap_flags[] = { 1, 1ULL << 63, 2 };

	d->len = gen_len(w);
	d->fd_flags = gen_fd_flags(w);
	d->heap_flags = 0;
	if (below(w, 100) < 7)
		d->heap_flags = below(w, 2) ? rnd(w) | 1 :
			heap_flags[below(w, ARRAY_SIZE(heap_flags))];
	d->fd = below(w, 100) < 4 ? 1 + (unsigned int)below(w, 1U << 31) : 0;
}

/* The command: mostly the real one, else a variant the core must handle. */
static unsigned long gen_cmd(struct worker *w)
{
	static const unsigned int small[] = { 0, 4, 8, 11, 12, 16, 20, 23 };
	static const unsigned int large[] = { 25, 32, 64, 128, 129, 4096, 16383 };
	unsigned int dir = _IOC_READ | _IOC_WRITE, type = DMA_HEAP_IOC_MAGIC;
	unsigned int nr = 0, size = STRUCT_SIZE, roll = below(w, 100);

	if (roll < 70)
		return DMA_HEAP_IOCTL_ALLOC;
	if (roll < 77)
		type = below(w, 256);		/* the core ignores the type */
	else if (roll < 83)
		size = small[below(w, ARRAY_SIZE(small))];
	else if (roll < 89)
		size = large[below(w, ARRAY_SIZE(large))];
	else if (roll < 92)
		dir = _IOC_WRITE;		/* no copy back: fd unknown */
	else if (roll < 94)
		dir = _IOC_READ;
	else if (roll < 95)
		dir = _IOC_NONE;
	else {
		nr = 1 + below(w, 255);
		type = below(w, 256);
		dir = below(w, 4);
		size = below(w, 1U << _IOC_SIZEBITS);
	}
	return _IOC(dir, type, nr, size);
}

/* An address the kernel cannot read at all. */
static unsigned char *bad_pointer(struct worker *w)
{
	switch (below(w, 4)) {
	case 0:  return NULL;
	case 1:  return w->arena + 5 * PAGE;			/* PROT_NONE */
	case 2:  return (unsigned char *)0xffff888000000000UL;	/* kernel */
	default: return (unsigned char *)0x8000000000001000UL;	/* non-canonical */
	}
}

/* Where the argument goes: rw (aligned or not), bad, straddling, ro. */
static void gen_place(struct worker *w, struct call *c)
{
	size_t need = MAX((size_t)_IOC_SIZE(c->cmd), STRUCT_SIZE);
	unsigned int roll = below(w, 100);
	size_t k;

	c->readable = SIZE_MAX;
	c->read_only = false;
	c->arg = w->arena + (below(w, 2) ? 0 : 64);
	if (need > RW_BYTES - 64)
		c->arg = w->arena;
	if (roll < 70)
		return;
	if (roll < 82) {
		c->arg = w->arena + below(w, RW_BYTES - need + 1);
	} else if (roll < 87) {
		c->arg = bad_pointer(w);
		c->readable = 0;
	} else if (roll < 93) {
		k = 1 + below(w, STRUCT_SIZE - 1);	/* then PROT_NONE */
		c->arg = w->arena + RW_BYTES - k;
		c->readable = k;
	} else if (need <= PAGE) {
		c->arg = w->arena + 6 * PAGE + below(w, PAGE - need + 1);
		c->read_only = true;
	}
}

/* Write the request where the kernel will read it. */
static void put_arg(struct worker *w, const struct call *c)
{
	unsigned char *ro = w->arena + 6 * PAGE;

	if (!c->readable)
		return;
	if (c->read_only) {
		mprotect(ro, PAGE, PROT_READ | PROT_WRITE);
		memcpy(c->arg, &c->data, STRUCT_SIZE);
		mprotect(ro, PAGE, PROT_READ);
		return;
	}
	memcpy(c->arg, &c->data, MIN(c->readable, STRUCT_SIZE));
}

/*
 * Bytes of the structure the kernel reads and writes. The dma-heap core
 * copies all the command's size, the module's misc device at most the
 * structure: both agree on the first STRUCT_SIZE bytes, and the requests
 * made here never tell them apart beyond that.
 */
static size_t in_bytes(unsigned long cmd)
{
	return _IOC_DIR(cmd) & _IOC_WRITE ? MIN(_IOC_SIZE(cmd), STRUCT_SIZE) : 0;
}

static size_t out_bytes(unsigned long cmd)
{
	return _IOC_DIR(cmd) & _IOC_READ ? MIN(_IOC_SIZE(cmd), STRUCT_SIZE) : 0;
}

/* The request as the kernel sees it: what it read, zeros after. */
static struct dma_heap_allocation_data seen(const struct call *c)
{
	struct dma_heap_allocation_data d = { 0 };

	memcpy(&d, &c->data, in_bytes(c->cmd));
	return d;
}

/*
 * A request the kernel would carry out takes at most MAX_LEN: a length
 * cut short by a smaller structure (its low bytes only) could ask for
 * hundreds of MiB, seconds of work under TCG and a risk of OOM kills.
 * Larger ones must be larger than RAM, and fail up front.
 */
static void bound_len(struct worker *w, struct call *c)
{
	unsigned long long len = page_align(seen(c).len);

	if (len > MAX_LEN && len <= mem_total)
		c->data.len = (1 + below(w, 16)) * PAGE;
}

/* The outcomes the request may have (mask of BIT(enum outcome)). */
static unsigned int expected(const struct call *c)
{
	const unsigned int ok_fd = O_CLOEXEC | O_ACCMODE, ok_heap = O_CLOEXEC | O_RDWR;
	struct dma_heap_allocation_data d = seen(c);

	if (_IOC_NR(c->cmd))
		return BIT(O_EINVAL);		/* the core knows only nr 0 */
	if (in_bytes(c->cmd) > c->readable)
		return BIT(O_EFAULT);
	if (d.fd || (d.fd_flags & ~ok_fd) || d.heap_flags ||
	    !page_align(d.len) || (d.fd_flags & ~ok_heap))
		return BIT(O_EINVAL);
	if (page_align(d.len) > mem_total)
		return BIT(O_ENOMEM);
	if (c->read_only && out_bytes(c->cmd))
		return BIT(O_EFAULT) | BIT(O_ENOMEM) | BIT(O_EMFILE);
	return BIT(O_OK) | BIT(O_ENOMEM) | BIT(O_EMFILE);
}

/* --- the allocation request --- */

/* Whether @fd is a dma-buf fd no thread has yet: one the heap just made. */
static bool new_dmabuf(struct worker *w, const struct call *c, int fd)
{
	if (fd >= 0 && fd < MAX_FD && !known[fd] && is_dmabuf(fd))
		return true;
	note(w, P_FD, "cmd %#lx gave fd %d: not a new dma-buf", c->cmd, fd);
	return false;
}

/* The new fd has the page-rounded size and the flags asked for. */
static void check_new_fd(struct worker *w, const struct call *c, int fd)
{
	struct dma_heap_allocation_data d = seen(c);
	unsigned long long size = page_align(d.len);
	int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
	off_t end = lseek(fd, 0, SEEK_END);

	if (end != (off_t)size)
		note(w, P_FD, "len %#llx: size %lld, not %llu", d.len,
		     (long long)end, size);
	else if (!(fdfl & FD_CLOEXEC) != !(d.fd_flags & O_CLOEXEC) ||
		 (fl & O_ACCMODE) != (int)(d.fd_flags & O_ACCMODE))
		note(w, P_FD, "fd_flags %#x: fd flags %#x, file flags %#x",
		     d.fd_flags, fdfl, fl);
}

/* The fd field the kernel wrote back. */
static int returned_fd(const struct call *c)
{
	struct dma_heap_allocation_data back = { .fd = -1 };

	memcpy(&back, c->arg, out_bytes(c->cmd));
	return back.fd;
}

/* After a success, under the fd lock: check the new fd and keep it. */
static void take_fd(struct worker *w, const struct call *c, int fd)
{
	struct dma_heap_allocation_data d = seen(c);

	if (!new_dmabuf(w, c, fd))
		return;		/* not ours to close: the final sweep finds it */
	check_new_fd(w, c, fd);
	known[fd] = 1;
	add_buf(w, fd, page_align(d.len), (d.fd_flags & O_ACCMODE) == O_RDWR,
		true);
	w->t.bytes_ok += page_align(d.len);
}

static void record(struct worker *w, const struct call *c, unsigned int mask,
		   int err)
{
	enum outcome o = outcome_of(err);
	struct dma_heap_allocation_data d = c->data;

	w->t.calls++;
	w->t.outcome[o]++;
	if (o == O_OTHER || !(mask & BIT(o)))
		note(w, P_PREDICT,
		     "cmd %#lx arg %p len %#llx fd %u fd_flags %#x heap_flags %#llx: %s (expected mask %#x)",
		     c->cmd, (void *)c->arg, d.len, d.fd, d.fd_flags,
		     d.heap_flags, err ? strerror(err) : "success", mask);
}

/* Keep the thread within its share: drop buffers before a new one. */
static void make_room(struct worker *w)
{
	while (w->nbufs >= MAX_BUFS - 1 || w->bytes > THREAD_BYTES)
		drop_buf(w, below(w, w->nbufs));
}

static void op_alloc(struct worker *w)
{
	struct call c;
	unsigned int mask;
	int ret, err, lowest;
	bool exclusive;

	make_room(w);
	gen_data(w, &c.data);
	c.cmd = gen_cmd(w);
	gen_place(w, &c);
	bound_len(w, &c);
	mask = expected(&c);
	/* a success that does not tell the fd: others keep theirs still */
	exclusive = (mask & BIT(O_OK)) && out_bytes(c.cmd) < 12;
	put_arg(w, &c);
	lock_fds(exclusive);
	lowest = exclusive ? lowest_free_fd(w->heap) : -1;
	ret = ioctl(w->heap, c.cmd, c.arg);
	err = ret < 0 ? errno : 0;
	if (ret > 0)
		err = -1;		/* neither success nor an error */
	if (!ret) {
		w->t.orphans += exclusive;
		take_fd(w, &c, exclusive ? lowest : returned_fd(&c));
	}
	unlock_fds();
	record(w, &c, mask, err);
}

/* --- what happens between the requests --- */

static void op_close(struct worker *w)
{
	struct buf *b = pick(w, has_fd);

	if (!b)
		return;
	/* half the time the mapping outlives the fd */
	if (below(w, 2))
		unmap_buf(w, b);
	close_buf_fd(w, b);
	if (!b->map)
		drop_buf(w, b - w->bufs);
}

/* A mapping that must be refused: private, or beyond the end. */
static void map_refused(struct worker *w, struct buf *b)
{
	size_t pages = b->size / PAGE, off, len;
	int prot = b->writable ? PROT_READ | PROT_WRITE : PROT_READ;
	bool private = below(w, 2);
	void *p;

	if (private) {
		off = below(w, pages);
		len = (1 + below(w, pages - off)) * PAGE;
	} else {
		off = below(w, pages + 1);
		len = (pages - off + 1 + below(w, 4)) * PAGE;
	}
	p = mmap(NULL, len, prot, private ? MAP_PRIVATE : MAP_SHARED, b->fd,
		 off * PAGE);
	if (p != MAP_FAILED) {
		note(w, P_MAP, "%s mapping of %zu pages at page %zu of %zu given",
		     private ? "private" : "overlong", len / PAGE, off, pages);
		munmap(p, len);
	} else if (private && errno != EINVAL) {
		note(w, P_MAP, "private mapping: %s, not EINVAL", strerror(errno));
	}
}

static void op_mmap(struct worker *w)
{
	struct buf *b = pick(w, unmapped_fd);
	int prot;
	size_t pages, off, len;
	void *p;

	if (!b)
		return;
	w->t.maps++;
	if (below(w, 100) < 20) {
		map_refused(w, b);
		return;
	}
	pages = b->size / PAGE;
	off = below(w, 2) ? 0 : below(w, pages);
	len = (below(w, 2) ? pages - off : 1 + below(w, pages - off)) * PAGE;
	prot = b->writable ? PROT_READ | PROT_WRITE : PROT_READ;
	p = mmap(NULL, len, prot, MAP_SHARED, b->fd, off * PAGE);
	if (p == MAP_FAILED) {
		/* a read-only buffer maps shared and read-only like any file */
		if (errno != ENOMEM)
			note(w, b->writable ? P_MAP : P_RO_MAP,
			     "shared %s mapping of %zu pages at page %zu of %zu: %s",
			     b->writable ? "read-write" : "read-only (O_RDONLY fd)",
			     len / PAGE, off, pages, strerror(errno));
		return;
	}
	b->map = p;
	b->map_len = len;
}

static int sync_buf(struct worker *w, struct buf *b, unsigned long long flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_RW };

	if (b->fd < 0 || !ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync))
		return 0;
	note(w, P_MAP, "DMA_BUF_IOCTL_SYNC %#llx: %s", flags, strerror(errno));
	return -1;
}

/* Fresh buffers read zero; what is written reads back (sampled pages). */
static void op_touch(struct worker *w)
{
	struct buf *b = pick(w, mapped);
	size_t pages, step, i;
	unsigned int *first, *last, tag = ++w->tag * 2654435761u;

	if (!b)
		return;
	w->t.touches++;
	pages = b->map_len / PAGE;
	step = pages > 64 ? pages / 64 : 1;
	for (i = 0; b->fresh && i < pages; i += step) {
		first = (unsigned int *)(b->map + i * PAGE);
		last = (unsigned int *)(b->map + (i + 1) * PAGE) - 1;
		if (*first || *last) {
			note(w, P_DATA, "fresh buffer: page %zu reads %#x/%#x",
			     i, *first, *last);
			break;
		}
	}
	if (!b->writable || sync_buf(w, b, DMA_BUF_SYNC_START))
		return;
	b->fresh = false;
	for (i = 0; i < pages; i += step) {
		*(unsigned int *)(b->map + i * PAGE) = tag ^ i;
		*((unsigned int *)(b->map + (i + 1) * PAGE) - 1) = ~tag ^ i;
	}
	sync_buf(w, b, DMA_BUF_SYNC_END);
	for (i = 0; i < pages; i += step) {
		first = (unsigned int *)(b->map + i * PAGE);
		last = (unsigned int *)(b->map + (i + 1) * PAGE) - 1;
		if (*first != (tag ^ i) || *last != (~tag ^ i)) {
			note(w, P_DATA, "page %zu of %zu does not read back",
			     i, pages);
			break;
		}
	}
}

static void op_munmap(struct worker *w)
{
	struct buf *b = pick(w, mapped);

	if (!b)
		return;
	unmap_buf(w, b);
	if (b->fd < 0)
		drop_buf(w, b - w->bufs);
}

static void op_dup(struct worker *w)
{
	struct buf *b = pick(w, has_fd), *copy;
	off_t end;
	int fd;

	if (!b || w->nbufs >= MAX_BUFS)
		return;
	lock_fds(false);
	fd = fcntl(b->fd, below(w, 2) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd >= MAX_FD) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		known[fd] = 1;
	unlock_fds();
	if (fd < 0)
		return;
	w->t.dups++;
	b->fresh = false;	/* written through either, seen through both */
	copy = add_buf(w, fd, b->size, b->writable, false);
	end = lseek(fd, 0, SEEK_END);
	if (end != (off_t)copy->size)
		note(w, P_FD, "dup'd fd: size %lld, not %zu", (long long)end,
		     copy->size);
}

/* A child writes through a shared mapping and exits; the parent sees it. */
static void op_fork(struct worker *w)
{
	struct buf *b = pick(w, mapped_rw);
	unsigned int magic = 0xc0ffee00 | w->idx, *word = NULL;
	int status;
	pid_t pid;

	if (b) {
		b->fresh = false;
		word = (unsigned int *)(b->map + b->map_len) - 1;
	}
	pid = fork();
	if (pid == 0) {
		if (word)
			*word = magic;
		_exit(0);
	}
	if (pid < 0) {
		if (errno != EAGAIN && errno != ENOMEM)
			note(w, P_FORK, "fork: %s", strerror(errno));
		return;
	}
	w->t.forks++;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		note(w, P_FORK, "child %d: status %#x", pid, status);
	else if (word && *word != magic)
		note(w, P_FORK, "the child's write is not seen: %#x", *word);
}

static void op_pool(struct worker *w)
{
	static const long long limits[] = {
		0, 64 << 10, 2 << 20, 16 << 20, 64 << 20,
	};
	long long limit = limits[below(w, ARRAY_SIZE(limits))];
	char num[32];

	if (below(w, 4) == 0)
		limit = pool_limit0;
	if (limit < 0)
		return;
	snprintf(num, sizeof(num), "%lld", limit);
	if (!write_locked(DEBUGFS "pool_limit_bytes", num))
		w->t.pool_writes++;
}

static void op_drain(struct worker *w)
{
	if (!write_locked(DEBUGFS "pool_drain", "1"))
		w->t.drains++;
}

/* vgem imports the buffer (DRM PRIME), then lets go of it. */
static int vgem_import_release(int fd)
{
	struct drm_prime_handle h = { .fd = fd };
	struct drm_gem_close c = { 0 };

	if (ioctl(vgem_fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h))
		return -1;
	c.handle = h.handle;
	ioctl(vgem_fd, DRM_IOCTL_GEM_CLOSE, &c);
	return 0;
}

/*
 * A device maps the buffer, then lets go: vgem where the kernel has it,
 * else the module's test importer.
 */
static void op_import(struct worker *w)
{
	struct buf *b = pick(w, has_fd);
	char num[16];

	if (!b || (!have_import && vgem_fd < 0))
		return;
	b->fresh = false;
	w->t.imports++;
	if (vgem_fd >= 0) {
		if (vgem_import_release(b->fd))
			w->t.import_errors++;
		return;
	}
	snprintf(num, sizeof(num), "%d", b->fd);
	if (write_locked(TEST_IMPORT, num))
		w->t.import_errors++;
	write_locked(TEST_IMPORT, "release");
}

/* --- the threads --- */

/* Anything but a request, by @roll (0..4999). */
static void other_op(struct worker *w, unsigned int roll)
{
	if (roll < 1200)
		op_close(w);
	else if (roll < 2200)
		op_mmap(w);
	else if (roll < 3000)
		op_touch(w);
	else if (roll < 3800)
		op_munmap(w);
	else if (roll < 4400)
		op_dup(w);
	else if (roll < 4420)
		op_fork(w);
	else if (roll < 4450)
		op_pool(w);
	else if (roll < 4470)
		op_drain(w);
	else if (roll < 4600)
		op_import(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int roll;

	while (now() < deadline) {
		roll = below(w, 10000);
		if (roll >= 5000) {
			other_op(w, roll - 5000);
			continue;
		}
		/* the allocation requests count against the budget */
		if (atomic_fetch_sub(&calls_left, 1) <= 0)
			break;
		op_alloc(w);
	}
	while (w->nbufs)
		drop_buf(w, w->nbufs - 1);
	return NULL;
}

static int setup_worker(struct worker *w, int idx)
{
	unsigned int i;

	w->idx = idx;
	w->seed = opt.seed + idx;
	w->rng = w->seed;
	w->heap = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	w->arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->heap < 0 || w->arena == MAP_FAILED)
		return -1;
	/* what a larger structure carries past the real one: noise */
	for (i = 0; i < ARENA_BYTES / 8; i++)
		((unsigned long long *)w->arena)[i] = rnd(w);
	if (mprotect(w->arena + 5 * PAGE, PAGE, PROT_NONE) ||
	    mprotect(w->arena + 6 * PAGE, PAGE, PROT_READ) ||
	    mprotect(w->arena + 7 * PAGE, PAGE, PROT_NONE))
		return -1;
	return 0;
}

static int run_workers(struct worker *workers)
{
	pthread_rwlockattr_t attr;
	int i;

	pthread_rwlockattr_init(&attr);
	/* the rare exclusive request must not wait for the readers forever */
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fd_lock, &attr);
	atomic_store(&calls_left, opt.calls);
	for (i = 0; i < THREADS; i++) {
		if (setup_worker(&workers[i], i)) {
			printf("# thread %d: setting up: %s\n", i, strerror(errno));
			return -1;
		}
	}
	deadline = now() + opt.seconds;
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]))
			return -1;
	for (i = 0; i < THREADS; i++)
		pthread_join(workers[i].tid, NULL);
	return 0;
}

/* Every thread has closed all it had: no dma-buf fd may be left open. */
static void sweep(struct worker *w)
{
	int fds[64], n, i;

	n = find_orphans(fds, ARRAY_SIZE(fds));
	if (n)
		note(w, P_FD, "%d dma-buf fds open after the threads closed theirs", n);
	for (i = 0; i < MIN(n, (int)ARRAY_SIZE(fds)); i++)
		close(fds[i]);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (have_import)
		write_str(TEST_IMPORT, "release");
	if (pool_limit0 >= 0) {
		char num[32];

		snprintf(num, sizeof(num), "%lld", pool_limit0);
		write_str(DEBUGFS "pool_limit_bytes", num);
	}
	for (i = 0; i < THREADS; i++)
		close(w[i].heap);
}

static void sum(const struct worker *workers, struct tally *t)
{
	const long *from;
	long *to = (long *)t;
	size_t i, n = sizeof(*t) / sizeof(long);
	int k;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < THREADS; k++) {
		from = (const long *)&workers[k].t;
		for (i = 0; i < n; i++)
			to[i] += from[i];
	}
}

static void report_run(const struct worker *workers, const struct tally *t,
		       double took)
{
	char seeds[128] = "";
	size_t used = 0;
	int i;

	for (i = 0; i < THREADS; i++)
		used += snprintf(seeds + used, sizeof(seeds) - used, "%s%#llx",
				 i ? "," : "", workers[i].seed);
	/* the time limit is a safety bound: the count is what was asked */
	tap(t->calls >= opt.calls, "fuzz_calls_made",
	    "%ld calls in %.0f s, %d threads, seeds %s%s", t->calls, took,
	    THREADS, seeds, t->calls < opt.calls ? ", stopped at the time limit" : "");
	printf("# outcomes:");
	for (i = 0; i < O_NR; i++)
		printf(" %s %ld", outcome_names[i], t->outcome[i]);
	printf("; %.1f MiB allocated\n", t->bytes_ok / 1048576.0);
	printf("# besides: %ld closes, %ld mmaps, %ld touches, %ld dups, %ld forks, %ld pool limits, %ld drains, %ld imports (%ld refused), %ld fds found unreturned\n",
	       t->closes, t->maps, t->touches, t->dups, t->forks,
	       t->pool_writes, t->drains, t->imports, t->import_errors,
	       t->orphans);
}

static void report_checks(const struct tally *t)
{
	tap(!t->outcome[O_OTHER], "only_clean_errnos", "%ld other errnos",
	    t->outcome[O_OTHER]);
	tap(!t->problem[P_PREDICT], "errnos_match_the_request",
	    "%ld mismatches", t->problem[P_PREDICT]);
	tap(!t->problem[P_FD], "new_fds_have_the_rounded_size_and_flags",
	    "%ld wrong", t->problem[P_FD]);
	tap(!t->problem[P_MAP], "mappings_behave", "%ld wrong of %ld mmaps",
	    t->problem[P_MAP], t->maps);
	tap(!t->problem[P_RO_MAP], "read_only_buffers_map_shared",
	    "%ld refused", t->problem[P_RO_MAP]);
	tap(!t->problem[P_DATA], "mapped_data_reads_back",
	    "%ld wrong of %ld touches", t->problem[P_DATA], t->touches);
	tap(!t->problem[P_FORK], "forked_children_write_through_mappings",
	    "%ld wrong of %ld forks", t->problem[P_FORK], t->forks);
}

static void report_heap(const struct stats *base)
{
	struct stats now;

	if (!base || read_stats(&now)) {
		tap_skip("buffers_all_released", "no debugfs stats");
		tap_skip("page_states_match_counters", "no debugfs stats");
		tap_skip("no_emulation_violations", "no debugfs stats");
		return;
	}
	tap(now.buffers == base->buffers && now.shared_bytes == base->shared_bytes,
	    "buffers_all_released", "buffers %lld -> %lld, shared_bytes %lld -> %lld",
	    base->buffers, now.buffers, base->shared_bytes, now.shared_bytes);
	if (!now.emulated) {
		tap_skip("page_states_match_counters", "stats have no emu_* lines");
		tap_skip("no_emulation_violations", "stats have no emu_* lines");
		return;
	}
	tap(now.shared_bytes + now.pooled_bytes == now.emu_shared_pages * (long long)PAGE &&
	    now.leaked_bytes == now.emu_lost_pages * (long long)PAGE &&
	    !now.emu_stray_pages && !now.emu_freed_unsafe_pages,
	    "page_states_match_counters",
	    "shared %lld + pooled %lld vs %lld emu pages; leaked %lld vs %lld lost pages; %lld stray, %lld freed unsafe",
	    now.shared_bytes, now.pooled_bytes, now.emu_shared_pages,
	    now.leaked_bytes, now.emu_lost_pages, now.emu_stray_pages,
	    now.emu_freed_unsafe_pages);
	tap(now.emu_violations == base->emu_violations, "no_emulation_violations",
	    "%lld -> %lld", base->emu_violations, now.emu_violations);
}

static void bad_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n CALLS] [-t SECONDS] [-s SEED]\n", prog);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "n:t:s:")) != -1) {
		if (c == 'n')
			opt.calls = atol(optarg);
		else if (c == 't')
			opt.seconds = atoi(optarg);
		else if (c == 's')
			opt.seed = strtoull(optarg, NULL, 0);
		else
			bad_usage(argv[0]);
	}
	if (opt.calls <= 0 || opt.seconds <= 0 || optind != argc)
		bad_usage(argv[0]);
}

int main(int argc, char **argv)
{
	static struct worker workers[THREADS];
	struct stats base;
	struct tally t;
	bool have_stats;
	double start;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	if (access(HEAP_NODE, F_OK)) {
		printf("1..1\nok 1 fuzz # SKIP %s absent\n", HEAP_NODE);
		return 0;
	}
	printf("1..%d\n", CHECKS);
	mem_total = meminfo_total();
	pool_limit0 = read_ll(DEBUGFS "pool_limit_bytes");
	have_import = !access(TEST_IMPORT, W_OK);
	vgem_fd = open_vgem();
	have_stats = !read_stats(&base);
	start = now();
	if (run_workers(workers)) {
		tap(false, "fuzz_calls_made", "could not start %d threads", THREADS);
		for (i = 1; i < CHECKS; i++)
			printf("ok %d not_run # SKIP no run\n", ++tap_nr);
		return 1;
	}
	sweep(workers);
	sum(workers, &t);
	report_run(workers, &t, now() - start);
	report_checks(&t);
	report_heap(have_stats ? &base : NULL);
	return all_ok ? 0 : 1;
}
