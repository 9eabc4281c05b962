// SPDX-License-Identifier: GPL-2.0
/*
 * Pages of a system_cc_shared buffer.
 *
 * A buffer is a table of chunks: PMD-sized blocks (2 MiB with 4 KiB pages)
 * where the page allocator has them (a whole direct-map large page, so
 * converting it splits nothing), then 64 KiB, then single pages. Chunks
 * come from the pool of already-shared chunks first; the smaller ones are
 * cut from blocks shared whole (cc_shared_carve.c). Only when no block can
 * be had are chunks allocated private one by one; those, and new blocks,
 * are sorted by physical address and converted to shared one physically
 * contiguous run per call, runs of at most CCSH_RUN_MAX_PAGES. Only then
 * is every chunk zeroed, once, through the shared mapping: on some
 * platforms content written while a page was private does not survive the
 * conversion, and a pooled chunk still holds its previous user's data. A
 * new chunk is clean before it is shared as well (ccsh_alloc_private()):
 * on others (pKVM, s390 PV) sharing hands the host the page as it is.
 *
 * Releasing a buffer gives its pieces back to their blocks and its other
 * chunks to the pool while it has room, and converts the rest back to
 * private, again one contiguous run per call, before freeing them. A run
 * whose conversion fails, in either direction, is leaked by the
 * conversion seam and never touched again here.
 *
 * While the heap owns a chunk, its order and state are kept in the private
 * field of its first page (ccsh_chunk_set()).
 */
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/list_sort.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>

#include "cc_shared_heap.h"

/* a chunk's state; a piece is shared and cut from a block */
enum { CCSH_PRIVATE, CCSH_SHARED, CCSH_LOST, CCSH_PIECE };

/**
 * struct ccsh_policy - how a buffer's chunks are obtained and converted
 * @orders: chunk orders, largest first
 * @nr_orders: entries in @orders
 * @pool: take chunks from and give them back to the pool
 * @merge: convert physically contiguous chunks in a single call
 * @zero_private: zero at allocation while private instead of after sharing
 */
struct ccsh_policy {
	const unsigned int *orders;
	unsigned int nr_orders;
	bool pool;
	bool merge;
	bool zero_private;
};

const unsigned int ccsh_orders[CCSH_NR_ORDERS] = {
	CCSH_LARGE_ORDER, CCSH_MID_ORDER, 0
};

static_assert(CCSH_LARGE_ORDER > CCSH_MID_ORDER);

/**
 * ccsh_order_index() - where @order stands in ccsh_orders
 * @order: a chunk order
 *
 * Return: the index, or -1 for an order the heap does not use.
 */
int ccsh_order_index(unsigned int order)
{
	int i;

	for (i = 0; i < CCSH_NR_ORDERS; i++)
		if (ccsh_orders[i] == order)
			return i;
	return -1;
}

static const struct ccsh_policy ccsh_policy = {
	.orders = ccsh_orders,
	.nr_orders = ARRAY_SIZE(ccsh_orders),
	.pool = true,
	.merge = true,
};

#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
/* The earlier v3 proposal, kept only to be measured against: see bench. */
static const unsigned int ccsh_naive_orders[] = { 8, 4, 0 };

static const struct ccsh_policy ccsh_naive_policy = {
	.orders = ccsh_naive_orders,
	.nr_orders = ARRAY_SIZE(ccsh_naive_orders),
	.zero_private = true,
};
#endif

static const struct ccsh_policy *ccsh_choose_policy(void)
{
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	if (ccsh_emu_naive())
		return &ccsh_naive_policy;
#endif
	return &ccsh_policy;
}

static gfp_t ccsh_gfp(const struct ccsh_policy *pol, unsigned int order)
{
	gfp_t zero = pol->zero_private ? __GFP_ZERO : 0;

	/* large chunks are opportunistic: no reclaim, no retries, no noise */
	if (order)
		return (GFP_KERNEL_ACCOUNT | __GFP_NOWARN |
			__GFP_NORETRY | zero) & ~__GFP_RECLAIM;
	/* single pages may reclaim, but fail rather than invoke the OOM killer */
	return GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL | zero;
}

/**
 * ccsh_chunk_gfp() - the flags a new chunk of @order is allocated with
 * @order: chunk order
 *
 * Return: the flags; a pooled chunk is charged to its taker with them.
 */
gfp_t ccsh_chunk_gfp(unsigned int order)
{
	return ccsh_gfp(&ccsh_policy, order);
}

