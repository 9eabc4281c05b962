// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated page conversions for testing the system_cc_shared heap without
 * confidential-computing hardware.
 *
 * The model keeps, for every page frame, whether it is shared, whether it
 * was lost to a failed conversion, and whether the heap holds it. A
 * failure injected into a conversion is played by the model, which then
 * holds the pages as lost: so which pages are lost is the model's own
 * record, to be compared with the heap's leak accounting, and a page the
 * heap holds that is neither shared nor lost outside a buffer is a page
 * the heap forgot. Like SEV-SNP and TDX the model does not
 * preserve content across a conversion: every conversion fills the pages
 * with a poison pattern, so a heap that zeroes before sharing hands out
 * poison, as it would hand out ciphertext on SEV. Switched to keep
 * contents instead (debugfs emu_keep_contents), it plays a platform whose
 * sharing hands the host the page as it is (pKVM, s390 PV). In both modes
 * it counts the pages that held a non-zero byte when they were shared:
 * what such a host would have read. It can also be made slow, a delay per
 * MiB converted (emu_convert_ms_per_mib), as conversions are on TDX.
 * Requests that break the
 * rules (sharing a shared page, unsharing a private one, touching a lost
 * one, freeing a page that is not private) are refused and counted as
 * violations; tests require that count to stay zero.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/panic.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "cc_shared_heap.h"

#define CCSH_EMU_POISON 0x5c

static DEFINE_SPINLOCK(ccsh_emu_lock);
static unsigned long *ccsh_emu_shared;	/* one bit per pfn */
static unsigned long *ccsh_emu_lost;	/* one bit per pfn */
static unsigned long *ccsh_emu_held;	/* one bit per pfn: the heap's */
/* pages after the first of a held allocation that is not compound */
static unsigned long *ccsh_emu_tail;	/* their reference count is 0 */
static unsigned long ccsh_emu_nbits;
static atomic_long_t ccsh_emu_violations_cnt;
static atomic_long_t ccsh_emu_stale_cnt;	/* pages shared holding data */
static bool ccsh_emu_naive_mode;
static bool ccsh_emu_keep_contents;
static u32 ccsh_emu_ms_per_mib;

/* Tests may run code after each conversion the model carries out. */
void (*ccsh_emu_test_hook)(bool share);

/*
 * Log of the conversion calls the model received, for the benchmark's
 * cost model and the tests. Appended under ccsh_emu_lock; read and cleared
 * under ccsh_emu_log_mutex, so a reader sees a stable prefix.
 */

#define CCSH_EMU_LOG_MAX BIT(18)
static struct ccsh_emu_call *ccsh_emu_log;
static unsigned long ccsh_emu_log_used, ccsh_emu_log_dropped;
static DEFINE_MUTEX(ccsh_emu_log_mutex);

/**
 * ccsh_emu_init() - set up the page-state model and announce it loudly
 *
 * Return: 0 or -ENOMEM.
 */
int ccsh_emu_init(void)
{
	/*
	 * Every heap page is in the direct map (the heap needs !HIGHMEM), so
	 * the frames below high_memory are all the model must know. max_pfn
	 * would say the same, but modules cannot see it.
	 */
	unsigned long nbits = PHYS_PFN(__pa(high_memory - 1)) + 1;
	size_t bytes = BITS_TO_LONGS(nbits) * sizeof(long);

	ccsh_emu_nbits = nbits;
	ccsh_emu_shared = vzalloc(bytes);
	ccsh_emu_lost = vzalloc(bytes);
	ccsh_emu_held = vzalloc(bytes);
	ccsh_emu_tail = vzalloc(bytes);
	ccsh_emu_log = vmalloc_array(CCSH_EMU_LOG_MAX, sizeof(*ccsh_emu_log));
	if (!ccsh_emu_shared || !ccsh_emu_lost || !ccsh_emu_held ||
	    !ccsh_emu_tail || !ccsh_emu_log) {
		ccsh_emu_exit();
		return -ENOMEM;
	}
	pr_warn("**********************************************************\n");
	pr_warn("**  EMULATED memory conversions: system_cc_shared pages  **\n");
	pr_warn("**  are NOT shared with any host. For testing only.      **\n");
	pr_warn("**********************************************************\n");
	add_taint(TAINT_TEST, LOCKDEP_STILL_OK);
	return 0;
}

