// SPDX-License-Identifier: GPL-2.0
/*
 * cc-heap: look at and try out the system_cc_shared dma-buf heap of a
 * confidential VM (/dev/dma_heap/system_cc_shared).
 *
 *	cc-heap [--json] info | stats | alloc SIZE | bench [OPTIONS] | help
 *
 *   info   whether this is a confidential guest and which technology the
 *          kernel reports, whether the heap node exists, whether the heap is
 *          built into the kernel, a module or absent, whether its conversions
 *          are emulated, and the kernel release;
 *   stats  the heap's counters from debugfs, bytes in KiB/MiB/GiB;
 *   alloc  one buffer: allocate, map and touch, check that every byte reads
 *          zero, write a pattern and read it back, each step timed;
 *   bench  the benchmark of tools/ccsh-bench.c (emulating kernels only).
 *
 * --json prints one JSON object on stdout instead of text. An error is a
 * message on stderr that spells out the fix, and with --json also an
 * object with "ok": false on stdout.
 *
 * The benchmark is not copied here: this file includes tools/ccsh-bench.c
 * whole, with its main() renamed ccsh_bench_main(), so "cc-heap bench" runs
 * the very code of ccsh-bench and cc-heap stays one static binary built from
 * one file (as ccsh-bench is). It also uses the bench's size parser, stats
 * reader, clock and JSON string quoting. That file's identifiers have no
 * prefix, so every identifier of this one starts with ch_ or CH_. Build:
 *
 *	gcc -static -O2 -Wall -Werror -I <uapi headers> -o cc-heap tools/cc-heap.c
 *
 * Exit status: 0 success; 1 the environment or the heap failed (node or
 * debugfs missing, permission, allocation); 2 usage error; 3 a buffer did
 * not read zero or did not keep its pattern. bench exits as ccsh-bench.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/magic.h>

/* The benchmark, whole (see above); its HEAP_DIR and DBG_DIR serve here too */
int ccsh_bench_main(int argc, char **argv);
#define main ccsh_bench_main
#include "ccsh-bench.c"
#undef main

#define CH_NODE		HEAP_DIR "system_cc_shared"
#define CH_STATS	DBG_DIR "stats"
#define CH_DEBUGFS	"/sys/kernel/debug"
#ifndef CH_SYSMOD		/* overridable for a test build on the host */
#define CH_SYSMOD	"/sys/module/cc_shared_heap"
#endif
#ifndef CH_CPUINFO
#define CH_CPUINFO	"/proc/cpuinfo"
#endif
#define CH_KMSG		"/dev/kmsg"
#define CH_PATTERN	UINT64_C(0x9e3779b97f4a7c15)

#define CH_EXIT_ENV	1
#define CH_EXIT_USAGE	2
#define CH_EXIT_VERIFY	3

#define CH_FIX_LOAD \
	"in a confidential guest (SEV-SNP, TDX) load the heap: " \
	"`modprobe cc_shared_heap` (DKMS package cc-shared-heap-dkms), or " \
	"boot a kernel built with CONFIG_DMABUF_HEAPS_CC_SHARED=y; on a test " \
	"kernel outside a confidential guest, boot with cc_shared_heap.emulate=1"
#define CH_FIX_ROOT \
	"run as root, or give your user the node with a udev rule such as " \
	"KERNEL==\"system_cc_shared\", GROUP=\"video\", MODE=\"0660\""
#define CH_FIX_MOUNT	"mount -t debugfs none /sys/kernel/debug"

struct ch_ctx {
	bool json;
	const char *cmd;	/* "command" of the JSON object */
};

enum ch_heap_kind { CH_HEAP_ABSENT, CH_HEAP_BUILTIN, CH_HEAP_MODULE,
		    CH_HEAP_OTHER };

static const char *const ch_kind_names[] = {
	[CH_HEAP_ABSENT] = "absent",
	[CH_HEAP_BUILTIN] = "builtin",
	[CH_HEAP_MODULE] = "module",
	[CH_HEAP_OTHER] = "other",
};

/* What the kernel says about this machine and the heap */
struct ch_env {
	const char *tech;	/* tdx, sev-snp, sev-es, sev, unknown, none */
	const char *tech_from;	/* cpuinfo, kernel log, heap; NULL for none */
	bool node;		/* the node exists */
	enum ch_heap_kind kind;
	int emulated;		/* 1 yes, 0 no, -1 unknown */
	const char *emu_from;	/* stats, kernel log; NULL */
	int stats_err;		/* errno opening the stats file, 0 if readable */
	bool kmsg;		/* the kernel log could be read */
	struct utsname uts;
	char modver[64];	/* /sys/module/cc_shared_heap/version, or "" */
};

