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
 * The unused pages of open blocks are shared and in no buffer: they count
 * as pooled, and against the pool's limit, with the pool's own chunks
 * (cc_shared_pool.c). A new block is opened only while the limit has room
 * for its unused pages. A piece coming back when even an empty pool would
 * leave no room for it is converted back to private on its own instead: a
 * hole, which splits the block's direct-map page but keeps what is held
 * shared in no buffer within the limit, whoever frees what. A block with
 * holes never goes back to the pool: when its last piece comes back, its
 * shared runs are converted back and all of it is freed (page by page,
 * keeping only the pages a failed conversion lost, if any).
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
 * @unused: shared pages in no buffer, accounted in the pool's limit
 * @holes: pages converted back to private while the block was open
 * @used: which pages are in a buffer, or holes
 * @hole: which pages are holes
 * @lost: which pages a failed conversion left in no known state
 */
struct ccsh_block {
	struct list_head node;
	struct page *page;
	unsigned int unused;
	unsigned int holes;
	DECLARE_BITMAP(used, CCSH_BLOCK_PAGES);
	DECLARE_BITMAP(hole, CCSH_BLOCK_PAGES);
	DECLARE_BITMAP(lost, CCSH_BLOCK_PAGES);
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

/* The pages a block's first piece of @order leaves unused. */
static unsigned long ccsh_block_rest(unsigned int order)
{
	return CCSH_BLOCK_PAGES - (1UL << order);
}

/* A piece of @order from a block already open, or NULL. */
static struct page *ccsh_cut_open(unsigned int order)
{
	struct page *piece = NULL;
	struct ccsh_block *b;

