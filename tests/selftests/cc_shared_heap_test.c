// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace specification of /dev/dma_heap/system_cc_shared.
 *
 * Runs in the test VM. With cc_shared_heap.emulate=1 every test runs; on a
 * plain boot only the first test has something to check (the node must be
 * absent) and the others skip, saying why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <drm/drm.h>

#include "../kselftest_harness.h"
#include "cc_shared_heap_util.h"

/* Fail one conversion in direction @dir ("share"/"unshare") after @skip bytes. */
static int inject_once(const char *dir, unsigned long skip)
{
	char path[128], num[32];

	snprintf(num, sizeof(num), "%lu", skip);
	snprintf(path, sizeof(path), DEBUGFS "fail_%s/space", dir);
	if (write_str(path, num))
		return -1;
	snprintf(path, sizeof(path), DEBUGFS "fail_%s/interval", dir);
	if (write_str(path, "1"))
		return -1;
	snprintf(path, sizeof(path), DEBUGFS "fail_%s/times", dir);
	if (write_str(path, "1"))
		return -1;
	snprintf(path, sizeof(path), DEBUGFS "fail_%s/probability", dir);
	return write_str(path, "100");
}

static void inject_off(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "fail_%s/probability", dir);
	write_str(path, "0");
	snprintf(path, sizeof(path), DEBUGFS "fail_%s/space", dir);
	write_str(path, "0");
}

static int pool_limit(long long bytes)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", bytes);
	return write_str(DEBUGFS "pool_limit_bytes", num);
}

static int heap_alloc(int heap, unsigned long long len, unsigned int fd_flags,
		      unsigned long long heap_flags)
{
	struct dma_heap_allocation_data data = {
		.len = len,
		.fd_flags = fd_flags,
		.heap_flags = heap_flags,
	};

	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	return data.fd;
}

static bool cmdline_has(const char *word)
{
	char buf[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return strstr(buf, word);
}

TEST(node_is_present_only_with_emulation)
{
	bool want = cmdline_has("cc_shared_heap.emulate=1");
	bool have = access(HEAP_NODE, F_OK) == 0;

	if (have && !want && cmdline_has("mem_encrypt=on"))
		SKIP(return, "memory encryption may really be active");
	ASSERT_EQ(want, have);
}

/* Whether the kernel log so far holds @text. */
static bool kmsg_has(const char *text)
{
	char rec[1024];
	bool found = false;
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return false;
	while (!found && ((n = read(fd, rec, sizeof(rec) - 1)) > 0 ||
			  (n < 0 && errno == EPIPE))) {
		if (n > 0) {
			rec[n] = 0;
			found = strstr(rec, text);
		}
	}
	close(fd);
	return found;
}

/* A shrinker named cc_shared_heap-pool is registered. */
static bool pool_shrinker_present(void)
{
	DIR *d = opendir("/sys/kernel/debug/shrinker");
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)))
		found |= !strncmp(e->d_name, "cc_shared_heap-pool", 19);
	if (d)
		closedir(d);
	return found;
}

/* Booted with cc_shared_heap.fail_register=1: nothing of the heap remains. */
TEST(failed_registration_leaves_nothing_behind)
{
	if (!cmdline_has("cc_shared_heap.fail_register=1"))
		SKIP(return, "boot with cc_shared_heap.fail_register=1");
	ASSERT_TRUE(kmsg_has("registering the heap failed"));
	EXPECT_NE(0, access(HEAP_NODE, F_OK));
	EXPECT_NE(0, access(DEBUGFS, F_OK));
	/* shrinkers are listed only with CONFIG_SHRINKER_DEBUG */
	if (access("/sys/kernel/debug/shrinker", F_OK))
		TH_LOG("no /sys/kernel/debug/shrinker: shrinker not checked");
	else
		EXPECT_FALSE(pool_shrinker_present());
}

FIXTURE(heap) {
	int fd;
	long long pool_limit;
	struct stats base;
};

FIXTURE_SETUP(heap)
{
	self->fd = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "%s absent (boot with cc_shared_heap.emulate=1)",
		     HEAP_NODE);
	self->pool_limit = read_ll(DEBUGFS "pool_limit_bytes");
	ASSERT_EQ(0, read_stats(&self->base));
}

FIXTURE_TEARDOWN(heap)
{
	struct stats now;

	if (self->fd < 0)
		return;
	inject_off("share");
	inject_off("unshare");
	if (self->pool_limit >= 0)
		pool_limit(self->pool_limit);
	close(self->fd);
	ASSERT_EQ(0, read_stats(&now));
	/* every test leaves the heap as it found it */
	EXPECT_EQ(self->base.buffers, now.buffers);
	EXPECT_EQ(self->base.shared_bytes, now.shared_bytes);
	if (!now.emulated)
		return;
	EXPECT_EQ(self->base.emu_violations, now.emu_violations);
	EXPECT_EQ(now.shared_bytes + now.pooled_bytes,
		  now.emu_shared_pages * (long long)PAGE);
	EXPECT_EQ(now.leaked_bytes, now.emu_lost_pages * (long long)PAGE);
	EXPECT_EQ(0, now.emu_stray_pages);
}

#define PARAMS "/sys/module/cc_shared_heap/parameters/"

/* Runs first: a prefill asked for at start-up serves the first buffers. */
TEST_F(heap, prefilled_pool_serves_the_first_buffer_without_converting)
{
	long long want = read_ll(PARAMS "prefill");
	struct stats now;
	int i, buf;

	if (want <= 0)
		SKIP(return, "boot with cc_shared_heap.prefill=SIZE");
	/* in the background, so allow it some time under TCG */
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(0, read_stats(&now));
		if (now.pooled_bytes >= want)
			break;
		usleep(100 * 1000);
	}
	ASSERT_LE(want, now.pooled_bytes);
	buf = heap_alloc(self->fd, want, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&self->base));
	EXPECT_EQ(now.share_calls, self->base.share_calls);
	EXPECT_LT(now.pool_hits, self->base.pool_hits);
	close(buf);
	ASSERT_EQ(0, read_stats(&self->base));	/* teardown's baseline */
}

/*
 * pooled_bytes once it is at most @bytes, waiting up to 10 s: a write of
 * the pool_limit parameter shrinks the pool in the background.
 */
static long long pooled_settles_at_most(long long bytes)
{
	struct stats now = { .pooled_bytes = -1 };
	int i;

	for (i = 0; i < 1000; i++) {
		if (read_stats(&now) || now.pooled_bytes <= bytes)
			break;
		usleep(10 * 1000);
	}
	return now.pooled_bytes;
}