/* What the kernel log says, from /dev/kmsg */
struct ch_klog {
	bool read;
	const char *tech;	/* "Memory Encryption Features active:" */
	bool registered;	/* "cc_shared_heap: ... heap registered" */
	bool emulated;		/* "cc_shared_heap: ... EMULATED" */
};

/* JSON: one object on one line; ch_js_key() writes the separators */
static bool ch_js_first;

static void ch_js_key(const char *key)
{
	printf("%s\"%s\": ", ch_js_first ? "" : ", ", key);
	ch_js_first = false;
}

static void ch_js_begin(const char *cmd)
{
	printf("{\"command\": ");
	json_str(cmd);
	ch_js_first = false;
}

static void ch_js_end(void)
{
	printf("}\n");
}

static void ch_js_str(const char *key, const char *val)
{
	ch_js_key(key);
	if (val)
		json_str(val);
	else
		printf("null");
}

static void ch_js_u64(const char *key, uint64_t val)
{
	ch_js_key(key);
	printf("%" PRIu64, val);
}

static void ch_js_bool(const char *key, int val)
{
	ch_js_key(key);
	printf("%s", val < 0 ? "null" : val ? "true" : "false");
}

static void ch_js_us(const char *key, uint64_t ns)
{
	ch_js_key(key);
	printf("%.1f", ns / 1e3);
}

/* Say what failed and how to fix it, and exit with @status */
static void __attribute__((noreturn, format(printf, 5, 6)))
ch_fail(const struct ch_ctx *ctx, int status, const char *found,
	const char *fix, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "cc-heap: %s\n", msg);
	if (found)
		fprintf(stderr, "  found: %s\n", found);
	if (fix)
		fprintf(stderr, "  fix: %s\n", fix);
	if (ctx->json) {
		ch_js_begin(ctx->cmd);
		ch_js_bool("ok", false);
		ch_js_str("error", msg);
		ch_js_str("found", found);
		ch_js_str("fix", fix);
		ch_js_end();
	}
	exit(status);
}

static void __attribute__((noreturn))
ch_usage_fail(const struct ch_ctx *ctx, const char *what)
{
	ch_fail(ctx, CH_EXIT_USAGE, NULL, "see `cc-heap --help`", "%s", what);
}

/* First line of a small file, without its newline; "" when unreadable */
static void ch_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Whether the blank-separated @list holds @word */
static bool ch_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[n] == ' ' || p[n] == '\t' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/*
 * The technology from the CPU flags. An AMD host that can run SEV guests
 * lists sev, sev_es and sev_snp too: those count only under a hypervisor.
 */
static const char *ch_cpuinfo_tech(void)
{
	const char *tech = NULL;
	FILE *f = fopen(CH_CPUINFO, "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5))
			continue;
		if (ch_has_word(line, "tdx_guest"))
			tech = "tdx";
		else if (!ch_has_word(line, "hypervisor"))
			tech = NULL;
		else if (ch_has_word(line, "sev_snp"))
			tech = "sev-snp";
		else if (ch_has_word(line, "sev_es"))
			tech = "sev-es";
		else if (ch_has_word(line, "sev"))
			tech = "sev";
		break;		/* the first CPU speaks for all */
	}
	free(line);
	fclose(f);
	return tech;
}

/* "Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP" and the like */
static const char *ch_klog_tech(const char *features)
{
	if (strstr(features, "Intel TDX"))
		return "tdx";
	if (strstr(features, "SEV-SNP"))
		return "sev-snp";
	if (strstr(features, "SEV-ES"))
		return "sev-es";
	if (strstr(features, " SEV"))
		return "sev";
	return NULL;	/* "AMD SME" is the host's own memory encryption */
}

static void ch_klog_line(struct ch_klog *k, const char *msg)
{
	static const char feat[] = "Memory Encryption Features active:";
	const char *p = strstr(msg, feat);

	if (p && ch_klog_tech(p + sizeof(feat) - 1))
		k->tech = ch_klog_tech(p + sizeof(feat) - 1);
	if (strncmp(msg, "cc_shared_heap: ", 16))
		return;
	if (strstr(msg, "heap registered")) {
		k->registered = true;
		k->emulated = strstr(msg, "EMULATED");
	}
}

/* Read every record of the kernel log that is still in its buffer */
static void ch_klog_scan(struct ch_klog *k)
{
	static char rec[8192];
	int fd = open(CH_KMSG, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char *msg;
	ssize_t n;

	if (fd < 0)
		return;		/* no /dev/kmsg, or dmesg_restrict */
	k->read = true;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue;	/* EPIPE: overwritten, go on */
		if (n <= 0)
			break;		/* EAGAIN: the end */
		rec[n] = '\0';
		msg = strchr(rec, ';');	/* "prio,seq,usec,flags;text\n" */
		if (!msg)
			continue;
		msg[strcspn(msg, "\n")] = '\0';
		ch_klog_line(k, msg + 1);
	}
	close(fd);
}

