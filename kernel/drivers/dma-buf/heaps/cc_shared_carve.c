// SPDX-License-Identifier: GPL-2.0
/*
 * Small chunks of the system_cc_shared heap, cut from whole shared blocks.
 *
 * Converting part of a PMD-sized block splits the direct map's large page
 * that covers it, and a conversion call costs about the same for one page
 * as for a whole block. So a chunk smaller than a block (64 KiB or 4 KiB)
 * is cut from a block that was converted whole: one taken whole from the
 * pool, or else allocated private and shared in a single call. A block
 * leaves only whole: when the last of its pieces comes back, it goes to
 * the pool as a large chunk, or, when the pool has no room, back to
 * private and to the page allocator in one call.
 *
 * Blocks are allocated without a memory cgroup and are not compound
 * pages, so that each piece can be charged on its own: to the task that
 * takes it, with the flags a new chunk of its order would be allocated
 * with, and uncharged when it comes back. Where charges cannot be given
 * (the module), only tasks the heap does not charge get pieces.
 *
 * The unused pages of a block are shared and in no buffer: they count as
 * pooled, but no limit or shrinker can have them before the block is
 * whole again.
 */
#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "cc_shared_heap.h"

/**
 * struct ccsh_block - a shared block that pieces are cut from
 * @node: entry on ccsh_open_blocks while some of its pages are unused
 * @page: its first page
 * @unused: pages in no buffer
 * @used: which pages are in a buffer
 */
struct ccsh_block {
	struct list_head node;
	struct page *page;
	unsigned int unused;
	DECLARE_BITMAP(used, CCSH_BLOCK_PAGES);
};

static DEFINE_MUTEX(ccsh_carve_lock);	/* the blocks, their lists, counts */
static LIST_HEAD(ccsh_open_blocks);
static DEFINE_XARRAY(ccsh_blocks);	/* every block by pfn / block pages */
static unsigned long ccsh_nr_blocks;

/* new blocks are opportunistic, like any large chunk: no reclaim */
#define CCSH_BLOCK_GFP	((GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY) & \
			 ~__GFP_RECLAIM)

static unsigned long ccsh_block_index(struct page *page)
{
	return page_to_pfn(page) >> CCSH_LARGE_ORDER;
}

/* Mark 1 << @order unused pages of @b, aligned to their size, as used. */
static struct page *ccsh_block_cut(struct ccsh_block *b, unsigned int order)
{
	unsigned int nr = 1U << order;
	unsigned long at;

	if (b->unused < nr)
		return NULL;
	at = bitmap_find_next_zero_area(b->used, CCSH_BLOCK_PAGES, 0, nr,
					nr - 1);
	if (at >= CCSH_BLOCK_PAGES)
		return NULL;
	bitmap_set(b->used, at, nr);
	b->unused -= nr;
	if (!b->unused)
		list_del_init(&b->node);
	return pfn_to_page(page_to_pfn(b->page) + at);
}

/* A piece of @order from a block already open, or NULL. */
static struct page *ccsh_cut_open(unsigned int order)
{
	struct page *piece = NULL;
	struct ccsh_block *b;

	mutex_lock(&ccsh_carve_lock);
	list_for_each_entry(b, &ccsh_open_blocks, node) {
		piece = ccsh_block_cut(b, order);
		if (piece)
			break;
	}
	mutex_unlock(&ccsh_carve_lock);
	return piece;
}

/* A whole block back to the pool, or to private and the page allocator. */
static void ccsh_block_give_back(struct page *page)
{
	if (ccsh_pool_put(page, CCSH_LARGE_ORDER))
		return;
	if (!ccsh_unshare(page, CCSH_BLOCK_PAGES))
		ccsh_free_private(page, CCSH_LARGE_ORDER);
}

/*
 * A whole shared block in no cgroup: pooled (a pool hit), else new (a
 * miss); NULL or ERR_PTR.
 */
static struct page *ccsh_block_get(void)
{
	struct page *page = ccsh_pool_take_block();
	int ret;

	if (page)
		return page;
	atomic64_inc(&ccsh_stats.pool_misses);
	page = ccsh_alloc_private(CCSH_BLOCK_GFP, CCSH_LARGE_ORDER);
	if (!page)
		return NULL;
	ret = ccsh_share(page, CCSH_BLOCK_PAGES);
	return ret ? ERR_PTR(ret) : page;	/* a failed block is leaked */
}

