// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-bench: how fast each dma-buf heap strategy allocates, and how much
 * conversion work (shared <-> private) it makes, in a VM booted with
 * emulated conversions (cc_shared_heap.emulate=1).
 *
 *	ccsh-bench [--json] [--sizes LIST] [--max-bytes N] [--pool-limit N]
 *	ccsh-bench --prefill-probe
 *
 * Strategies, all in one run:
 *   system  the stock system heap (no conversions);
 *   naive   system_cc_shared with naive=1 and no pool: the v3 proposal,
 *           orders 8/4/0, one conversion call per chunk;
 *   cold    system_cc_shared, pool on, drained before every iteration, so
 *           every allocation converts;
 *   warm    system_cc_shared, pool on, warmed by one alloc+free of the size;
 *   mainline  mainline's own heap (Linux 7.3), unpatched but for the
 *           test-only seam that routes its conversions through the same
 *           emulation (system_cc_shared_mainline, in a 7.3 benchmark kernel
 *           booted with cc_shared_heap.mainline_bench=1; skipped elsewhere).
 *
 * For every strategy and size up to ZERO_MAX it also counts the non-zero
 * bytes of a fresh buffer (the emulation poisons every conversion, so a
 * heap that zeroes before sharing shows poison), and for the heap core and
 * mainline's heap it injects a failed share into a 16 MiB allocation and
 * reports what each does with it (pages lost, shared or lost pages freed,
 * conversion rules broken).
 *
 * One iteration is DMA_HEAP_IOCTL_ALLOC + close(), timed. The emulation's
 * call log is cleared before and read after each iteration (outside the
 * timed part); for cold it is read after the drain that follows the
 * iteration, so the unshare its share implies is counted. The counts are
 * scaled per GiB allocated (size x iterations) and priced with the model in
 * ccsh-cost-model.h: assumptions, not measurements.
 *
 * --prefill-probe measures something else, and only that: booted with
 * cc_shared_heap.prefill=SIZE, what the first SIZE bytes allocated after
 * boot convert. It waits (up to a minute) for the background prefill,
 * then allocates SIZE bytes as 1 MiB buffers all alive at once (small
 * enough to be cut from the prefilled blocks) and prints one "name value"
 * per line and the goal: no conversion call. Run it before anything else
 * touches the heap.
 *
 * Exit status: 0 when the run completed (a failed row or a missed target
 * is reported, not an error), 1 when the environment is missing something
 * or a debugfs control failed, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "ccsh-bench-model.h"

#ifndef HEAP_DIR		/* both overridable for a test build on the host */
#define HEAP_DIR	"/dev/dma_heap/"
#endif
#ifndef DBG_DIR
#define DBG_DIR		"/sys/kernel/debug/cc_shared_heap/"
#endif
#define KIB		(UINT64_C(1) << 10)
#define MIB		(UINT64_C(1) << 20)
#define GIB		(UINT64_C(1) << 30)
#define BLOCK_BYTES	(CCSH_MODEL_BLOCK_PAGES * CCSH_MODEL_PAGE_SIZE)
#define ITER_BYTES	(256 * MIB)	/* iterations = ITER_BYTES / size, */
#define ITER_MIN	3		/* clamped to [ITER_MIN, ITER_MAX] */
#define ITER_MAX	200
#define MAX_SIZES	16
#define ZERO_MAX	(16 * MIB)	/* largest fresh buffer read for zeroing */
#define FILL_BYTES	(64 * MIB)	/* live at once in a fill iteration */

enum strategy {
	ST_SYSTEM, ST_NAIVE, ST_COLD, ST_WARM, ST_FILL, ST_MAINLINE, ST_COUNT
};

static const struct {
	const char *name;
	const char *heap;
	const char *what;
} strategies[ST_COUNT] = {
	[ST_SYSTEM] = { "system", "system", "stock system heap" },
	[ST_NAIVE] = { "naive", "system_cc_shared",
		       "naive=1 (v3: orders 8/4/0, a call per chunk, no pool)" },
	[ST_COLD] = { "cold", "system_cc_shared",
		      "pool drained before every iteration" },
	[ST_WARM] = { "warm", "system_cc_shared",
		      "pool warmed by one alloc+free of the size" },
	[ST_FILL] = { "fill", "system_cc_shared",
		      "pool drained, then 64 MiB of buffers of the size live at once" },
	[ST_MAINLINE] = { "mainln", "system_cc_shared_mainline",
			  "mainline's own heap (7.3 benchmark kernels only)" },
};

static const uint64_t default_sizes[] = {
	4 * KIB, 64 * KIB, 1 * MIB, 2 * MIB, 16 * MIB, 256 * MIB, 1 * GIB,
};

struct config {
	bool json;
	uint64_t sizes[MAX_SIZES];
	unsigned int nsizes;
	uint64_t skipped[MAX_SIZES];	/* above max_bytes */
	unsigned int nskipped;
	uint64_t max_bytes;
	uint64_t mem_total;
	uint64_t pool_limit;		/* for cold and warm */
	const char *pool_limit_from;
	bool pool_limit_given;
	bool prefill_probe;
};

struct row {
	uint64_t size;
	unsigned int iters;
	unsigned int batch;	/* buffers live at once in an iteration */
	char error[160];	/* set: no measurement */
	char log_error[160];	/* set: the conversion counts are not valid */
	double median_us, p99_us, mib_s;
	int64_t nonzero;	/* bytes of a fresh buffer that are not 0; -1: not read */
	struct ccsh_tally tally;
};

/* What a heap did with a share that failed in the middle of an allocation */
struct failure_probe {
	bool ran;
	int err;			/* the allocation's -errno */
	uint64_t share_calls, unshare_calls;
	uint64_t lost_pages;		/* pages the model holds as lost */
	uint64_t freed_unsafe_pages;	/* shared or lost pages freed */
	uint64_t violations;		/* conversions the model refused */
};

static struct failure_probe probes[ST_COUNT];

/* Per-GiB conversion metrics of a row, in the order of metric_names[] */
enum metric {
	M_CALLS, M_SHARE_CALLS, M_UNSHARE_CALLS, M_PAGES_4K, M_BLOCKS_2M,
	M_PARTIAL_2M, M_SNP_ENTRIES, M_SNP_VMGEXITS, M_TDX_MAPGPA,
	M_TDX_ACCEPT_4K, M_SNP_US, M_TDX_US, M_COUNT
};

