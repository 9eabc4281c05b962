// SPDX-License-Identifier: GPL-2.0
/*
 * ccsh-bench: how fast each dma-buf heap strategy allocates, and how much
 * conversion work (shared <-> private) it makes, in a VM booted with
 * emulated conversions (cc_shared_heap.emulate=1).
 *
 *	ccsh-bench [--json] [--sizes LIST] [--max-bytes N] [--pool-limit N]
 *
 * Strategies, all in one run:
 *   system  the stock system heap (no conversions);
 *   naive   system_cc_shared with naive=1 and no pool: the v3 proposal,
 *           orders 8/4/0, one conversion call per chunk;
 *   cold    system_cc_shared, pool on, drained before every iteration, so
 *           every allocation converts;
 *   warm    system_cc_shared, pool on, warmed by one alloc+free of the size.
 *
 * One iteration is DMA_HEAP_IOCTL_ALLOC + close(), timed. The emulation's
 * call log is cleared before and read after each iteration (outside the
 * timed part); for cold it is read after the drain that follows the
 * iteration, so the unshare its share implies is counted. The counts are
 * scaled per GiB allocated (size x iterations) and priced with the model in
 * ccsh-cost-model.h: assumptions, not measurements.
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
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "ccsh-bench-model.h"

#define HEAP_DIR	"/dev/dma_heap/"
#define DBG_DIR		"/sys/kernel/debug/cc_shared_heap/"
#define KIB		(1ULL << 10)
#define MIB		(1ULL << 20)
#define GIB		(1ULL << 30)
#define BLOCK_BYTES	(CCSH_MODEL_BLOCK_PAGES * CCSH_MODEL_PAGE_SIZE)
#define ITER_BYTES	(256 * MIB)	/* iterations = ITER_BYTES / size, */
#define ITER_MIN	3		/* clamped to [ITER_MIN, ITER_MAX] */
#define ITER_MAX	200
#define MAX_SIZES	16
#define MAX_TARGETS	(6 * MAX_SIZES)

enum strategy { ST_SYSTEM, ST_NAIVE, ST_COLD, ST_WARM, ST_COUNT };

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
};

struct row {
	uint64_t size;
	unsigned int iters;
	char error[160];	/* set: no measurement */
	char log_error[160];	/* set: the conversion counts are not valid */
	double median_us, p99_us, mib_s;
	struct ccsh_tally tally;
};

/* One row's numbers as reported; NAN where there is nothing to report */
struct metrics {
	double calls, share_calls, unshare_calls, pages_4k, blocks_2m;
	double partial_2m, snp_entries, snp_vmgexits, tdx_mapgpa;
	double tdx_accept_4k, snp_us, tdx_us;	/* all per GiB allocated */
	double ratio;				/* throughput / system's */
};

