// SPDX-License-Identifier: GPL-2.0
/*
 * Host test of ccsh-bench's log analysis (tools/ccsh-bench-model.h):
 * synthetic emulation-log records in, exact counts out.
 *
 *	gcc -O2 -Wall -Werror -o /tmp/model-test <this file> && /tmp/model-test
 *
 * Prints every mismatch and exits 1 if there was one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ccsh-bench-model.h"

static int failures, checks;

#define EXPECT_EQ(what, got, want) expect_eq(__LINE__, what, got, want)

static void expect_eq(int line, const char *what, uint64_t got, uint64_t want)
{
	checks++;
	if (got == want)
		return;
	failures++;
	fprintf(stderr, "FAIL line %d: %s: got %" PRIu64 ", want %" PRIu64 "\n",
		line, what, got, want);
}

static void expect_near(int line, const char *what, double got, double want)
{
	double diff = got > want ? got - want : want - got;

	checks++;
	if (diff <= 1e-9 * (want > 1 ? want : 1))
		return;
	failures++;
	fprintf(stderr, "FAIL line %d: %s: got %.6f, want %.6f\n",
		line, what, got, want);
}

/* Everything a tally holds, in the order of struct ccsh_tally */
struct want {
	uint64_t calls, share_calls, unshare_calls, pages, blocks_2m;
	uint64_t pages_4k, partial_2m, snp_entries, snp_vmgexits;
	uint64_t tdx_mapgpa, tdx_accept_4k;
};

static void check_tally(int line, const char *name,
			const struct ccsh_tally *t, const struct want *w)
{
	static const char *const what[] = {
		"calls", "share_calls", "unshare_calls", "pages", "blocks_2m",
		"pages_4k", "partial_2m", "snp_entries", "snp_vmgexits",
		"tdx_mapgpa", "tdx_accept_4k",
	};
	const uint64_t got[] = {
		t->calls, t->share_calls, t->unshare_calls, t->pages,
		t->blocks_2m, t->pages_4k, t->partial_2m, t->snp_entries,
		t->snp_vmgexits, t->tdx_mapgpa, t->tdx_accept_4k,
	};
	const uint64_t want[] = {
		w->calls, w->share_calls, w->unshare_calls, w->pages,
		w->blocks_2m, w->pages_4k, w->partial_2m, w->snp_entries,
		w->snp_vmgexits, w->tdx_mapgpa, w->tdx_accept_4k,
	};
	char label[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(got); i++) {
		snprintf(label, sizeof(label), "%s: %s", name, what[i]);
		expect_eq(line, label, got[i], want[i]);
	}
}

/* One call on its own */
struct single_case {
	const char *name;
	struct ccsh_call call;
	struct want want;
};

static const struct single_case single_cases[] = {
	{ "aligned 2 MiB share", { 'S', 0x200, 512 },
	  { 1, 1, 0, 512, 1, 0, 0, 1, 1, 1, 0 } },
	{ "1 MiB share", { 'S', 0x400, 256 },
	  { 1, 1, 0, 256, 0, 256, 1, 256, 4, 1, 0 } },
	{ "2 MiB share at an unaligned pfn", { 'S', 0x301, 512 },
	  { 1, 1, 0, 512, 0, 512, 2, 512, 8, 1, 0 } },
	{ "aligned 2 MiB unshare accepts 512 pages", { 'U', 0x200, 512 },
	  { 1, 0, 1, 512, 1, 0, 0, 1, 1, 1, 512 } },
	{ "4 MiB + 3 pages: two blocks and a tail", { 'S', 0x200, 1027 },
	  { 1, 1, 0, 1027, 2, 3, 1, 5, 1, 1, 0 } },
	{ "64 single-page entries fill one exit", { 'S', 0x0, 64 },
	  { 1, 1, 0, 64, 0, 64, 1, 64, 1, 1, 0 } },
	{ "65 entries need two exits", { 'S', 0x0, 65 },
	  { 1, 1, 0, 65, 0, 65, 1, 65, 2, 1, 0 } },
	{ "aligned 1 GiB: 512 entries, 8 exits", { 'S', 0x40000, 262144 },
	  { 1, 1, 0, 262144, 512, 0, 0, 512, 8, 1, 0 } },
	{ "2 MiB + 2 pages unshared at 0x1ff: 1 block, 2 partial",
	  { 'U', 0x1ff, 514 },
	  { 1, 0, 1, 514, 1, 2, 2, 3, 1, 1, 514 } },
	{ "one page at the last pfn of a block", { 'S', 0x3ff, 1 },
	  { 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0 } },
};

static void test_single_calls(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(single_cases); i++) {
		const struct single_case *c = &single_cases[i];
		struct ccsh_tally t = { 0 };

		ccsh_tally_add(&t, &c->call);
		check_tally(__LINE__, c->name, &t, &c->want);
	}
}

/* 512 single-page unshares: every one is its own call, exit and split */
static void test_512_single_pages(void)
{
	const struct want want = { 512, 0, 512, 512, 0, 512, 512, 512, 512,
				   512, 512 };
	struct ccsh_tally t = { 0 };
	struct ccsh_call c = { 'U', 0, 1 };

	for (c.pfn = 0x1000; c.pfn < 0x1000 + 512; c.pfn++)
		ccsh_tally_add(&t, &c);
	check_tally(__LINE__, "512 single-page unshares", &t, &want);
	expect_near(__LINE__, "512 calls in 2 MiB, per GiB",
		    ccsh_per_gib(t.calls, 2 << 20), 512.0 * 512);
}

