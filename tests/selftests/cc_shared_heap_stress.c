// SPDX-License-Identifier: GPL-2.0
/*
 * Stress test of /dev/dma_heap/system_cc_shared.
 *
 * P worker processes, in a memory cgroup of their own, allocate buffers of
 * 4 KiB to 64 MiB (most of them small: the size's power of two is drawn
 * with a cubic bias), map each one, check that every page reads zero,
 * write every page, map it again at an offset, check what they wrote,
 * and free it, until the time is up. Meanwhile a controller (this
 * process) makes conversions fail now and then, in both directions, moves
 * the pool's limit between 0 and 64 MiB, drains the pool and drops caches
 * (which runs the heap's shrinker). Then a child is killed 50 ms into a
 * request for up to 1 GiB.
 *
 * It proves that under all of that allocations fail only with ENOMEM or
 * EIO, that buffers always read zero when new and hold what was written;
 * that the workers' buffers are charged to their cgroup, and a request
 * over a cgroup's limit fails with ENOMEM without invoking its OOM
 * killer; that a task killed in the middle of a large request dies at
 * once and leaves nothing behind; and that afterwards, injection off and
 * the pool drained, no buffer and no shared byte is left over, the pool
 * is empty, the leak accounting matches the pages the emulation lost
 * exactly, no page is stray, the counters match the emulated page states,
 * the emulation saw no violation, and the memory is free again except
 * for what was leaked.
 *
 *	cc_shared_heap_stress [-p PROCS] [-t SECONDS] [-s SEED]
 *
 * Defaults: 4 processes, 60 seconds of stress. Output is TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "cc_shared_heap_util.h"

#define CGROOT		"/sys/fs/cgroup/"
#define CG		CGROOT "ccsh-stress"
#define CG_SMALL	CGROOT "ccsh-stress-limit"
#define MiB		(1LL << 20)
#define MAX_SIZE	(64 * MiB)
#define MAX_PROCS	64
#define KILL_SIZE	(1024 * MiB)
#define KILL_AFTER_US	50000
#define CHECKS		17
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/*
 * The cgroup's limit leaves room for every worker's largest buffer at
 * once plus 64 MiB for the workers' own pages and the kernel objects
 * charged with each buffer (its file, page tables of its mappings). The
 * heap's page allocations fail at a limit rather than invoke the memcg
 * OOM killer, but those other charges do not: a worker could be killed,
 * and the harness fails any boot whose log shows an OOM kill. How the
 * heap meets a limit is checked on its own, in a second cgroup where one
 * request is the only thing charged (memcg_limit_gives_enomem...).
 */
#define CG_HEADROOM	(64 * MiB)
#define SMALL_LIMIT	(16 * MiB)

/*
 * MemFree after everything may be lower than before by what was leaked
 * (pages whose conversion failed are never freed), by what slab and
 * per-CPU allocations grew (kernel bookkeeping, not pages of the heap:
 * KASAN's quarantine alone holds freed objects there) and by 8 MiB of
 * noise: page-table and kernel-stack pages, LRU and vmstat per-CPU
 * batches, and the free pages on the per-CPU lists between our reading
 * of /proc/zoneinfo and of /proc/meminfo. A buffer's worth of pages
 * forgotten by the heap exceeds it.
 */
#define MEM_SLACK	(8 * MiB)

/*
 * A failed conversion leaks its run (up to 16 MiB) for good: once the
 * leaks reach this (or 1/32 of RAM), no more failures are injected.
 */
#define LEAK_BUDGET	(32 * MiB)

struct result {			/* one worker's, in shared memory */
	long allocs, enomem, eio, other, other_errno;
	long long bytes, largest;
	long map_failed, map_errno, not_zero, mismatch, sync_failed;
	bool cgroup_failed;
};

struct mem {			/* bytes */
	long long total, available, free, slab, percpu;
	/* kernel memory the heap never allocates, but a busy test may grow */
	long long page_tables, kernel_stack, vmalloc, shmem, anon;
};

static struct {
	int procs, seconds;
	unsigned long long seed;
} opt = { 4, 60, 0x5eedcc5ULL };

static int tap_nr;
static bool all_ok = true;

/* --- small helpers --- */

static unsigned long long below(unsigned long long *x, unsigned long long n)
{
	return n ? splitmix64(x) % n : 0;
}

static int write_ll(const char *path, long long val)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", val);
	return write_str(path, num);
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