static enum ch_heap_kind ch_heap_kind(bool node)
{
	if (!access(CH_SYSMOD "/initstate", F_OK))
		return CH_HEAP_MODULE;
	if (!access(CH_SYSMOD, F_OK))
		return CH_HEAP_BUILTIN;	/* built in: parameters, no initstate */
	return node ? CH_HEAP_OTHER : CH_HEAP_ABSENT;
}

static int ch_stats_errno(void)
{
	return access(CH_STATS, R_OK) ? errno : 0;
}

static bool ch_stats_emulated(const struct stats *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strncmp(s->kv[i].name, "emu_", 4))
			return true;
	return false;
}

/* The stats file has the last word; then the heap's line in the log */
static void ch_env_emulation(struct ch_env *e, const struct ch_klog *k)
{
	static struct stats s;

	e->emulated = -1;
	if (!e->stats_err) {
		read_stats(&s);
		e->emulated = ch_stats_emulated(&s);
		e->emu_from = "stats";
	} else if (k->registered) {
		e->emulated = k->emulated;
		e->emu_from = "kernel log";
	} else if (!e->node) {
		e->emulated = 0;	/* no heap, nothing emulated */
	}
}

/*
 * cpuinfo first, then the kernel log. Our heap appears only in a
 * confidential guest or emulated, so a real one means a guest whose
 * technology neither names (arm64 CCA, s390 PV...).
 */
static void ch_env_tech(struct ch_env *e, const struct ch_klog *k)
{
	e->tech = ch_cpuinfo_tech();
	e->tech_from = "cpuinfo";
	if (!e->tech) {
		e->tech = k->tech;
		e->tech_from = "kernel log";
	}
	if (!e->tech && e->node && e->emulated == 0 &&
	    (e->kind == CH_HEAP_BUILTIN || e->kind == CH_HEAP_MODULE)) {
		e->tech = "unknown";
		e->tech_from = "heap";
	}
	if (!e->tech) {
		e->tech = "none";
		e->tech_from = NULL;
	}
}

static void ch_env_probe(struct ch_env *e)
{
	struct ch_klog k = { 0 };
	struct stat st;

	memset(e, 0, sizeof(*e));
	uname(&e->uts);
	e->node = !stat(CH_NODE, &st);
	e->kind = ch_heap_kind(e->node);
	ch_read_line(CH_SYSMOD "/version", e->modver, sizeof(e->modver));
	e->stats_err = ch_stats_errno();
	ch_klog_scan(&k);
	e->kmsg = k.read;
	ch_env_emulation(e, &k);
	ch_env_tech(e, &k);
}

/* One line on what was found, for the error messages */
static void ch_env_found(const struct ch_env *e, char *buf, size_t len)
{
	static const char *const kind[] = {
		[CH_HEAP_ABSENT] = "cc_shared_heap neither built in nor loaded",
		[CH_HEAP_BUILTIN] = "cc_shared_heap built into the kernel",
		[CH_HEAP_MODULE] = "module cc_shared_heap loaded",
		[CH_HEAP_OTHER] = "a system_cc_shared heap that is not cc_shared_heap",
	};

	snprintf(buf, len, "confidential guest: %s%s%s%s%s; %s%s; kernel %s",
		 strcmp(e->tech, "none") ? "yes, " : "no",
		 strcmp(e->tech, "none") ? e->tech : "",
		 e->tech_from ? " (" : "", e->tech_from ? e->tech_from : "",
		 e->tech_from ? ")" : "", kind[e->kind],
		 !e->node && e->kind != CH_HEAP_ABSENT ?
		 ", but it registered no heap (no confidential guest)" : "",
		 e->uts.release);
}

static void __attribute__((noreturn))
ch_node_fail(const struct ch_ctx *ctx, const struct ch_env *e)
{
	char found[384];

	ch_env_found(e, found, sizeof(found));
	ch_fail(ctx, CH_EXIT_ENV, found, CH_FIX_LOAD,
		CH_NODE " does not exist: this is not a confidential guest, "
		"or the heap is not loaded");
}

static bool ch_debugfs_mounted(void)
{
	struct statfs sf;

	return !statfs(CH_DEBUGFS, &sf) && sf.f_type == DEBUGFS_MAGIC;
}

