// SPDX-License-Identifier: GPL-2.0
/*
 * Real DMA into the heap's buffers: QEMU's edu PCI device, a DMA engine
 * over a 4 KiB internal buffer, driven by the test-only kernel driver
 * cc_shared_edu_test through its debugfs file (see CTL below).
 *
 * The harness boots one topology per VM (no IOMMU, an address mask the
 * buffer lies beyond, Intel's IOMMU, virtio-iommu, forced swiotlb) and says
 * on the kernel command line what this kernel must do there:
 *   ccsh_edu_expect=inplace|refused   the heap's buffer is mapped in place
 *                                     and round-trips, or the attachment
 *                                     fails with EINVAL;
 *   ccsh_edu_core=refused|unreachable|maps|none
 *                                     the DMA core refuses a scatterlist
 *                                     mapped with DMA_ATTR_CC_SHARED (EINVAL),
 *                                     refuses it as out of the device's
 *                                     reach (EIO), maps it, or has no such
 *                                     attribute.
 * The control is a buffer of the system heap, or where the kernel has no
 * system heap (Debian's 6.1), private pages of the driver's own mapped
 * without attributes: if it does not round-trip through the device, the
 * rig is broken and nothing else here means anything.
 *
 * Each heap's outcome is printed as one line for the results table:
 *   # dma-edu: heap=<name> outcome=<round-trip|corrupted|error|refused>
 *     errno=<name or 0> slots=<swiotlb slots taken> mismatches=<words>
 * (on one line; heap=private: the driver's pages; slots=-1: not known).
 * ccsh_edu_bytes=<n> on the command line changes the buffer size (64 KiB
 * by default, a multiple of 4 KiB).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "../kselftest_harness.h"
#include "cc_shared_heap_util.h"
#include "cc_shared_edu_util.h"

#define SYSTEM_NODE	"/dev/dma_heap/system"
#define IO_TLB_PEAK	"/sys/kernel/debug/swiotlb/io_tlb_used_hiwater"
#define EDU_BUF		4096UL	/* the device's internal buffer */
#define DEFAULT_LEN	(64UL << 10)
/*
 * The device takes 100 ms of QEMU's clock per DMA, two DMAs per 2 KiB
 * moved: 64 KiB there and back is about 13 s (without -icount). The
 * harness's 30 s would leave no room for a larger ccsh_edu_bytes.
 */
#define DMA_TIMEOUT	300

/* the seeds of the device's writes (to_mem) and of the CPU's (from_mem) */
#define SEED_TO_MEM	0x5eed0001u
#define SEED_FROM_MEM	0x5eed0002u

/*
 * Start watching the most swiotlb slots in use at once (from 6.6): 0, or
 * -1 where this kernel cannot tell.
 */
static int swiotlb_peak_reset(void)
{
	return write_str(IO_TLB_PEAK, "0");
}

/* Slots above @before in use at the peak since the reset; 0 if none. */
static long long swiotlb_peak_above(long long before)
{
	long long peak = read_ll(IO_TLB_PEAK);

	return peak > before ? peak - before : 0;
}

static const char *errno_name(int err)
{
	const char *name = err ? strerrorname_np(err) : "0";

	return name ? name : "unknown";
}

/* What became of one buffer sent through the device and back. */
struct trial {
	int err;		/* 0, or the errno of the step that failed */
	const char *step;	/* that step: "attach", "to_mem", ... */
	bool attached;		/* the device attached the buffer */
	long long slots_before;	/* io_tlb_used before the attachment */
	long long slots_during;	/* ... while attached (or after a refusal) */
	long long slots_after;	/* ... after the detachment */
	long long slots_peak;	/* most taken at once meanwhile; -1: unknown */
	long long entries;	/* DMA segments of the mapping */
	long long transfers_to, transfers_from;
	long long cpu_wrong;	/* words the CPU read wrong after to_mem */
	long long cpu_first_wrong;
	long long dev_wrong;	/* words the device read wrong in from_mem */
	long long dev_first_wrong;
};