static int heap_alloc(int heap, unsigned long long len, unsigned int fd_flags)
{
	struct dma_heap_allocation_data data = {
		.len = len,
		.fd_flags = fd_flags,
	};

	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	return data.fd;
}

/* --- the heap's statistics, memory --- */

/* Free pages on the per-CPU lists (not in MemFree), in bytes. */
static long long pcp_bytes(void)
{
	long long pages = 0, n;
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &n) == 1)
			pages += n;
	if (f)
		fclose(f);
	return pages * PAGE;
}

static void read_mem(struct mem *m)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "MemTotal:", offsetof(struct mem, total) },
		{ "MemAvailable:", offsetof(struct mem, available) },
		{ "MemFree:", offsetof(struct mem, free) },
		{ "Slab:", offsetof(struct mem, slab) },
		{ "Percpu:", offsetof(struct mem, percpu) },
		{ "PageTables:", offsetof(struct mem, page_tables) },
		{ "KernelStack:", offsetof(struct mem, kernel_stack) },
		{ "VmallocUsed:", offsetof(struct mem, vmalloc) },
		{ "Shmem:", offsetof(struct mem, shmem) },
		{ "AnonPages:", offsetof(struct mem, anon) },
	};
	char key[64];
	long long kb;
	unsigned int i;
	FILE *f = fopen("/proc/meminfo", "re");

	memset(m, 0, sizeof(*m));
	while (f && fscanf(f, "%63s %lld kB", key, &kb) == 2)
		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strcmp(key, keys[i].key))
				*(long long *)((char *)m + keys[i].off) = kb * 1024;
	if (f)
		fclose(f);
}

/* Memory as it stands once caches are dropped and counters folded. */
static void settled_mem(struct mem *m)
{
	write_str("/proc/sys/vm/drop_caches", "3");
	write_str("/proc/sys/vm/stat_refresh", "1");
	read_mem(m);
	m->free += pcp_bytes();
}

/* --- fault injection --- */

static const char *const knob_names[] = {
	"probability", "interval", "times", "space", "verbose",
};
static const char *const dirs[] = { "share", "unshare" };
static char knobs_saved[2][ARRAY_SIZE(knob_names)][32];
static bool have_knobs;

static void knob_path(char *path, size_t size, int dir, const char *knob)
{
	snprintf(path, size, DEBUGFS "fail_%s/%s", dirs[dir], knob);
}

static void knobs_save(void)
{
	char path[128];
	unsigned int d, k;
	FILE *f;

	have_knobs = true;
	for (d = 0; d < 2; d++) {
		for (k = 0; k < ARRAY_SIZE(knob_names); k++) {
			knob_path(path, sizeof(path), d, knob_names[k]);
			f = fopen(path, "re");
			if (!f || !fgets(knobs_saved[d][k], 32, f))
				have_knobs = false;
			else
				knobs_saved[d][k][strcspn(knobs_saved[d][k], "\n")] = 0;
			if (f)
				fclose(f);
		}
	}
}

static void knobs_restore(void)
{
	char path[128];
	int d, k;

	/* probability last: nothing fails half set up */
	for (d = 0; have_knobs && d < 2; d++) {
		for (k = ARRAY_SIZE(knob_names) - 1; k >= 0; k--) {
			knob_path(path, sizeof(path), d, knob_names[k]);
			write_str(path, knobs_saved[d][k]);
		}
	}
}

/* Fail conversions of @dir: @percent of them, @times at most; quietly. */
static void inject(int dir, int percent, int times)
{
	char path[128];

	knob_path(path, sizeof(path), dir, "verbose");
	write_str(path, "0");
	knob_path(path, sizeof(path), dir, "space");
	write_str(path, "0");
	knob_path(path, sizeof(path), dir, "interval");
	write_str(path, "1");
	knob_path(path, sizeof(path), dir, "times");
	write_ll(path, times);
	knob_path(path, sizeof(path), dir, "probability");
	write_ll(path, percent);
}

static void inject_off(void)
{
	char path[128];
	int d;

	for (d = 0; have_knobs && d < 2; d++) {
		knob_path(path, sizeof(path), d, "probability");
		write_str(path, "0");
	}
}

/* --- the workers --- */