/* The stats file cannot be read: say why */
static void __attribute__((noreturn))
ch_stats_fail(const struct ch_ctx *ctx, const struct ch_env *e)
{
	int err = e->stats_err;

	if (err == EACCES || err == EPERM)
		ch_fail(ctx, CH_EXIT_ENV, NULL,
			err == EPERM ? "run as root; if you are root, kernel "
			"lockdown hides debugfs (see /sys/kernel/security/lockdown)"
			: "run as root (debugfs is for root only)",
			CH_STATS ": permission denied");
	if (err != ENOENT)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, CH_STATS ": %s",
			strerror(err));
	if (!e->node)
		ch_node_fail(ctx, e);
	if (!ch_debugfs_mounted())
		ch_fail(ctx, CH_EXIT_ENV, NULL, CH_FIX_MOUNT,
			"debugfs is not mounted on " CH_DEBUGFS
			", so the heap's counters cannot be read");
	ch_fail(ctx, CH_EXIT_ENV, NULL,
		e->kind == CH_HEAP_OTHER ? "load cc_shared_heap instead: "
		"`modprobe cc_shared_heap` (DKMS package cc-shared-heap-dkms)"
		: "build the kernel or the module with CONFIG_DEBUG_FS=y",
		CH_STATS " does not exist: %s",
		e->kind == CH_HEAP_OTHER ? "the heap at " CH_NODE " is not "
		"cc_shared_heap (mainline's own heap has no counters)" :
		"the heap has no debugfs directory");
}

static void ch_info_text(const struct ch_env *e)
{
	static const char *const kind[] = {
		[CH_HEAP_ABSENT] = "absent (neither built in nor a loaded module)",
		[CH_HEAP_BUILTIN] = "built into the kernel",
		[CH_HEAP_MODULE] = "module cc_shared_heap.ko",
		[CH_HEAP_OTHER] = "another provider, not cc_shared_heap (mainline's own heap?)",
	};

	if (strcmp(e->tech, "none"))
		printf("confidential guest  yes: %s (from %s%s)\n", e->tech,
		       strcmp(e->tech_from, "cpuinfo") ? "the " : "/proc/",
		       e->tech_from);
	else
		printf("confidential guest  no (%s)\n", e->kmsg ?
		       "neither cpuinfo nor the kernel log reports SEV or TDX" :
		       "cpuinfo reports no SEV or TDX; the kernel log is unreadable");
	printf("heap node           " CH_NODE ": %s\n",
	       e->node ? "present" : "absent");
	printf("heap                %s\n", kind[e->kind]);
	if (e->emulated < 0)
		printf("conversions         unknown (%s)\n",
		       "run as root: debugfs or the kernel log tell");
	else if (e->emulated)
		printf("conversions         EMULATED, %s (from the %s)\n",
		       "not shared with any host: testing only", e->emu_from);
	else if (e->node)
		printf("conversions         real (from the %s)\n",
		       e->emu_from ? e->emu_from : "heap");
	else
		printf("conversions         none (no heap)\n");
	printf("counters            " CH_STATS ": %s\n",
	       e->stats_err ? strerror(e->stats_err) : "readable");
	printf("kernel release      %s\n", e->uts.release);
	if (e->modver[0])
		printf("module version      %s\n", e->modver);
}

static void ch_info_json(const struct ch_env *e)
{
	ch_js_begin("info");
	ch_js_bool("ok", true);
	ch_js_bool("confidential_guest", strcmp(e->tech, "none") != 0);
	ch_js_str("technology", e->tech);
	ch_js_str("technology_source", e->tech_from);
	ch_js_str("node", CH_NODE);
	ch_js_bool("node_present", e->node);
	ch_js_str("heap", ch_kind_names[e->kind]);
	ch_js_bool("emulated", e->emulated);
	ch_js_str("emulated_source", e->emu_from);
	ch_js_bool("stats_readable", !e->stats_err);
	ch_js_bool("kernel_log_readable", e->kmsg);
	ch_js_str("kernel_release", e->uts.release);
	ch_js_str("module_version", e->modver[0] ? e->modver : NULL);
	ch_js_end();
}

static int ch_cmd_info(struct ch_ctx *ctx, int argc, char **argv)
{
	struct ch_env e;

	ch_env_probe(&e);
	if (ctx->json)
		ch_info_json(&e);
	else
		ch_info_text(&e);
	return 0;
}

/* 512 B, 4 KiB, 1.5 MiB: exact when it divides, else one decimal */
static const char *ch_bytes(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	uint64_t div = KIB;
	unsigned int u = 0;

	if (v < KIB) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	while (u < ARRAY_SIZE(unit) - 1 && v >= div * KIB) {
		div *= KIB;
		u++;
	}
	if (v % div)
		snprintf(buf, len, "%.1f %s", (double)v / div, unit[u]);
	else
		snprintf(buf, len, "%" PRIu64 " %s", v / div, unit[u]);
	return buf;
}