static const char *const metric_names[M_COUNT] = {
	"calls_per_gib", "share_calls_per_gib", "unshare_calls_per_gib",
	"pages_4k_per_gib", "blocks_2m_per_gib", "partial_2m_per_gib",
	"snp_entries_per_gib", "snp_vmgexits_per_gib", "tdx_mapgpa_per_gib",
	"tdx_accept_4k_per_gib", "snp_model_us_per_gib",
	"tdx_model_us_per_gib",
};

/* One row's numbers as reported; NAN where there is nothing to report */
struct metrics {
	double v[M_COUNT];	/* per GiB allocated */
	double ratio;		/* throughput / the system heap's */
};

/* Which sizes a target applies to */
enum target_sizes {
	TS_ANY,
	TS_BIG,		/* >= 2 MiB: below that, one 2 MiB conversion is a lot */
	TS_BLOCKS,	/* multiples of 2 MiB */
};

#define T_RATIO		(-1)	/* the strategy's throughput / system's */
#define T_EXIT_RATIO	(-2)	/* naive's SNP VMGEXITs / cold's */

static const struct target_def {
	const char *name;
	const char *label;
	enum strategy st;
	int metric;		/* M_*, T_RATIO or T_EXIT_RATIO */
	const char *op;		/* ">=", "<=" or "==" */
	double limit;
	enum target_sizes sizes;
} target_defs[] = {
	{ "warm_vs_system_throughput", "warm/system throughput", ST_WARM,
	  T_RATIO, ">=", 0.8, TS_BIG },
	{ "cold_share_calls_per_gib", "cold share calls/GiB", ST_COLD,
	  M_SHARE_CALLS, "<=", 512, TS_BIG },
	{ "cold_unshare_calls_per_gib", "cold unshare calls/GiB", ST_COLD,
	  M_UNSHARE_CALLS, "<=", 512, TS_BIG },
	{ "warm_calls_per_gib", "warm calls/GiB", ST_WARM,
	  M_CALLS, "==", 0, TS_ANY },
	{ "cold_partial_2m_per_gib", "cold partial 2M blocks/GiB", ST_COLD,
	  M_PARTIAL_2M, "==", 0, TS_BLOCKS },
	{ "warm_partial_2m_per_gib", "warm partial 2M blocks/GiB", ST_WARM,
	  M_PARTIAL_2M, "==", 0, TS_BLOCKS },
	{ "fill_share_calls_per_gib", "fill share calls/GiB", ST_FILL,
	  M_SHARE_CALLS, "<=", 512, TS_ANY },
	{ "fill_unshare_calls_per_gib", "fill unshare calls/GiB", ST_FILL,
	  M_UNSHARE_CALLS, "<=", 512, TS_ANY },
	{ "fill_partial_2m_per_gib", "fill partial 2M blocks/GiB", ST_FILL,
	  M_PARTIAL_2M, "==", 0, TS_ANY },
	{ "naive_vs_cold_snp_vmgexits", "naive/cold SNP VMGEXITs", ST_COLD,
	  T_EXIT_RATIO, ">=", 100, TS_BIG },
};

#define N_TARGET_DEFS	(ARRAY_SIZE(target_defs))

struct target {
	const struct target_def *def;
	uint64_t size;
	double value;		/* NAN: no data */
	bool pass;
	const char *note;
};

#define MAX_STATS 48
struct stats {
	unsigned int n;
	struct {
		char name[48];
		uint64_t val;
	} kv[MAX_STATS];
};

static struct row rows[ST_COUNT][MAX_SIZES];
static struct target targets[N_TARGET_DEFS * MAX_SIZES];
static unsigned int ntargets;

static struct {
	bool saved;
	uint64_t pool_limit;
} orig;

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ccsh-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);		/* atexit() puts the heap's settings back */
}

static int dbg_write(const char *name, const char *val)
{
	size_t len = strlen(val);
	char path[128];
	int fd, err = 0;
	ssize_t n;

	snprintf(path, sizeof(path), DBG_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

static int dbg_write_u64(const char *name, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64 "\n", val);
	return dbg_write(name, buf);
}

/* Write a control file; the run cannot go on without it */
static void dbg_set(const char *name, uint64_t val)
{
	int err = dbg_write_u64(name, val);

	if (err)
		fatal("writing %" PRIu64 " to " DBG_DIR "%s: %s", val, name,
		      strerror(-err));
}

static void dbg_get(const char *name, uint64_t *val)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), DBG_DIR "%s", name);
	f = fopen(path, "re");
	if (!f)
		fatal("%s: %s", path, strerror(errno));
	ok = fscanf(f, "%" SCNu64, val) == 1;
	fclose(f);
	if (!ok)
		fatal("%s: no number in it", path);
}

static void restore_heap_settings(void)
{
	if (!orig.saved)
		return;
	orig.saved = false;
	if (dbg_write("naive", "0\n") ||
	    dbg_write_u64("pool_limit_bytes", orig.pool_limit))
		fprintf(stderr,
			"ccsh-bench: could not restore naive=0 and pool_limit_bytes=%" PRIu64 "\n",
			orig.pool_limit);
}

static void read_stats(struct stats *s)
{
	char line[128];
	FILE *f = fopen(DBG_DIR "stats", "re");

	if (!f)
		fatal(DBG_DIR "stats: %s", strerror(errno));
	s->n = 0;
	while (s->n < MAX_STATS && fgets(line, sizeof(line), f))
		if (sscanf(line, "%47s %" SCNu64, s->kv[s->n].name,
			   &s->kv[s->n].val) == 2)
			s->n++;
	fclose(f);
}

static bool stat_get(const struct stats *s, const char *name, uint64_t *val)
{
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		if (!strcmp(s->kv[i].name, name)) {
			*val = s->kv[i].val;
			return true;
		}
	}
	return false;
}