/* 4 KiB to 64 MiB: the power of two cubic-biased to small, uniform within. */
static size_t pick_size(unsigned long long *rng)
{
	double u = (splitmix64(rng) >> 11) / 9007199254740992.0;
	unsigned int bits = 12 + (unsigned int)(15 * u * u * u);
	size_t size = (1UL << bits) + below(rng, 1UL << bits);

	size = (size + PAGE - 1) & ~(PAGE - 1);
	return MIN(size, (size_t)MAX_SIZE);
}

static unsigned int *map_buf(int fd, size_t len, size_t off, struct result *r)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	if (p != MAP_FAILED)
		return p;
	r->map_failed++;
	r->map_errno = errno;
	return NULL;
}

static void sync_buf(int fd, unsigned long long flags, struct result *r)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_RW };

	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync))
		r->sync_failed++;
}

/* Fresh pages read zero; each gets written; a second mapping reads it. */
static void use_buffer(int fd, size_t size, unsigned int tag,
		       unsigned long long *rng, struct result *r)
{
	size_t words = PAGE / sizeof(unsigned int), pages = size / PAGE, i, off;
	unsigned int *p, *first;
	bool bad = false;

	p = map_buf(fd, size, 0, r);
	if (!p)
		return;
	sync_buf(fd, DMA_BUF_SYNC_START, r);
	for (i = 0; i < pages; i++) {
		first = p + i * words;
		bad |= first[0] || first[words - 1];
		first[0] = tag ^ i;
		first[words - 1] = ~tag ^ i;
	}
	sync_buf(fd, DMA_BUF_SYNC_END, r);
	r->not_zero += bad;
	munmap(p, size);
	off = below(rng, pages);
	p = map_buf(fd, size - off * PAGE, off * PAGE, r);
	if (!p)
		return;
	for (i = off, bad = false; i < pages; i++) {
		first = p + (i - off) * words;
		bad |= first[0] != (tag ^ i) || first[words - 1] != (~tag ^ i);
	}
	r->mismatch += bad;
	munmap(p, size - off * PAGE);
}

static void one_round(int heap, unsigned long long *rng, struct result *r)
{
	size_t size = pick_size(rng);
	int fd = heap_alloc(heap, size, O_RDWR | O_CLOEXEC);

	if (fd == -ENOMEM) {
		r->enomem++;
		usleep(2000);		/* let the others give memory back */
		return;
	}
	if (fd == -EIO) {
		r->eio++;
		return;
	}
	if (fd < 0) {
		r->other++;
		r->other_errno = -fd;
		return;
	}
	r->allocs++;
	r->bytes += size;
	r->largest = MAX(r->largest, (long long)size);
	if (lseek(fd, 0, SEEK_END) != (off_t)size)
		r->mismatch++;
	use_buffer(fd, size, (unsigned int)splitmix64(rng), rng, r);
	close(fd);
}

static void worker(int idx, int heap, struct result *r, double deadline,
		   bool cg)
{
	unsigned long long rng = opt.seed + idx;
	char pid[16];

	if (cg) {
		snprintf(pid, sizeof(pid), "%d", getpid());
		r->cgroup_failed = write_str(CG "/cgroup.procs", pid) != 0;
	}
	while (now() < deadline)
		one_round(heap, &rng, r);
	_exit(0);
}

/* --- the controller --- */

struct ctl {
	unsigned long long rng;
	struct stats base;
	long long leak_budget;
	long long sampled_peak;
	long steps, injections, pool_moves, drains, drops;
	bool cg;
};

/* A burst of failures, while the leaks stay within their budget. */
static void ctl_inject(struct ctl *c)
{
	struct stats s;

	if (!have_knobs)
		return;
	if (read_stats(&s) ||
	    s.leaked_bytes - c->base.leaked_bytes >= c->leak_budget) {
		inject_off();
		return;
	}
	inject(below(&c->rng, 2), 1 + below(&c->rng, 10), 1 + below(&c->rng, 4));
	c->injections++;
}