TEST_F(heap, pool_limit_parameter_takes_sizes_and_zero_disables_the_pool)
{
	struct stats now;
	int buf;

	ASSERT_EQ(0, write_str(PARAMS "pool_limit", "8M"));
	EXPECT_EQ(8 << 20, read_ll(PARAMS "pool_limit"));
	EXPECT_GE(8 << 20, pooled_settles_at_most(8 << 20));
	EXPECT_EQ(-1, write_str(PARAMS "pool_limit", "8X"));
	EXPECT_EQ(8 << 20, read_ll(PARAMS "pool_limit"));
	ASSERT_EQ(0, write_str(PARAMS "pool_limit", "0"));
	EXPECT_EQ(0, pooled_settles_at_most(0));
	buf = heap_alloc(self->fd, 1 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	close(buf);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(0, now.pooled_bytes);
}

/*
 * Whether, within @secs seconds, every page the model holds as shared is
 * in a buffer or in the pool again, and none it holds is private: no
 * conversion is left in flight.
 */
static bool conversions_settle(int secs)
{
	struct stats s;
	int i;

	for (i = 0; i < secs * 100; i++) {
		if (read_stats(&s))
			return false;
		if (!s.emulated ||
		    (s.shared_bytes + s.pooled_bytes ==
		     s.emu_shared_pages * (long long)PAGE && !s.emu_stray_pages))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Seconds a write of @val to @path (a read when NULL) takes, or -1. */
static double timed_io(const char *path, const char *val)
{
	double start = now();
	char buf[64];
	int fd;

	if (val)
		return write_str(path, val) ? -1 : now() - start;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
		start = -1;
	if (fd >= 0)
		close(fd);
	return start < 0 ? -1 : now() - start;
}

/* timed_io() in a child, its result through a pipe; the child's pid. */
static pid_t timed_io_child(const char *path, const char *val, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		double took = timed_io(path, val);

		_exit(write(p[1], &took, sizeof(took)) == sizeof(took) ? 0 : 1);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static double timed_io_result(pid_t pid, int rfd)
{
	double took = -1;

	if (read(rfd, &took, sizeof(took)) != sizeof(took))
		took = -1;
	close(rfd);
	waitpid(pid, NULL, 0);
	return took;
}

/*
 * Lowering pool_limit converts the excess back, seconds per GiB on TDX;
 * a built-in heap's parameter write holds the lock of every built-in
 * parameter. The write must return at once, and a read of another
 * parameter meanwhile too, while the pool still shrinks to the bound.
 */
TEST_F(heap, pool_limit_write_returns_before_a_slow_shrink_ends)
{
	double wrote, read_took;
	int wfd, rfd, buf;
	pid_t wpid, rpid;

	if (access(DEBUGFS "emu_convert_ms_per_mib", F_OK))
		SKIP(return, "needs the emulation's slow conversions");
	ASSERT_EQ(0, pool_limit(32 << 20));
	buf = heap_alloc(self->fd, 16 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	close(buf);
	ASSERT_EQ(16 << 20, pooled_settles_at_most(16 << 20));
	/* 16 MiB to convert back at 200 ms per MiB: 3.2 s */
	ASSERT_EQ(0, write_str(DEBUGFS "emu_convert_ms_per_mib", "200"));
	wpid = timed_io_child(PARAMS "pool_limit", "0", &wfd);
	ASSERT_LT(0, wpid);
	usleep(100 * 1000);
	rpid = timed_io_child(PARAMS "prefill", NULL, &rfd);
	ASSERT_LT(0, rpid);
	read_took = timed_io_result(rpid, rfd);
	wrote = timed_io_result(wpid, wfd);
	EXPECT_LE(0, wrote);
	EXPECT_LE(0, read_took);
	EXPECT_GT(1.0, wrote) TH_LOG("the write took %.2f s", wrote);
	EXPECT_GT(1.0, read_took) TH_LOG("the read took %.2f s", read_took);
	EXPECT_EQ(0, pooled_settles_at_most(0));
	write_str(DEBUGFS "emu_convert_ms_per_mib", "0");
	/* the pool's chunks are out of it at once, converted back later */
	EXPECT_TRUE(conversions_settle(15));
}

/* Cut from the read of a boolean parameter: whether it is set. */
static bool param_set(const char *name)
{
	char path[128], val[8] = "";
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(val, sizeof(val), f))
			val[0] = 0;
		fclose(f);
	}
	return val[0] == 'Y';
}

/*
 * Loaded with pool_limit=8M, but with no shrinker to be had (the module's
 * test flavour, fail_shrinker=1): no shrinker, no pool, whatever was asked.
 */
TEST_F(heap, pool_stays_off_without_a_shrinker)
{
	struct stats now;
	int buf;

	if (!param_set("fail_shrinker"))
		SKIP(return, "load the test module with fail_shrinker=1");
	EXPECT_EQ(0, read_ll(PARAMS "pool_limit"));
	EXPECT_EQ(0, read_ll(DEBUGFS "pool_limit_bytes"));
	buf = heap_alloc(self->fd, 2 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	close(buf);
	buf = heap_alloc(self->fd, 64 << 10, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(0, now.pooled_bytes);
	close(buf);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(0, now.pooled_bytes);
}

TEST_F(heap, fresh_buffer_reads_zero_through_mmap)
{
	size_t len = (1 << 20) + PAGE;
	int buf = heap_alloc(self->fd, len, O_RDWR | O_CLOEXEC, 0);
	unsigned char *p;
	size_t i;

	ASSERT_LE(0, buf);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < len && !p[i]; i++)
		;
	EXPECT_EQ(len, i) TH_LOG("byte %zu is 0x%02x", i, p[i]);
	munmap(p, len);
	close(buf);
}

TEST_F(heap, mmap_write_then_read_back)
{
	size_t len = 3 << 20;
	int buf = heap_alloc(self->fd, len, O_RDWR | O_CLOEXEC, 0);
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	unsigned int *p;
	size_t i;

	ASSERT_LE(0, buf);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync));
	for (i = 0; i < len / 4; i++)
		p[i] = (unsigned int)i * 2654435761u;
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	ASSERT_EQ(0, ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync));
	munmap(p, len);

	p = mmap(NULL, len, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < len / 4 && p[i] == (unsigned int)i * 2654435761u; i++)
		;
	EXPECT_EQ(len / 4, i) TH_LOG("word %zu differs", i);
	munmap(p, len);
	close(buf);
}

TEST_F(heap, mmap_beyond_the_buffer_is_refused)
{
	int buf = heap_alloc(self->fd, 2 * PAGE, O_RDWR, 0);

	ASSERT_LE(0, buf);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, buf, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, buf, 2 * PAGE));
	close(buf);
}

TEST_F(heap, private_mapping_gives_einval)
{
	int buf = heap_alloc(self->fd, 4 * PAGE, O_RDWR, 0);

	ASSERT_LE(0, buf);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, buf, 0));
	EXPECT_EQ(EINVAL, errno);
	close(buf);
}

/* The host can write the pages: nothing may run from them (as noexec). */
TEST_F(heap, executable_mapping_gives_eperm)
{
	int buf = heap_alloc(self->fd, 4 * PAGE, O_RDWR, 0);
	void *p;

	ASSERT_LE(0, buf);
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, buf, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	if (p != MAP_FAILED)
		munmap(p, 4 * PAGE);
	close(buf);
}

TEST_F(heap, mapping_cannot_be_made_executable_later)
{
	int buf = heap_alloc(self->fd, 4 * PAGE, O_RDWR, 0);
	char *p;
	int ret;

	ASSERT_LE(0, buf);
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	ret = mprotect(p, 4 * PAGE, PROT_READ | PROT_EXEC);
	EXPECT_EQ(-1, ret);
	if (ret == -1) {
		EXPECT_EQ(EACCES, errno);
		/* still mapped and usable as before */
		p[0] = 1;
		EXPECT_EQ(1, p[0]);
	}
	munmap(p, 4 * PAGE);
	close(buf);
}

TEST_F(heap, read_only_buffer_maps_shared_for_reading)
{
	int buf = heap_alloc(self->fd, 4 * PAGE, O_RDONLY | O_CLOEXEC, 0);
	unsigned char *p;

	ASSERT_LE(0, buf);
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, p[0]);
	EXPECT_EQ(0, p[4 * PAGE - 1]);
	munmap(p, 4 * PAGE);
	/* and it cannot be mapped for writing */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, buf, 0));
	close(buf);
}

TEST_F(heap, mapping_at_an_offset_shows_that_part_of_the_buffer)
{
	size_t len = (2 << 20) + (64 << 10) + PAGE;
	int buf = heap_alloc(self->fd, len, O_RDWR, 0);
	unsigned char *all, *part;
	size_t off;

	ASSERT_LE(0, buf);
	all = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, all);
	for (off = 0; off < len; off += PAGE)
		all[off] = (unsigned char)(off / PAGE + 1);
	/* starts inside the first chunk and crosses into the others */
	part = mmap(NULL, len - 3 * PAGE, PROT_READ, MAP_SHARED, buf, 3 * PAGE);
	ASSERT_NE(MAP_FAILED, part);
	for (off = 0; off < len - 3 * PAGE; off += PAGE)
		if (part[off] != (unsigned char)(off / PAGE + 4))
			break;
	EXPECT_EQ(len - 3 * PAGE, off) TH_LOG("page %zu differs", off / PAGE);
	munmap(part, len - 3 * PAGE);
	munmap(all, len);
	close(buf);
}

/* One counter of the stats file, or -1 where this kernel has none. */
static long long stat_value(const char *name)
{
	return read_key(DEBUGFS "stats", name);
}

#define HUGE_SZ	(2UL << 20)

/* @len bytes of @buf mapped at a 2 MiB-aligned address (+ @shift). */
static unsigned char *map_aligned(int buf, size_t len, size_t shift)
{
	unsigned char *p = mmap(NULL, len + 2 * HUGE_SZ, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t at;

	if (p == MAP_FAILED)
		return p;
	at = (((uintptr_t)p + HUGE_SZ - 1) & ~(HUGE_SZ - 1)) + shift;
	munmap(p, len + 2 * HUGE_SZ);
	return mmap((void *)at, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED_NOREPLACE, buf, 0);
}

/* Page n of a buffer holds n + @seed in its first and last byte. */
static void fill_pages(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t off = 0; off < len; off += PAGE) {
		p[off] = (unsigned char)(off / PAGE + seed);
		p[off + PAGE - 1] = (unsigned char)(off / PAGE + seed);
	}
}

/* The first page not as fill_pages() left it, or @len. */
static size_t check_pages(const unsigned char *p, size_t len,
			  unsigned int seed)
{
	size_t off;

	for (off = 0; off < len; off += PAGE)
		if (p[off] != (unsigned char)(off / PAGE + seed) ||
		    p[off + PAGE - 1] != (unsigned char)(off / PAGE + seed))
			break;
	return off;
}

/*
 * A fresh 8 MiB buffer, of 2 MiB chunks where the page allocator has them
 * (mapped aligned, only those fault: each chunk of another size is mapped
 * at mmap() time), or -2 where this kernel maps nothing by PMD entries.
 */
static int huge_buffer(struct __test_metadata *_metadata, int heap)
{
	FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char mode[128] = "";

	if (stat_value("huge_maps") < 0)
		return -2;	/* no huge PFN mappings in this kernel */
	if (thp) {
		if (!fgets(mode, sizeof(mode), thp))
			mode[0] = 0;
		fclose(thp);
	}
	if (!thp || strstr(mode, "[never]"))
		return -2;
	EXPECT_EQ(0, pool_limit(0));	/* new chunks: 2 MiB where they can */
	return heap_alloc(heap, 4 * HUGE_SZ, O_RDWR, 0);
}