static bool ch_is_bytes(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, "_bytes");
}

static const char *ch_stat_meaning(const char *name)
{
	static const char *const m[][2] = {
		{ "buffers", "dma-bufs of the heap that are alive" },
		{ "shared_bytes", "memory in those buffers" },
		{ "pooled_bytes", "kept shared in the pool, in no buffer" },
		{ "leaked_bytes", "given up: their conversion failed" },
		{ "share_calls", "conversions to shared (one run each)" },
		{ "unshare_calls", "conversions back to private" },
		{ "share_failures", "share calls that failed" },
		{ "unshare_failures", "unshare calls that failed" },
		{ "pool_hits", "chunks an allocation reused from the pool" },
		{ "pool_misses", "lookups that found no chunk that fit" },
		{ "pool_limit_bytes", "most the pool may keep" },
		{ "huge_maps", "2 MiB chunks mapped by one PMD entry" },
		{ "fallback_maps", "chunks mapped page by page on a fault" },
		{ "emu_shared_pages", "emulation: pages shared" },
		{ "emu_lost_pages", "emulation: pages lost to failures" },
		{ "emu_stray_pages", "emulation: pages held, neither shared nor lost" },
		{ "emu_freed_unsafe_pages", "emulation: shared or lost pages freed" },
		{ "emu_violations", "emulation: conversions it refused" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(m); i++)
		if (!strcmp(m[i][0], name))
			return m[i][1];
	return "";
}

static void ch_stats_text(const struct stats *s, bool emulated)
{
	unsigned int i;
	char v[32];

	printf("cc_shared_heap counters (" CH_STATS ")%s\n",
	       emulated ? ", conversions EMULATED" : "");
	for (i = 0; i < s->n; i++) {
		const char *name = s->kv[i].name;

		if (ch_is_bytes(name))
			ch_bytes(v, sizeof(v), s->kv[i].val);
		else
			snprintf(v, sizeof(v), "%" PRIu64, s->kv[i].val);
		printf("  %-24s %12s  %s\n", name, v, ch_stat_meaning(name));
	}
}

static void ch_stats_json(const struct stats *s, bool emulated)
{
	unsigned int i;

	ch_js_begin("stats");
	ch_js_bool("ok", true);
	ch_js_str("source", CH_STATS);
	ch_js_bool("emulated", emulated);
	ch_js_key("counters");
	putchar('{');
	ch_js_first = true;
	for (i = 0; i < s->n; i++)
		ch_js_u64(s->kv[i].name, s->kv[i].val);
	putchar('}');
	ch_js_first = false;
	ch_js_end();
}

static int ch_cmd_stats(struct ch_ctx *ctx, int argc, char **argv)
{
	static struct stats s;
	struct ch_env e;

	if (ch_stats_errno()) {
		ch_env_probe(&e);	/* to tell why */
		ch_stats_fail(ctx, &e);
	}
	read_stats(&s);
	if (!s.n)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL,
			CH_STATS ": no \"name value\" line in it");
	if (ctx->json)
		ch_stats_json(&s, ch_stats_emulated(&s));
	else
		ch_stats_text(&s, ch_stats_emulated(&s));
	return 0;
}

/* What alloc measured and found */
struct ch_alloc {
	uint64_t size;		/* asked for */
	uint64_t bytes;		/* the dma-buf's size (whole pages) */
	uint64_t alloc_ns, map_ns, verify_ns, pattern_ns;
	uint64_t nonzero;	/* bytes that did not read zero */
	uint64_t first_nonzero;
	uint64_t mismatches;	/* 8-byte words that lost the pattern */
	uint64_t first_mismatch;
	bool counted;		/* the stats were read around the ioctl */
	uint64_t share_calls, pool_hits;
};

static int ch_open_node(const struct ch_ctx *ctx)
{
	struct ch_env e;
	int fd = open(CH_NODE, O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		ch_fail(ctx, CH_EXIT_ENV, NULL, CH_FIX_ROOT,
			CH_NODE ": permission denied");
	if (errno != ENOENT)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, CH_NODE ": %s",
			strerror(errno));
	ch_env_probe(&e);
	ch_node_fail(ctx, &e);
}

