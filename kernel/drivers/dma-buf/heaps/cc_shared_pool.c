// SPDX-License-Identifier: GPL-2.0
/*
 * Pool of already-shared chunks for the system_cc_shared heap.
 *
 * Converting pages is the expensive part of the heap, so chunks of freed
 * buffers stay shared here, up to a limit, and later allocations take
 * them without converting (they are zeroed again by the buffer code).
 * Small chunks are cut from whole large ones (cc_shared_carve.c), which
 * come back here only whole. A
 * pooled chunk belongs to no memory cgroup: it is uncharged when it enters
 * the pool and charged to the allocating task when it leaves, with the
 * same allocation flags as a new chunk of its order, so that a cgroup at
 * its limit fails the same way whether the chunk is pooled or new (never
 * through the cgroup's OOM killer). A shrinker
 * converts pooled chunks back to private and frees them under memory
 * pressure, largest first and one physically contiguous run per call; a
 * run whose conversion fails there is leaked like anywhere else. The
 * limit bounds everything the heap keeps shared in no buffer: the pool,
 * and the unused pages of blocks small chunks are cut from
 * (cc_shared_carve.c), which the shrinker cannot take. Every
 * take and put is traced (cc_shared_trace.h); the shrinker's conversions
 * show as conversion events.
 *
 * Its tunables are module parameters, which stay writable under kernel
 * lockdown (debugfs does not): cc_shared_heap.pool_limit, the most bytes
 * it keeps (K/M/G suffixes; 0 disables it; a write returns at once and
 * the pool shrinks to it in the background, since the parameter lock of
 * every built-in parameter is held while the write runs), and
 * cc_shared_heap.prefill,
 * bytes shared into it in the background at start-up, so that the first
 * allocations convert nothing.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/debugfs.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include "cc_shared_heap.h"
#include "cc_shared_trace.h"

/* one list per entry of ccsh_orders, largest chunks first */
static DEFINE_SPINLOCK(ccsh_pool_lock);
static struct list_head ccsh_pool_lists[CCSH_NR_ORDERS];

static unsigned long ccsh_pool_pages;	/* under ccsh_pool_lock */
/* shared pages of open blocks in no buffer; under ccsh_pool_lock */
static unsigned long ccsh_carved_free;
static u64 ccsh_pool_limit = U64_MAX;	/* bytes; set at init */
static struct shrinker *ccsh_pool_shrinker;
static void ccsh_pool_trim_fn(struct work_struct *work);
static DECLARE_WORK(ccsh_pool_trim_work, ccsh_pool_trim_fn);

/* the module parameters; the pool exists only while ccsh_pool_up */
static DEFINE_MUTEX(ccsh_param_lock);	/* ccsh_pool_up, ccsh_limit_asked */
static bool ccsh_pool_up;
static u64 ccsh_limit_asked = U64_MAX;	/* U64_MAX: the default */
static u64 ccsh_prefill_bytes;
static void ccsh_prefill(struct work_struct *work);
static DECLARE_WORK(ccsh_prefill_work, ccsh_prefill);

/*
 * pooled_bytes follows ccsh_pool_pages + ccsh_carved_free, changed only
 * under ccsh_pool_lock together with them: it never reads negative.
 */
static void ccsh_pooled_change(long pages)
{
	lockdep_assert_held(&ccsh_pool_lock);
	atomic64_add((s64)pages * PAGE_SIZE, &ccsh_stats.pooled_bytes);
}

/* Whether @pages more shared pages in no buffer fit the limit. */
static bool ccsh_pool_fits(unsigned long pages)
{
	lockdep_assert_held(&ccsh_pool_lock);
	return (u64)(ccsh_pool_pages + ccsh_carved_free + pages) <=
	       ccsh_pool_limit >> PAGE_SHIFT;
}

/* The first chunk of list @slot, out of the pool, or NULL. */
static struct page *ccsh_pool_remove(int slot, unsigned int order)
{
	struct page *page;

	spin_lock(&ccsh_pool_lock);
	page = list_first_entry_or_null(&ccsh_pool_lists[slot], struct page, lru);
	if (page) {
		list_del(&page->lru);
		ccsh_pool_pages -= 1UL << order;
		ccsh_pooled_change(-(1L << order));
	}
	spin_unlock(&ccsh_pool_lock);
	return page;
}