static unsigned int ccsh_state(struct scatterlist *sg)
{
	return ccsh_chunk_state(sg_page(sg));
}

static void ccsh_set_state(struct page *page, unsigned int state)
{
	ccsh_chunk_set(page, ccsh_chunk_order(page), state);
}

/* A pooled chunk of any size that fits: it needs no conversion. */
static struct page *ccsh_pooled_chunk(const struct ccsh_policy *pol,
				      unsigned long left, unsigned int idx)
{
	struct page *page;

	for (; pol->pool && idx < pol->nr_orders; idx++) {
		if (left < (PAGE_SIZE << pol->orders[idx]))
			continue;
		page = ccsh_pool_take(pol->orders[idx],
				      ccsh_gfp(pol, pol->orders[idx]));
		if (page) {
			ccsh_chunk_set(page, pol->orders[idx], CCSH_SHARED);
			return page;
		}
	}
	return NULL;
}

/* The largest piece of a shared block that fits in @left; may be ERR_PTR. */
static struct page *ccsh_piece(const struct ccsh_policy *pol,
			       unsigned long left, unsigned int idx)
{
	unsigned int order;
	struct page *page;

	for (; pol->pool && idx < pol->nr_orders; idx++) {
		order = pol->orders[idx];
		if (left < (PAGE_SIZE << order))
			continue;
		page = ccsh_carve_take(order, ccsh_gfp(pol, order));
		if (page && !IS_ERR(page))
			ccsh_chunk_set(page, order, CCSH_PIECE);
		return page;
	}
	return NULL;
}

/*
 * The largest chunk that fits in @left: from the pool if it has one, else
 * cut from a shared block, else new, never larger than the last new one
 * that could be had. NULL when memory is short, or ERR_PTR of the -errno
 * of a block's failed conversion.
 */
static struct page *ccsh_get_chunk(const struct ccsh_policy *pol,
				   unsigned long left, unsigned int *idx)
{
	struct page *page = ccsh_pooled_chunk(pol, left, *idx);
	unsigned int i, order;

	if (!page && left < (PAGE_SIZE << CCSH_LARGE_ORDER))
		page = ccsh_piece(pol, left, *idx);
	if (page)
		return page;
	for (i = *idx; i < pol->nr_orders; i++) {
		order = pol->orders[i];
		if (left < (PAGE_SIZE << order))
			continue;
		page = ccsh_alloc_private(ccsh_gfp(pol, order), order);
		if (page) {
			if (pol->pool)
				atomic64_inc(&ccsh_stats.pool_misses);
			ccsh_chunk_set(page, order, CCSH_PRIVATE);
			*idx = i;
			return page;
		}
	}
	return NULL;
}

static int ccsh_by_pfn(void *priv, const struct list_head *a,
		       const struct list_head *b)
{
	unsigned long pa = page_to_pfn(list_entry(a, struct page, lru));
	unsigned long pb = page_to_pfn(list_entry(b, struct page, lru));

	return pa < pb ? -1 : pa > pb;
}

/**
 * ccsh_unshare_chunks() - convert shared chunks back to private, free them
 * @chunks: the chunks, linked through page->lru, each with its order in
 *	its first page (ccsh_chunk_order()); emptied
 * @merge: convert physically contiguous chunks in a single call
 *
 * A run whose conversion fails is leaked (by the conversion seam).
 */
void ccsh_unshare_chunks(struct list_head *chunks, bool merge)
{
	struct page *first, *last, *next, *page, *tmp;
	unsigned int pages;
	LIST_HEAD(run);
	int ret;

	if (merge)
		list_sort(NULL, chunks, ccsh_by_pfn);
	while (!list_empty(chunks)) {
		first = list_first_entry(chunks, struct page, lru);
		last = first;
		pages = 1U << ccsh_chunk_order(first);
		while (merge && !list_is_last(&last->lru, chunks)) {
			next = list_next_entry(last, lru);
			if (page_to_pfn(next) != page_to_pfn(first) + pages ||
			    pages + (1UL << ccsh_chunk_order(next)) >
			    CCSH_RUN_MAX_PAGES)
				break;
			pages += 1U << ccsh_chunk_order(next);
			last = next;
		}
		list_cut_position(&run, chunks, &last->lru);
		ret = ccsh_unshare(first, pages);
		list_for_each_entry_safe(page, tmp, &run, lru) {
			list_del(&page->lru);
			if (!ret)
				ccsh_free_private(page, ccsh_chunk_order(page));
		}
		cond_resched();
	}
}