struct target {
	const char *name;
	const char *label;
	uint64_t size;
	double value;		/* NAN: no data */
	const char *op;		/* ">=", "<=" or "==" */
	double limit;
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
static struct target targets[MAX_TARGETS];
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

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (access(need[i].path, need[i].mode)) {
			fprintf(stderr, "ccsh-bench: %s: %s\n", need[i].path,
				strerror(errno));
			missing++;
		}
	}
	if (missing)
		fatal("%u required file(s) missing; boot with debugfs mounted and cc_shared_heap.emulate=1",
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
					 "emu_log overflowed in one iteration (%" PRIu64 " records dropped)",
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
		if (st == ST_COLD)
			dbg_set("pool_drain", 1);
		dbg_set("emu_log", 0);
		err = alloc_free(heap, r->size, &ns[i]);
		if (err) {
			snprintf(r->error, sizeof(r->error),
				 "alloc failed at iteration %u: %s", i + 1,
				 strerror(-err));
			goto out;
		}
		if (st == ST_COLD)
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

static void run_all(const struct config *cfg)
{
	unsigned int st, si;
	char sz[16];

	for (st = 0; st < ST_COUNT; st++) {
		int heap = open_heap(strategies[st].heap);

		set_mode(st, cfg);
		for (si = 0; si < cfg->nsizes; si++) {
			struct row *r = &rows[st][si];

			r->size = cfg->sizes[si];
			r->iters = iterations(r->size);
			fmt_size(sz, sizeof(sz), r->size);
			fprintf(stderr, "ccsh-bench: %-6s %5s x%-3u ",
				strategies[st].name, sz, r->iters);
			run_row(st, heap, r);
			if (r->error[0])
				fprintf(stderr, "%s\n", r->error);
			else
				fprintf(stderr, "median %.1f us, %" PRIu64 " calls\n",
					r->median_us, r->tally.calls);
		}
		close(heap);
	}
}

static void row_metrics(unsigned int st, unsigned int si, struct metrics *m)
{
	const struct row *r = &rows[st][si], *sys = &rows[ST_SYSTEM][si];
	const struct ccsh_tally *t = &r->tally;
	uint64_t bytes = r->size * r->iters;
	bool conv = !r->error[0] && !r->log_error[0];
	double v[] = {
		t->calls, t->share_calls, t->unshare_calls, t->pages_4k,
		t->blocks_2m, t->partial_2m, t->snp_entries, t->snp_vmgexits,
		t->tdx_mapgpa, t->tdx_accept_4k, ccsh_model_snp_us(t),
		ccsh_model_tdx_us(t),
	};
	double *out[] = {
		&m->calls, &m->share_calls, &m->unshare_calls, &m->pages_4k,
		&m->blocks_2m, &m->partial_2m, &m->snp_entries,
		&m->snp_vmgexits, &m->tdx_mapgpa, &m->tdx_accept_4k,
		&m->snp_us, &m->tdx_us,
	};
	unsigned int i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		*out[i] = conv ? ccsh_per_gib(v[i], bytes) : NAN;
	m->ratio = NAN;
	if (!r->error[0] && !sys->error[0] && sys->mib_s > 0)
		m->ratio = r->mib_s / sys->mib_s;
}

static void add_target(const char *name, const char *label, uint64_t size,
		       double value, const char *op, double limit,
		       const char *note)
{
	struct target *t = &targets[ntargets++];

	t->name = name;
	t->label = label;
	t->size = size;
	t->value = value;
	t->op = op;
	t->limit = limit;
	t->note = note;
	if (isnan(value))
		t->pass = false;
	else if (!strcmp(op, ">="))
		t->pass = value >= limit;
	else if (!strcmp(op, "<="))
		t->pass = value <= limit;
	else
		t->pass = value == limit;
}

/* naive's modelled SNP exits over cold's; infinite when cold made none */
static double exit_ratio(const struct metrics *naive,
			 const struct metrics *cold)
{
	if (isnan(naive->snp_vmgexits) || isnan(cold->snp_vmgexits))
		return NAN;
	if (cold->snp_vmgexits > 0)
		return naive->snp_vmgexits / cold->snp_vmgexits;
	return naive->snp_vmgexits > 0 ? INFINITY : NAN;
}

static void compute_targets(const struct config *cfg)
{
	struct metrics m[ST_COUNT];
	unsigned int si, st;

	for (si = 0; si < cfg->nsizes; si++) {
		uint64_t size = cfg->sizes[si];
		bool big = size >= BLOCK_BYTES;

		for (st = 0; st < ST_COUNT; st++)
			row_metrics(st, si, &m[st]);
		if (big)
			add_target("warm_vs_system_throughput",
				   "warm/system throughput", size,
				   m[ST_WARM].ratio, ">=", 0.8, NULL);
		if (big) {
			add_target("cold_share_calls_per_gib",
				   "cold share calls/GiB", size,
				   m[ST_COLD].share_calls, "<=", 512, NULL);
			add_target("cold_unshare_calls_per_gib",
				   "cold unshare calls/GiB", size,
				   m[ST_COLD].unshare_calls, "<=", 512, NULL);
		}
		add_target("warm_calls_per_gib", "warm calls/GiB", size,
			   m[ST_WARM].calls, "==", 0,
			   size > cfg->pool_limit ? "size above the pool limit" : NULL);
		if (!(size % BLOCK_BYTES)) {
			add_target("cold_partial_2m_per_gib",
				   "cold partial 2M blocks/GiB", size,
				   m[ST_COLD].partial_2m, "==", 0, NULL);
			add_target("warm_partial_2m_per_gib",
				   "warm partial 2M blocks/GiB", size,
				   m[ST_WARM].partial_2m, "==", 0, NULL);
		}
		if (big)
			add_target("naive_vs_cold_snp_vmgexits",
				   "naive/cold SNP VMGEXITs", size,
				   exit_ratio(&m[ST_NAIVE], &m[ST_COLD]), ">=",
				   100, NULL);
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
	char a[16], b[16];
	unsigned int i;

	uname(&u);
	fmt_size(a, sizeof(a), cfg->max_bytes);
	fmt_size(b, sizeof(b), cfg->pool_limit);
	printf("ccsh-bench on Linux %s: MemTotal %" PRIu64 " MiB, sizes up to %s, pool limit %s (%s)\n",
	       u.release, cfg->mem_total / MIB, a, b, cfg->pool_limit_from);
	for (i = 0; i < cfg->nskipped; i++) {
		fmt_size(a, sizeof(a), cfg->skipped[i]);
		printf("skipped %s: above --max-bytes\n", a);
	}
	for (i = 0; i < ST_COUNT; i++)
		printf("  %-6s %s\n", strategies[i].name, strategies[i].what);
	printf("iteration = DMA_HEAP_IOCTL_ALLOC + close(); iterations = clamp(256M / size, %d, %d)\n",
	       ITER_MIN, ITER_MAX);
	printf("conversions per GiB allocated, from emu_log (cold includes the drain after each iteration);\n");
	printf("ms/GiB columns are MODELLED (tools/ccsh-cost-model.h): assumptions, not measurements\n\n");
}

static void print_row(unsigned int st, unsigned int si)
{
	const struct row *r = &rows[st][si];
	char sz[16], c[8][24];
	struct metrics m;

	fmt_size(sz, sizeof(sz), r->size);
	if (r->error[0]) {
		printf("%-6s %5s %5u  error: %s\n", strategies[st].name, sz,
		       r->iters, r->error);
		return;
	}
	row_metrics(st, si, &m);
	printf("%-6s %5s %5u %10.1f %10.1f %9.1f %6s %10s %10s %9s %10s %9s %9s\n",
	       strategies[st].name, sz, r->iters, r->median_us, r->p99_us,
	       r->mib_s, fnum(c[0], 24, m.ratio, 2),
	       fnum(c[1], 24, m.calls, 0), fnum(c[2], 24, m.pages_4k, 0),
	       fnum(c[3], 24, m.partial_2m, 0),
	       fnum(c[4], 24, m.snp_vmgexits, 0),
	       fnum(c[5], 24, m.snp_us / 1e3, 1),
	       fnum(c[6], 24, m.tdx_us / 1e3, 1));
	if (r->log_error[0])
		printf("%-6s %5s        conversion counts not valid: %s\n",
		       strategies[st].name, sz, r->log_error);
}

static void print_table(const struct config *cfg)
{
	unsigned int st, si;

	printf("%-6s %5s %5s %10s %10s %9s %6s %10s %10s %9s %10s %9s %9s\n",
	       "strat", "size", "iters", "median_us", "p99_us", "MiB/s",
	       "vs_sys", "calls/GiB", "4k_pg/GiB", "part2M/G", "snpexit/G",
	       "snp_ms/G", "tdx_ms/G");
	for (st = 0; st < ST_COUNT; st++)
		for (si = 0; si < cfg->nsizes; si++)
			print_row(st, si);
}

static void print_targets(void)
{
	unsigned int i, pass = 0;
	char sz[16], v[24];

	printf("\ntargets (computed from this run):\n");
	for (i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		fmt_size(sz, sizeof(sz), t->size);
		pass += t->pass;
		printf("  %-28s %5s %12s  %s %-5g %s%s%s\n", t->label, sz,
		       fnum(v, sizeof(v), t->value, 2), t->op, t->limit,
		       t->pass ? "PASS" : "MISS",
		       isnan(t->value) ? " (no data)" : "",
		       t->note ? t->note : "");
	}
	printf("targets: %u pass, %u miss\n", pass, ntargets - pass);
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
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!stat_get(before, names[i], &b) ||
		    !stat_get(after, names[i], &a)) {
			printf(" %s ?", names[i]);
			continue;
		}
		printf(" %s +%" PRIu64, names[i], a - b);
		moved += a - b;
	}
	printf("\n%s\n", moved ? "WARNING: failures or violations during the run" :
	       "no failures, leaks or violations");
}