/**
 * ccsh_pool_take_block() - take a whole large chunk to cut pieces from
 *
 * The chunk stays in no memory cgroup: its pieces are charged one by one
 * (cc_shared_carve.c), which counts the hit once a piece is charged.
 * Traced as any take.
 *
 * Return: the chunk's first page, or NULL when the pool has none.
 */
struct page *ccsh_pool_take_block(void)
{
	struct page *page = NULL;

	if (ccsh_memcg_may_take())
		page = ccsh_pool_remove(ccsh_order_index(CCSH_LARGE_ORDER),
					CCSH_LARGE_ORDER);
	trace_ccsh_pool_take(CCSH_LARGE_ORDER, page);
	return page;
}

/**
 * ccsh_pool_take() - take a shared chunk of @order out of the pool
 * @order: chunk order
 * @gfp: the flags a new chunk of @order would be allocated with
 *
 * The chunk is charged to the current task's memory cgroup with @gfp's
 * reclaim policy; if that fails, the chunk goes back to the pool (traced
 * as a put, then as a miss).
 *
 * Return: the chunk's first page, or NULL when none of that order is
 * pooled (or the charge failed).
 */
struct page *ccsh_pool_take(unsigned int order, gfp_t gfp)
{
	int slot = ccsh_order_index(order);
	struct page *page = NULL;

	if (slot >= 0 && ccsh_memcg_may_take())
		page = ccsh_pool_remove(slot, order);
	if (page && ccsh_memcg_charge(page, gfp, order)) {
		/* over the cgroup's limit: put it back (or convert and free) */
		if (!ccsh_pool_put(page, order) && !ccsh_unshare(page, 1U << order))
			ccsh_free_private(page, order);
		page = NULL;
	}
	if (page)
		atomic64_inc(&ccsh_stats.pool_hits);
	trace_ccsh_pool_take(order, page);
	return page;
}

/* List the chunk in @slot if the limit allows; whether it did. */
static bool ccsh_pool_add(struct page *page, unsigned int order, int slot)
{
	bool taken = false;

	spin_lock(&ccsh_pool_lock);
	if (ccsh_pool_fits(1UL << order)) {
		ccsh_chunk_set(page, order, 0);
		list_add(&page->lru, &ccsh_pool_lists[slot]);
		ccsh_pool_pages += 1UL << order;
		ccsh_pooled_change(1L << order);
		taken = true;
	}
	spin_unlock(&ccsh_pool_lock);
	return taken;
}

/**
 * ccsh_pool_put() - keep a shared chunk in the pool if there is room
 * @page: first page of the chunk
 * @order: chunk order
 *
 * The chunk is uncharged from its memory cgroup either way.
 *
 * Return: true if the pool took the chunk; false if it is full, and the
 * caller must dispose of the chunk itself.
 */
bool ccsh_pool_put(struct page *page, unsigned int order)
{
	int slot = ccsh_order_index(order);
	bool taken = false;

	/*
	 * Uncharge before the chunk becomes visible: once listed, another
	 * task may take it and charge it to its own cgroup. A chunk the pool
	 * then refuses is about to be freed, so its charge goes either way.
	 * Where the charge cannot be dropped (the module), the chunk stays
	 * out of the pool.
	 */
	if (slot >= 0 && ccsh_memcg_uncharge(page, order))
		taken = ccsh_pool_add(page, order, slot);
	trace_ccsh_pool_put(page, order, taken);
	return taken;
}

/* Move up to @pages worth of chunks (at least one) from the pool to @out. */
static unsigned long ccsh_pool_detach(struct list_head *out, unsigned long pages)
{
	unsigned long got = 0;
	int slot;

	spin_lock(&ccsh_pool_lock);
	for (slot = 0; slot < CCSH_NR_ORDERS && got < pages; slot++) {
		struct page *page, *tmp;

		list_for_each_entry_safe(page, tmp, &ccsh_pool_lists[slot], lru) {
			if (got >= pages)
				break;
			list_move_tail(&page->lru, out);
			got += 1UL << ccsh_chunk_order(page);
		}
	}
	ccsh_pool_pages -= got;
	ccsh_pooled_change(-(long)got);
	spin_unlock(&ccsh_pool_lock);
	return got;
}