/* The model's time formulas, term by term, from ccsh-cost-model.h */
static void test_model_times(void)
{
	struct ccsh_tally t = { 0 };
	const struct ccsh_call aligned = { 'S', 0x200, 512 };
	const struct ccsh_call back = { 'U', 0x301, 512 };

	ccsh_tally_add(&t, &aligned);
	expect_near(__LINE__, "SNP time of one aligned 2 MiB share",
		    ccsh_model_snp_us(&t),
		    CCSH_MODEL_CPA_CALL_US + CCSH_MODEL_SNP_VMGEXIT_US +
		    CCSH_MODEL_SNP_PVALIDATE_2M_US);
	expect_near(__LINE__, "TDX time of one aligned 2 MiB share",
		    ccsh_model_tdx_us(&t),
		    CCSH_MODEL_CPA_CALL_US + CCSH_MODEL_TDX_MAPGPA_US);

	memset(&t, 0, sizeof(t));
	ccsh_tally_add(&t, &back);
	expect_near(__LINE__, "SNP time of an unaligned 2 MiB unshare",
		    ccsh_model_snp_us(&t),
		    CCSH_MODEL_CPA_CALL_US + 8 * CCSH_MODEL_SNP_VMGEXIT_US +
		    512 * CCSH_MODEL_SNP_PVALIDATE_4K_US +
		    2 * CCSH_MODEL_SPLIT_US);
	expect_near(__LINE__, "TDX time of an unaligned 2 MiB unshare",
		    ccsh_model_tdx_us(&t),
		    CCSH_MODEL_CPA_CALL_US + CCSH_MODEL_TDX_MAPGPA_US +
		    512 * CCSH_MODEL_TDX_ACCEPT_4K_US +
		    2 * CCSH_MODEL_SPLIT_US);
	expect_near(__LINE__, "per GiB of nothing", ccsh_per_gib(5, 0), 0);
	expect_near(__LINE__, "3 calls in 3 GiB, per GiB",
		    ccsh_per_gib(3, 3ULL << 30), 1.0);
}

struct line_case {
	const char *line;
	enum ccsh_line kind;
	char dir;
	uint64_t a, b;		/* pfn and npages, or dropped count */
};

static const struct line_case line_cases[] = {
	{ "S 0x200 512\n", CCSH_LINE_CALL, 'S', 0x200, 512 },
	{ "U 0x1ffff 1", CCSH_LINE_CALL, 'U', 0x1ffff, 1 },
	{ "U 0xABCdef 7 \n", CCSH_LINE_CALL, 'U', 0xabcdef, 7 },
	{ "dropped 17\n", CCSH_LINE_DROPPED, 0, 17, 0 },
	{ "\n", CCSH_LINE_BLANK, 0, 0, 0 },
	{ "", CCSH_LINE_BLANK, 0, 0, 0 },
	{ "X 0x1 1", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 512 1", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x0x5 1", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x10 0", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x10 -1", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x10 5 junk", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x10", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0xffffffffffffffff 2", CCSH_LINE_BAD, 0, 0, 0 },
	{ "S 0x1ffffffffffffffff 2", CCSH_LINE_BAD, 0, 0, 0 },
	{ "dropped", CCSH_LINE_BAD, 0, 0, 0 },
	{ "dropped 3x", CCSH_LINE_BAD, 0, 0, 0 },
};

static void test_parse_lines(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];
		struct ccsh_call call = { 0 };
		uint64_t dropped = 0;
		char label[96];
		enum ccsh_line kind = ccsh_parse_line(c->line, &call, &dropped);

		snprintf(label, sizeof(label), "parse \"%s\"", c->line);
		label[strcspn(label, "\n")] = '\0';
		expect_eq(__LINE__, label, kind, c->kind);
		if (kind != c->kind)
			continue;
		if (kind == CCSH_LINE_CALL) {
			expect_eq(__LINE__, label, call.dir, c->dir);
			expect_eq(__LINE__, label, call.pfn, c->a);
			expect_eq(__LINE__, label, call.npages, c->b);
		} else if (kind == CCSH_LINE_DROPPED) {
			expect_eq(__LINE__, label, dropped, c->a);
		}
	}
}

static void test_percentiles(void)
{
	uint64_t v[200];
	size_t i;

	for (i = 0; i < 200; i++)
		v[i] = 200 - i;		/* 200..1, unsorted */
	qsort(v, 200, sizeof(v[0]), ccsh_cmp_u64);
	EXPECT_EQ("sorted first", v[0], 1);
	EXPECT_EQ("median of 1..200", ccsh_median(v, 200), 100);
	EXPECT_EQ("p99 of 1..200", ccsh_p99(v, 200), 198);
	EXPECT_EQ("median of 1..3", ccsh_median(v, 3), 2);
	EXPECT_EQ("p99 of 1..3 is the maximum", ccsh_p99(v, 3), 3);
	EXPECT_EQ("p99 of 1..100", ccsh_p99(v, 100), 99);
	EXPECT_EQ("median and p99 of one value", ccsh_median(v, 1) +
		  ccsh_p99(v, 1), 2);
}

int main(void)
{
	test_single_calls();
	test_512_single_pages();
	test_model_times();
	test_parse_lines();
	test_percentiles();
	if (failures) {
		fprintf(stderr, "ccsh-bench-model-test: %d of %d checks FAILED\n",
			failures, checks);
		return 1;
	}
	printf("ccsh-bench-model-test: all %d checks passed\n", checks);
	return 0;
}