/* Chunks for @len bytes onto @chunks, counted in @nents. */
static int ccsh_gather(const struct ccsh_policy *pol, struct list_head *chunks,
		       unsigned long len, unsigned int *nents)
{
	unsigned int idx = 0;
	struct page *page;

	while (len) {
		if (fatal_signal_pending(current))
			return -EINTR;
		page = ccsh_get_chunk(pol, len, &idx);
		if (IS_ERR_OR_NULL(page))
			return page ? PTR_ERR(page) : -ENOMEM;
		list_add_tail(&page->lru, chunks);
		len -= PAGE_SIZE << ccsh_chunk_order(page);
		(*nents)++;
	}
	if (pol->merge)
		list_sort(NULL, chunks, ccsh_by_pfn);
	return 0;
}

/*
 * Entries from @sg on that are private and, when merging, physically
 * contiguous, up to CCSH_RUN_MAX_PAGES. Their page count goes to @pages.
 */
static unsigned int ccsh_private_run(const struct ccsh_policy *pol,
				     struct scatterlist *sg,
				     unsigned int *pages)
{
	unsigned long next_pfn = page_to_pfn(sg_page(sg));
	unsigned int n = 0, len;

	*pages = 0;
	for (; sg && ccsh_state(sg) == CCSH_PRIVATE; sg = sg_next(sg)) {
		len = sg->length >> PAGE_SHIFT;
		if (n && (!pol->merge || page_to_pfn(sg_page(sg)) != next_pfn ||
			  *pages + len > CCSH_RUN_MAX_PAGES))
			break;
		next_pfn += len;
		*pages += len;
		n++;
	}
	return n;
}

static struct scatterlist *ccsh_mark_run(struct scatterlist *sg,
					 unsigned int n, unsigned long state)
{
	for (; n; n--, sg = sg_next(sg))
		ccsh_set_state(sg_page(sg), state);
	return sg;
}

/*
 * Convert the private chunks of @sgt to shared, run by run.
 *
 * A run is capped at CCSH_RUN_MAX_PAGES (16 MiB): a conversion cannot be
 * preempted, and on TDX its cost grows with every page (a cache flush,
 * and an accept of about 10 µs per 4 KiB on the way back), so a run of
 * hundreds of MiB would hold the CPU for seconds. 16 MiB stays in the tens
 * of milliseconds there, while the fixed cost of a call (TLB-flush IPIs,
 * one hypercall) is paid only 64 times per GiB. The cap is a multiple of
 * the large chunk and runs are cut only between chunks, so no aligned
 * 2 MiB block is ever converted in two parts.
 */
static int ccsh_share_table(const struct ccsh_policy *pol, struct sg_table *sgt)
{
	struct scatterlist *sg = sgt->sgl;
	unsigned int n, pages;
	int ret;

	while (sg) {
		n = ccsh_private_run(pol, sg, &pages);
		if (!n) {
			sg = sg_next(sg);
			continue;
		}
		ret = ccsh_share(sg_page(sg), pages);
		sg = ccsh_mark_run(sg, n, ret ? CCSH_LOST : CCSH_SHARED);
		if (ret)
			return ret;
		if (sg && fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/* Forget entry @sg: its chunk is no longer the buffer's. */
static void ccsh_drop(struct scatterlist *sg)
{
	sg->length = 0;
}

/* Free private chunks; pool shared ones while the pool takes them. */
static void ccsh_dispose_easy(const struct ccsh_policy *pol,
			      struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		struct page *page = sg_page(sg);
		unsigned int order = get_order(sg->length);

		if (ccsh_state(sg) == CCSH_PRIVATE) {
			ccsh_free_private(page, order);
			ccsh_drop(sg);
		} else if (ccsh_state(sg) == CCSH_PIECE) {
			ccsh_carve_put(page, order);
			ccsh_drop(sg);
		} else if (ccsh_state(sg) == CCSH_SHARED && pol->pool &&
			   ccsh_pool_put(page, order)) {
			ccsh_drop(sg);
		}
	}
}

/* Convert the remaining shared chunks back, run by run, and free them. */
static void ccsh_dispose_shared(const struct ccsh_policy *pol,
				struct sg_table *sgt)
{
	struct scatterlist *sg;
	LIST_HEAD(chunks);
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		if (sg->length && ccsh_state(sg) == CCSH_SHARED) {
			list_add_tail(&sg_page(sg)->lru, &chunks);
			ccsh_drop(sg);
		}
	}
	ccsh_unshare_chunks(&chunks, pol->merge);
}

static void ccsh_dispose(const struct ccsh_policy *pol, struct sg_table *sgt)
{
	ccsh_dispose_easy(pol, sgt);
	ccsh_dispose_shared(pol, sgt);
	sg_free_table(sgt);
}

/* Dispose of chunks that never made it into a table. */
static void ccsh_dispose_list(struct list_head *chunks)
{
	struct page *page, *tmp;
	LIST_HEAD(shared);

	list_for_each_entry_safe(page, tmp, chunks, lru) {
		unsigned int order = ccsh_chunk_order(page);

		list_del(&page->lru);
		if (ccsh_chunk_state(page) == CCSH_PIECE)
			ccsh_carve_put(page, order);
		else if (ccsh_chunk_state(page) != CCSH_SHARED)
			ccsh_free_private(page, order);
		else if (!ccsh_pool_put(page, order))
			list_add_tail(&page->lru, &shared);
	}
	ccsh_unshare_chunks(&shared, true);
}

/*
 * Clear once, through the shared mapping, after the conversion. A fatal
 * signal stops it between chunks: zeroing a GiB takes long enough for a
 * killed task to notice.
 */
static int ccsh_zero_table(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		void *va = page_address(sg_page(sg));
		unsigned int off;

		if (fatal_signal_pending(current))
			return -EINTR;
		/* the architecture's fastest way to clear memory it maps */
		for (off = 0; off < sg->length; off += PAGE_SIZE)
			clear_page(va + off);
		cond_resched();
	}
	return 0;
}