/**
 * ccsh_pool_shrink() - give up to @pages pooled pages back to private
 * @pages: how many pages to release; ULONG_MAX for all
 *
 * Return: pages taken out of the pool (leaked ones included).
 */
unsigned long ccsh_pool_shrink(unsigned long pages)
{
	LIST_HEAD(chunks);
	unsigned long got = ccsh_pool_detach(&chunks, pages);

	ccsh_unshare_chunks(&chunks, true);
	return got;
}

/**
 * ccsh_pool_trim() - shrink the pool until the heap's holdings fit the limit
 *
 * What the pool and the unused pages of open blocks hold together must fit
 * the limit; only the pool can give pages back for it.
 */
void ccsh_pool_trim(void)
{
	unsigned long held, limit, excess = 0;

	/* the common case, read without the lock: nothing over the limit */
	if ((u64)READ_ONCE(ccsh_pool_pages) + READ_ONCE(ccsh_carved_free) <=
	    READ_ONCE(ccsh_pool_limit) >> PAGE_SHIFT)
		return;
	spin_lock(&ccsh_pool_lock);
	held = ccsh_pool_pages + ccsh_carved_free;
	limit = min_t(u64, ccsh_pool_limit >> PAGE_SHIFT, ULONG_MAX);
	if (held > limit)
		excess = min(ccsh_pool_pages, held - limit);
	spin_unlock(&ccsh_pool_lock);
	if (excess)
		ccsh_pool_shrink(excess);
}

static void ccsh_pool_trim_fn(struct work_struct *work)
{
	ccsh_pool_trim();
}

/* Set the bound; whether the pool must shrink to meet it. */
static void ccsh_pool_store_limit(u64 bytes)
{
	if (!ccsh_pool_shrinker)
		bytes = 0;	/* no pool that nothing could shrink */
	spin_lock(&ccsh_pool_lock);
	ccsh_pool_limit = bytes;
	spin_unlock(&ccsh_pool_lock);
}

/**
 * ccsh_pool_set_limit() - bound the pool, shrinking it to fit
 * @bytes: most bytes the pool and the unused pages of open blocks may
 *	hold; 0 disables both
 *
 * Returns once the pool fits, which may take as long as converting the
 * excess back to private.
 */
void ccsh_pool_set_limit(u64 bytes)
{
	ccsh_pool_store_limit(bytes);
	ccsh_pool_trim();
}

/**
 * ccsh_pool_carve_reserve() - account unused pages of a block being opened
 * @pages: its pages that the first piece leaves unused
 * @pooled: the block comes whole from the pool, whose pages it held
 *	already: always accounted
 *
 * Return: whether the limit has room for a new block's unused pages.
 */
bool ccsh_pool_carve_reserve(unsigned long pages, bool pooled)
{
	bool room;

	spin_lock(&ccsh_pool_lock);
	room = pooled || ccsh_pool_fits(pages);
	if (room) {
		ccsh_carved_free += pages;
		ccsh_pooled_change(pages);
	}
	spin_unlock(&ccsh_pool_lock);
	return room;
}

/**
 * ccsh_pool_carve_release() - unused pages of a block are in no longer
 * @pages: pages cut for a buffer, or the rest of a block that closes
 */
void ccsh_pool_carve_release(unsigned long pages)
{
	spin_lock(&ccsh_pool_lock);
	ccsh_carved_free -= pages;
	ccsh_pooled_change(-(long)pages);
	spin_unlock(&ccsh_pool_lock);
}

/**
 * ccsh_pool_carve_return() - account a piece back in its open block
 * @pages: the piece's pages
 *
 * The piece is accounted while the open blocks' unused pages alone fit
 * the limit; the pool then shrinks to make room if it must.
 *
 * Return: false when they would not fit even with the pool empty: the
 * piece is not accounted and the caller gives it back to private.
 */
bool ccsh_pool_carve_return(unsigned long pages)
{
	bool keep, trim;

	spin_lock(&ccsh_pool_lock);
	keep = (u64)(ccsh_carved_free + pages) <= ccsh_pool_limit >> PAGE_SHIFT;
	if (keep) {
		ccsh_carved_free += pages;
		ccsh_pooled_change(pages);
	}
	trim = keep && !ccsh_pool_fits(0);
	spin_unlock(&ccsh_pool_lock);
	if (trim)
		ccsh_pool_trim();
	return keep;
}

