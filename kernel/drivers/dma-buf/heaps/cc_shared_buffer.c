// SPDX-License-Identifier: GPL-2.0
/*
 * Pages of a system_cc_shared buffer.
 *
 * Allocation takes the largest chunks the page allocator gives without
 * effort (2 MiB, then 64 KiB, then single pages), converts every chunk to
 * shared, and only then zeroes it, through the now shared direct map:
 * content written while a page was private does not survive the
 * conversion. Release converts every chunk back to private before its
 * pages go back to the allocator. A chunk whose conversion fails, in
 * either direction, is leaked by the conversion seam and never touched
 * again here.
 */
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>

#include "cc_shared_heap.h"

/* 2 MiB blocks match the direct map's large pages; 64 KiB suits IOMMUs */
static const unsigned int ccsh_orders[] = { 9, 4, 0 };

static gfp_t ccsh_gfp(unsigned int order)
{
	/* large chunks are opportunistic: no reclaim, no retries, no noise */
	if (order)
		return (GFP_KERNEL_ACCOUNT | __GFP_COMP | __GFP_NOWARN |
			__GFP_NORETRY) & ~__GFP_RECLAIM;
	/* single pages may reclaim, but fail rather than invoke the OOM killer */
	return GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
}

static unsigned int ccsh_chunk_pages(struct scatterlist *sg)
{
	return sg->length >> PAGE_SHIFT;
}

/* Largest chunk that fits in @left, never larger than the last that worked. */
static struct page *ccsh_alloc_chunk(unsigned long left, unsigned int *idx)
{
	struct page *page;
	unsigned int i;

	for (i = *idx; i < ARRAY_SIZE(ccsh_orders); i++) {
		if (left < (PAGE_SIZE << ccsh_orders[i]))
			continue;
		page = alloc_pages(ccsh_gfp(ccsh_orders[i]), ccsh_orders[i]);
		if (page) {
			*idx = i;
			return page;
		}
	}
	return NULL;
}

static void ccsh_free_list(struct list_head *chunks)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, chunks, lru) {
		list_del(&page->lru);
		ccsh_free_private(page, compound_order(page));
	}
}

/* Allocate private chunks for @len bytes onto @chunks; count them in @nents. */
static int ccsh_gather(struct list_head *chunks, unsigned long len,
		       unsigned int *nents)
{
	unsigned int idx = 0;
	struct page *page;

	while (len) {
		if (fatal_signal_pending(current))
			return -EINTR;
		page = ccsh_alloc_chunk(len, &idx);
		if (!page)
			return -ENOMEM;
		list_add_tail(&page->lru, chunks);
		len -= page_size(page);
		(*nents)++;
	}
	return 0;
}

/*
 * Undo a share that failed at entry @failed: that chunk is already leaked,
 * the ones before it go back to private, the ones after it never changed.
 */
static void ccsh_unwind_share(struct sg_table *sgt, unsigned int failed)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		struct page *page = sg_page(sg);

		if (i == failed)
			continue;
		if (i < failed && ccsh_unshare(page, ccsh_chunk_pages(sg)))
			continue;
		ccsh_free_private(page, compound_order(page));
	}
	sg_free_table(sgt);
}

static int ccsh_share_table(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	for_each_sgtable_sg(sgt, sg, i) {
		ret = ccsh_share(sg_page(sg), ccsh_chunk_pages(sg));
		if (ret) {
			ccsh_unwind_share(sgt, i);
			return ret;
		}
	}
	return 0;
}

/* Clear once, through the shared mapping, after the conversion. */
static void ccsh_zero_table(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		memset(page_address(sg_page(sg)), 0, sg->length);
		cond_resched();
	}
}

/**
 * ccsh_pages_alloc() - allocate, share and zero the pages of a buffer
 * @sgt: table to fill, one entry per physically contiguous chunk
 * @len: bytes, a multiple of PAGE_SIZE
 *
 * On failure nothing is left allocated or shared, except chunks whose
 * conversion failed, which are leaked and counted.
 *
 * Return: 0, -EINTR on a fatal signal, -ENOMEM, or the conversion's -errno.
 */
int ccsh_pages_alloc(struct sg_table *sgt, unsigned long len)
{
	struct page *page, *tmp;
	struct scatterlist *sg;
	unsigned int nents = 0;
	LIST_HEAD(chunks);
	int ret;

	ret = ccsh_gather(&chunks, len, &nents);
	if (!ret)
		ret = sg_alloc_table(sgt, nents, GFP_KERNEL);
	if (ret) {
		ccsh_free_list(&chunks);
		return ret;
	}

	sg = sgt->sgl;
	list_for_each_entry_safe(page, tmp, &chunks, lru) {
		list_del(&page->lru);
		sg_set_page(sg, page, page_size(page), 0);
		sg = sg_next(sg);
	}

	ret = ccsh_share_table(sgt);
	if (ret)
		return ret;
	ccsh_zero_table(sgt);
	return 0;
}

/**
 * ccsh_pages_release() - convert a buffer's pages back and free them
 * @sgt: table filled by ccsh_pages_alloc()
 *
 * Chunks that fail to convert back are leaked and counted, never freed.
 */
void ccsh_pages_release(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		struct page *page = sg_page(sg);

		if (!ccsh_unshare(page, ccsh_chunk_pages(sg)))
			ccsh_free_private(page, compound_order(page));
		cond_resched();
	}
	sg_free_table(sgt);
}