static const char *outcome(const struct trial *t)
{
	if (!t->attached)
		return t->err && !strcmp(t->step, "attach") ? "refused" : "error";
	if (t->err)
		return "error";
	return t->cpu_wrong || t->dev_wrong ? "corrupted" : "round-trip";
}

/*
 * Attach @buf (@len bytes) to the device; if it attaches, the device writes
 * the pattern of SEED_TO_MEM over it, the CPU checks it, writes the pattern
 * of SEED_FROM_MEM and the device reads and checks that. Data moves by the
 * dma-buf rules: the CPU reads and writes between DMA_BUF_IOCTL_SYNC
 * calls, which is where a bounced buffer is copied.
 */
static void run_trial(int buf, size_t len, struct trial *t)
{
	struct edu_state st;
	unsigned int *p;
	bool peak = false;
	int err;

	memset(t, 0, sizeof(*t));
	t->slots_peak = -1;
	t->cpu_first_wrong = -1;
	t->dev_first_wrong = -1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED) {
		t->err = errno;
		t->step = "mmap";
		return;
	}
	/* every word must change for to_mem to pass: none is right now */
	t->step = "sync";
	t->err = buf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	if (t->err)
		goto out;
	fill_pattern(p, len, SEED_TO_MEM, true);
	t->err = buf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	if (t->err)
		goto out;

	t->slots_before = swiotlb_slots();
	t->slots_peak = -1;
	peak = !swiotlb_peak_reset();
	t->step = "attach";
	t->err = edu_cmd("attach %d", buf);
	t->slots_during = swiotlb_slots();
	t->slots_after = t->slots_during;
	if (t->err)
		goto out;
	t->attached = true;
	if (!edu_read_state(&st))
		t->entries = st.entries;

	/* device -> RAM */
	t->step = "to_mem";
	t->err = edu_cmd("to_mem %u", SEED_TO_MEM);
	if (t->err)
		goto detach;
	if (!edu_read_state(&st))
		t->transfers_to = st.transfers;
	t->step = "sync";
	t->err = buf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (t->err)
		goto detach;
	t->cpu_wrong = wrong_words(p, len, SEED_TO_MEM, &t->cpu_first_wrong);
	t->err = buf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	if (t->err)
		goto detach;

	/* RAM -> device */
	t->err = buf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	if (t->err)
		goto detach;
	fill_pattern(p, len, SEED_FROM_MEM, false);
	t->err = buf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	if (t->err)
		goto detach;
	t->step = "from_mem";
	t->err = edu_cmd("from_mem %u", SEED_FROM_MEM);
	if (t->err)
		goto detach;
	if (edu_read_state(&st)) {
		t->step = "read ctl";
		t->err = EIO;
		goto detach;
	}
	t->transfers_from = st.transfers;
	t->dev_wrong = st.mismatches;
	t->dev_first_wrong = st.first_bad;
detach:
	err = edu_cmd("detach");
	if (err && !t->err) {
		t->err = err;
		t->step = "detach";
	}
	t->slots_after = swiotlb_slots();
out:
	if (peak)
		t->slots_peak = swiotlb_peak_above(t->slots_before);
	munmap(p, len);
}

/*
 * The control where the kernel has no system heap: the driver's own
 * private pages, mapped without attributes, through the device and back
 * in one command (the CPU's and the device's wrong words counted together).
 */
static void run_private_trial(size_t len, struct trial *t)
{
	struct edu_state st;
	bool peak;

	memset(t, 0, sizeof(*t));
	t->cpu_first_wrong = -1;
	t->dev_first_wrong = -1;
	t->slots_before = swiotlb_slots();
	t->slots_during = -1;
	t->slots_peak = -1;
	peak = !swiotlb_peak_reset();
	t->step = "control";
	t->err = edu_cmd("control %zu", len);
	t->attached = !t->err;
	t->slots_after = swiotlb_slots();
	if (peak)
		t->slots_peak = swiotlb_peak_above(t->slots_before);
	if (!t->err && !edu_read_state(&st)) {
		t->transfers_from = st.transfers;
		t->dev_wrong = st.mismatches;
		t->dev_first_wrong = st.first_bad;
	}
}