static void ch_alloc_fail(const struct ch_ctx *ctx, uint64_t size, int err)
{
	char sz[32];

	ch_bytes(sz, sizeof(sz), size);
	if (err == ENOMEM)
		ch_fail(ctx, CH_EXIT_ENV, NULL,
			"free memory or try a smaller size: the heap takes the "
			"whole buffer from the page allocator (or its pool)",
			"allocating %s from " CH_NODE ": %s", sz, strerror(err));
	ch_fail(ctx, CH_EXIT_ENV, NULL, NULL,
		"allocating %s from " CH_NODE ": %s", sz, strerror(err));
}

/* DMA_HEAP_IOCTL_ALLOC, timed, with the conversions the stats saw */
static int ch_alloc_buffer(const struct ch_ctx *ctx, int heap,
			   struct ch_alloc *a)
{
	struct dma_heap_allocation_data data = {
		.len = a->size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	static struct stats before, after;
	uint64_t t0;
	int ret;

	a->counted = !ch_stats_errno();
	if (a->counted)
		read_stats(&before);
	t0 = now_ns();
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data);
	a->alloc_ns = now_ns() - t0;
	if (ret < 0)
		ch_alloc_fail(ctx, a->size, errno);
	if (a->counted) {
		read_stats(&after);
		a->share_calls = stat_delta(&before, &after, "share_calls");
		a->pool_hits = stat_delta(&before, &after, "pool_hits");
	}
	return data.fd;
}

static void ch_sync(const struct ch_ctx *ctx, int buf, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_RW };

	if (ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync) < 0)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL,
			"DMA_BUF_IOCTL_SYNC: %s", strerror(errno));
}

/* mmap and first touch of every page, timed */
static uint8_t *ch_map(const struct ch_ctx *ctx, int buf, struct ch_alloc *a)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t end = lseek(buf, 0, SEEK_END);
	uint64_t t0, off;
	uint8_t *p;

	if (end <= 0)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL,
			"the dma-buf has no size (lseek: %s)", strerror(errno));
	a->bytes = end;
	t0 = now_ns();
	p = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, "mmap of the dma-buf: %s",
			strerror(errno));
	ch_sync(ctx, buf, DMA_BUF_SYNC_START);
	for (off = 0; off < a->bytes; off += page)
		(void)*(volatile uint8_t *)(p + off);
	a->map_ns = now_ns() - t0;
	return p;
}

/* Every byte must read zero: count those that do not, timed */
static void ch_verify_zero(const uint8_t *p, struct ch_alloc *a)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t i, t0 = now_ns();
	unsigned int b;

	a->nonzero = 0;
	for (i = 0; i < a->bytes / 8; i++) {
		if (!w[i])
			continue;
		for (b = 0; b < 8; b++) {
			if (!p[i * 8 + b])
				continue;
			if (!a->nonzero++)
				a->first_nonzero = i * 8 + b;
		}
	}
	a->verify_ns = now_ns() - t0;
}

/* Write a pattern to every word and read it all back, timed */
static void ch_pattern(uint8_t *p, struct ch_alloc *a)
{
	volatile uint64_t *w = (volatile uint64_t *)p;
	uint64_t i, n = a->bytes / 8, t0 = now_ns();

	for (i = 0; i < n; i++)
		w[i] = (i * CH_PATTERN) ^ ~i;
	a->mismatches = 0;
	for (i = 0; i < n; i++) {
		if (w[i] == ((i * CH_PATTERN) ^ ~i))
			continue;
		if (!a->mismatches++)
			a->first_mismatch = i * 8;
	}
	a->pattern_ns = now_ns() - t0;
}

static void ch_alloc_text(const struct ch_alloc *a)
{
	char sz[32], by[32];

	printf("allocated %s (%" PRIu64 " bytes, buffer %s) from " CH_NODE "\n",
	       ch_bytes(sz, sizeof(sz), a->size), a->size,
	       ch_bytes(by, sizeof(by), a->bytes));
	printf("  alloc       %10.1f us  DMA_HEAP_IOCTL_ALLOC", a->alloc_ns / 1e3);
	if (a->counted)
		printf(": %" PRIu64 " share calls, %" PRIu64 " pool hits",
		       a->share_calls, a->pool_hits);
	printf("\n  mmap+touch  %10.1f us  %" PRIu64 " bytes mapped, every page touched\n",
	       a->map_ns / 1e3, a->bytes);
	printf("  verify      %10.1f us  every byte reads zero: ", a->verify_ns / 1e3);
	if (a->nonzero)
		printf("NO, %" PRIu64 " bytes are not, the first at offset %#" PRIx64 "\n",
		       a->nonzero, a->first_nonzero);
	else
		printf("yes\n");
	printf("  pattern     %10.1f us  written and read back: ", a->pattern_ns / 1e3);
	if (a->mismatches)
		printf("NO, %" PRIu64 " words differ, the first at offset %#" PRIx64 "\n",
		       a->mismatches, a->first_mismatch);
	else
		printf("ok\n");
	printf("%s\n", a->nonzero || a->mismatches ? "FAILED" : "ok");
}