/* Every node and debugfs file the run needs; says what is missing */
static void check_environment(void)
{
	static const struct {
		const char *path;
		int mode;
	} need[] = {
		{ HEAP_DIR "system", R_OK },
		{ HEAP_DIR "system_cc_shared", R_OK },
		{ DBG_DIR "stats", R_OK },
		{ DBG_DIR "emu_log", R_OK | W_OK },
		{ DBG_DIR "naive", W_OK },
		{ DBG_DIR "pool_limit_bytes", R_OK | W_OK },
		{ DBG_DIR "pool_drain", W_OK },
	};
	unsigned int i, missing = 0;

	for (i = 0; i < ARRAY_SIZE(need); i++) {
		if (access(need[i].path, need[i].mode)) {
			fprintf(stderr, "ccsh-bench: %s: %s\n", need[i].path,
				strerror(errno));
			missing++;
		}
	}
	if (missing)
		fatal("%u required file(s) missing (needs debugfs and cc_shared_heap.emulate=1)",
		      missing);
}

static int open_heap(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), HEAP_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("%s: %s", path, strerror(errno));
	return fd;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One timed iteration: allocate a dma-buf and free it */
static int alloc_free(int heap, uint64_t size, uint64_t *ns)
{
	struct dma_heap_allocation_data data = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	uint64_t t0 = now_ns();

	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	close(data.fd);
	*ns = now_ns() - t0;
	return 0;
}

/*
 * One timed iteration of @n buffers live at once: allocate them all, then
 * free them all; @ns gets the time per buffer.
 */
static int alloc_free_batch(int heap, uint64_t size, unsigned int n,
			    uint64_t *ns)
{
	struct dma_heap_allocation_data data = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int *fds = calloc(n, sizeof(*fds));
	uint64_t t0 = now_ns();
	unsigned int i, got;
	int err = 0;

	if (!fds)
		return -ENOMEM;
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
	*ns = (now_ns() - t0) / n;
	free(fds);
	return err;
}

/* Add the conversion calls in emu_log to the row's tally */
static void log_collect(struct row *r)
{
	struct ccsh_call call;
	uint64_t dropped;
	char line[128];
	FILE *f = fopen(DBG_DIR "emu_log", "re");

	if (!f)
		fatal(DBG_DIR "emu_log: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		switch (ccsh_parse_line(line, &call, &dropped)) {
		case CCSH_LINE_CALL:
			ccsh_tally_add(&r->tally, &call);
			break;
		case CCSH_LINE_DROPPED:
			if (!r->log_error[0])
				snprintf(r->log_error, sizeof(r->log_error),
					 "emu_log overflowed (%" PRIu64 " dropped)",
					 dropped);
			break;
		case CCSH_LINE_BAD:
			line[strcspn(line, "\n")] = '\0';
			if (!r->log_error[0])
				snprintf(r->log_error, sizeof(r->log_error),
					 "malformed emu_log line \"%.60s\"",
					 line);
			break;
		case CCSH_LINE_BLANK:
			break;
		}
	}
	if (ferror(f) && !r->log_error[0])
		snprintf(r->log_error, sizeof(r->log_error),
			 "reading emu_log: %s", strerror(errno));
	fclose(f);
}

static unsigned int iterations(uint64_t size)
{
	uint64_t n = ITER_BYTES / size;

	return n < ITER_MIN ? ITER_MIN : n > ITER_MAX ? ITER_MAX : n;
}

static void summarize(struct row *r, uint64_t *ns)
{
	uint64_t median;

	qsort(ns, r->iters, sizeof(*ns), ccsh_cmp_u64);
	median = ccsh_median(ns, r->iters);
	if (!median)
		median = 1;
	r->median_us = median / 1e3;
	r->p99_us = ccsh_p99(ns, r->iters) / 1e3;
	r->mib_s = (double)r->size / MIB / (median / 1e9);
}

static void run_row(enum strategy st, int heap, struct row *r)
{
	uint64_t *ns = calloc(r->iters, sizeof(*ns));
	unsigned int i;
	int err;

	if (!ns)
		fatal("out of memory");
	if (st == ST_WARM) {
		err = alloc_free(heap, r->size, &ns[0]);
		if (err) {
			snprintf(r->error, sizeof(r->error),
				 "warm-up alloc failed: %s", strerror(-err));
			goto out;
		}
	}
	for (i = 0; i < r->iters; i++) {
		if (st == ST_COLD || st == ST_FILL)
			dbg_set("pool_drain", 1);
		dbg_set("emu_log", 0);
		if (r->batch > 1)
			err = alloc_free_batch(heap, r->size, r->batch, &ns[i]);
		else
			err = alloc_free(heap, r->size, &ns[i]);
		if (err) {
			snprintf(r->error, sizeof(r->error),
				 "alloc failed at iteration %u: %s", i + 1,
				 strerror(-err));
			goto out;
		}
		if (st == ST_COLD || st == ST_FILL)
			dbg_set("pool_drain", 1);
		log_collect(r);
	}
	summarize(r, ns);
out:
	free(ns);
}

/* Put the heap in the strategy's mode, starting from an empty pool */
static void set_mode(enum strategy st, const struct config *cfg)
{
	if (st == ST_NAIVE) {
		dbg_set("pool_limit_bytes", 0);
		dbg_set("naive", 1);
	} else {
		dbg_set("naive", 0);
		dbg_set("pool_limit_bytes", cfg->pool_limit);
	}
	dbg_set("pool_drain", 1);
}

static void fmt_size(char *buf, size_t len, uint64_t size)
{
	if (size >= GIB && !(size % GIB))
		snprintf(buf, len, "%" PRIu64 "G", size / GIB);
	else if (size >= MIB && !(size % MIB))
		snprintf(buf, len, "%" PRIu64 "M", size / MIB);
	else if (size >= KIB && !(size % KIB))
		snprintf(buf, len, "%" PRIu64 "K", size / KIB);
	else
		snprintf(buf, len, "%" PRIu64, size);
}