TEST_F(heap, aligned_mapping_maps_each_2mib_chunk_with_one_pmd_entry)
{
	long long huge = stat_value("huge_maps");
	long long fallback = stat_value("fallback_maps");
	int buf = huge_buffer(_metadata, self->fd);
	unsigned char *p, *q;

	if (buf == -2)
		SKIP(return, "no huge PFN mappings here");
	ASSERT_LE(0, buf);
	p = map_aligned(buf, 4 * HUGE_SZ, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pages(p, 4 * HUGE_SZ, 1);
	/* 4 unless the page allocator was out of 2 MiB blocks */
	EXPECT_LE(huge + 1, stat_value("huge_maps"));
	EXPECT_GE(huge + 4, stat_value("huge_maps"));
	EXPECT_EQ(fallback, stat_value("fallback_maps"));
	/* the same memory through page table entries */
	q = mmap(NULL, 4 * HUGE_SZ, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(4 * HUGE_SZ, check_pages(q, 4 * HUGE_SZ, 1));
	munmap(q, 4 * HUGE_SZ);
	munmap(p, 4 * HUGE_SZ);
	close(buf);
}

TEST_F(heap, unaligned_mapping_is_mapped_at_mmap_without_faults)
{
	long long huge = stat_value("huge_maps");
	long long fallback = stat_value("fallback_maps");
	int buf = huge_buffer(_metadata, self->fd);
	unsigned char *p;

	if (buf == -2)
		SKIP(return, "no huge PFN mappings here");
	ASSERT_LE(0, buf);
	p = map_aligned(buf, 4 * HUGE_SZ, PAGE);
	ASSERT_NE(MAP_FAILED, p);
	fill_pages(p, 4 * HUGE_SZ, 2);
	EXPECT_EQ(4 * HUGE_SZ, check_pages(p, 4 * HUGE_SZ, 2));
	EXPECT_EQ(huge, stat_value("huge_maps"));
	EXPECT_EQ(fallback, stat_value("fallback_maps"));
	munmap(p, 4 * HUGE_SZ);
	close(buf);
}

TEST_F(heap, splitting_a_pmd_mapping_keeps_every_page_in_place)
{
	long long fallback = stat_value("fallback_maps");
	int buf = huge_buffer(_metadata, self->fd);
	unsigned char *p;

	if (buf == -2)
		SKIP(return, "no huge PFN mappings here");
	ASSERT_LE(0, buf);
	p = map_aligned(buf, 4 * HUGE_SZ, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pages(p, 4 * HUGE_SZ, 3);
	/* a read-only page inside the first chunk, the last chunk unmapped */
	ASSERT_EQ(0, mprotect(p + 5 * PAGE, PAGE, PROT_READ));
	ASSERT_EQ(0, munmap(p + 3 * HUGE_SZ + 7 * PAGE, HUGE_SZ - 7 * PAGE));
	EXPECT_EQ(3 * HUGE_SZ + 7 * PAGE, check_pages(p, 3 * HUGE_SZ + 7 * PAGE, 3));
	EXPECT_LT(fallback, stat_value("fallback_maps"));
	p[4 * PAGE] = 0xaa;	/* still writable beside the read-only page */
	EXPECT_EQ(0xaa, p[4 * PAGE]);
	munmap(p, 3 * HUGE_SZ + 7 * PAGE);
	close(buf);
}

TEST_F(heap, without_transparent_huge_pages_chunks_are_mapped_page_by_page)
{
	long long huge = stat_value("huge_maps");
	long long fallback = stat_value("fallback_maps");
	int buf = huge_buffer(_metadata, self->fd);
	unsigned char *p;

	if (buf == -2)
		SKIP(return, "no huge PFN mappings here");
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0));
	p = map_aligned(buf, 4 * HUGE_SZ, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pages(p, 4 * HUGE_SZ, 4);
	EXPECT_EQ(4 * HUGE_SZ, check_pages(p, 4 * HUGE_SZ, 4));
	EXPECT_EQ(huge, stat_value("huge_maps"));
	EXPECT_LE(fallback + 1, stat_value("fallback_maps"));
	EXPECT_GE(fallback + 4, stat_value("fallback_maps"));
	munmap(p, 4 * HUGE_SZ);
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0));
	close(buf);
}

/*
 * A fault finds its chunk through an index of every 16th entry of the
 * buffer's table: a table of more than 128 entries (chained), of 2 MiB
 * chunks and of small ones at its end, faulted in at an aligned address
 * with and without transparent huge pages, holds in every page the page's
 * own number, read back through a mapping made at mmap() time (a page off
 * 2 MiB: no faults).
 */
TEST_F(heap, faults_find_every_chunk_of_a_long_table)
{
	size_t len = 130 * HUGE_SZ + 3 * 16 * PAGE + PAGE;
	int buf = heap_alloc(self->fd, len, O_RDWR, 0);
	unsigned char *p;
	unsigned int thp;
	size_t off;

	ASSERT_LE(0, buf);
	for (thp = 0; thp < 2; thp++) {
		ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, !thp, 0, 0, 0));
		p = map_aligned(buf, len, 0);
		ASSERT_NE(MAP_FAILED, p);
		for (off = 0; off < len; off += PAGE)
			*(uint32_t *)(p + off) = off / PAGE * 2 + thp;
		munmap(p, len);
		p = map_aligned(buf, len, PAGE);
		ASSERT_NE(MAP_FAILED, p);
		for (off = 0; off < len; off += PAGE)
			if (*(uint32_t *)(p + off) != off / PAGE * 2 + thp)
				break;
		EXPECT_EQ(len, off) TH_LOG("THP %s: page %zu differs",
					   thp ? "on" : "off", off / PAGE);
		munmap(p, len);
	}
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0));
	close(buf);
}

TEST_F(heap, nonzero_heap_flags_give_einval)
{
	EXPECT_EQ(-EINVAL, heap_alloc(self->fd, PAGE, O_RDWR, 1));
}

TEST_F(heap, fd_flags_beyond_rdwr_cloexec_give_einval)
{
	EXPECT_EQ(-EINVAL, heap_alloc(self->fd, PAGE, O_RDWR | O_NONBLOCK, 0));
	EXPECT_EQ(-EINVAL, heap_alloc(self->fd, PAGE, O_WRONLY, 0));
}

TEST_F(heap, zero_length_gives_einval)
{
	EXPECT_EQ(-EINVAL, heap_alloc(self->fd, 0, O_RDWR, 0));
}

TEST_F(heap, absurd_length_gives_enomem)
{
	EXPECT_EQ(-ENOMEM, heap_alloc(self->fd, 1ULL << 50, O_RDWR, 0));
	EXPECT_EQ(-ENOMEM, heap_alloc(self->fd, 1ULL << 62, O_RDWR, 0));
}

static long long mem_total(void)
{
	return meminfo_bytes("MemTotal:");
}

/* A request that fails up front has converted and taken nothing. */
static void expect_nothing_taken(struct __test_metadata *_metadata,
				 const struct stats *before)
{
	struct stats now;

	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(before->share_calls, now.share_calls);
	EXPECT_EQ(before->pool_misses, now.pool_misses);
	EXPECT_EQ(before->pool_hits, now.pool_hits);
}

/* Plausible but impossible: all of RAM. Must fail before it starts. */
TEST_F(heap, request_for_all_of_ram_fails_up_front)
{
	long long total = mem_total();

	ASSERT_LT(0, total);
	EXPECT_EQ(-ENOMEM, heap_alloc(self->fd, total & ~(PAGE - 1), O_RDWR, 0));
	expect_nothing_taken(_metadata, &self->base);
}

/* A child that holds @bytes of touched anonymous memory until killed. */
static pid_t start_hog(long long bytes)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *p = malloc(bytes);

		for (long long i = 0; p && i < bytes; i += PAGE)
			p[i] = 1;
		if (write(ready[1], p ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid > 0 && (read(ready[0], &c, 1) != 1 || c != 'y')) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

/*
 * With 2/5 of RAM held by another task, a request for all that is still
 * available (MemAvailable plus what the pool holds shared) cannot be
 * spared: it fails before taking anything, and the other task lives on
 * (no OOM kill anywhere; the harness also checks the kernel log). The
 * heap keeps 1/32 of RAM back, so the request is that far over its limit.
 */
TEST_F(heap, request_for_all_that_is_available_beside_a_hog_fails_up_front)
{
	long long total = mem_total(), avail, len;
	pid_t hog;
	int status;

	ASSERT_LT(0, total);
	hog = start_hog(total / 5 * 2);
	ASSERT_LT(0, hog) TH_LOG("could not start the memory hog");
	ASSERT_EQ(0, read_stats(&self->base));
	avail = meminfo_bytes("MemAvailable:");
	ASSERT_LT(0, avail);
	len = (avail + self->base.pooled_bytes + PAGE - 1) & ~(PAGE - 1);
	EXPECT_EQ(-ENOMEM, heap_alloc(self->fd, len, O_RDWR, 0))
		TH_LOG("%lld MiB asked, %lld MiB available, %lld MiB pooled",
		       len >> 20, avail >> 20, self->base.pooled_bytes >> 20);
	expect_nothing_taken(_metadata, &self->base);
	EXPECT_EQ(0, waitpid(hog, &status, WNOHANG)) TH_LOG("the hog died");
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
}

TEST_F(heap, unaligned_length_is_rounded_up_to_pages)
{
	int buf = heap_alloc(self->fd, PAGE + 1, O_RDWR, 0);
	struct stats now;

	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.shared_bytes + 2 * (long long)PAGE, now.shared_bytes);
	EXPECT_EQ(2 * (off_t)PAGE, lseek(buf, 0, SEEK_END));
	close(buf);
}

TEST_F(heap, unknown_ioctl_gives_einval_from_the_dma_heap_core)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO('H', 0x7f)));
	EXPECT_EQ(EINVAL, errno);
}

#define MANY 200

TEST_F(heap, many_buffers_are_counted_exactly)
{
	static int bufs[MANY];
	long long bytes = 0;
	struct stats now;
	int i;

	for (i = 0; i < MANY; i++) {
		size_t len = PAGE * (1 + (i * 7) % 40);

		bufs[i] = heap_alloc(self->fd, len, O_RDWR | O_CLOEXEC, 0);
		ASSERT_LE(0, bufs[i]) TH_LOG("buffer %d", i);
		bytes += len;
	}
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.buffers + MANY, now.buffers);
	EXPECT_EQ(self->base.shared_bytes + bytes, now.shared_bytes);
	if (now.emulated)
		EXPECT_EQ(now.shared_bytes + now.pooled_bytes,
			  now.emu_shared_pages * (long long)PAGE);
	for (i = 0; i < MANY; i++)
		close(bufs[i]);
}

