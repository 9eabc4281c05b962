/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccsh-bench-model.h - the pure computations of ccsh-bench: parsing one
 * line of the emulation call log, counting what each conversion call would
 * cost under the model in ccsh-cost-model.h, and latency percentiles.
 *
 * No I/O here, so tools/ccsh-bench-model-test.c can check every rule on
 * the host. The functions are static inline so that ccsh-bench stays a
 * single-file build (the VM's initramfs compiles tools/ccsh-bench.c alone).
 */
#ifndef CCSH_BENCH_MODEL_H
#define CCSH_BENCH_MODEL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "ccsh-cost-model.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* One record of /sys/kernel/debug/cc_shared_heap/emu_log */
struct ccsh_call {
	char dir;		/* 'S': to shared, 'U': back to private */
	uint64_t pfn;
	uint64_t npages;
};

/* What a list of calls amounts to; every field is a plain count */
struct ccsh_tally {
	uint64_t calls;
	uint64_t share_calls;
	uint64_t unshare_calls;
	uint64_t pages;		/* base pages converted, both directions */
	uint64_t blocks_2m;	/* aligned 2 MiB blocks a call fully covers */
	uint64_t pages_4k;	/* pages outside such blocks */
	uint64_t partial_2m;	/* blocks a call touches, not fully covered */
	uint64_t snp_entries;	/* page-state-change entries (2 MiB or 4 KiB) */
	uint64_t snp_vmgexits;	/* ceil(entries / 64), per call */
	uint64_t tdx_mapgpa;	/* one per call */
	uint64_t tdx_accept_4k;	/* pages accepted back, on 'U' calls */
};

enum ccsh_line {
	CCSH_LINE_CALL,		/* *call filled in */
	CCSH_LINE_DROPPED,	/* "dropped N": *dropped = N */
	CCSH_LINE_BLANK,
	CCSH_LINE_BAD,
};

static inline const char *ccsh_skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static inline int ccsh_digit(char c, unsigned int base)
{
	unsigned int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < base ? (int)d : -1;
}

/* Strict unsigned number: digits only, no sign, no prefix, no overflow */
static inline const char *ccsh_parse_u64(const char *s, unsigned int base,
					 uint64_t *val)
{
	const char *start = s;
	int d;

	for (*val = 0; (d = ccsh_digit(*s, base)) >= 0; s++) {
		if (*val > (UINT64_MAX - d) / base)
			return NULL;
		*val = *val * base + d;
	}
	return s == start ? NULL : s;
}

static inline int ccsh_at_eol(const char *s)
{
	s = ccsh_skip_blanks(s);
	return *s == '\0' || *s == '\n';
}

/*
 * Parse "S 0x<pfn> <npages>", "U 0x<pfn> <npages>" (either may end in
 * " failed") or "dropped <N>".
 * Anything else, a zero page count or a range that wraps is CCSH_LINE_BAD.
 */
static inline enum ccsh_line ccsh_parse_line(const char *s,
					     struct ccsh_call *call,
					     uint64_t *dropped)
{
	uint64_t pfn, npages;

	s = ccsh_skip_blanks(s);
	if (ccsh_at_eol(s))
		return CCSH_LINE_BLANK;
	if (!strncmp(s, "dropped ", 8)) {
		s = ccsh_parse_u64(ccsh_skip_blanks(s + 8), 10, dropped);
		return s && ccsh_at_eol(s) ? CCSH_LINE_DROPPED : CCSH_LINE_BAD;
	}
	if ((s[0] != 'S' && s[0] != 'U') || s[1] != ' ')
		return CCSH_LINE_BAD;
	call->dir = s[0];
	s = ccsh_skip_blanks(s + 2);
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return CCSH_LINE_BAD;
	s = ccsh_parse_u64(s + 2, 16, &pfn);
	if (!s || (*s != ' ' && *s != '\t'))
		return CCSH_LINE_BAD;
	s = ccsh_parse_u64(ccsh_skip_blanks(s), 10, &npages);
	if (s && !strncmp(ccsh_skip_blanks(s), "failed", 6))
		s = ccsh_skip_blanks(s) + 6;	/* a failed call costs too */
	if (!s || !ccsh_at_eol(s) || !npages || pfn + npages < pfn)
		return CCSH_LINE_BAD;
	call->pfn = pfn;
	call->npages = npages;
	return CCSH_LINE_CALL;
}

/* Add one call's modelled cost to *t. */
static inline void ccsh_tally_add(struct ccsh_tally *t,
				  const struct ccsh_call *c)
{
	const uint64_t b = CCSH_MODEL_BLOCK_PAGES;
	uint64_t end = c->pfn + c->npages;
	uint64_t full_lo = (c->pfn + b - 1) / b;	/* first full block */
	uint64_t full_hi = end / b;			/* past the last one */
	uint64_t full = full_hi > full_lo ? full_hi - full_lo : 0;
	uint64_t touched = (end - 1) / b - c->pfn / b + 1;
	uint64_t small = c->npages - full * b;
	uint64_t entries = full + small;

	t->calls++;
	if (c->dir == 'S') {
		t->share_calls++;
	} else {
		t->unshare_calls++;
		t->tdx_accept_4k += c->npages;
	}
	t->pages += c->npages;
	t->blocks_2m += full;
	t->pages_4k += small;
	t->partial_2m += touched - full;
	t->snp_entries += entries;
	t->snp_vmgexits += (entries + CCSH_MODEL_SNP_PSC_ENTRIES - 1) /
			   CCSH_MODEL_SNP_PSC_ENTRIES;
	t->tdx_mapgpa++;
}

/* Modelled SEV-SNP time of everything in *t, in microseconds */
static inline double ccsh_model_snp_us(const struct ccsh_tally *t)
{
	return t->calls * CCSH_MODEL_CPA_CALL_US +
	       t->snp_vmgexits * CCSH_MODEL_SNP_VMGEXIT_US +
	       t->pages_4k * CCSH_MODEL_SNP_PVALIDATE_4K_US +
	       t->blocks_2m * CCSH_MODEL_SNP_PVALIDATE_2M_US +
	       t->partial_2m * CCSH_MODEL_SPLIT_US;
}

/* Modelled TDX time of everything in *t, in microseconds */
static inline double ccsh_model_tdx_us(const struct ccsh_tally *t)
{
	return t->calls * CCSH_MODEL_CPA_CALL_US +
	       t->tdx_mapgpa * CCSH_MODEL_TDX_MAPGPA_US +
	       t->tdx_accept_4k * CCSH_MODEL_TDX_ACCEPT_4K_US +
	       t->partial_2m * CCSH_MODEL_SPLIT_US;
}

/* A count scaled to "per GiB allocated" */
static inline double ccsh_per_gib(double count, uint64_t bytes)
{
	return bytes ? count * (double)(1ULL << 30) / (double)bytes : 0.0;
}

static inline int ccsh_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of n > 0 sorted values (mean of the middle two when n is even) */
static inline uint64_t ccsh_median(const uint64_t *sorted, size_t n)
{
	if (n % 2)
		return sorted[n / 2];
	return sorted[n / 2 - 1] + (sorted[n / 2] - sorted[n / 2 - 1]) / 2;
}

/* 99th percentile of n > 0 sorted values, nearest rank: ceil(0.99 n) */
static inline uint64_t ccsh_p99(const uint64_t *sorted, size_t n)
{
	return sorted[(99 * n + 99) / 100 - 1];
}

#endif /* CCSH_BENCH_MODEL_H */