/* Non-zero bytes of a fresh buffer of @size, or -1 when not read */
static int64_t fresh_nonzero(enum strategy st, int heap, uint64_t size)
{
	struct dma_heap_allocation_data data = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	const unsigned char *p;
	int64_t n = 0;
	uint64_t i;

	if (size > ZERO_MAX)
		return -1;
	if (st == ST_COLD || st == ST_FILL)
		dbg_set("pool_drain", 1);
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -1;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, data.fd, 0);
	if (p != MAP_FAILED) {
		for (i = 0; i < size; i++)
			n += p[i] != 0;
		munmap((void *)p, size);
	} else {
		n = -1;
	}
	close(data.fd);
	return n;
}

static bool heap_present(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), HEAP_DIR "%s", name);
	return !access(path, R_OK);
}

static void run_all(const struct config *cfg)
{
	unsigned int st, si;
	char sz[24];

	for (st = 0; st < ST_COUNT; st++) {
		int heap;

		if (st == ST_MAINLINE && !heap_present(strategies[st].heap)) {
			for (si = 0; si < cfg->nsizes; si++) {
				rows[st][si].size = cfg->sizes[si];
				rows[st][si].nonzero = -1;
				snprintf(rows[st][si].error,
					 sizeof(rows[st][si].error),
					 "not in this kernel");
			}
			continue;
		}
		heap = open_heap(strategies[st].heap);
		set_mode(st, cfg);
		for (si = 0; si < cfg->nsizes; si++) {
			struct row *r = &rows[st][si];

			r->size = cfg->sizes[si];
			r->batch = st == ST_FILL && r->size < FILL_BYTES ?
				   FILL_BYTES / r->size : 1;
			r->iters = iterations(r->size * r->batch);
			fmt_size(sz, sizeof(sz), r->size);
			fprintf(stderr, "ccsh-bench: %-6s %5s x%-3u ",
				strategies[st].name, sz, r->iters);
			run_row(st, heap, r);
			r->nonzero = fresh_nonzero(st, heap, r->size);
			if (r->error[0])
				fprintf(stderr, "%s\n", r->error);
			else
				fprintf(stderr, "median %.1f us, %" PRIu64 " calls\n",
					r->median_us, r->tally.calls);
		}
		close(heap);
	}
}

static uint64_t stat_delta(const struct stats *a, const struct stats *b,
			   const char *name)
{
	uint64_t va = 0, vb = 0;

	stat_get(a, name, &va);
	stat_get(b, name, &vb);
	return vb - va;
}

/*
 * One share fails in a 16 MiB allocation, after 2 MiB have been shared
 * (fault_attr "space"): mainline converts a 1 MiB chunk per call, so its
 * third call fails; the heap core's first or second run does. The pool is
 * off, so that every chunk is converted. What the model saw tells what the
 * heap did with the failure.
 */
static void probe_failure(enum strategy st)
{
	struct failure_probe *f = &probes[st];
	struct stats before, after;
	uint64_t ns;
	int heap;

	if (!heap_present(strategies[st].heap))
		return;
	heap = open_heap(strategies[st].heap);
	dbg_set("naive", 0);
	dbg_set("pool_limit_bytes", 0);
	dbg_set("pool_drain", 1);
	read_stats(&before);
	if (dbg_write("fail_share/verbose", "0\n") ||
	    dbg_write_u64("fail_share/space", 2 * MIB + 1) ||
	    dbg_write("fail_share/interval", "1\n") ||
	    dbg_write("fail_share/times", "1\n") ||
	    dbg_write("fail_share/probability", "100\n"))
		fatal("cannot inject a share failure (needs " DBG_DIR "fail_share/)");
	f->err = alloc_free(heap, 16 * MIB, &ns);
	dbg_write("fail_share/probability", "0\n");
	dbg_write("fail_share/space", "0\n");
	read_stats(&after);
	close(heap);
	f->share_calls = stat_delta(&before, &after, "share_calls");
	f->unshare_calls = stat_delta(&before, &after, "unshare_calls");
	f->lost_pages = stat_delta(&before, &after, "emu_lost_pages");
	f->freed_unsafe_pages = stat_delta(&before, &after,
					   "emu_freed_unsafe_pages");
	f->violations = stat_delta(&before, &after, "emu_violations");
	f->ran = true;
}

static void print_probes(void)
{
	unsigned int st;

	printf("\none share failing in a 16 MiB allocation, after 2 MiB (pool off):\n");
	printf("  %-6s %6s %6s %8s %10s %12s %10s\n", "strat", "errno",
	       "shares", "unshares", "lost_pg", "freed_unsafe", "violations");
	for (st = 0; st < ST_COUNT; st++) {
		const struct failure_probe *f = &probes[st];

		if (f->ran)
			printf("  %-6s %6d %6" PRIu64 " %8" PRIu64 " %10" PRIu64
			       " %12" PRIu64 " %10" PRIu64 "\n",
			       strategies[st].name, -f->err, f->share_calls,
			       f->unshare_calls, f->lost_pages,
			       f->freed_unsafe_pages, f->violations);
	}
}

static void json_probes(void)
{
	unsigned int st;
	bool first = true;

	printf("  \"failure_probes\": [");
	for (st = 0; st < ST_COUNT; st++) {
		const struct failure_probe *f = &probes[st];

		if (!f->ran)
			continue;
		printf("%s\n    {\"strategy\": \"%s\", \"errno\": %d"
		       ", \"share_calls\": %" PRIu64 ", \"unshare_calls\": %" PRIu64
		       ", \"lost_pages\": %" PRIu64
		       ", \"freed_unsafe_pages\": %" PRIu64
		       ", \"violations\": %" PRIu64 "}",
		       first ? "" : ",", strategies[st].name, -f->err,
		       f->share_calls, f->unshare_calls, f->lost_pages,
		       f->freed_unsafe_pages, f->violations);
		first = false;
	}
	printf("\n  ],\n");
}