TEST_F(heap, mapping_keeps_buffer_alive_after_close)
{
	int buf = heap_alloc(self->fd, 4 * PAGE, O_RDWR, 0);
	struct stats now;
	char *p;

	ASSERT_LE(0, buf);
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(buf);
	snprintf(p + PAGE, PAGE, "still here");
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.buffers + 1, now.buffers);
	EXPECT_STREQ("still here", p + PAGE);
	munmap(p, 4 * PAGE);
}

TEST_F(heap, child_shares_the_mapping_and_parent_closes_first)
{
	int buf = heap_alloc(self->fd, 2 * PAGE, O_RDWR, 0);
	int status, sync_pipe[2];
	struct stats now;
	char *p, c;
	pid_t pid;

	ASSERT_LE(0, buf);
	ASSERT_EQ(0, pipe(sync_pipe));
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	snprintf(p, PAGE, "from parent");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* wait until the parent has dropped everything */
		if (read(sync_pipe[0], &c, 1) != 1 || strcmp(p, "from parent"))
			_exit(1);
		snprintf(p + PAGE, PAGE, "from child");
		_exit(strcmp(p + PAGE, "from child") ? 2 : 0);
	}
	close(buf);
	munmap(p, 2 * PAGE);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.buffers + 1, now.buffers);	/* child holds it */
	ASSERT_EQ(1, write(sync_pipe[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.buffers, now.buffers);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
}

TEST_F(heap, stats_match_the_emulated_page_states)
{
	struct stats now;
	int buf;

	ASSERT_EQ(0, pool_limit(0));	/* every page converted, both ways */
	ASSERT_EQ(0, read_stats(&self->base));
	buf = heap_alloc(self->fd, 5 * PAGE, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&now));
	if (!now.emulated)
		SKIP(close(buf); return, "stats have no emulation lines");
	EXPECT_EQ(self->base.buffers + 1, now.buffers);
	EXPECT_EQ(self->base.shared_bytes + 5 * (long long)PAGE, now.shared_bytes);
	EXPECT_EQ(now.shared_bytes + now.pooled_bytes,
		  now.emu_shared_pages * (long long)PAGE);
	EXPECT_LT(self->base.share_calls, now.share_calls);
	close(buf);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(now.share_calls - self->base.share_calls,
		  now.unshare_calls - self->base.unshare_calls);
}

/* Failure tests run with the pool off, so that every chunk is converted. */

/*
 * Room for the unused pages of one block, not for a whole block: a page
 * is cut from a new block, which can never go to the pool.
 */
#define ONE_OPEN_BLOCK	(HUGE_SZ - PAGE)

/* The page is cut from a 2 MiB block shared whole: that block is lost. */
TEST_F(heap, failed_share_leaks_exactly_the_failed_block_and_gives_eio)
{
	struct stats now;

	ASSERT_EQ(0, pool_limit(ONE_OPEN_BLOCK));
	ASSERT_EQ(0, read_stats(&self->base));
	ASSERT_EQ(0, inject_once("share", 0));
	EXPECT_EQ(-EIO, heap_alloc(self->fd, PAGE, O_RDWR, 0));
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.leaked_bytes + (long long)HUGE_SZ, now.leaked_bytes);
	EXPECT_EQ(self->base.share_failures + 1, now.share_failures);
	EXPECT_EQ(self->base.unshare_calls, now.unshare_calls);
}

struct conv_call {
	char dir;		/* 'S' share, 'U' unshare */
	unsigned long pfn;
	unsigned int nr;
	bool failed;
};

/* The conversion calls the emulation logged since its log was cleared. */
static int read_conv_log(struct conv_call *calls, int max)
{
	FILE *f = fopen(DEBUGFS "emu_log", "r");
	char line[128];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		struct conv_call *c = &calls[n];

		if (sscanf(line, "%c %lx %u", &c->dir, &c->pfn, &c->nr) != 3)
			continue;
		c->failed = strstr(line, "failed");
		n++;
	}
	fclose(f);
	return n;
}

/* Times the successful share call @s was undone in @log. */
static int undone(const struct conv_call *log, int n, const struct conv_call *s)
{
	int i, times = 0;

	for (i = 0; i < n; i++)
		times += log[i].dir == 'U' && log[i].pfn == s->pfn &&
			 log[i].nr == s->nr;
	return times;
}

/*
 * 2 MiB and a page: the page's block is shared first, whole, while the
 * pages are gathered; the 2 MiB chunk's run comes after it and fails.
 */
TEST_F(heap, failed_share_converts_back_exactly_the_runs_before_it)
{
	struct conv_call log[64];
	int i, n, shares = 0, unshares = 0;

	ASSERT_EQ(0, pool_limit(0));
	ASSERT_EQ(0, write_str(DEBUGFS "emu_log", "0"));
	/* the budget lets a first run of one block through: a later run fails */
	ASSERT_EQ(0, inject_once("share", HUGE_SZ + 1));
	EXPECT_EQ(-EIO, heap_alloc(self->fd, HUGE_SZ + PAGE, O_RDWR, 0));
	n = read_conv_log(log, ARRAY_SIZE(log));
	ASSERT_LE(1, n);
	for (i = 0; i < n; i++)
		shares += log[i].dir == 'S';
	if (shares < 2)
		SKIP(return, "one run only (no free 2 MiB blocks): none before the failure");
	/* the runs shared before the failure go back once each; no other */
	for (i = 0; i < n; i++) {
		if (log[i].dir == 'U') {
			unshares++;
			continue;
		}
		EXPECT_EQ(i == shares - 1, log[i].failed) TH_LOG("call %d", i);
		EXPECT_EQ(log[i].failed ? 0 : 1, undone(log, n, &log[i]))
			TH_LOG("share call %d (pfn %#lx) undone wrongly", i, log[i].pfn);
	}
	EXPECT_EQ(shares - 1, unshares);
}

/* The page's block goes back whole, in one call, which fails. */
TEST_F(heap, failed_unshare_on_close_leaks_exactly_the_failed_block)
{
	struct stats now;
	int buf;

	ASSERT_EQ(0, pool_limit(ONE_OPEN_BLOCK));
	ASSERT_EQ(0, read_stats(&self->base));
	buf = heap_alloc(self->fd, PAGE, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, inject_once("unshare", 0));
	close(buf);	/* release runs before close() returns */
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.leaked_bytes + (long long)HUGE_SZ, now.leaked_bytes);
	EXPECT_EQ(self->base.unshare_failures + 1, now.unshare_failures);
	EXPECT_EQ(self->base.unshare_calls + 1, now.unshare_calls);
}

TEST_F(heap, freed_buffer_is_pooled_and_reused_without_converting)
{
	struct stats pooled, reused;
	int buf;

	ASSERT_EQ(0, pool_limit(64 << 20));
	buf = heap_alloc(self->fd, 8 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	close(buf);
	ASSERT_EQ(0, read_stats(&pooled));
	EXPECT_LE(self->base.pooled_bytes + (8 << 20), pooled.pooled_bytes);
	buf = heap_alloc(self->fd, 8 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&reused));
	EXPECT_EQ(pooled.share_calls, reused.share_calls);
	EXPECT_LT(pooled.pool_hits, reused.pool_hits);
	close(buf);
}

TEST_F(heap, dropping_caches_drains_the_pool)
{
	struct stats now;
	int buf;

	ASSERT_EQ(0, pool_limit(64 << 20));
	buf = heap_alloc(self->fd, 8 << 20, O_RDWR, 0);
	ASSERT_LE(0, buf);
	close(buf);
	ASSERT_EQ(0, read_stats(&now));
	ASSERT_LE(8 << 20, now.pooled_bytes);
	ASSERT_EQ(0, write_str("/proc/sys/vm/drop_caches", "2"));
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(0, now.pooled_bytes);
	EXPECT_EQ(now.shared_bytes, now.emu_shared_pages * (long long)PAGE);
}

#define FAILSLAB "/sys/kernel/debug/failslab/"
#define FAIL_PAGE_ALLOC "/sys/kernel/debug/fail_page_alloc/"

/* Let fail-nth reach every allocation, quietly; @on false restores. */
static int fail_everything(bool on)
{
	const char *v = on ? "0" : "2";

	return write_str(FAILSLAB "ignore-gfp-wait", on ? "N" : "Y") |
	       write_str(FAILSLAB "verbose", v) |
	       write_str(FAIL_PAGE_ALLOC "ignore-gfp-wait", on ? "N" : "Y") |
	       write_str(FAIL_PAGE_ALLOC "min-order", on ? "0" : "1") |
	       write_str(FAIL_PAGE_ALLOC "verbose", v) |
	       write_str(DEBUGFS "fail_share/verbose", on ? "0" : "1") |
	       write_str(DEBUGFS "fail_unshare/verbose", on ? "0" : "1");
}

static long long fail_nth_left(int fd)
{
	char num[32] = "";

	if (pread(fd, num, sizeof(num) - 1, 0) <= 0)
		return -1;
	return atoll(num);
}

/*
 * /proc/thread-self/fail-nth makes the n-th fault-injection point this
 * thread passes fail: every slab and page allocation, every conversion.
 * Failing each in turn, a request fails with ENOMEM or EIO or succeeds
 * anyway, and whatever happened nothing is left behind: no buffer, no
 * page shared outside the pool, no page the heap forgot, and a leak only
 * where the model failed a conversion.
 */
/*
 * Fail step 1, 2, ... of one allocation of @len until a request passes
 * all of them; check after each. Returns the steps, or -1 when a check
 * failed. @report gets "step:result" for each.
 */