/**
 * ccsh_emu_exit() - free the model (only while it holds no page)
 */
void ccsh_emu_exit(void)
{
	vfree(ccsh_emu_shared);
	vfree(ccsh_emu_lost);
	vfree(ccsh_emu_held);
	vfree(ccsh_emu_tail);
	vfree(ccsh_emu_log);
	ccsh_emu_shared = NULL;
	ccsh_emu_lost = NULL;
	ccsh_emu_held = NULL;
	ccsh_emu_tail = NULL;
	ccsh_emu_log = NULL;
	ccsh_emu_nbits = 0;
}

static void ccsh_emu_violation(const char *what, unsigned long pfn,
			       unsigned int nr)
{
	atomic_long_inc(&ccsh_emu_violations_cnt);
	pr_err("emulation: %s, pfn %#lx, %u pages\n", what, pfn, nr);
}

static bool ccsh_emu_in_range(unsigned long pfn, unsigned int nr)
{
	return pfn < ccsh_emu_nbits && nr <= ccsh_emu_nbits - pfn;
}

static void ccsh_emu_poison(struct page *page, unsigned int nr)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned int i;

	/* a run may span several allocations: walk it by frame number */
	for (i = 0; i < nr; i++)
		memset(page_address(pfn_to_page(pfn + i)), CCSH_EMU_POISON,
		       PAGE_SIZE);
}

/* How many of the @nr pages from @pfn hold a byte that is not 0. */
static unsigned long ccsh_emu_dirty_pages(unsigned long pfn, unsigned int nr)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < nr; i++)
		n += !!memchr_inv(page_address(pfn_to_page(pfn + i)), 0,
				  PAGE_SIZE);
	return n;
}

/* The delay a slow platform would take to convert @nr pages. */
static void ccsh_emu_slow(unsigned int nr)
{
	u64 ms = (u64)READ_ONCE(ccsh_emu_ms_per_mib) * nr;

	ms = DIV_ROUND_UP_ULL(ms, SZ_1M >> PAGE_SHIFT);
	if (ms)
		msleep(ms);
}

/* Record a call; under ccsh_emu_lock. */
static void ccsh_emu_log_call(unsigned long pfn, unsigned int nr,
			      bool share, bool failed)
{
	if (ccsh_emu_log_used < CCSH_EMU_LOG_MAX)
		ccsh_emu_log[ccsh_emu_log_used++] = (struct ccsh_emu_call){
			.pfn = pfn, .nr = nr, .share = share, .failed = failed };
	else
		ccsh_emu_log_dropped++;
}

/* Flip @nr pages to @to_shared if all of them are in the opposite state. */
static int ccsh_emu_flip(struct page *page, unsigned int nr, bool to_shared)
{
	unsigned long pfn = page_to_pfn(page), end = pfn + nr;
	const char *err = NULL;

	if (!ccsh_emu_in_range(pfn, nr)) {
		ccsh_emu_violation("page outside the model", pfn, nr);
		return -EINVAL;
	}

	ccsh_emu_slow(nr);	/* the pages change state only at the end */
	spin_lock(&ccsh_emu_lock);
	ccsh_emu_log_call(pfn, nr, to_shared, false);
	if (find_next_bit(ccsh_emu_lost, end, pfn) < end)
		err = "conversion of a lost page";
	else if (to_shared && find_next_bit(ccsh_emu_shared, end, pfn) < end)
		err = "share of a shared page";
	else if (!to_shared && find_next_zero_bit(ccsh_emu_shared, end, pfn) < end)
		err = "unshare of a private page";
	else if (to_shared)
		bitmap_set(ccsh_emu_shared, pfn, nr);
	else
		bitmap_clear(ccsh_emu_shared, pfn, nr);
	spin_unlock(&ccsh_emu_lock);

	if (err) {
		ccsh_emu_violation(err, pfn, nr);
		return -EINVAL;
	}
	if (to_shared)
		atomic_long_add(ccsh_emu_dirty_pages(pfn, nr), &ccsh_emu_stale_cnt);
	/* content does not survive a conversion, unless told to keep it */
	if (!READ_ONCE(ccsh_emu_keep_contents))
		ccsh_emu_poison(page, nr);
	if (ccsh_emu_test_hook)
		ccsh_emu_test_hook(to_shared);
	return 0;
}