static void ctl_step(struct ctl *c)
{
	static const long long limits[] = { 0, 4 * MiB, 16 * MiB, 64 * MiB };
	long step = c->steps++;

	/* of 16: 4 bursts, 1 off, 4 pool limits, 2 drains, 1 drop, 4 idle */
	switch (step < 2 ? 16 + step : (long)below(&c->rng, 16)) {
	case 0 ... 3:
		ctl_inject(c);
		break;
	case 4:
		inject_off();
		break;
	case 5 ... 8:
		write_ll(DEBUGFS "pool_limit_bytes", limits[below(&c->rng, 4)]);
		c->pool_moves++;
		break;
	case 9 ... 10:
		write_str(DEBUGFS "pool_drain", "1");
		c->drains++;
		break;
	case 11:	/* runs the shrinker; the kernel logs each one */
		write_str("/proc/sys/vm/drop_caches", "2");
		c->drops++;
		break;
	case 16:	/* first step: one sure share failure, pool off */
		write_ll(DEBUGFS "pool_limit_bytes", 0);
		if (have_knobs)
			inject(0, 100, 1);
		break;
	case 17:	/* second: one sure unshare failure */
		if (have_knobs)
			inject(1, 100, 1);
		break;
	}
}

static void control(struct ctl *c, double deadline)
{
	long long cur;

	while (now() < deadline) {
		usleep(50000 + below(&c->rng, 150000));
		ctl_step(c);
		cur = c->cg ? read_ll(CG "/memory.current") : -1;
		c->sampled_peak = MAX(c->sampled_peak, cur);
	}
	inject_off();
}

static int reap(pid_t *pids, int n)
{
	int i, status, bad = 0;

	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			printf("# worker %d: status %#x\n", i, status);
			bad++;
		}
	}
	return bad;
}

/* Run the workers and the controller; the workers' results into @res. */
static int stress(int heap, struct ctl *c, struct result *res)
{
	double deadline = now() + opt.seconds;
	pid_t pids[MAX_PROCS];
	int i;

	for (i = 0; i < opt.procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(i, heap, &res[i], deadline, c->cg);
		if (pids[i] < 0) {
			printf("# fork: %s: %d workers\n", strerror(errno), i);
			opt.procs = i;
			break;
		}
	}
	control(c, deadline);
	return reap(pids, opt.procs);
}

/* --- memory cgroups --- */

static long long cg_limit(void)
{
	return opt.procs * MAX_SIZE + CG_HEADROOM;
}

/* The workers' cgroup; false (and why in @why) when there can be none. */
static bool memcg_setup(char *why, size_t size)
{
	const char *what = "cgroup2 memory controller";

	if (access(CGROOT "cgroup.controllers", F_OK))
		what = "cgroup2 at " CGROOT;
	else if (!write_str(CGROOT "cgroup.subtree_control", "+memory")) {
		rmdir(CG);	/* left over by an earlier run */
		if (!mkdir(CG, 0755) && !write_ll(CG "/memory.max", cg_limit()))
			return true;
		what = "cgroup " CG;
		rmdir(CG);
	}
	snprintf(why, size, "no %s", what);
	return false;
}

static void report_memcg(const struct ctl *c, const struct result *res,
			 const char *why)
{
	long long peak = read_ll(CG "/memory.peak"), largest = 0;
	long long oom = read_key(CG "/memory.events", "oom");
	long long kills = read_key(CG "/memory.events", "oom_kill");
	int i, outside = 0;

	if (!c->cg) {
		tap_skip("memcg_charges_the_workers_without_oom", why);
		return;
	}
	for (i = 0; i < opt.procs; i++) {
		largest = MAX(largest, res[i].largest);
		outside += res[i].cgroup_failed;
	}
	peak = MAX(peak, c->sampled_peak);
	tap(!outside && peak >= largest && !oom && !kills,
	    "memcg_charges_the_workers_without_oom",
	    "peak %.1f MiB under a %lld MiB limit, largest buffer %.1f MiB; oom %lld, oom_kill %lld; %d workers not moved",
	    peak / (double)MiB, cg_limit() / MiB, largest / (double)MiB, oom,
	    kills, outside);
}

/* A child alone in a small cgroup asks for twice its limit. */
static int over_the_limit(int heap)
{
	int pfd[2], res = 1, status;
	char num[16];
	pid_t pid;

	if (pipe(pfd))
		return 1;
	pid = fork();
	if (pid == 0) {
		snprintf(num, sizeof(num), "%d", getpid());
		res = write_str(CG_SMALL "/cgroup.procs", num) ? 1 :
		      heap_alloc(heap, 2 * SMALL_LIMIT, O_RDWR | O_CLOEXEC);
		_exit(write(pfd[1], &res, sizeof(res)) != sizeof(res));
	}
	close(pfd[1]);
	if (pid > 0 && read(pfd[0], &res, sizeof(res)) != sizeof(res))
		res = 1;
	close(pfd[0]);
	if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			WEXITSTATUS(status)))
		res = 1;
	return res;
}