static int sweep_steps(struct __test_metadata *_metadata, int heap, int nth_fd,
		       const struct stats *base, unsigned long long len,
		       char *report, size_t size)
{
	size_t used = 0;
	struct stats now;
	char num[16];
	int nth, buf;

	for (nth = 1; nth < 500; nth++) {
		long long left;

		snprintf(num, sizeof(num), "%d", nth);
		if (pwrite(nth_fd, num, strlen(num), 0) != (ssize_t)strlen(num))
			return -1;
		buf = heap_alloc(heap, len, O_RDWR, 0);
		left = fail_nth_left(nth_fd);	/* > 0: no step failed */
		if (pwrite(nth_fd, "0", 1, 0) != 1)
			return -1;
		used += snprintf(report + used, size - used, " %d:%s", nth,
				 buf >= 0 ? "ok" : strerror(-buf));
		if (used >= size)
			used = size - 1;
		if (buf >= 0)
			close(buf);
		EXPECT_TRUE(buf >= 0 || buf == -ENOMEM || buf == -EIO)
			TH_LOG("step %d: %s", nth, strerror(-buf));
		if (read_stats(&now))
			return -1;
		EXPECT_EQ(base->buffers, now.buffers) TH_LOG("step %d", nth);
		EXPECT_EQ(base->shared_bytes, now.shared_bytes);
		EXPECT_EQ(now.shared_bytes + now.pooled_bytes,
			  now.emu_shared_pages * (long long)PAGE);
		EXPECT_EQ(0, now.emu_stray_pages) TH_LOG("step %d", nth);
		EXPECT_EQ(now.leaked_bytes, now.emu_lost_pages * (long long)PAGE);
		EXPECT_EQ(base->emu_violations, now.emu_violations);
		if (left > 0) {
			EXPECT_LE(0, buf) TH_LOG("failed with nothing injected");
			return nth;	/* past the last step */
		}
	}
	return -1;
}

/*
 * /proc/thread-self/fail-nth makes the n-th fault-injection point this
 * thread passes fail: every slab and page allocation, every conversion.
 * Failing each step in turn, with the pool off and then with a warm pool,
 * a request fails with ENOMEM or EIO or succeeds anyway, and whatever
 * happened nothing is left behind: no buffer, no page shared outside the
 * pool, no page the heap forgot, a leak only where the model failed a
 * conversion.
 */
TEST_F(heap, every_failing_step_of_an_allocation_leaves_nothing_behind)
{
	static const long long limits[] = { 0, 64 << 20 };
	static const unsigned long long sizes[] = {
		PAGE, (2 << 20) + (64 << 10) + PAGE, 18 << 20
	};
	int fd = open("/proc/thread-self/fail-nth", O_RDWR);
	char report[2048];
	unsigned int i, j;
	int steps;

	if (fd < 0 || access(FAILSLAB, F_OK) || access(FAIL_PAGE_ALLOC, F_OK))
		SKIP(return, "needs fail-nth, failslab and fail_page_alloc");
	ASSERT_EQ(0, fail_everything(true));
	for (i = 0; i < ARRAY_SIZE(limits) * ARRAY_SIZE(sizes); i++) {
		j = i % ARRAY_SIZE(sizes);
		ASSERT_EQ(0, pool_limit(limits[i / ARRAY_SIZE(sizes)]));
		if (i >= ARRAY_SIZE(sizes))	/* warm: the pool holds it */
			close(heap_alloc(self->fd, sizes[j], O_RDWR, 0));
		report[0] = 0;
		steps = sweep_steps(_metadata, self->fd, fd, &self->base,
				    sizes[j], report, sizeof(report));
		TH_LOG("pool limit %lld, %llu bytes:%s",
		       limits[i / ARRAY_SIZE(sizes)], sizes[j], report);
		EXPECT_LT(1, steps);
	}
	fail_everything(false);
	close(fd);
}

/*
 * --- conversion sweeps: fail the k-th conversion, for every k ---
 * fail-nth counts every fault-injection point the thread passes; with
 * slab allocations that may sleep and page allocations of every order
 * made ineligible, the points left are the heap's conversions.
 */
static int fail_conversions_only(bool on)
{
	return write_str(FAILSLAB "ignore-gfp-wait", "Y") |
	       write_str(FAIL_PAGE_ALLOC "ignore-gfp-wait", "Y") |
	       write_str(FAIL_PAGE_ALLOC "min-order", on ? "99" : "1") |
	       write_str(DEBUGFS "fail_share/verbose", on ? "0" : "1") |
	       write_str(DEBUGFS "fail_unshare/verbose", on ? "0" : "1");
}

/* MemFree with the pool drained and the caches dropped. */
/* Pages on the per-CPU free lists (/proc/zoneinfo "count:"), or 0. */
static long long pcp_pages(void)
{
	long long n = 0, count;
	char line[128];
	FILE *f = fopen("/proc/zoneinfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &count) == 1)
			n += count;
	if (f)
		fclose(f);
	return n;
}

/*
 * Free memory with the pool drained and caches dropped: MemFree plus the
 * pages on per-CPU lists, which are free but not counted there (with
 * transparent huge pages those lists also keep 2 MiB blocks, a few MiB).
 */
static long long settled_mem_free(void)
{
	write_str(DEBUGFS "pool_drain", "1");
	write_str("/proc/sys/vm/drop_caches", "3");
	return meminfo_bytes("MemFree:") + pcp_pages() * PAGE;
}

enum sweep_what { SWEEP_ALLOC, SWEEP_RELEASE, SWEEP_SHRINK };

/* Pages of the conversion calls the emulation logged as failed. */
static long long failed_pages(void)
{
	struct conv_call log[512];
	long long pages = 0;
	int i, n = read_conv_log(log, ARRAY_SIZE(log));

	for (i = 0; i < n; i++)
		pages += log[i].failed ? log[i].nr : 0;
	return pages;
}

/* Do @what to a buffer of @len with the @nth point failing; errno or 0. */
static int sweep_act(int heap, int nth_fd, enum sweep_what what, size_t len,
		     int nth, long long *left)
{
	int buf = -1, ret = 0;
	char num[16];

	*left = -1;
	if (what != SWEEP_ALLOC) {
		buf = heap_alloc(heap, len, O_RDWR, 0);
		if (buf < 0)
			return buf;
		if (what == SWEEP_SHRINK) {
			close(buf);	/* into the pool */
			buf = -1;
		}
	}
	write_str(DEBUGFS "emu_log", "0");
	snprintf(num, sizeof(num), "%d", nth);
	if (pwrite(nth_fd, num, strlen(num), 0) != (ssize_t)strlen(num))
		return -EBADF;
	if (what == SWEEP_ALLOC) {
		buf = heap_alloc(heap, len, O_RDWR, 0);
		ret = buf;
	} else if (what == SWEEP_RELEASE) {
		close(buf);	/* the release runs before close() returns */
	} else {
		write_str("/proc/sys/vm/drop_caches", "2");
	}
	*left = fail_nth_left(nth_fd);	/* > 0: no point failed */
	pwrite(nth_fd, "0", 1, 0);
	if (what == SWEEP_ALLOC && buf >= 0)
		close(buf);
	return ret < 0 ? ret : 0;
}

/*
 * Fail point 1, 2, ... of @what on buffers of @len until none fails; after
 * each, the leak grew by exactly the pages of the failed call and every
 * other page is accounted for. Returns the points found, or -1.
 */
static int sweep_conversions(struct __test_metadata *_metadata, int heap,
			     int nth_fd, enum sweep_what what, size_t len)
{
	struct stats before, now;
	long long left = -1;
	int nth, ret;

	for (nth = 1; nth < 200; nth++) {
		if (read_stats(&before))
			return -1;
		ret = sweep_act(heap, nth_fd, what, len, nth, &left);
		if (read_stats(&now))
			return -1;
		EXPECT_TRUE(!ret || ret == -EIO || ret == -ENOMEM)
			TH_LOG("%zu bytes, point %d: %s", len, nth, strerror(-ret));
		EXPECT_EQ(before.leaked_bytes + failed_pages() * (long long)PAGE,
			  now.leaked_bytes) TH_LOG("%zu bytes, point %d", len, nth);
		EXPECT_EQ(now.shared_bytes + now.pooled_bytes,
			  now.emu_shared_pages * (long long)PAGE);
		EXPECT_EQ(now.leaked_bytes, now.emu_lost_pages * (long long)PAGE);
		EXPECT_EQ(0, now.emu_stray_pages) TH_LOG("point %d", nth);
		EXPECT_EQ(before.buffers, now.buffers);
		if (what == SWEEP_SHRINK)
			EXPECT_EQ(0, now.pooled_bytes);
		if (left > 0)
			return nth - 1;
	}
	return -1;
}

/*
 * Sweeps @what over buffers of several sizes (one page; 17 pages; a 2 MiB
 * block and more; more than one 16 MiB run), then checks that all memory
 * but the leaked pages came back. The emulation's page states account for
 * every page exactly (above); MemFree is the coarse check that nothing
 * else was lost: a loss per failed point would add up over the sweep's
 * dozens of points, while page cache, slab and per-CPU page lists of the
 * VM move MemFree by a few MiB at most, hence 4 MiB of slack.
 */
static void sweep_sizes(struct __test_metadata *_metadata, int heap,
			enum sweep_what what)
{
	static const size_t sizes[] = {
		PAGE, 17 * PAGE, (2 << 20) + 17 * PAGE, 18 << 20
	};
	long long free_before, free_after, leaked;
	struct stats start, end;
	int fd = open("/proc/thread-self/fail-nth", O_RDWR);
	unsigned int i;
	int points;

	if (fd < 0 || access(FAILSLAB, F_OK) || access(FAIL_PAGE_ALLOC, F_OK))
		SKIP(return, "needs fail-nth, failslab and fail_page_alloc");
	ASSERT_EQ(0, pool_limit(what == SWEEP_SHRINK ? 64 << 20 : 0));
	free_before = settled_mem_free();
	ASSERT_EQ(0, read_stats(&start));
	ASSERT_EQ(0, fail_conversions_only(true));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		points = sweep_conversions(_metadata, heap, fd, what, sizes[i]);
		TH_LOG("%zu bytes: %d conversion calls failed in turn",
		       sizes[i], points);
		EXPECT_LT(0, points);
	}
	fail_conversions_only(false);
	close(fd);
	free_after = settled_mem_free();
	ASSERT_EQ(0, read_stats(&end));
	leaked = end.leaked_bytes - start.leaked_bytes;
	TH_LOG("MemFree %lld -> %lld kB, %lld kB leaked on purpose",
	       free_before >> 10, free_after >> 10, leaked >> 10);
	EXPECT_GE(free_after + leaked + (4 << 20), free_before);
}