static void row_metrics(unsigned int st, unsigned int si, struct metrics *m)
{
	const struct row *r = &rows[st][si], *sys = &rows[ST_SYSTEM][si];
	const struct ccsh_tally *t = &r->tally;
	uint64_t bytes = r->size * r->iters * r->batch;
	bool conv = !r->error[0] && !r->log_error[0];
	const double count[M_COUNT] = {
		[M_CALLS] = t->calls,
		[M_SHARE_CALLS] = t->share_calls,
		[M_UNSHARE_CALLS] = t->unshare_calls,
		[M_PAGES_4K] = t->pages_4k,
		[M_BLOCKS_2M] = t->blocks_2m,
		[M_PARTIAL_2M] = t->partial_2m,
		[M_SNP_ENTRIES] = t->snp_entries,
		[M_SNP_VMGEXITS] = t->snp_vmgexits,
		[M_TDX_MAPGPA] = t->tdx_mapgpa,
		[M_TDX_ACCEPT_4K] = t->tdx_accept_4k,
		[M_SNP_US] = ccsh_model_snp_us(t),
		[M_TDX_US] = ccsh_model_tdx_us(t),
	};
	unsigned int i;

	for (i = 0; i < M_COUNT; i++)
		m->v[i] = conv ? ccsh_per_gib(count[i], bytes) : NAN;
	m->ratio = NAN;
	if (!r->error[0] && !sys->error[0] && sys->mib_s > 0)
		m->ratio = r->mib_s / sys->mib_s;
}

static void add_target(const struct target_def *def, uint64_t size,
		       double value, const char *note)
{
	struct target *t = &targets[ntargets++];

	t->def = def;
	t->size = size;
	t->value = value;
	t->note = note;
	if (isnan(value))
		t->pass = false;
	else if (!strcmp(def->op, ">="))
		t->pass = value >= def->limit;
	else if (!strcmp(def->op, "<="))
		t->pass = value <= def->limit;
	else
		t->pass = value == def->limit;
}

/* naive's modelled SNP exits over cold's; infinite when cold made none */
static double exit_ratio(const struct metrics *naive,
			 const struct metrics *cold)
{
	double n = naive->v[M_SNP_VMGEXITS], c = cold->v[M_SNP_VMGEXITS];

	if (isnan(n) || isnan(c))
		return NAN;
	if (c > 0)
		return n / c;
	return n > 0 ? INFINITY : NAN;
}

static bool target_applies(enum target_sizes which, uint64_t size)
{
	if (which == TS_BIG)
		return size >= BLOCK_BYTES;
	if (which == TS_BLOCKS)
		return !(size % BLOCK_BYTES);
	return true;
}

/* Every target at every size it applies to, from this run's rows */
static void compute_targets(const struct config *cfg)
{
	static struct metrics m[ST_COUNT][MAX_SIZES];
	const struct target_def *def;
	unsigned int si, st;

	for (st = 0; st < ST_COUNT; st++)
		for (si = 0; si < cfg->nsizes; si++)
			row_metrics(st, si, &m[st][si]);
	for (def = target_defs; def < target_defs + N_TARGET_DEFS; def++) {
		for (si = 0; si < cfg->nsizes; si++) {
			uint64_t size = cfg->sizes[si];
			const struct metrics *r = &m[def->st][si];
			double v;

			if (!target_applies(def->sizes, size))
				continue;
			if (def->metric == T_RATIO)
				v = r->ratio;
			else if (def->metric == T_EXIT_RATIO)
				v = exit_ratio(&m[ST_NAIVE][si], r);
			else
				v = r->v[def->metric];
			add_target(def, size, v,
				   def->st == ST_WARM && size > cfg->pool_limit ?
				   "size above the pool limit" : NULL);
		}
	}
}

static const char *fnum(char *buf, size_t len, double v, int prec)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (isinf(v))
		snprintf(buf, len, "inf");
	else
		snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

static void print_header(const struct config *cfg)
{
	struct utsname u;
	char a[24], b[24];
	unsigned int i;

	uname(&u);
	fmt_size(b, sizeof(b), cfg->pool_limit);
	printf("ccsh-bench on Linux %s, MemTotal %" PRIu64 " MiB\n",
	       u.release, cfg->mem_total / MIB);
	printf("sizes up to %" PRIu64 " MiB, pool limit %s (%s)\n",
	       cfg->max_bytes / MIB, b, cfg->pool_limit_from);
	for (i = 0; i < cfg->nskipped; i++) {
		fmt_size(a, sizeof(a), cfg->skipped[i]);
		printf("skipped %s: above --max-bytes\n", a);
	}
	for (i = 0; i < ST_COUNT; i++)
		printf("  %-6s %s\n", strategies[i].name, strategies[i].what);
	fmt_size(a, sizeof(a), ITER_BYTES);
	printf("iterations: clamp(%s / size, %d, %d) x (ALLOC ioctl + close)\n",
	       a, ITER_MIN, ITER_MAX);
	printf("conversions: per GiB allocated, from emu_log;\n");
	printf("  cold counts the pool drain after each iteration too\n");
	printf("*_ms/G: MODELLED with tools/ccsh-cost-model.h,\n");
	printf("  assumptions, not measurements\n\n");
}

static void print_row(unsigned int st, unsigned int si)
{
	const struct row *r = &rows[st][si];
	char sz[24], c[8][24];
	struct metrics m;

	fmt_size(sz, sizeof(sz), r->size);
	if (r->error[0]) {
		printf("%-6s %5s %5u  error: %s\n", strategies[st].name, sz,
		       r->iters, r->error);
		return;
	}
	row_metrics(st, si, &m);
	printf("%-6s %5s %5u %10.1f %10.1f %9.1f %6s %10s %10s %9s %10s %9s %9s %9s\n",
	       strategies[st].name, sz, r->iters, r->median_us, r->p99_us,
	       r->mib_s, fnum(c[0], 24, m.ratio, 2),
	       fnum(c[1], 24, m.v[M_CALLS], 0),
	       fnum(c[2], 24, m.v[M_PAGES_4K], 0),
	       fnum(c[3], 24, m.v[M_PARTIAL_2M], 0),
	       fnum(c[4], 24, m.v[M_SNP_VMGEXITS], 0),
	       fnum(c[5], 24, m.v[M_SNP_US] / 1e3, 1),
	       fnum(c[6], 24, m.v[M_TDX_US] / 1e3, 1),
	       fnum(c[7], 24, r->nonzero < 0 ? NAN : (double)r->nonzero, 0));
	if (r->log_error[0])
		printf("%-6s %5s        conversion counts not valid: %s\n",
		       strategies[st].name, sz, r->log_error);
}