/**
 * ccsh_pool_whole_bytes() - bytes of whole chunks in the pool
 *
 * Unlike pooled_bytes, without the unused pages of open blocks, which
 * only small chunks can use.
 *
 * Return: bytes.
 */
unsigned long ccsh_pool_whole_bytes(void)
{
	return READ_ONCE(ccsh_pool_pages) << PAGE_SHIFT;
}

/**
 * ccsh_pool_get_limit() - the pool's bound
 *
 * Return: bytes.
 */
u64 ccsh_pool_get_limit(void)
{
	return READ_ONCE(ccsh_pool_limit);
}

static unsigned long ccsh_pool_count(struct shrinker *s,
				     struct shrink_control *sc)
{
	return READ_ONCE(ccsh_pool_pages) ?: SHRINK_EMPTY;
}

static unsigned long ccsh_pool_scan(struct shrinker *s,
				    struct shrink_control *sc)
{
	/* converting may sleep and allocate page tables */
	if (!(sc->gfp_mask & __GFP_DIRECT_RECLAIM) && !current_is_kswapd())
		return SHRINK_STOP;
	return ccsh_pool_shrink(sc->nr_to_scan) ?: SHRINK_STOP;
}

/* A size in bytes with an optional K/M/G suffix, and nothing else. */
static int ccsh_parse_bytes(const char *val, u64 *bytes)
{
	char *end;

	*bytes = memparse(val, &end);
	if (end == val || (*end && strcmp(end, "\n")))
		return -EINVAL;
	return 0;
}

static int ccsh_param_limit_set(const char *val, const struct kernel_param *kp)
{
	u64 bytes;
	int ret = ccsh_parse_bytes(val, &bytes);

	if (ret)
		return ret;
	mutex_lock(&ccsh_param_lock);
	ccsh_limit_asked = bytes;
	if (ccsh_pool_up) {
		/* this runs under the lock of every built-in parameter */
		ccsh_pool_store_limit(bytes);
		queue_work(system_unbound_wq, &ccsh_pool_trim_work);
	}
	mutex_unlock(&ccsh_param_lock);
	return 0;
}

static int ccsh_param_limit_get(char *buf, const struct kernel_param *kp)
{
	u64 bytes;

	mutex_lock(&ccsh_param_lock);
	bytes = ccsh_pool_up ? ccsh_pool_get_limit() :
		ccsh_limit_asked == U64_MAX ? 0 : ccsh_limit_asked;
	mutex_unlock(&ccsh_param_lock);
	return sysfs_emit(buf, "%llu\n", bytes);
}

static const struct kernel_param_ops ccsh_param_limit_ops = {
	.set = ccsh_param_limit_set,
	.get = ccsh_param_limit_get,
};
module_param_cb(pool_limit, &ccsh_param_limit_ops, NULL, 0644);
MODULE_PARM_DESC(pool_limit,
		 "Most bytes the pool keeps shared (K/M/G suffixes; 0: no pool; default 1/16 of RAM)");

static int ccsh_param_prefill_set(const char *val, const struct kernel_param *kp)
{
	return ccsh_parse_bytes(val, &ccsh_prefill_bytes);
}

static int ccsh_param_prefill_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%llu\n", ccsh_prefill_bytes);
}

static const struct kernel_param_ops ccsh_param_prefill_ops = {
	.set = ccsh_param_prefill_set,
	.get = ccsh_param_prefill_get,
};
module_param_cb(prefill, &ccsh_param_prefill_ops, NULL, 0444);
MODULE_PARM_DESC(prefill,
		 "Bytes to share into the pool at start-up, in the background (K/M/G)");

/*
 * Prefill: a buffer of the asked size, made as any other and freed at once,
 * leaves its chunks in the pool (2 MiB blocks first). Never more than the
 * pool keeps or the machine can spare.
 */