TEST_F(heap, failing_each_share_call_leaks_exactly_the_failed_run)
{
	sweep_sizes(_metadata, self->fd, SWEEP_ALLOC);
}

TEST_F(heap, failing_each_unshare_on_release_leaks_exactly_the_failed_run)
{
	sweep_sizes(_metadata, self->fd, SWEEP_RELEASE);
}

TEST_F(heap, failing_each_unshare_in_the_shrinker_leaks_exactly_the_failed_run)
{
	sweep_sizes(_metadata, self->fd, SWEEP_SHRINK);
}

/*
 * The kernel memory a cgroup is charged for, from its memory.stat line
 * "kernel": every page charged or uncharged moves it by exactly that page.
 * memory.current is no use here: it also counts charges the cgroup took
 * ahead into per-CPU stocks (up to 64 pages, MEMCG_CHARGE_BATCH, on every
 * CPU it ran on; on 7.3 kept there while other cgroups charge), so it can
 * be off by 64 pages per CPU either way. Reading memory.stat folds in the
 * per-CPU counts when more than 64 pages per CPU changed since they last
 * were, so a reading after allocating or freeing the buffers below (768
 * pages or more) is exact; a fresh cgroup no task has entered reads 0.
 */
static long long memcg_kernel(const char *cg)
{
	long long val = -1, v;
	char path[128], name[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "kernel")) {
			val = v;
			break;
		}
	}
	fclose(f);
	return val;
}

#define CCSH_CG "/sys/fs/cgroup/ccsh-test"

/*
 * Kernel memory charged to a fresh cgroup before this process enters it
 * (m[0]), while @n buffers of @len it allocated there live (m[1]) and
 * after they are freed (m[2]); @live (may be NULL) gets the heap's stats
 * while they live. 1: no memory controller; -errno when a step fails.
 */
static int charged_around(int heap, size_t len, int n, long long m[3],
			  struct stats *live)
{
	int bufs[64], i, got = 0, ret = 0;
	char pid[32];

	if (n > 64)
		return -EINVAL;
	if (write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
		return 1;
	mkdir(CCSH_CG, 0755);
	m[0] = memcg_kernel(CCSH_CG);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (m[0] < 0 || write_str(CCSH_CG "/cgroup.procs", pid)) {
		rmdir(CCSH_CG);
		return -EIO;
	}
	for (; got < n; got++) {
		bufs[got] = heap_alloc(heap, len, O_RDWR, 0);
		if (bufs[got] < 0) {
			ret = bufs[got];
			break;
		}
	}
	m[1] = memcg_kernel(CCSH_CG);
	if (live && read_stats(live))
		ret = ret ?: -EIO;
	for (i = 0; i < got; i++)
		close(bufs[i]);
	m[2] = memcg_kernel(CCSH_CG);
	write_str("/sys/fs/cgroup/cgroup.procs", pid);
	rmdir(CCSH_CG);
	return ret;
}

#define STRAND_CG	"/sys/fs/cgroup/ccsh-strand"
#define STRAND_ROUNDS	48
#define STRAND_KEEP	(1 + 31)	/* a 64 KiB piece, a page per group */

/*
 * One round of stranding: a 64 KiB piece opens a block, 496 pages fill
 * it, all but one page per 16-page group are freed. Kept fds go to @keep.
 * 0, or the -errno of the allocation that failed.
 */
static int strand_round(int heap, int *keep)
{
	int fds[496], i, n = 0, ret = 0;

	keep[0] = heap_alloc(heap, 64 << 10, O_RDWR, 0);
	if (keep[0] < 0)
		return keep[0];
	for (i = 0; i < 496 && !ret; i++) {
		fds[i] = heap_alloc(heap, PAGE, O_RDWR, 0);
		if (fds[i] < 0)
			ret = fds[i];
	}
	for (i = 0; i < 496 && fds[i] >= 0; i++) {
		if (i % 16 == 0 && n < STRAND_KEEP - 1)
			keep[1 + n++] = fds[i];
		else
			close(fds[i]);
	}
	for (i = 1 + n; i < STRAND_KEEP; i++)
		keep[i] = -1;
	return ret;
}

static void close_all(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * A task in a 32 MiB cgroup leaves one page per 16 of each block it cut
 * pieces from: what those blocks hold shared in no buffer, which no one
 * pays for, stays within the pool's limit, 16 MiB here. 48 rounds strand
 * about 89 MiB where nothing bounds them (the limit is met in round 9);
 * the task also stops at 24 MiB of its own charges (at its limit, the
 * kernel's own allocations for it would meet the cgroup's OOM killer). A
 * large request afterwards gets what the heap can spare, or -ENOMEM
 * before taking anything. 25 000 allocations: minutes on a debug kernel.
 */
TEST_F_TIMEOUT(heap, memory_stranded_in_blocks_stays_within_the_pool_limit, 600)
{
	static int keep[STRAND_ROUNDS * STRAND_KEEP];
	struct rlimit nofile = { 65536, 65536 };
	long long limit, worst = 0, big;
	int r, ret = 0, buf;
	struct stats now;
	bool cut = true;
	char pid[32];

	if (write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
		SKIP(return, "no cgroup2 memory controller");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &nofile));
	ASSERT_EQ(0, pool_limit(16 << 20));	/* the teardown restores it */
	ASSERT_EQ(0, write_str(DEBUGFS "pool_drain", "1"));
	limit = read_ll(DEBUGFS "pool_limit_bytes");
	mkdir(STRAND_CG, 0755);
	ASSERT_EQ(0, write_str(STRAND_CG "/memory.max", "32M"));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_str(STRAND_CG "/cgroup.procs", pid));
	for (r = 0; r < STRAND_ROUNDS && !ret; r++) {
		if (read_ll(STRAND_CG "/memory.current") > 24 << 20)
			break;
		ret = strand_round(self->fd, &keep[r * STRAND_KEEP]);
		ASSERT_EQ(0, read_stats(&now));
		worst = now.pooled_bytes > worst ? now.pooled_bytes : worst;
		if (!r && !now.pooled_bytes) {
			cut = false;	/* no pieces for this task here */
			r++;
			break;
		}
	}
	write_str("/sys/fs/cgroup/cgroup.procs", pid);
	if (!cut) {
		close_all(keep, r * STRAND_KEEP);
		rmdir(STRAND_CG);
		SKIP(return, "no pieces are cut for a task in a cgroup here");
	}
	TH_LOG("%d rounds (last: %d), pooled at most %lld KiB, limit %lld KiB",
	       r, ret, worst >> 10, limit >> 10);
	EXPECT_TRUE(!ret || ret == -ENOMEM);
	EXPECT_LE(worst, limit);
	/* what ccsh_spare_bytes() promises at least, beside what is held */
	big = (meminfo_bytes("MemAvailable") - meminfo_bytes("MemTotal") / 32) &
	      ~((2LL << 20) - 1);
	buf = big > 0 ? heap_alloc(self->fd, big, O_RDWR, 0) : -ENOMEM;
	EXPECT_TRUE(buf >= 0 || buf == -ENOMEM) TH_LOG("%lld bytes: %d", big, buf);
	if (buf >= 0)
		close(buf);
	close_all(keep, r * STRAND_KEEP);
	rmdir(STRAND_CG);
}

/* A chunk the pool could not give counts one miss, whatever was tried. */
TEST_F(heap, new_chunk_counts_one_pool_miss_when_no_block_can_be_had)
{
	struct stats before, after;
	int buf;

	if (access(FAIL_PAGE_ALLOC "min-order", F_OK))
		SKIP(return, "no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC)");
	ASSERT_EQ(0, write_str(DEBUGFS "pool_drain", "1"));
	ASSERT_EQ(0, read_stats(&before));
	/* this task's next allocation of a whole block fails, once */
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "min-order", "9"));
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "verbose", "0"));
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "task-filter", "Y"));
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "times", "1"));
	ASSERT_EQ(0, write_str(FAIL_PAGE_ALLOC "probability", "100"));
	ASSERT_EQ(0, write_str("/proc/self/make-it-fail", "1"));
	buf = heap_alloc(self->fd, PAGE, O_RDWR, 0);
	write_str("/proc/self/make-it-fail", "0");
	write_str(FAIL_PAGE_ALLOC "probability", "0");
	write_str(FAIL_PAGE_ALLOC "times", "1");
	write_str(FAIL_PAGE_ALLOC "min-order", "1");
	write_str(FAIL_PAGE_ALLOC "task-filter", "N");
	write_str(FAIL_PAGE_ALLOC "verbose", "2");
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&after));
	close(buf);
	EXPECT_EQ(before.pool_misses + 1, after.pool_misses);
	EXPECT_EQ(before.pool_hits, after.pool_hits);
}

TEST_F(heap, allocation_is_charged_to_the_callers_memcg)
{
	long long len = 16 << 20, m[3];
	int ret = charged_around(self->fd, len, 1, m, NULL);

	if (ret == 1)
		SKIP(return, "no cgroup2 memory controller");
	ASSERT_EQ(0, ret);
	EXPECT_GE(m[1] - m[0], len);
	EXPECT_LT(m[2], m[1] - len / 2);
}