static int ccsh_emu_share(struct page *page, unsigned int nr)
{
	return ccsh_emu_flip(page, nr, true);
}

static int ccsh_emu_unshare(struct page *page, unsigned int nr)
{
	return ccsh_emu_flip(page, nr, false);
}

/*
 * An injected failure: like a platform whose conversion broke off, the
 * model leaves the pages in no known state (lost) and their content gone.
 */
static int ccsh_emu_fail(struct page *page, unsigned int nr, bool share)
{
	unsigned long pfn = page_to_pfn(page);

	if (!ccsh_emu_in_range(pfn, nr))
		return -EIO;
	spin_lock(&ccsh_emu_lock);
	ccsh_emu_log_call(pfn, nr, share, true);
	bitmap_clear(ccsh_emu_shared, pfn, nr);
	bitmap_set(ccsh_emu_lost, pfn, nr);
	spin_unlock(&ccsh_emu_lock);
	ccsh_emu_poison(page, nr);
	return -EIO;
}

static void ccsh_emu_got(struct page *page, unsigned int nr)
{
	unsigned long pfn = page_to_pfn(page);

	if (!ccsh_emu_in_range(pfn, nr))
		return;
	spin_lock(&ccsh_emu_lock);
	bitmap_set(ccsh_emu_held, pfn, nr);
	if (!PageCompound(page))
		bitmap_set(ccsh_emu_tail, pfn + 1, nr - 1);
	spin_unlock(&ccsh_emu_lock);
}

static bool ccsh_emu_may_free(struct page *page, unsigned int nr)
{
	unsigned long pfn = page_to_pfn(page), end = pfn + nr;
	bool busy;

	if (!ccsh_emu_in_range(pfn, nr))
		return true;	/* never converted: the model refused it */
	spin_lock(&ccsh_emu_lock);
	busy = find_next_bit(ccsh_emu_shared, end, pfn) < end ||
	       find_next_bit(ccsh_emu_lost, end, pfn) < end;
	if (!busy) {
		bitmap_clear(ccsh_emu_held, pfn, nr);
		bitmap_clear(ccsh_emu_tail, pfn, nr);
	}
	spin_unlock(&ccsh_emu_lock);
	if (busy)
		ccsh_emu_violation("free of a page that is not private", pfn, nr);
	return !busy;
}

const struct ccsh_backend ccsh_emu_backend = {
	.share = ccsh_emu_share,
	.unshare = ccsh_emu_unshare,
	.fail = ccsh_emu_fail,
	.got = ccsh_emu_got,
	.may_free = ccsh_emu_may_free,
};

static unsigned long ccsh_emu_weight(const unsigned long *map)
{
	unsigned long n;

	spin_lock(&ccsh_emu_lock);
	n = bitmap_weight(map, ccsh_emu_nbits);
	spin_unlock(&ccsh_emu_lock);
	return n;
}

/**
 * ccsh_emu_shared_pages() - pages the model holds as shared
 *
 * Return: the count.
 */
unsigned long ccsh_emu_shared_pages(void)
{
	return ccsh_emu_weight(ccsh_emu_shared);
}

/**
 * ccsh_emu_lost_pages() - pages whose conversion failed
 *
 * Return: the count.
 */
unsigned long ccsh_emu_lost_pages(void)
{
	return ccsh_emu_weight(ccsh_emu_lost);
}

/**
 * ccsh_emu_stray_pages() - pages the heap holds that are neither shared
 * nor lost
 *
 * Outside an allocation in progress, such a page is one the heap forgot
 * to free.
 *
 * Return: the count.
 */