static void print_table(const struct config *cfg)
{
	unsigned int st, si;

	printf("%-6s %5s %5s %10s %10s %9s %6s %10s %10s %9s %10s %9s %9s %9s\n",
	       "strat", "size", "iters", "median_us", "p99_us", "MiB/s",
	       "vs_sys", "calls/GiB", "4k_pg/GiB", "part2M/G", "snpexit/G",
	       "snp_ms/G", "tdx_ms/G", "nonzero");
	for (st = 0; st < ST_COUNT; st++)
		for (si = 0; si < cfg->nsizes; si++)
			print_row(st, si);
}

static void print_targets(void)
{
	unsigned int i, pass = 0;
	char sz[24], v[24];

	printf("\ntargets (computed from this run):\n");
	for (i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		fmt_size(sz, sizeof(sz), t->size);
		pass += t->pass;
		printf("  %-28s %5s %12s  %s %-5g %s%s%s%s\n", t->def->label,
		       sz, fnum(v, sizeof(v), t->value, 2), t->def->op,
		       t->def->limit,
		       t->pass ? "PASS" : "MISS",
		       isnan(t->value) ? " (no data)" : "",
		       t->note ? " - " : "", t->note ? t->note : "");
	}
	printf("targets: %u pass, %u miss\n", pass, ntargets - pass);
}

#define CLEAR_BYTES	(256 * MIB)

/*
 * Milliseconds per GiB to clear memory that is already mapped, best of
 * three passes: the store bandwidth the heap spends on the extra clear of
 * each new page before it is shared (__GFP_ZERO in the kernel, a memset
 * here; both stream stores over every byte). NAN when it cannot map.
 */
static double clear_ms_per_gib(void)
{
	uint64_t best = UINT64_MAX, t;
	char *p;
	int i;

	p = mmap(NULL, CLEAR_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return NAN;
	memset(p, 1, CLEAR_BYTES);	/* every page present before timing */
	for (i = 0; i < 3; i++) {
		t = now_ns();
		memset(p, 0, CLEAR_BYTES);
		__asm__ volatile("" : : "r"(p) : "memory");
		t = now_ns() - t;
		best = t < best ? t : best;
	}
	munmap(p, CLEAR_BYTES);
	return (double)best / 1e6 * (double)GIB / CLEAR_BYTES;
}

/*
 * The cold path's extra clear against the conversions it precedes: the
 * clear measured in this VM, the conversions priced by the cost model.
 */
static void print_clear_cost(const struct config *cfg)
{
	double clear = clear_ms_per_gib();
	struct metrics m;
	unsigned int si;
	char sz[24];

	printf("\nclear before sharing (cold path): %.1f ms per GiB cleared"
	       " (memset of mapped memory, best of 3, in this VM)\n", clear);
	printf("  %5s %10s %10s %12s %12s\n", "size", "snp_ms/G", "tdx_ms/G",
	       "clear/snp", "clear/tdx");
	for (si = 0; si < cfg->nsizes; si++) {
		row_metrics(ST_COLD, si, &m);
		fmt_size(sz, sizeof(sz), cfg->sizes[si]);
		printf("  %5s %10.1f %10.1f %12.3f %12.3f\n", sz,
		       m.v[M_SNP_US] / 1000, m.v[M_TDX_US] / 1000,
		       clear / (m.v[M_SNP_US] / 1000),
		       clear / (m.v[M_TDX_US] / 1000));
	}
}

/* Counters that must not move during a benchmark */
static void print_counters(const struct stats *before,
			   const struct stats *after)
{
	static const char *const names[] = {
		"share_failures", "unshare_failures", "leaked_bytes",
		"emu_lost_pages", "emu_violations",
	};
	uint64_t a, b, moved = 0;
	unsigned int i;

	printf("\nkernel counters over the run:");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!stat_get(before, names[i], &b) ||
		    !stat_get(after, names[i], &a)) {
			printf(" %s ?", names[i]);
			continue;
		}
		printf(" %s +%" PRIu64, names[i], a - b);
		moved += a - b;
	}
	if (moved)
		printf("\ncounters moved: failures, leaks or violations in the run\n");
	else
		printf("\nno failures, leaks or violations\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (isnan(v) || isinf(v))
		printf("null");
	else
		printf("%.10g", v);
}

/* "key": value pairs of a record; separators are the caller's */
static void json_key(const char *key)
{
	printf(", \"%s\": ", key);
}

static void json_model(void)
{
	printf("  \"model\": {\"assumptions_not_measurements\": true");
	printf(", \"source\": \"tools/ccsh-cost-model.h\"");
	printf(", \"page_size\": %llu, \"block_pages\": %llu",
	       CCSH_MODEL_PAGE_SIZE, CCSH_MODEL_BLOCK_PAGES);
	printf(", \"snp_psc_entries_per_vmgexit\": %llu",
	       CCSH_MODEL_SNP_PSC_ENTRIES);
	json_key("cpa_call_us");
	json_num(CCSH_MODEL_CPA_CALL_US);
	json_key("snp_vmgexit_us");
	json_num(CCSH_MODEL_SNP_VMGEXIT_US);
	json_key("snp_pvalidate_4k_us");
	json_num(CCSH_MODEL_SNP_PVALIDATE_4K_US);
	json_key("snp_pvalidate_2m_us");
	json_num(CCSH_MODEL_SNP_PVALIDATE_2M_US);
	json_key("tdx_mapgpa_us");
	json_num(CCSH_MODEL_TDX_MAPGPA_US);
	json_key("tdx_accept_4k_us");
	json_num(CCSH_MODEL_TDX_ACCEPT_4K_US);
	json_key("split_us");
	json_num(CCSH_MODEL_SPLIT_US);
	printf("},\n");
}