static void check_small_limit(int heap, bool cg, const char *why)
{
	const char *name = "memcg_limit_gives_enomem_without_oom";
	long long oom, kills, events;
	int res;

	if (!cg) {
		tap_skip(name, why);
		return;
	}
	rmdir(CG_SMALL);
	if (mkdir(CG_SMALL, 0755) || write_ll(CG_SMALL "/memory.max", SMALL_LIMIT)) {
		tap(false, name, "cannot set up %s", CG_SMALL);
		rmdir(CG_SMALL);
		return;
	}
	res = over_the_limit(heap);
	events = read_key(CG_SMALL "/memory.events", "max");
	oom = read_key(CG_SMALL "/memory.events", "oom");
	kills = read_key(CG_SMALL "/memory.events", "oom_kill");
	rmdir(CG_SMALL);
	tap(res == -ENOMEM && !oom && !kills, name,
	    "%lld MiB asked in a %lld MiB cgroup: %s; events: max %lld, oom %lld, oom_kill %lld",
	    2 * SMALL_LIMIT / MiB, SMALL_LIMIT / MiB,
	    res >= 0 ? "a buffer" : res < 0 ? strerror(-res) : "child failed",
	    events, oom, kills);
}

/* --- a task killed in the middle of a large request --- */

/* The largest request up to 1 GiB the heap would take on now, less 64 MiB. */
static long long kill_size(void)
{
	struct stats s;
	struct mem m;
	long long fits;

	read_mem(&m);
	if (read_stats(&s))
		s.pooled_bytes = 0;
	fits = m.available + s.pooled_bytes - m.total / 32 - 64 * MiB;
	return MIN(fits, KILL_SIZE) & ~(2 * MiB - 1);
}

/* Fork a child into the request; kill it after 50 ms. Reaped in @secs. */
static int kill_mid_request(int heap, long long size, double *secs,
			    bool *finished)
{
	int pfd[2], status = 0;
	char c = 0;
	double t0;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (write(pfd[1], "s", 1) == 1 &&
		    heap_alloc(heap, size, O_RDWR | O_CLOEXEC) >= 0 &&
		    write(pfd[1], "d", 1) == 1)
			pause();
		_exit(1);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &c, 1) != 1) {
		close(pfd[0]);
		return -1;
	}
	usleep(KILL_AFTER_US);
	t0 = now();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	*secs = now() - t0;
	*finished = read(pfd[0], &c, 1) == 1;
	close(pfd[0]);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

static void check_kill(int heap)
{
	struct stats before, after;
	long long size = kill_size();
	bool finished = false;
	double secs = 0;
	char why[96];
	struct mem m;
	int ret;

	read_mem(&m);
	if (size < 64 * MiB || read_stats(&before)) {
		snprintf(why, sizeof(why),
			 "not enough RAM: %lld MiB of MemTotal %lld MiB to spare",
			 MAX(size, 0) / MiB, m.total / MiB);
		tap_skip("killed_allocation_ends_promptly", why);
		tap_skip("killed_allocation_leaves_nothing_behind", why);
		return;
	}
	ret = kill_mid_request(heap, size, &secs, &finished);
	read_stats(&after);
	tap(!ret && secs < 2.0, "killed_allocation_ends_promptly",
	    "%lld MiB request (MemTotal %lld MiB), SIGKILL after %d ms, reaped %.0f ms later, %s; %lld share calls",
	    size / MiB, m.total / MiB, KILL_AFTER_US / 1000, secs * 1000,
	    finished ? "after the buffer was made" : "in the middle of it",
	    after.share_calls - before.share_calls);
	tap(after.buffers == before.buffers &&
	    after.shared_bytes == before.shared_bytes &&
	    (!after.emulated || !after.emu_stray_pages),
	    "killed_allocation_leaves_nothing_behind",
	    "buffers %lld -> %lld, shared_bytes %lld -> %lld, stray pages %lld",
	    before.buffers, after.buffers, before.shared_bytes,
	    after.shared_bytes, after.emu_stray_pages);
}

/* --- reports --- */