/* The control's round trip: see the top of the file. */
static const char *run_control(size_t len, struct trial *t)
{
	int buf = alloc_buf(SYSTEM_NODE, len);

	if (buf == -ENOENT) {
		run_private_trial(len, t);
		return "private";
	}
	if (buf < 0) {
		memset(t, 0, sizeof(*t));
		t->err = -buf;
		t->step = "allocate";
		t->slots_peak = -1;
		return "system";
	}
	run_trial(buf, len, t);
	close(buf);
	return "system";
}

/* Slots the buffer took while mapped (the peak where known), or -1. */
static long long slots_taken(const struct trial *t)
{
	long long during = t->slots_during - t->slots_before;

	if (t->slots_peak < 0)
		return t->slots_during < 0 ? -1 : during;
	return t->slots_peak > during ? t->slots_peak : during;
}

/* The results-table line of one heap. */
static void report(const char *heap, const struct trial *t)
{
	printf("# dma-edu: heap=%s outcome=%s errno=%s slots=%lld mismatches=%lld\n",
	       heap, outcome(t), errno_name(t->err), slots_taken(t),
	       t->cpu_wrong + t->dev_wrong);
	printf("# %s: %s %s; io_tlb_used %lld -> %lld -> %lld, peak +%lld\n",
	       heap, t->step, t->err ? strerror(t->err) : "ok",
	       t->slots_before, t->slots_during, t->slots_after, t->slots_peak);
	printf("# %s: %lld DMA segments, %lld + %lld transfers\n", heap,
	       t->entries, t->transfers_to, t->transfers_from);
	printf("# %s: wrong words read by the CPU %lld (first at byte %lld)\n",
	       heap, t->cpu_wrong, t->cpu_first_wrong);
	printf("# %s: wrong words read by the device %lld (first at byte %lld)\n",
	       heap, t->dev_wrong, t->dev_first_wrong);
	fflush(stdout);	/* the test's process ends with _exit() */
}

/* What the boot says this kernel must do (the value of @key, or ""). */
static const char *expected(const char *key, char *val, size_t size)
{
	if (!cmdline_value(key, val, size))
		val[0] = 0;
	return val;
}

FIXTURE(edu) {
	size_t len;
	char expect[16];
	char core[16];
};

FIXTURE_SETUP(edu)
{
	char num[32] = "";

	self->len = DEFAULT_LEN;
	if (cmdline_value("ccsh_edu_bytes", num, sizeof(num)))
		self->len = strtoul(num, NULL, 0);
	ASSERT_TRUE(self->len && !(self->len % PAGE))
		TH_LOG("ccsh_edu_bytes=%s is not a multiple of 4 KiB", num);
	expected("ccsh_edu_expect", self->expect, sizeof(self->expect));
	expected("ccsh_edu_core", self->core, sizeof(self->core));
	/* the boots always have the device: no driver file is a defect */
	ASSERT_EQ(0, access(CTL, R_OK | W_OK))
		TH_LOG("no %s: edu or its driver is missing: the rig is broken",
		       CTL);
}

FIXTURE_TEARDOWN(edu)
{
	/* whatever a failed test left attached must not fail the next one */
	edu_cmd("detach");
}

/*
 * The control: an ordinary buffer, bounced wherever it must be (the
 * driver's private pages where the kernel has no system heap).
 */