/*
 * Pieces are charged one by one; the 2 MiB blocks they come from are not.
 * From a drained pool, 48 pieces of 64 KiB are cut from two new blocks,
 * each shared in one call, whose unused rest (1 MiB) is pooled.
 */
TEST_F(heap, small_buffers_charge_their_pages_not_their_blocks)
{
	long long len = 64 << 10, pieces = 48 * len, m[3];
	struct stats before, live;
	int ret;

	/* /sys/module/<name>/initstate: a loadable module, not built in */
	if (!access("/sys/module/cc_shared_heap/initstate", F_OK))
		SKIP(return, "no pieces for a task in a cgroup: a module cannot move charges");
	ASSERT_EQ(0, write_str(DEBUGFS "pool_drain", "1"));
	ASSERT_EQ(0, read_stats(&before));
	ret = charged_around(self->fd, len, 48, m, &live);
	if (ret == 1)
		SKIP(return, "no cgroup2 memory controller");
	ASSERT_EQ(0, ret);
	TH_LOG("kernel memory charged: %lld, %lld with the pieces, %lld after",
	       m[0], m[1], m[2]);
	EXPECT_EQ(2, live.share_calls - before.share_calls);
	EXPECT_EQ(2 * (long long)HUGE_SZ - pieces,
		  live.pooled_bytes - before.pooled_bytes);
	EXPECT_GE(m[1] - m[0], pieces);
	EXPECT_LT(m[1] - m[0], 2 * (long long)HUGE_SZ);
	EXPECT_LT(m[2], m[1] - pieces / 2);
}

TEST_F(heap, killed_allocator_leaves_nothing_behind)
{
	struct stats now;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (;;) {
			int b = heap_alloc(self->fd, 256 << 20, O_RDWR, 0);

			if (b >= 0)
				close(b);
		}
	}
	usleep(300 * 1000);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_EQ(0, read_stats(&now));
	EXPECT_EQ(self->base.buffers, now.buffers);
	EXPECT_EQ(self->base.shared_bytes, now.shared_bytes);
	EXPECT_EQ(self->base.leaked_bytes, now.leaked_bytes);
}

/*
 * --- trace events ---
 * events/cc_shared_heap/ in tracefs: a conversion event per call, a take
 * and a put event per chunk asked of or offered to the pool. The events
 * are checked against the counters of the same operations.
 */

#define TRACEFS "/sys/kernel/tracing/"
#define EVENTS TRACEFS "events/cc_shared_heap/"

/* What the trace shows of the heap, added up. */
struct trace_seen {
	int shares, share_errors, unshares, puts, pooled, takes, hits;
	long long share_pages, pooled_pages, hit_pages, share_ns;
	int error;		/* result of the last failed share */
	unsigned int error_pages;
};

/* A conversion event: @dir "share" or "unshare", @res 0 or -errno. */
static void seen_convert(struct trace_seen *t, const char *dir, unsigned int n,
			 int res, unsigned long long ns)
{
	if (strcmp(dir, "share")) {
		t->unshares++;
	} else if (res) {
		t->share_errors++;
		t->error = res;
		t->error_pages = n;
	} else {
		t->shares++;
		t->share_pages += n;
		t->share_ns += ns;
	}
}

/* One line of TRACEFS "trace", if it is one of the heap's events. */
static void trace_line(const char *line, struct trace_seen *t)
{
	const char *conv = strstr(line, "ccsh_convert: ");
	const char *take = strstr(line, "ccsh_pool_take: ");
	const char *put = strstr(line, "ccsh_pool_put: ");
	unsigned long long ns;
	unsigned int n, order;
	unsigned long pfn;
	char dir[8];
	int res, flag;

	if (conv &&
	    sscanf(conv, "ccsh_convert: dir=%7s pfn=%lx pages=%u result=%d duration_ns=%llu",
		   dir, &pfn, &n, &res, &ns) == 5) {
		seen_convert(t, dir, n, res, ns);
	} else if (take &&
		   sscanf(take, "ccsh_pool_take: order=%u pfn=%lx hit=%d",
			  &order, &pfn, &flag) == 3) {
		t->takes++;
		t->hits += flag;
		t->hit_pages += flag ? 1LL << order : 0;
	} else if (put &&
		   sscanf(put, "ccsh_pool_put: order=%u pfn=%lx pooled=%d",
			  &order, &pfn, &flag) == 3) {
		t->puts++;
		t->pooled += flag;
		t->pooled_pages += flag ? 1LL << order : 0;
	}
}

/* The heap's events in the trace buffer so far, added up; 0 or -1. */
static int read_trace(struct trace_seen *t)
{
	FILE *f = fopen(TRACEFS "trace", "re");
	char line[512];

	memset(t, 0, sizeof(*t));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		trace_line(line, t);
	fclose(f);
	return 0;
}

/* Empty the trace buffer (of every CPU). */
static int clear_trace(void)
{
	int fd = open(TRACEFS "trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

FIXTURE(trace) {
	int fd;
	bool mounted;
	long long tracing_on;
	long long pool_limit;
};

/*
 * tracefs where it can be had (mounted here if nobody did), the heap's
 * events there whenever the kernel has event tracing at all: a kernel
 * with events/ but without events/cc_shared_heap/ lost the heap's events.
 */
FIXTURE_SETUP(trace)
{
	bool events, ours;

	self->mounted = false;
	self->tracing_on = -1;
	self->pool_limit = -1;
	self->fd = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "%s absent (boot with cc_shared_heap.emulate=1)",
		     HEAP_NODE);
	if (access(TRACEFS "trace", F_OK)) {
		if (mount("nodev", TRACEFS, "tracefs", 0, NULL))
			SKIP(return, "no tracefs (%s)", strerror(errno));
		self->mounted = true;
	}
	events = !access(TRACEFS "events", F_OK);
	ours = !access(EVENTS "enable", W_OK);
	/* no teardown after a setup that did not complete */
	if (!ours && self->mounted)
		umount(TRACEFS);
	if (!events)
		SKIP(return, "this kernel has no event tracing");
	ASSERT_TRUE(ours) TH_LOG("no %s: the heap's events are missing", EVENTS);
	self->pool_limit = read_ll(DEBUGFS "pool_limit_bytes");
	self->tracing_on = read_ll(TRACEFS "tracing_on");
	ASSERT_EQ(0, write_str(TRACEFS "tracing_on", "1"));
}

FIXTURE_TEARDOWN(trace)
{
	char num[32];

	if (self->fd < 0)
		return;
	write_str(EVENTS "enable", "0");
	clear_trace();
	if (self->tracing_on >= 0) {
		snprintf(num, sizeof(num), "%lld", self->tracing_on);
		write_str(TRACEFS "tracing_on", num);
	}
	if (self->mounted)
		umount(TRACEFS);
	inject_off("share");
	if (self->pool_limit >= 0)
		pool_limit(self->pool_limit);
	close(self->fd);
}

/* Trace from now on, and only the heap's events. */
static int trace_heap(void)
{
	if (clear_trace())
		return -1;
	return write_str(EVENTS "enable", "1");
}

/*
 * A buffer from an empty pool: one share event per conversion call, whose
 * pages add up to the buffer. Freed, its chunks are put into the pool;
 * allocated again, they are taken from it without a conversion.
 */
/* Whole 2 MiB chunks: smaller ones are cut from blocks, untraced. */
TEST_F(trace, conversion_and_pool_events_fire)
{
	const unsigned long long len = 2 * HUGE_SZ;
	struct stats before, made, freed, again;
	struct trace_seen t;
	int buf;

	ASSERT_EQ(0, pool_limit(64 << 20));
	ASSERT_EQ(0, write_str(DEBUGFS "pool_drain", "1"));
	ASSERT_EQ(0, read_stats(&before));
	ASSERT_EQ(0, before.pooled_bytes);
	ASSERT_EQ(0, trace_heap());

	buf = heap_alloc(self->fd, len, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&made));
	ASSERT_EQ(0, read_trace(&t));
	EXPECT_EQ(made.share_calls - before.share_calls, t.shares);
	EXPECT_EQ(0, t.share_errors);
	EXPECT_EQ(made.shared_bytes - before.shared_bytes,
		  t.share_pages * (long long)PAGE);
	EXPECT_EQ((long long)(len / PAGE), t.share_pages);
	EXPECT_LT(0, t.share_ns) TH_LOG("conversions took no time at all");
	EXPECT_LT(0, t.takes);		/* the pool was asked, in vain */
	EXPECT_EQ(0, t.hits);

	close(buf);
	ASSERT_EQ(0, read_stats(&freed));
	ASSERT_EQ(0, read_trace(&t));
	EXPECT_LT(0, t.puts);
	EXPECT_EQ(freed.pooled_bytes - made.pooled_bytes,
		  t.pooled_pages * (long long)PAGE);
	EXPECT_EQ((long long)(len / PAGE), t.pooled_pages);

	ASSERT_EQ(0, clear_trace());
	buf = heap_alloc(self->fd, len, O_RDWR, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, read_stats(&again));
	ASSERT_EQ(0, read_trace(&t));
	close(buf);
	EXPECT_EQ(again.pool_hits - freed.pool_hits, t.hits);
	EXPECT_EQ((long long)(len / PAGE), t.hit_pages);
	EXPECT_EQ(freed.share_calls, again.share_calls);
	EXPECT_EQ(0, t.shares);
	TH_LOG("%d take events, %d hits", t.takes, t.hits);
}