static void ccsh_fill_table(struct sg_table *sgt, struct list_head *chunks)
{
	struct scatterlist *sg = sgt->sgl;
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, chunks, lru) {
		list_del(&page->lru);
		sg_set_page(sg, page, PAGE_SIZE << ccsh_chunk_order(page), 0);
		sg = sg_next(sg);
	}
}

/**
 * ccsh_pages_share() - share a table of private chunks and zero them
 * @p: @p->sgt holds chunks the heap owns, each private or already shared
 *	(from the pool), state and order set by ccsh_chunk_set();
 *	@p->policy NULL for the current policy
 *
 * Private chunks are converted one physically contiguous run per call.
 * On failure the failed run is leaked, everything else is disposed of and
 * the table freed.
 *
 * Return: 0, -EINTR on a fatal signal between runs or while zeroing, or
 * the conversion's -errno.
 */
int ccsh_pages_share(struct ccsh_pages *p)
{
	int ret;

	if (!p->policy)
		p->policy = ccsh_choose_policy();
	ret = ccsh_share_table(p->policy, &p->sgt);
	if (!ret && !p->policy->zero_private)
		ret = ccsh_zero_table(&p->sgt);
	if (ret)
		ccsh_dispose(p->policy, &p->sgt);
	return ret;
}

/**
 * ccsh_pages_alloc() - get, share and zero the pages of a buffer
 * @p: filled in: the table, one entry per physically contiguous chunk
 * @len: bytes, a multiple of PAGE_SIZE
 *
 * On failure nothing is left allocated or shared outside the pool, except
 * runs whose conversion failed, which are leaked and counted.
 *
 * Return: 0, -EINTR on a fatal signal, -ENOMEM, or the conversion's -errno.
 */
int ccsh_pages_alloc(struct ccsh_pages *p, unsigned long len)
{
	const struct ccsh_policy *pol = ccsh_choose_policy();
	unsigned int nents = 0;
	LIST_HEAD(chunks);
	int ret;

	p->policy = pol;
	ret = ccsh_gather(pol, &chunks, len, &nents);
	if (!ret)
		ret = sg_alloc_table(&p->sgt, nents, GFP_KERNEL);
	if (ret) {
		ccsh_dispose_list(&chunks);
		return ret;
	}
	ccsh_fill_table(&p->sgt, &chunks);
	return ccsh_pages_share(p);
}

/**
 * ccsh_pages_release() - pool or convert back a buffer's pages, free them
 * @p: pages filled by ccsh_pages_alloc()
 *
 * Runs that fail to convert back are leaked and counted, never freed.
 */
void ccsh_pages_release(struct ccsh_pages *p)
{
	ccsh_dispose(p->policy, &p->sgt);
}