static void ccsh_prefill(struct work_struct *work)
{
	u64 want = min3(ccsh_prefill_bytes, ccsh_pool_get_limit(),
			(u64)ccsh_spare_bytes());
	unsigned long len = PAGE_ALIGN_DOWN(want);
	struct ccsh_pages p;
	int ret;

	if (!len)
		return;
	ret = ccsh_pages_alloc(&p, len);
	if (ret) {
		pr_warn("prefilling the pool with %lu bytes failed: %d\n", len, ret);
		return;
	}
	ccsh_pages_release(&p);
	pr_info("pool prefilled: %lld bytes\n",
		(long long)atomic64_read(&ccsh_stats.pooled_bytes));
}

static int ccsh_pool_limit_get(void *data, u64 *val)
{
	*val = ccsh_pool_get_limit();
	return 0;
}

static int ccsh_pool_limit_set(void *data, u64 val)
{
	ccsh_pool_set_limit(val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(ccsh_pool_limit_fops, ccsh_pool_limit_get,
			 ccsh_pool_limit_set, "%llu\n");

static int ccsh_pool_drain_set(void *data, u64 val)
{
	ccsh_pool_shrink(ULONG_MAX);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(ccsh_pool_drain_fops, NULL, ccsh_pool_drain_set,
			 "%llu\n");

/**
 * ccsh_pool_debugfs() - add pool_limit_bytes and pool_drain
 * @dir: the heap's debugfs directory
 */
void ccsh_pool_debugfs(struct dentry *dir)
{
	debugfs_create_file_unsafe("pool_limit_bytes", 0600, dir, NULL,
				   &ccsh_pool_limit_fops);
	debugfs_create_file_unsafe("pool_drain", 0200, dir, NULL,
				   &ccsh_pool_drain_fops);
}

#ifndef ccsh_shrinker_register
/* Registration cannot fail where the shrinker is allocated first. */
static inline int ccsh_shrinker_register(struct shrinker *s)
{
	shrinker_register(s);
	return 0;
}
#endif

/* The pool's shrinker, allocated and registered; false without one. */
static bool ccsh_pool_shrinker_up(void)
{
	struct shrinker *s = shrinker_alloc(0, "cc_shared_heap-pool");

	if (!s)
		return false;
	s->count_objects = ccsh_pool_count;
	s->scan_objects = ccsh_pool_scan;
	s->seeks = DEFAULT_SEEKS;
	if (ccsh_shrinker_register(s)) {
		shrinker_free(s);
		return false;
	}
	ccsh_pool_shrinker = s;
	return true;
}

/**
 * ccsh_pool_init() - set the default bound and register the shrinker
 *
 * The default bound is 1/16 of RAM, or cc_shared_heap.pool_limit. Without
 * a shrinker the pool is disabled, whatever the parameter asks, rather
 * than left unbounded under memory pressure. A prefill asked for starts
 * in the background.
 */
void ccsh_pool_init(void)
{
	int i;

	for (i = 0; i < CCSH_NR_ORDERS; i++)
		INIT_LIST_HEAD(&ccsh_pool_lists[i]);
	ccsh_pool_limit = ((u64)totalram_pages() << PAGE_SHIFT) / 16;
	if (!ccsh_pool_shrinker_up()) {
		pr_warn("no shrinker: pool disabled\n");
		ccsh_pool_limit = 0;
	}
	mutex_lock(&ccsh_param_lock);
	if (ccsh_limit_asked != U64_MAX)
		ccsh_pool_set_limit(ccsh_limit_asked);
	ccsh_pool_up = true;
	mutex_unlock(&ccsh_param_lock);
	/* in the background: start-up never waits for conversions */
	if (ccsh_prefill_bytes && ccsh_pool_get_limit())
		queue_work(system_unbound_wq, &ccsh_prefill_work);
}

/**
 * ccsh_pool_exit() - unregister the shrinker and empty the pool
 */
void ccsh_pool_exit(void)
{
	mutex_lock(&ccsh_param_lock);
	ccsh_pool_up = false;
	mutex_unlock(&ccsh_param_lock);
	cancel_work_sync(&ccsh_prefill_work);
	cancel_work_sync(&ccsh_pool_trim_work);
	shrinker_free(ccsh_pool_shrinker);
	ccsh_pool_shrinker = NULL;
	ccsh_pool_set_limit(0);
}