/* An injected failure shows in the share event as the errno it gave. */
TEST_F(trace, failed_share_event_carries_the_errno)
{
	struct stats before, now;
	struct trace_seen t;
	int ret;

	ASSERT_EQ(0, pool_limit(0));	/* the page must be converted */
	ASSERT_EQ(0, read_stats(&before));
	ASSERT_EQ(0, trace_heap());
	ASSERT_EQ(0, inject_once("share", 0));
	ret = heap_alloc(self->fd, PAGE, O_RDWR, 0);
	if (ret >= 0)
		close(ret);
	ASSERT_EQ(0, read_stats(&now));
	ASSERT_EQ(0, read_trace(&t));
	ASSERT_GT(0, ret) TH_LOG("the injected failure did not fail the buffer");
	EXPECT_EQ(now.share_failures - before.share_failures, t.share_errors);
	EXPECT_EQ(1, t.share_errors);
	EXPECT_EQ(ret, t.error);
	EXPECT_EQ(now.leaked_bytes - before.leaked_bytes,
		  t.error_pages * (long long)PAGE);
}

/*
 * --- importing into a device ---
 * vgem (DRM PRIME maps the attachment) where the kernel has it; else the
 * test importer of the module's test flavour, a device on dma-direct that
 * maps a dma-buf whose fd is written to its debugfs file and tells how
 * many entries it reaches at the pages' own address.
 */

#define SYSTEM_NODE "/dev/dma_heap/system"
#define IO_TLB_USED "/sys/kernel/debug/swiotlb/io_tlb_used"
#define TEST_IMPORT DEBUGFS "test_import"

/* Map @dmabuf for the device (vgem when @vgem >= 0); 0 or -errno. */
static int import_buf(int vgem, int dmabuf, unsigned int *handle)
{
	struct drm_prime_handle h = { .fd = dmabuf };
	char num[16];

	if (vgem < 0) {
		snprintf(num, sizeof(num), "%d", dmabuf);
		return write_str(TEST_IMPORT, num) ? -errno : 0;
	}
	if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h))
		return -errno;
	*handle = h.handle;
	return 0;
}

static void release_buf(int vgem, unsigned int handle)
{
	struct drm_gem_close c = { .handle = handle };

	if (vgem < 0)
		write_str(TEST_IMPORT, "release");
	else
		ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &c);
}

/* Entries of the test importer's mapping reached in place: 0 if all. */
static int entries_not_in_place(void)
{
	long long entries = -1, in_place = -1;
	FILE *f = fopen(TEST_IMPORT, "r");

	if (f) {
		if (fscanf(f, "entries %lld in_place %lld", &entries,
			   &in_place) != 2)
			entries = -1;
		fclose(f);
	}
	return entries > 0 ? entries - in_place : -1;
}

static long long swiotlb_used(void)
{
	return read_ll(IO_TLB_USED);
}

FIXTURE(importer) {
	int vgem;
	int cc_heap;
	bool forced;
	bool upstream_bounces;
};

FIXTURE_SETUP(importer)
{
	self->cc_heap = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	self->vgem = open_vgem();
	self->forced = cmdline_has("swiotlb=force") && swiotlb_used() >= 0;
	/* mainline (7.1+) bounces shared memory too where swiotlb is forced */
	self->upstream_bounces = self->forced && cmdline_has("ccsh_dma=upstream");
	if (self->cc_heap < 0)
		SKIP(return, "%s absent", HEAP_NODE);
	if (self->vgem < 0 && access(TEST_IMPORT, W_OK))
		SKIP(return, "no vgem device and no test importer");
	/* set by the harness for mainline kernels (7.1 and later) */
	if (self->vgem >= 0 && cmdline_has("ccsh_dma=upstream"))
		SKIP(return, "vgem imports without mapping here: nothing to observe");
}

FIXTURE_TEARDOWN(importer)
{
	if (self->vgem >= 0)
		close(self->vgem);
	if (self->cc_heap >= 0)
		close(self->cc_heap);
}

#define DMA_MAP_SG TRACEFS "events/dma/dma_map_sg/enable"

/* What the DMA core's dma_map_sg events showed of mappings with CC_SHARED. */
struct sg_maps_seen {
	int maps;		/* events with DMA_ATTR_CC_SHARED */
	int entries;
	int elsewhere;		/* entries not at their pages' own address */
	bool truncated;
	long long bytes;
};

/* "{0xa,0xb}" of __print_array() into @v; the number of values read. */
static int hex_list(const char *s, unsigned long long *v, int max)
{
	char *end;
	int n = 0;

	if (*s++ != '{')
		return -1;
	while (*s != '}' && n < max) {
		v[n++] = strtoull(s, &end, 16);
		if (end == s)
			return -1;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* The dma_map_sg events in the trace that carry DMA_ATTR_CC_SHARED. */
static int read_sg_maps(struct sg_maps_seen *t)
{
	unsigned long long dma[128], size[128], phys[128];
	FILE *f = fopen(TRACEFS "trace", "re");
	const char *d, *z, *p;
	char line[8192];
	int nd, nz, np, i;

	memset(t, 0, sizeof(*t));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " dma_map_sg: ") || !strstr(line, "CC_SHARED"))
			continue;
		d = strstr(line, " dma_addrs=");
		z = strstr(line, " sizes=");
		p = strstr(line, " phys_addrs=");
		if (!d || !z || !p)
			continue;
		nd = hex_list(d + 11, dma, 128);
		nz = hex_list(z + 7, size, 128);
		np = hex_list(p + 12, phys, 128);
		t->maps++;
		t->truncated |= !!strstr(line, "TRUNCATED");
		if (nd < 0 || nd != nz || nd != np) {
			t->elsewhere++;
			continue;
		}
		for (i = 0; i < nd; i++) {
			t->entries++;
			t->bytes += size[i];
			t->elsewhere += dma[i] != phys[i];
		}
	}
	fclose(f);
	return 0;
}

/*
 * The device gets the whole buffer at its pages' own addresses, never a
 * copy: the test importer counts the entries it reaches in place; vgem's
 * mapping is read from the DMA core's dma_map_sg event.
 */
TEST_F(importer, imports_a_shared_buffer_larger_than_a_bounce_segment)
{
	const long long len = 4 << 20;
	int buf = heap_alloc(self->cc_heap, len, O_RDWR | O_CLOEXEC, 0);
	bool traced = false, mounted = false;
	unsigned int handle = 0;
	struct sg_maps_seen t;
	int ret, not_in_place = -1;

	if (self->upstream_bounces)
		SKIP(close(buf); return, "this DMA core bounces shared memory when forced");
	ASSERT_LE(0, buf);
	if (self->vgem >= 0) {
		if (access(TRACEFS "trace", F_OK))
			mounted = !mount("nodev", TRACEFS, "tracefs", 0, NULL);
		traced = !clear_trace() && !write_str(DMA_MAP_SG, "1");
	}
	ret = import_buf(self->vgem, buf, &handle);
	if (!ret && self->vgem < 0)
		not_in_place = entries_not_in_place();
	if (traced) {
		write_str(DMA_MAP_SG, "0");
		traced = !read_sg_maps(&t);
		clear_trace();
	}
	if (mounted)
		umount(TRACEFS);
	ASSERT_EQ(0, ret);
	release_buf(self->vgem, handle);
	close(buf);
	if (self->vgem < 0) {
		EXPECT_EQ(0, not_in_place);
		return;
	}
	if (!traced)
		SKIP(return, "no dma_map_sg trace event: vgem's mapping cannot be seen");
	EXPECT_EQ(1, t.maps);
	EXPECT_FALSE(t.truncated);
	EXPECT_LT(0, t.entries);
	EXPECT_EQ(0, t.elsewhere);
	EXPECT_EQ(len, t.bytes);
}

/* Control: the forced environment really bounces ordinary buffers. */
TEST_F(importer, system_heap_import_takes_bounce_slots_when_forced)
{
	int sys_heap, buf;
	long long before, during;
	unsigned int handle = 0;

	if (!self->forced)
		SKIP(return, "swiotlb not forced (boot with swiotlb=force)");
	sys_heap = open(SYSTEM_NODE, O_RDONLY | O_CLOEXEC);
	if (sys_heap < 0 && errno == ENOENT)
		SKIP(return, "this kernel has no system heap");
	ASSERT_LE(0, sys_heap);
	buf = heap_alloc(sys_heap, 64 << 10, O_RDWR | O_CLOEXEC, 0);
	ASSERT_LE(0, buf);
	before = swiotlb_used();
	ASSERT_EQ(0, import_buf(self->vgem, buf, &handle));
	during = swiotlb_used();
	if (self->vgem < 0)
		EXPECT_LT(0, entries_not_in_place());
	release_buf(self->vgem, handle);
	TH_LOG("system heap 64 KiB import: io_tlb_used %lld -> %lld", before, during);
	EXPECT_LE(before + 32, during);		/* 64 KiB = 32 slots of 2 KiB */
	EXPECT_EQ(before, swiotlb_used());
	close(buf);
	close(sys_heap);
}

TEST_F(importer, shared_buffer_import_takes_no_bounce_slot_when_forced)
{
	int buf = heap_alloc(self->cc_heap, 4 << 20, O_RDWR | O_CLOEXEC, 0);
	long long before, during;
	unsigned int handle = 0;

	if (!self->forced)
		SKIP(close(buf); return, "swiotlb not forced (boot with swiotlb=force)");
	if (self->upstream_bounces)
		SKIP(close(buf); return, "this DMA core bounces shared memory when forced");
	ASSERT_LE(0, buf);
	before = swiotlb_used();
	ASSERT_EQ(0, import_buf(self->vgem, buf, &handle));
	during = swiotlb_used();
	if (self->vgem < 0)
		EXPECT_EQ(0, entries_not_in_place());
	release_buf(self->vgem, handle);
	TH_LOG("system_cc_shared 4 MiB import: io_tlb_used %lld -> %lld", before, during);
	EXPECT_EQ(before, during);
	close(buf);
}

TEST_HARNESS_MAIN