static void sum(const struct result *res, struct result *t)
{
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < opt.procs; i++) {
		t->allocs += res[i].allocs;
		t->enomem += res[i].enomem;
		t->eio += res[i].eio;
		t->other += res[i].other;
		t->other_errno = res[i].other_errno ?: t->other_errno;
		t->bytes += res[i].bytes;
		t->largest = MAX(t->largest, res[i].largest);
		t->map_failed += res[i].map_failed;
		t->map_errno = res[i].map_errno ?: t->map_errno;
		t->not_zero += res[i].not_zero;
		t->mismatch += res[i].mismatch;
		t->sync_failed += res[i].sync_failed;
	}
}

static void report_stress(const struct result *t, const struct ctl *c,
			  int bad_workers, double took)
{
	struct stats s;
	long long failures = -1;

	tap(t->allocs > 0, "stress_ran",
	    "%ld allocations, %.0f MiB, largest %.0f MiB, in %.0f s by %d processes, seeds %#llx.., ENOMEM %ld, EIO %ld",
	    t->allocs, t->bytes / (double)MiB, t->largest / (double)MiB, took,
	    opt.procs, opt.seed, t->enomem, t->eio);
	printf("# controller: %ld steps, %ld injection bursts, %ld pool limits, %ld drains, %ld drop_caches\n",
	       c->steps, c->injections, c->pool_moves, c->drains, c->drops);
	tap(!bad_workers, "workers_exited_cleanly", "%d did not", bad_workers);
	tap(!t->other, "only_enomem_or_eio_failures", "%ld others (last %s)",
	    t->other, t->other ? strerror(t->other_errno) : "none");
	tap(!t->not_zero && !t->mismatch && !t->map_failed && !t->sync_failed,
	    "buffers_read_zero_then_what_was_written",
	    "%ld not zero, %ld not as written, %ld mmap failures (%s), %ld sync failures",
	    t->not_zero, t->mismatch, t->map_failed,
	    t->map_failed ? strerror(t->map_errno) : "none", t->sync_failed);
	if (!read_stats(&s))
		failures = s.share_failures + s.unshare_failures -
			   c->base.share_failures - c->base.unshare_failures;
	if (!have_knobs)
		tap_skip("conversion_failures_injected", "no fail_share/fail_unshare");
	else
		tap(failures > 0, "conversion_failures_injected",
		    "%lld failures injected (share_failures + unshare_failures), %.1f MiB leaked",
		    failures, (s.leaked_bytes - c->base.leaked_bytes) / (double)MiB);
}