unsigned long ccsh_emu_stray_pages(void)
{
	unsigned long pfn, n = 0;

	spin_lock(&ccsh_emu_lock);
	for_each_set_bit(pfn, ccsh_emu_held, ccsh_emu_nbits)
		n += !test_bit(pfn, ccsh_emu_shared) &&
		     !test_bit(pfn, ccsh_emu_lost);
	spin_unlock(&ccsh_emu_lock);
	return n;
}

/**
 * ccsh_emu_freed_unsafe_pages() - shared or lost pages that were freed
 *
 * A page the model holds as shared or lost must stay allocated. One whose
 * reference count is 0 went back to the page allocator (a page reused
 * since then escapes this count, so it is a lower bound), unless it is
 * part of a larger allocation that is not a compound page, and not its
 * first page: those keep a count of 0 while allocated.
 *
 * Return: the count.
 */
unsigned long ccsh_emu_freed_unsafe_pages(void)
{
	unsigned long pfn, n = 0;

	/* a lost page is never also shared: the model clears one for the other */
	spin_lock(&ccsh_emu_lock);
	for_each_set_bit(pfn, ccsh_emu_shared, ccsh_emu_nbits)
		n += !page_count(pfn_to_page(pfn)) &&
		     !test_bit(pfn, ccsh_emu_tail);
	for_each_set_bit(pfn, ccsh_emu_lost, ccsh_emu_nbits)
		n += !page_count(pfn_to_page(pfn)) &&
		     !test_bit(pfn, ccsh_emu_tail);
	spin_unlock(&ccsh_emu_lock);
	return n;
}

/**
 * ccsh_emu_stale_pages() - pages that held data when they were shared
 *
 * On a platform whose sharing keeps contents, the host could read them.
 *
 * Return: the count since boot.
 */
unsigned long ccsh_emu_stale_pages(void)
{
	return atomic_long_read(&ccsh_emu_stale_cnt);
}

/**
 * ccsh_emu_set_keep_contents() - play a platform whose sharing keeps data
 * @keep: true to keep contents across conversions, false to poison them
 *
 * Return: the mode before.
 */
bool ccsh_emu_set_keep_contents(bool keep)
{
	bool was = READ_ONCE(ccsh_emu_keep_contents);

	WRITE_ONCE(ccsh_emu_keep_contents, keep);
	return was;
}

/**
 * ccsh_emu_violations() - refused requests since boot
 *
 * Return: the count; anything but 0 is a heap bug.
 */
unsigned long ccsh_emu_violations(void)
{
	return atomic_long_read(&ccsh_emu_violations_cnt);
}

/**
 * ccsh_emu_page_shared() - whether the model holds one page as shared
 * @page: the page
 *
 * Return: true if shared.
 */
bool ccsh_emu_page_shared(struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	return pfn < ccsh_emu_nbits && test_bit(pfn, ccsh_emu_shared);
}

/**
 * ccsh_emu_page_lost() - whether a conversion of this page failed
 * @page: the page
 *
 * Return: true if lost.
 */
bool ccsh_emu_page_lost(struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	return pfn < ccsh_emu_nbits && test_bit(pfn, ccsh_emu_lost);
}

/**
 * ccsh_emu_show() - print the model's counters as stats lines
 * @m: the stats file
 */
void ccsh_emu_show(struct seq_file *m)
{
	seq_printf(m, "emu_shared_pages %lu\n", ccsh_emu_shared_pages());
	seq_printf(m, "emu_lost_pages %lu\n", ccsh_emu_lost_pages());
	seq_printf(m, "emu_stray_pages %lu\n", ccsh_emu_stray_pages());
	seq_printf(m, "emu_freed_unsafe_pages %lu\n",
		   ccsh_emu_freed_unsafe_pages());
	seq_printf(m, "emu_violations %lu\n", ccsh_emu_violations());
	seq_printf(m, "emu_stale_shared_pages %lu\n", ccsh_emu_stale_pages());
}

/**
 * ccsh_emu_naive() - whether the heap should behave like the v3 proposal
 *
 * Only the benchmark sets this, through debugfs "naive".
 *
 * Return: true in naive mode.
 */
bool ccsh_emu_naive(void)
{
	return READ_ONCE(ccsh_emu_naive_mode);
}