/* Open shared block @page for cutting, and cut a piece of @order. */
static struct page *ccsh_block_open(struct page *page, unsigned int order)
{
	struct ccsh_block *b = kzalloc(sizeof(*b), GFP_KERNEL);
	struct page *piece = NULL;

	if (!b)
		return NULL;
	b->page = page;
	b->unused = CCSH_BLOCK_PAGES;
	mutex_lock(&ccsh_carve_lock);
	if (!xa_insert(&ccsh_blocks, ccsh_block_index(page), b, GFP_KERNEL)) {
		list_add(&b->node, &ccsh_open_blocks);
		ccsh_nr_blocks++;
		piece = ccsh_block_cut(b, order);
	}
	mutex_unlock(&ccsh_carve_lock);
	if (!piece) {
		kfree(b);
		return NULL;
	}
	atomic64_add((u64)(CCSH_BLOCK_PAGES - (1U << order)) << PAGE_SHIFT,
		     &ccsh_stats.pooled_bytes);
	return piece;
}

/* Mark a piece unused again; a block whole again is closed and returned. */
static void ccsh_uncut(struct page *piece, unsigned int order)
{
	unsigned long pfn = page_to_pfn(piece);
	unsigned int nr = 1U << order;
	struct ccsh_block *b;
	bool whole;

	set_page_private(piece, 0);
	mutex_lock(&ccsh_carve_lock);
	b = xa_load(&ccsh_blocks, pfn >> CCSH_LARGE_ORDER);
	if (WARN_ON_ONCE(!b)) {		/* not a piece: keep it, shared */
		mutex_unlock(&ccsh_carve_lock);
		return;
	}
	bitmap_clear(b->used, pfn & (CCSH_BLOCK_PAGES - 1), nr);
	if (!b->unused)
		list_add(&b->node, &ccsh_open_blocks);
	b->unused += nr;
	whole = b->unused == CCSH_BLOCK_PAGES;
	if (whole) {
		list_del(&b->node);
		xa_erase(&ccsh_blocks, pfn >> CCSH_LARGE_ORDER);
		ccsh_nr_blocks--;
	}
	mutex_unlock(&ccsh_carve_lock);
	if (!whole) {
		atomic64_add(PAGE_SIZE << order, &ccsh_stats.pooled_bytes);
		return;
	}
	atomic64_sub((u64)(CCSH_BLOCK_PAGES - nr) << PAGE_SHIFT,
		     &ccsh_stats.pooled_bytes);
	ccsh_block_give_back(b->page);
	kfree(b);
}

/**
 * ccsh_carve_take() - a shared piece of a block, charged to the caller
 * @order: piece order, below CCSH_LARGE_ORDER
 * @gfp: the flags a new chunk of @order would be allocated with
 *
 * The piece comes from a block already cut from, else from a whole block
 * of the pool, else from a new block shared whole for it. Only taking a
 * block counts as a pool hit or miss, and is traced: cutting is not.
 *
 * Return: the piece's first page; NULL when no block could be had or the
 * charge failed; ERR_PTR of the conversion's -errno when sharing a new
 * block failed (the block is leaked).
 */
struct page *ccsh_carve_take(unsigned int order, gfp_t gfp)
{
	struct page *page;

	if (order >= CCSH_LARGE_ORDER || !ccsh_memcg_may_take())
		return NULL;
	page = ccsh_cut_open(order);
	if (page) {
		atomic64_sub(PAGE_SIZE << order, &ccsh_stats.pooled_bytes);
	} else {
		page = ccsh_block_get();
		if (IS_ERR_OR_NULL(page))
			return page;
		if (!ccsh_block_open(page, order)) {
			ccsh_block_give_back(page);
			return NULL;
		}
	}
	if (ccsh_memcg_charge(page, gfp, order)) {
		ccsh_uncut(page, order);
		return NULL;
	}
	return page;
}

/**
 * ccsh_carve_put() - give a piece back to its block
 * @page: first page of a piece from ccsh_carve_take()
 * @order: its order
 *
 * The piece is uncharged. When it was the last piece in use, the block
 * goes whole to the pool, or is converted back and freed.
 */
void ccsh_carve_put(struct page *page, unsigned int order)
{
	ccsh_memcg_uncharge(page, order);
	ccsh_uncut(page, order);
}

/**
 * ccsh_carve_blocks() - how many blocks pieces are cut from now
 *
 * Return: blocks with at least one piece in a buffer.
 */
unsigned long ccsh_carve_blocks(void)
{
	return READ_ONCE(ccsh_nr_blocks);
}