static void json_record(unsigned int st, unsigned int si, bool last)
{
	const struct row *r = &rows[st][si];
	struct metrics m;
	bool ok = !r->error[0];
	unsigned int i;

	row_metrics(st, si, &m);
	printf("    {\"strategy\": \"%s\", \"size_bytes\": %" PRIu64
	       ", \"iterations\": %u, \"bytes_allocated\": %" PRIu64,
	       strategies[st].name, r->size, r->iters,
	       r->size * r->iters * r->batch);
	json_key("error");
	ok ? printf("null") : json_str(r->error);
	json_key("conversion_error");
	r->log_error[0] ? json_str(r->log_error) : (void)printf("null");
	json_key("median_us");
	json_num(ok ? r->median_us : NAN);
	json_key("p99_us");
	json_num(ok ? r->p99_us : NAN);
	json_key("throughput_mib_s");
	json_num(ok ? r->mib_s : NAN);
	json_key("ratio_vs_system");
	json_num(m.ratio);
	for (i = 0; i < M_COUNT; i++) {
		json_key(metric_names[i]);
		json_num(m.v[i]);
	}
	json_key("fresh_nonzero_bytes");
	json_num(r->nonzero < 0 ? NAN : (double)r->nonzero);
	printf(", \"calls\": %" PRIu64 ", \"share_calls\": %" PRIu64
	       ", \"unshare_calls\": %" PRIu64 ", \"pages\": %" PRIu64 "}%s\n",
	       r->tally.calls, r->tally.share_calls, r->tally.unshare_calls,
	       r->tally.pages, last ? "" : ",");
}

static void json_target(const struct target *t, bool last)
{
	printf("    {\"name\": \"%s\", \"size_bytes\": %" PRIu64 ", \"value\": ",
	       t->def->name, t->size);
	json_num(t->value);
	printf(", \"infinite\": %s, \"op\": \"%s\", \"limit\": ",
	       isinf(t->value) ? "true" : "false", t->def->op);
	json_num(t->def->limit);
	printf(", \"pass\": %s, \"note\": ", t->pass ? "true" : "false");
	t->note ? json_str(t->note) : (void)printf("null");
	printf("}%s\n", last ? "" : ",");
}

static void json_stats(const char *key, const struct stats *s, bool last)
{
	unsigned int i;

	printf("  \"%s\": {", key);
	for (i = 0; i < s->n; i++)
		printf("%s\"%s\": %" PRIu64, i ? ", " : "", s->kv[i].name,
		       s->kv[i].val);
	printf("}%s\n", last ? "" : ",");
}

/* Every line starts with a blank or a brace, none with '[' (kernel log) */
static void print_json(const struct config *cfg, const struct stats *before,
		       const struct stats *after)
{
	unsigned int st, si, i;
	struct utsname u;

	uname(&u);
	printf("CCSH-BENCH-JSON-BEGIN\n{\n  \"tool\": \"ccsh-bench\", \"format\": 1, \"kernel\": ");
	json_str(u.release);
	printf(",\n  \"mem_total_bytes\": %" PRIu64 ", \"max_bytes\": %" PRIu64
	       ", \"pool_limit_bytes\": %" PRIu64 ", \"pool_limit_source\": ",
	       cfg->mem_total, cfg->max_bytes, cfg->pool_limit);
	json_str(cfg->pool_limit_from);
	printf(",\n  \"iterations\": \"clamp(%" PRIu64 " / size, %d, %d)\", \"skipped_sizes\": [",
	       ITER_BYTES, ITER_MIN, ITER_MAX);
	for (i = 0; i < cfg->nskipped; i++)
		printf("%s%" PRIu64, i ? ", " : "", cfg->skipped[i]);
	printf("],\n");
	json_model();
	printf("  \"records\": [\n");
	for (st = 0; st < ST_COUNT; st++)
		for (si = 0; si < cfg->nsizes; si++)
			json_record(st, si, st == ST_COUNT - 1 &&
				    si == cfg->nsizes - 1);
	printf("  ],\n  \"targets\": [\n");
	for (i = 0; i < ntargets; i++)
		json_target(&targets[i], i == ntargets - 1);
	printf("  ],\n");
	json_probes();
	json_stats("stats_before", before, false);
	json_stats("stats_after", after, true);
	printf("}\nCCSH-BENCH-JSON-END\n");
}

/* "4096", "64K", "2M", "1G" (binary units; KiB/MiB/GiB also accepted) */
static bool parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *end = ccsh_parse_u64(s, 10, &v);
	unsigned int shift = 0;

	if (!end)
		return false;
	switch (*end) {
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	}
	if (shift)
		end += !strncmp(end + 1, "iB", 2) ? 3 : 1;
	if (*end || v > UINT64_MAX >> shift)
		return false;
	*out = v << shift;
	return true;
}

static void usage(const char *why)
{
	if (why)
		fprintf(stderr, "ccsh-bench: %s\n", why);
	fprintf(stderr,
		"usage: ccsh-bench [--json] [--sizes 4K,2M,...] [--max-bytes N] [--pool-limit N]\n"
		"       ccsh-bench --prefill-probe\n"
		"  --json        also print a JSON document between CCSH-BENCH-JSON-BEGIN/END\n"
		"  --sizes       buffer sizes (default 4K,64K,1M,2M,16M,256M,1G)\n"
		"  --max-bytes   skip sizes above N (default: half of MemTotal)\n"
		"  --pool-limit  pool_limit_bytes for cold and warm (default: the current value)\n"
		"  --prefill-probe  only: the first prefill=SIZE bytes after boot, calls made\n");
	exit(2);
}

static void parse_sizes(char *list, struct config *cfg)
{
	char *tok, *save = NULL;

	cfg->nsizes = 0;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!parse_size(tok, &v) || !v || v % CCSH_MODEL_PAGE_SIZE)
			usage("--sizes: each size must be a positive multiple of 4K");
		if (cfg->nsizes == MAX_SIZES)
			usage("--sizes: too many sizes");
		cfg->sizes[cfg->nsizes++] = v;
	}
	if (!cfg->nsizes)
		usage("--sizes: empty list");
}