static void ch_alloc_json(const struct ch_alloc *a)
{
	ch_js_begin("alloc");
	ch_js_bool("ok", !a->nonzero && !a->mismatches);
	ch_js_str("node", CH_NODE);
	ch_js_u64("size_bytes", a->size);
	ch_js_u64("buffer_bytes", a->bytes);
	ch_js_bool("zeroed", !a->nonzero);
	ch_js_u64("nonzero_bytes", a->nonzero);
	ch_js_bool("pattern_ok", !a->mismatches);
	ch_js_u64("pattern_mismatches", a->mismatches);
	ch_js_us("alloc_us", a->alloc_ns);
	ch_js_us("mmap_touch_us", a->map_ns);
	ch_js_us("verify_us", a->verify_ns);
	ch_js_us("pattern_us", a->pattern_ns);
	ch_js_key("share_calls");
	a->counted ? printf("%" PRIu64, a->share_calls) : printf("null");
	ch_js_key("pool_hits");
	a->counted ? printf("%" PRIu64, a->pool_hits) : printf("null");
	ch_js_end();
}

static int ch_cmd_alloc(struct ch_ctx *ctx, int argc, char **argv)
{
	struct ch_alloc a = { 0 };
	int heap, buf;
	uint8_t *p;

	if (argc != 1)
		ch_usage_fail(ctx, "alloc takes one SIZE, e.g. `cc-heap alloc 4M`");
	if (!parse_size(argv[0], &a.size) || !a.size)
		ch_fail(ctx, CH_EXIT_USAGE, NULL,
			"give a positive number of bytes, optionally with a "
			"binary suffix K, M or G (4K = 4096): `cc-heap alloc 4M`",
			"bad SIZE \"%s\"", argv[0]);
	heap = ch_open_node(ctx);
	buf = ch_alloc_buffer(ctx, heap, &a);
	close(heap);
	p = ch_map(ctx, buf, &a);
	ch_verify_zero(p, &a);
	ch_pattern(p, &a);
	ch_sync(ctx, buf, DMA_BUF_SYNC_END);
	munmap(p, a.bytes);
	close(buf);
	if (ctx->json)
		ch_alloc_json(&a);
	else
		ch_alloc_text(&a);
	return a.nonzero || a.mismatches ? CH_EXIT_VERIFY : 0;
}

static void ch_help(void)
{
	printf("usage: cc-heap [--json] COMMAND [ARGS]\n"
	       "\n"
	       "The system_cc_shared dma-buf heap of a confidential VM (" CH_NODE ").\n"
	       "\n"
	       "commands:\n"
	       "  info        confidential guest and its technology (tdx, sev-snp, sev-es,\n"
	       "              sev); the heap: node, built in or module, emulated; release\n"
	       "  stats       the heap's counters (debugfs), bytes in KiB, MiB, GiB\n"
	       "  alloc SIZE  allocate SIZE bytes (suffix K, M or G: 4K, 4M, 1G), map and\n"
	       "              touch it, check every byte reads zero, write a pattern and\n"
	       "              read it back; times each step\n"
	       "  bench [--sizes 4K,2M,...] [--max-bytes N] [--pool-limit N]\n"
	       "              the ccsh-bench benchmark, on test kernels booted with\n"
	       "              cc_shared_heap.emulate=1 (its failure probe leaks pages)\n"
	       "  help        this text\n"
	       "\n"
	       "options:\n"
	       "  --json      print one JSON object on stdout (numbers as numbers)\n"
	       "  -h, --help  this text\n"
	       "\n"
	       "exit status: 0 ok, 1 environment or heap error, 2 usage error,\n"
	       "3 the buffer did not read zero or lost its pattern. See cc-heap(1).\n");
}

/* Keep what lies between ccsh-bench's JSON markers */
static bool ch_bench_collect(FILE *in, FILE *out)
{
	bool inside = false, done = false;
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) > 0) {
		if (!strcmp(line, "CCSH-BENCH-JSON-BEGIN\n"))
			inside = true;
		else if (!strcmp(line, "CCSH-BENCH-JSON-END\n"))
			done = inside, inside = false;
		else if (inside)
			fputs(line, out);
	}
	free(line);
	return done;
}

/*
 * ccsh-bench --json prints its table and then its JSON document between
 * markers; run it in a child on a pipe and print the document alone.
 */