static void skip_heap_checks(const char *why)
{
	static const char *const names[] = {
		"buffers_back_to_baseline", "shared_bytes_back_to_baseline",
		"pool_empty_after_drain", "leaked_bytes_match_lost_pages",
		"no_stray_pages", "page_states_match_counters",
		"no_emulation_violations", "memfree_recovered",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		tap_skip(names[i], why);
}

static void report_emu(const struct stats *b, const struct stats *e)
{
	long long emu_shared = e->emu_shared_pages * (long long)PAGE;

	if (!e->emulated) {
		tap_skip("leaked_bytes_match_lost_pages", "stats have no emu_* lines");
		tap_skip("no_stray_pages", "stats have no emu_* lines");
		tap_skip("page_states_match_counters", "stats have no emu_* lines");
		tap_skip("no_emulation_violations", "stats have no emu_* lines");
		return;
	}
	tap(e->leaked_bytes == e->emu_lost_pages * (long long)PAGE,
	    "leaked_bytes_match_lost_pages", "%lld bytes, %lld pages",
	    e->leaked_bytes, e->emu_lost_pages);
	tap(!e->emu_stray_pages && !e->emu_freed_unsafe_pages, "no_stray_pages",
	    "%lld stray, %lld freed unsafe", e->emu_stray_pages,
	    e->emu_freed_unsafe_pages);
	tap(e->shared_bytes + e->pooled_bytes == emu_shared,
	    "page_states_match_counters", "shared %lld + pooled %lld, emulated %lld",
	    e->shared_bytes, e->pooled_bytes, emu_shared);
	tap(e->emu_violations == b->emu_violations, "no_emulation_violations",
	    "%lld -> %lld", b->emu_violations, e->emu_violations);
}

/* After the drain: nothing left over, memory back but for what leaked. */
static void report_heap(const struct stats *b, const struct mem *mb)
{
	long long leaked, lost, kernel, unexplained;
	struct stats e;
	struct mem me;

	write_str(DEBUGFS "pool_drain", "1");
	settled_mem(&me);
	if (read_stats(&e)) {
		skip_heap_checks("no debugfs stats");
		return;
	}
	tap(e.buffers == b->buffers, "buffers_back_to_baseline", "%lld -> %lld",
	    b->buffers, e.buffers);
	tap(e.shared_bytes == b->shared_bytes, "shared_bytes_back_to_baseline",
	    "%lld -> %lld", b->shared_bytes, e.shared_bytes);
	tap(!e.pooled_bytes, "pool_empty_after_drain", "%lld bytes pooled",
	    e.pooled_bytes);
	report_emu(b, &e);
	leaked = e.leaked_bytes - b->leaked_bytes;
	lost = mb->free - me.free;
	kernel = MAX(0, me.slab - mb->slab) + MAX(0, me.percpu - mb->percpu) +
		 MAX(0, me.page_tables - mb->page_tables) +
		 MAX(0, me.kernel_stack - mb->kernel_stack) +
		 MAX(0, me.vmalloc - mb->vmalloc) + MAX(0, me.shmem - mb->shmem) +
		 MAX(0, me.anon - mb->anon);
	unexplained = lost - leaked - kernel;
	tap(unexplained <= MEM_SLACK, "memfree_recovered",
	    "MemFree %.1f MiB before, %.1f MiB after (per-CPU lists counted): %.1f MiB less, of which %.1f leaked, %.1f growth of slab, percpu, page tables, stacks, vmalloc, shmem and anonymous memory, %.1f unexplained (slack %lld)",
	    mb->free / (double)MiB, me.free / (double)MiB, lost / (double)MiB,
	    leaked / (double)MiB, kernel / (double)MiB,
	    unexplained / (double)MiB, MEM_SLACK / MiB);
}

/* --- main --- */

static void bad_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-p PROCS] [-t SECONDS] [-s SEED]\n", prog);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "p:t:s:")) != -1) {
		if (c == 'p')
			opt.procs = atoi(optarg);
		else if (c == 't')
			opt.seconds = atoi(optarg);
		else if (c == 's')
			opt.seed = strtoull(optarg, NULL, 0);
		else
			bad_usage(argv[0]);
	}
	if (opt.procs < 1 || opt.procs > MAX_PROCS || opt.seconds < 1 ||
	    optind != argc)
		bad_usage(argv[0]);
}

/* The stress phase and its reports; the stats at its start in @base. */
static void run_stress(int heap, struct stats *base)
{
	struct ctl c = { .rng = opt.seed ^ 0xc0c0 };
	struct result *res, t;
	char why[96] = "";
	double start;
	int bad;

	res = mmap(NULL, MAX_PROCS * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		tap(false, "stress_ran", "mmap: %s", strerror(errno));
		for (bad = 1; bad < 7; bad++)
			printf("ok %d not_run_%d # SKIP no stress\n", ++tap_nr, bad);
		return;
	}
	c.cg = memcg_setup(why, sizeof(why));
	c.base = *base;
	c.leak_budget = MIN(LEAK_BUDGET, (long long)sysconf(_SC_PHYS_PAGES) * PAGE / 32);
	start = now();
	bad = stress(heap, &c, res);
	sum(res, &t);
	report_stress(&t, &c, bad, now() - start);
	report_memcg(&c, res, why);
	check_small_limit(heap, c.cg, why);
	if (c.cg)
		rmdir(CG);
	munmap(res, MAX_PROCS * sizeof(*res));
}

int main(int argc, char **argv)
{
	double start = now();
	long long pool_limit0;
	struct stats base;
	struct mem before;
	int heap;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	heap = open(HEAP_NODE, O_RDONLY | O_CLOEXEC);
	if (heap < 0) {
		printf("1..1\nok 1 stress # SKIP %s: %s\n", HEAP_NODE, strerror(errno));
		return 0;
	}
	printf("1..%d\n", CHECKS);
	pool_limit0 = read_ll(DEBUGFS "pool_limit_bytes");
	knobs_save();
	write_str(DEBUGFS "pool_drain", "1");
	settled_mem(&before);
	if (read_stats(&base))
		memset(&base, 0, sizeof(base));
	run_stress(heap, &base);
	if (pool_limit0 >= 0)
		write_ll(DEBUGFS "pool_limit_bytes", pool_limit0);
	check_kill(heap);
	inject_off();
	report_heap(&base, &before);
	knobs_restore();
	close(heap);
	printf("# done in %.0f s\n", now() - start);
	return all_ok ? 0 : 1;
}