static uint64_t mem_total_bytes(void)
{
	char line[128];
	uint64_t kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		fatal("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			break;
	fclose(f);
	if (!kib)
		fatal("/proc/meminfo: no MemTotal");
	return kib * KIB;
}

/* Keep the sizes up to max_bytes, remember the others */
static void drop_large_sizes(struct config *cfg)
{
	unsigned int i, kept = 0;

	for (i = 0; i < cfg->nsizes; i++) {
		if (cfg->sizes[i] <= cfg->max_bytes)
			cfg->sizes[kept++] = cfg->sizes[i];
		else
			cfg->skipped[cfg->nskipped++] = cfg->sizes[i];
	}
	cfg->nsizes = kept;
	if (!kept)
		fatal("every size is above --max-bytes %" PRIu64,
		      cfg->max_bytes);
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	const char *opt, *val;
	int a;

	cfg->nsizes = ARRAY_SIZE(default_sizes);
	memcpy(cfg->sizes, default_sizes, sizeof(default_sizes));
	for (a = 1; a < argc; a++) {
		opt = argv[a];
		if (!strcmp(opt, "--json")) {
			cfg->json = true;
			continue;
		}
		if (!strcmp(opt, "--prefill-probe")) {
			cfg->prefill_probe = true;
			continue;
		}
		if (!strcmp(opt, "-h") || !strcmp(opt, "--help"))
			usage(NULL);
		if (strcmp(opt, "--sizes") && strcmp(opt, "--max-bytes") &&
		    strcmp(opt, "--pool-limit"))
			usage("unknown option");
		if (++a == argc)
			usage("option without a value");
		val = argv[a];
		if (!strcmp(opt, "--sizes")) {
			parse_sizes(argv[a], cfg);
		} else if (!strcmp(opt, "--max-bytes")) {
			if (!parse_size(val, &cfg->max_bytes) || !cfg->max_bytes)
				usage("--max-bytes: not a positive size");
		} else {
			if (!parse_size(val, &cfg->pool_limit))
				usage("--pool-limit: not a size");
			cfg->pool_limit_given = true;
		}
	}
	cfg->mem_total = mem_total_bytes();
	if (!cfg->max_bytes)
		cfg->max_bytes = cfg->mem_total / 2;
	drop_large_sizes(cfg);
}

/* The pool limit cold and warm run with, and where it came from */
static void choose_pool_limit(struct config *cfg)
{
	unsigned int i;

	if (cfg->pool_limit_given) {
		cfg->pool_limit_from = "--pool-limit";
	} else if (orig.pool_limit) {
		cfg->pool_limit = orig.pool_limit;
		cfg->pool_limit_from = "pool_limit_bytes at start";
	} else {
		for (i = 0; i < cfg->nsizes; i++)
			if (cfg->sizes[i] > cfg->pool_limit)
				cfg->pool_limit = cfg->sizes[i];
		cfg->pool_limit_from =
			"pool_limit_bytes was 0; the largest size instead";
	}
}

/* A fill iteration holds FILL_BYTES / 4 KiB buffers open at once. */
static void raise_fd_limit(void)
{
	rlim_t want = FILL_BYTES / (4 * KIB) + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* needs CAP_SYS_RESOURCE, as root has */
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fprintf(stderr, "ccsh-bench: cannot open %llu files at once: %s\n",
			(unsigned long long)want, strerror(errno));
}

#define PREFILL_PARAM	"/sys/module/cc_shared_heap/parameters/prefill"
#define PROBE_BUF	MIB

/* Milliseconds until the pool holds @want bytes (at most 60 s), or -1 */
static long wait_for_pool(uint64_t want)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	uint64_t pooled;
	struct stats s;
	long ms;

	for (ms = 0; ms <= 60000; ms += 100) {
		read_stats(&s);
		if (stat_get(&s, "pooled_bytes", &pooled) && pooled >= want)
			return ms;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* --prefill-probe: see the top of this file */
static int prefill_probe(void)
{
	static struct stats before, after;
	FILE *f = fopen(PREFILL_PARAM, "re");
	uint64_t want = 0, shares, ns;
	unsigned int n;
	long waited;
	int heap, err;

	if (f && fscanf(f, "%" SCNu64, &want) != 1)
		want = 0;
	if (f)
		fclose(f);
	printf("prefill_bytes %" PRIu64 "\n", want);
	if (!want) {
		printf("prefill_probe_skipped 1\n");	/* boot with prefill=SIZE */
		return 0;
	}
	n = want / PROBE_BUF;
	if (!n || n > FILL_BYTES / (4 * KIB))
		fatal("prefill %" PRIu64 " bytes: not 1 to %" PRIu64 " MiB buffers",
		      want, FILL_BYTES / (4 * KIB));
	waited = wait_for_pool(want);
	printf("prefill_wait_ms %ld\n", waited);
	if (waited < 0)
		fatal("the pool never held the %" PRIu64 " prefill bytes", want);
	heap = open_heap("system_cc_shared");
	read_stats(&before);
	err = alloc_free_batch(heap, PROBE_BUF, n, &ns);
	read_stats(&after);
	close(heap);
	if (err)
		fatal("allocating: %s", strerror(-err));
	shares = stat_delta(&before, &after, "share_calls");
	printf("prefill_probe_buffer_bytes %" PRIu64 "\n", PROBE_BUF);
	printf("prefill_probe_buffers %u\n", n);
	printf("prefill_first_bytes_share_calls %" PRIu64 "\n", shares);
	printf("prefill_first_bytes_pool_hits %" PRIu64 "\n",
	       stat_delta(&before, &after, "pool_hits"));
	printf("goal_prefill_first_bytes_convert_nothing %d\n", shares == 0);
	return 0;
}

int main(int argc, char **argv)
{
	static struct stats before, after;
	struct config cfg = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);	/* whole lines on the console */
	parse_args(argc, argv, &cfg);
	raise_fd_limit();
	if (cfg.prefill_probe)
		return prefill_probe();
	check_environment();
	dbg_get("pool_limit_bytes", &orig.pool_limit);
	orig.saved = true;
	atexit(restore_heap_settings);
	choose_pool_limit(&cfg);

	read_stats(&before);
	run_all(&cfg);
	read_stats(&after);
	probe_failure(ST_COLD);
	probe_failure(ST_MAINLINE);
	restore_heap_settings();
	compute_targets(&cfg);

	if (cfg.json)
		printf("CCSH-BENCH-TEXT-BEGIN\n");
	print_header(&cfg);
	print_table(&cfg);
	print_clear_cost(&cfg);
	print_targets();
	print_counters(&before, &after);
	print_probes();
	if (cfg.json) {
		printf("CCSH-BENCH-TEXT-END\n");
		print_json(&cfg, &before, &after);
	}
	return 0;
}