	mutex_lock(&ccsh_carve_lock);
	list_for_each_entry(b, &ccsh_open_blocks, node) {
		piece = ccsh_block_cut(b, order);
		if (piece) {
			ccsh_pool_carve_release(1UL << order);
			break;
		}
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
 * A whole shared block in no cgroup, its unused pages accounted for a
 * first piece of @order: pooled (@pooled set), else new while the pool's
 * limit has room for them. NULL, or ERR_PTR of a failed conversion (the
 * new block is then leaked).
 */
static struct page *ccsh_block_get(unsigned int order, bool *pooled)
{
	unsigned long rest = ccsh_block_rest(order);
	struct page *page = ccsh_pool_take_block();
	int ret;

	*pooled = !!page;
	if (page) {
		ccsh_pool_carve_reserve(rest, true);
		return page;
	}
	if (!ccsh_pool_carve_reserve(rest, false))
		return NULL;
	page = ccsh_alloc_private(CCSH_BLOCK_GFP, CCSH_LARGE_ORDER);
	if (!page) {
		ccsh_pool_carve_release(rest);
		return NULL;
	}
	ret = ccsh_share(page, CCSH_BLOCK_PAGES);
	if (ret) {
		ccsh_pool_carve_release(rest);
		return ERR_PTR(ret);
	}
	return page;
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
	if (!piece)
		kfree(b);
	return piece;
}

/*
 * Free a block whose pages are all private but @b->lost ones: whole, or,
 * when some are lost, page by page, keeping the lost ones for ever.
 */
static void ccsh_block_free(struct ccsh_block *b)
{
	unsigned long pfn = page_to_pfn(b->page);
	unsigned int i;

	if (bitmap_empty(b->lost, CCSH_BLOCK_PAGES)) {
		ccsh_free_private(b->page, CCSH_LARGE_ORDER);
		return;
	}
	split_page(b->page, CCSH_LARGE_ORDER);	/* blocks are not compound */
	for (i = 0; i < CCSH_BLOCK_PAGES; i++)
		if (!test_bit(i, b->lost))
			ccsh_free_private(pfn_to_page(pfn + i), 0);
}

/*
 * A closed block back: whole to the pool, or to private and the page
 * allocator; with holes, its shared runs to private, then freed.
 */
static void ccsh_block_close(struct ccsh_block *b)
{
	unsigned long start = 0, end;

	if (!b->holes) {
		ccsh_block_give_back(b->page);
		return;
	}
	while ((start = find_next_zero_bit(b->hole, CCSH_BLOCK_PAGES, start)) <
	       CCSH_BLOCK_PAGES) {
		end = find_next_bit(b->hole, CCSH_BLOCK_PAGES, start);
		if (ccsh_unshare(pfn_to_page(page_to_pfn(b->page) + start),
				 end - start))
			bitmap_set(b->lost, start, end - start);
		start = end;
	}
	ccsh_block_free(b);
}

/*
 * A piece back in a block that stays open, with no room to keep it shared:
 * a hole. Under ccsh_carve_lock, so that no one closes the block meanwhile.
 */
static void ccsh_make_hole(struct ccsh_block *b, struct page *piece,
			   unsigned long at, unsigned int nr)
{
	bitmap_set(b->hole, at, nr);
	b->holes += nr;
	if (ccsh_unshare(piece, nr))
		bitmap_set(b->lost, at, nr);	/* never converted or freed */
}

/* Mark a piece unused again; a block without pieces is closed. */
static void ccsh_uncut(struct page *piece, unsigned int order)
{
	unsigned long pfn = page_to_pfn(piece);
	unsigned long at = pfn & (CCSH_BLOCK_PAGES - 1);
	unsigned int nr = 1U << order;
	bool closed = false, kept = false;
	struct ccsh_block *b;

	set_page_private(piece, 0);
	mutex_lock(&ccsh_carve_lock);
	b = xa_load(&ccsh_blocks, pfn >> CCSH_LARGE_ORDER);
	if (WARN_ON_ONCE(!b)) {		/* not a piece: keep it, shared */
		mutex_unlock(&ccsh_carve_lock);
		return;
	}
	if (b->unused + b->holes + nr == CCSH_BLOCK_PAGES) {
		if (b->unused)
			list_del(&b->node);
		xa_erase(&ccsh_blocks, pfn >> CCSH_LARGE_ORDER);
		ccsh_nr_blocks--;
		ccsh_pool_carve_release(b->unused);
		closed = true;
	} else if (ccsh_pool_carve_return(nr)) {
		bitmap_clear(b->used, at, nr);
		if (!b->unused)
			list_add(&b->node, &ccsh_open_blocks);
		b->unused += nr;
		kept = true;
	} else {
		ccsh_make_hole(b, piece, at, nr);
	}
	mutex_unlock(&ccsh_carve_lock);
	if (kept)
		ccsh_pool_trim();	/* the pool makes room if it must */
	if (closed) {
		ccsh_block_close(b);
		kfree(b);
	}
}

/**
 * ccsh_carve_take() - a shared piece of a block, charged to the caller
 * @order: piece order, below CCSH_LARGE_ORDER
 * @gfp: the flags a new chunk of @order would be allocated with
 *
 * The piece comes from a block already cut from, else from a whole block
 * of the pool, else from a new block shared whole for it while the pool's
 * limit has room for its unused pages. Only a block opened for a piece
 * handed out counts, as a pool hit (a pooled block) or a miss (a new
 * one); cutting from an open block counts as neither, and is not traced.
 *
 * Return: the piece's first page; NULL when no block could be had or the
 * charge failed; ERR_PTR of the conversion's -errno when sharing a new
 * block failed (the block is leaked).
 */
struct page *ccsh_carve_take(unsigned int order, gfp_t gfp)
{
	bool opened = false, pooled = false;
	struct page *page;

	if (order >= CCSH_LARGE_ORDER || !ccsh_memcg_may_take())
		return NULL;
	page = ccsh_cut_open(order);
	if (!page) {
		page = ccsh_block_get(order, &pooled);
		if (IS_ERR_OR_NULL(page))
			return page;
		if (!ccsh_block_open(page, order)) {
			ccsh_pool_carve_release(ccsh_block_rest(order));
			ccsh_block_give_back(page);
			return NULL;
		}
		opened = true;
	}
	if (ccsh_memcg_charge(page, gfp, order)) {
		ccsh_uncut(page, order);
		return NULL;
	}
	/* a block counts once, when its first piece is handed out */
	if (opened)
		atomic64_inc(pooled ? &ccsh_stats.pool_hits :
				      &ccsh_stats.pool_misses);
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