/**
 * ccsh_emu_log_len() - calls logged since the log was last cleared
 *
 * Return: the count (at most the log's capacity).
 */
unsigned long ccsh_emu_log_len(void)
{
	unsigned long len;

	spin_lock(&ccsh_emu_lock);
	len = ccsh_emu_log_used;
	spin_unlock(&ccsh_emu_lock);
	return len;
}

/**
 * ccsh_emu_log_entry() - read one logged call
 * @i: index, from 0
 * @call: filled in
 *
 * Return: false if there is no such entry.
 */
bool ccsh_emu_log_entry(unsigned long i, struct ccsh_emu_call *call)
{
	bool ok;

	spin_lock(&ccsh_emu_lock);
	ok = i < ccsh_emu_log_used;
	if (ok)
		*call = ccsh_emu_log[i];
	spin_unlock(&ccsh_emu_lock);
	return ok;
}

/**
 * ccsh_emu_log_clear() - empty the call log
 */
void ccsh_emu_log_clear(void)
{
	mutex_lock(&ccsh_emu_log_mutex);
	spin_lock(&ccsh_emu_lock);
	ccsh_emu_log_used = 0;
	ccsh_emu_log_dropped = 0;
	spin_unlock(&ccsh_emu_lock);
	mutex_unlock(&ccsh_emu_log_mutex);
}

/* Entry @pos of the log, the "dropped" line after the last, or NULL. */
static void *ccsh_emu_log_at(loff_t pos)
{
	unsigned long len = ccsh_emu_log_len();

	if (pos < len)
		return &ccsh_emu_log[pos];
	if (pos == len && ccsh_emu_log_dropped)
		return SEQ_START_TOKEN;
	return NULL;
}

static void *ccsh_emu_log_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&ccsh_emu_log_mutex);
	return ccsh_emu_log_at(*pos);
}

static void *ccsh_emu_log_next(struct seq_file *m, void *v, loff_t *pos)
{
	(*pos)++;
	return v == SEQ_START_TOKEN ? NULL : ccsh_emu_log_at(*pos);
}

static void ccsh_emu_log_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&ccsh_emu_log_mutex);
}

static int ccsh_emu_log_show(struct seq_file *m, void *v)
{
	const struct ccsh_emu_call *c = v;

	if (v == SEQ_START_TOKEN)
		seq_printf(m, "dropped %lu\n", ccsh_emu_log_dropped);
	else
		seq_printf(m, "%c %#lx %u%s\n", c->share ? 'S' : 'U', c->pfn,
			   c->nr, c->failed ? " failed" : "");
	return 0;
}

static const struct seq_operations ccsh_emu_log_sops = {
	.start = ccsh_emu_log_start,
	.next = ccsh_emu_log_next,
	.stop = ccsh_emu_log_stop,
	.show = ccsh_emu_log_show,
};

static int ccsh_emu_log_open(struct inode *inode, struct file *file)
{
	return seq_open(file, &ccsh_emu_log_sops);
}

/* Any write clears the log. */
static ssize_t ccsh_emu_log_write(struct file *file, const char __user *buf,
				  size_t len, loff_t *ppos)
{
	ccsh_emu_log_clear();
	return len;
}

static const struct file_operations ccsh_emu_log_fops = {
	.owner = THIS_MODULE,
	.open = ccsh_emu_log_open,
	.read = seq_read,
	.write = ccsh_emu_log_write,
	.llseek = seq_lseek,
	.release = seq_release,
};

/**
 * ccsh_emu_debugfs() - add the call log and the model's switches
 * @dir: the heap's debugfs directory
 */
void ccsh_emu_debugfs(struct dentry *dir)
{
	debugfs_create_file("emu_log", 0600, dir, NULL, &ccsh_emu_log_fops);
	debugfs_create_bool("naive", 0600, dir, &ccsh_emu_naive_mode);
	debugfs_create_bool("emu_keep_contents", 0600, dir,
			    &ccsh_emu_keep_contents);
	debugfs_create_u32("emu_convert_ms_per_mib", 0600, dir,
			   &ccsh_emu_ms_per_mib);
}