TEST_F_TIMEOUT(edu, system_heap_round_trips_through_the_device, DMA_TIMEOUT)
{
	long long need = self->len / EDU_BUF;
	struct trial t;
	const char *heap = run_control(self->len, &t);

	report(heap, &t);
	ASSERT_EQ(0, t.err)
		TH_LOG("the control (%s) failed at %s: %s: the rig is broken, not the heap",
		       heap, t.step, strerror(t.err));
	EXPECT_EQ(0, t.cpu_wrong)
		TH_LOG("the device wrote %lld words wrong (first at byte %lld): the rig is broken",
		       t.cpu_wrong, t.cpu_first_wrong);
	EXPECT_EQ(0, t.dev_wrong)
		TH_LOG("%lld wrong words (first at byte %lld): the rig is broken",
		       t.dev_wrong, t.dev_first_wrong);
	/* the device's buffer is 4 KiB: the whole buffer took that many DMAs */
	EXPECT_LE(need, t.transfers_from);
	if (!strcmp(heap, "system")) {
		EXPECT_LE(need, t.transfers_to);
		EXPECT_LT(0, t.entries);
	}
	/* whatever was bounced has been given back */
	EXPECT_EQ(t.slots_before, t.slots_after);
	if (slots_taken(&t) < 0)
		TH_LOG("the control (%s): this kernel cannot tell its swiotlb slots",
		       heap);
	else
		TH_LOG("the control (%s) took %lld swiotlb slots for %zu bytes",
		       heap, slots_taken(&t), self->len);
}

TEST_F_TIMEOUT(edu, heap_round_trips_in_place_with_no_bounce_slots, DMA_TIMEOUT)
{
	struct trial t;
	int buf;

	if (strcmp(self->expect, "inplace"))
		SKIP(return, "the heap is expected to be %s in this boot",
		     self->expect[0] ? self->expect : "(no ccsh_edu_expect=)");
	buf = alloc_buf(HEAP_NODE, self->len);
	ASSERT_LE(0, buf) TH_LOG("%s: %s", HEAP_NODE, strerror(-buf));
	run_trial(buf, self->len, &t);
	report("system_cc_shared", &t);
	close(buf);
	ASSERT_EQ(0, t.err) TH_LOG("%s failed: %s (%s)", t.step,
				   strerror(t.err), errno_name(t.err));
	EXPECT_EQ(t.slots_before, t.slots_during)
		TH_LOG("the mapping took %lld swiotlb slots: bounced, not in place",
		       t.slots_during - t.slots_before);
	/* not even for a moment (where the kernel keeps the peak) */
	if (t.slots_peak >= 0)
		EXPECT_EQ(0, t.slots_peak)
			TH_LOG("%lld swiotlb slots taken at some point", t.slots_peak);
	EXPECT_EQ(0, t.cpu_wrong)
		TH_LOG("the device wrote %lld words wrong (first at byte %lld)",
		       t.cpu_wrong, t.cpu_first_wrong);
	EXPECT_EQ(0, t.dev_wrong)
		TH_LOG("the device read %lld wrong words (first at byte %lld)",
		       t.dev_wrong, t.dev_first_wrong);
	EXPECT_LE((long long)(self->len / EDU_BUF), t.transfers_to);
	EXPECT_LE((long long)(self->len / EDU_BUF), t.transfers_from);
	EXPECT_LT(0, t.entries);
	EXPECT_EQ(t.slots_before, t.slots_after);
}

/*
 * Where the device cannot reach the buffer in place (beyond its mask,
 * behind an IOMMU, or where this DMA core would bounce it), the heap
 * refuses the attachment with EINVAL, takes no bounce slot, and leaves the
 * buffer as good as before and the device free for the next importer.
 */