static int ch_bench_json(struct ch_ctx *ctx, int argc, char **argv)
{
	int fds[2], status = 0;
	size_t len = 0;
	char *doc = NULL;
	FILE *in, *out;
	bool done;
	pid_t pid;

	if (pipe(fds))
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, "fork: %s", strerror(errno));
	if (!pid) {
		close(fds[0]);
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(CH_EXIT_ENV);
		close(fds[1]);
		exit(ccsh_bench_main(argc, argv));
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	out = open_memstream(&doc, &len);
	if (!in || !out)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, "out of memory");
	done = ch_bench_collect(in, out);
	fclose(in);
	fclose(out);
	waitpid(pid, &status, 0);
	status = WIFEXITED(status) ? WEXITSTATUS(status) : CH_EXIT_ENV;
	if (!done || status)
		ch_fail(ctx, status ? status : CH_EXIT_ENV, NULL, NULL,
			"the benchmark stopped (exit status %d): see its messages above",
			status);
	fputs(doc, stdout);
	free(doc);
	return 0;
}

static int ch_cmd_bench(struct ch_ctx *ctx, int argc, char **argv)
{
	char **av = calloc(argc + 3, sizeof(*av));
	struct ch_env e;
	int i, n = 0;

	if (!av)
		ch_fail(ctx, CH_EXIT_ENV, NULL, NULL, "out of memory");
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ch_help();
			return 0;
		}
	}
	ch_env_probe(&e);
	if (!e.node)
		ch_node_fail(ctx, &e);
	if (e.stats_err)
		ch_stats_fail(ctx, &e);
	if (e.emulated != 1)
		ch_fail(ctx, CH_EXIT_ENV, NULL,
			"boot a test kernel (CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION) "
			"with cc_shared_heap.emulate=1; on a real guest use "
			"`cc-heap alloc` to time allocations",
			"the benchmark needs emulated conversions: it counts them in "
			DBG_DIR "emu_log");
	av[n++] = "cc-heap bench";
	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json"))
			av[n++] = argv[i];
	if (!ctx->json)
		return ccsh_bench_main(n, av);
	av[n++] = "--json";
	return ch_bench_json(ctx, n, av);
}

static int ch_cmd_help(struct ch_ctx *ctx, int argc, char **argv)
{
	ch_help();
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct ch_ctx *ctx, int argc, char **argv);
	int max_args;
} ch_cmds[] = {
	{ "info", ch_cmd_info, 0 },
	{ "stats", ch_cmd_stats, 0 },
	{ "alloc", ch_cmd_alloc, 1 },
	{ "bench", ch_cmd_bench, -1 },	/* its options are ccsh-bench's */
	{ "help", ch_cmd_help, 1 },
};

/* The command's words without the options; handles --json and --help */
static int ch_split_args(struct ch_ctx *ctx, int argc, char **argv)
{
	int i, n = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ch_help();
			exit(0);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			ch_fail(ctx, CH_EXIT_USAGE, NULL, "see `cc-heap --help`",
				"unknown option \"%s\"", argv[i]);
		} else {
			argv[n++] = argv[i];
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	struct ch_ctx ctx = { .cmd = "cc-heap" };
	unsigned int c;
	int a = 1, n;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			ch_help();
			return 0;
		}
		if (strcmp(argv[a], "--json"))
			ch_fail(&ctx, CH_EXIT_USAGE, NULL, "see `cc-heap --help`",
				"unknown option \"%s\"", argv[a]);
		ctx.json = true;
	}
	if (a == argc)
		ch_usage_fail(&ctx, "no command: info, stats, alloc SIZE, bench or help");
	for (c = 0; c < ARRAY_SIZE(ch_cmds); c++)
		if (!strcmp(argv[a], ch_cmds[c].name))
			break;
	if (c == ARRAY_SIZE(ch_cmds))
		ch_fail(&ctx, CH_EXIT_USAGE, NULL, "see `cc-heap --help`",
			"unknown command \"%s\": info, stats, alloc SIZE, bench or help",
			argv[a]);
	ctx.cmd = ch_cmds[c].name;
	if (ch_cmds[c].max_args < 0) {
		for (n = a + 1; n < argc; n++)
			ctx.json |= !strcmp(argv[n], "--json");
		return ch_cmds[c].run(&ctx, argc - a - 1, argv + a + 1);
	}
	n = ch_split_args(&ctx, argc - a - 1, argv + a + 1);
	if (n > ch_cmds[c].max_args)
		ch_fail(&ctx, CH_EXIT_USAGE, NULL, "see `cc-heap --help`",
			"too many arguments for %s", ch_cmds[c].name);
	return ch_cmds[c].run(&ctx, n, argv + a + 1);
}