TEST_F_TIMEOUT(edu, heap_refuses_the_device_with_einval, DMA_TIMEOUT)
{
	struct trial t;
	unsigned int *p;
	long long first;
	int buf, ctl_buf, err;

	if (strcmp(self->expect, "refused"))
		SKIP(return, "the heap is expected to be %s in this boot",
		     self->expect[0] ? self->expect : "(no ccsh_edu_expect=)");
	buf = alloc_buf(HEAP_NODE, self->len);
	ASSERT_LE(0, buf) TH_LOG("%s: %s", HEAP_NODE, strerror(-buf));
	run_trial(buf, self->len, &t);
	report("system_cc_shared", &t);
	ASSERT_FALSE(t.attached)
		TH_LOG("the device attached (%s, %lld swiotlb slots): it must be refused",
		       outcome(&t), t.slots_during - t.slots_before);
	ASSERT_STREQ("attach", t.step)
		TH_LOG("%s failed first: %s", t.step, strerror(t.err));
	EXPECT_EQ(EINVAL, t.err) TH_LOG("refused with %s", errno_name(t.err));
	/* the refusal took no bounce slot */
	EXPECT_EQ(t.slots_before, t.slots_during);
	/* and left nothing attached */
	err = edu_cmd("to_mem %u", SEED_TO_MEM);
	EXPECT_EQ(ENOTCONN, err) TH_LOG("to_mem after the refusal: %s",
					errno_name(err));

	/* the CPU still writes and reads the buffer */
	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(0, buf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	fill_pattern(p, self->len, SEED_FROM_MEM, false);
	ASSERT_EQ(0, buf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	munmap(p, self->len);
	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(0, buf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(0, wrong_words(p, self->len, SEED_FROM_MEM, &first))
		TH_LOG("the CPU read back wrong words from byte %lld", first);
	EXPECT_EQ(0, buf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(p, self->len);
	EXPECT_EQ(0, close(buf));

	/* and the device takes the next importer's buffer (or maps its own) */
	ctl_buf = alloc_buf(SYSTEM_NODE, self->len);
	if (ctl_buf == -ENOENT) {
		err = edu_cmd("control %lu", PAGE);
	} else {
		ASSERT_LE(0, ctl_buf)
			TH_LOG("%s: %s", SYSTEM_NODE, strerror(-ctl_buf));
		err = edu_cmd("attach %d", ctl_buf);
		if (!err)
			EXPECT_EQ(0, edu_cmd("detach"));
		close(ctl_buf);
	}
	EXPECT_EQ(0, err) TH_LOG("the control after the refusal: %s",
				 errno_name(err));
	/* nothing bounced is left behind */
	EXPECT_EQ(t.slots_before, swiotlb_slots());
}

/*
 * The DMA core itself, asked to map pages with DMA_ATTR_CC_SHARED for this
 * device: refused where it cannot map them in place (our DMA core under
 * an IOMMU), mapped where it can (or, mainline's, bounces them anyway),
 * and unknown to kernels without the attribute.
 */
TEST_F(edu, dma_core_handles_cc_shared_scatterlists_as_expected)
{
	int err = edu_cmd("cc_shared_sg");

	printf("# dma-edu: cc_shared_sg=%s expected=%s\n", errno_name(err),
	       self->core[0] ? self->core : "(none given)");
	fflush(stdout);
	if (!strcmp(self->core, "refused")) {
		EXPECT_EQ(EINVAL, err) TH_LOG("the core answered %s", errno_name(err));
	} else if (!strcmp(self->core, "unreachable")) {
		/* the 6.12 series' dma-direct: beyond the mask, no bounce */
		EXPECT_EQ(EIO, err) TH_LOG("the core answered %s", errno_name(err));
	} else if (!strcmp(self->core, "maps")) {
		EXPECT_EQ(0, err) TH_LOG("the core refused: %s", errno_name(err));
	} else if (!strcmp(self->core, "none")) {
		ASSERT_EQ(EOPNOTSUPP, err)
			TH_LOG("a kernel without DMA_ATTR_CC_SHARED answered %s",
			       errno_name(err));
		SKIP(return, "this kernel has no DMA_ATTR_CC_SHARED");
	} else {
		SKIP(return, "no ccsh_edu_core= on the command line");
	}
}

TEST_HARNESS_MAIN
