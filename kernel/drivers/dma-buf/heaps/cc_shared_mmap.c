// SPDX-License-Identifier: GPL-2.0
/*
 * User mappings of system_cc_shared buffers.
 *
 * Every mapping is decrypted (the host shares these pages) and shared:
 * copy-on-write would hand out private copies of shared memory.
 *
 * A 2 MiB chunk whose place in the mapping is 2 MiB-aligned is left
 * unmapped at mmap() time and mapped on its first touch by a single PMD
 * entry, where the kernel supports huge PFN mappings: one fault instead of
 * 512 page-table entries, and one TLB entry instead of 512 afterwards.
 * Everything else is mapped at mmap() time, a physically contiguous chunk
 * per call. A chunk that cannot have its PMD entry (transparent huge pages
 * disabled, or the mapping split by munmap() or mprotect()) is mapped page
 * by page, the whole chunk on its first fault.
 *
 * The mapping holds a reference to the dma-buf's file, so the buffer
 * outlives every fault on it.
 */
#include <linux/dma-buf.h>
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "cc_shared_heap.h"

/*
 * Until pfn_t was retired (6.17), a PMD entry's frame was a pfn_t: the
 * 6.12 tree's Makefile and the module's Kbuild (from the kernel's headers)
 * say so with CCSH_PMD_PFN_T.
 */
#ifdef CCSH_PMD_PFN_T
#include <linux/pfn_t.h>
#define ccsh_pmd_frame(pfn)	__pfn_to_pfn_t(pfn, 0)
#else
#define ccsh_pmd_frame(pfn)	(pfn)
#endif

#define CCSH_PMD_PAGES	BIT(PMD_ORDER)

/*
 * Whether the chunk of @sg, which starts at @addr in @vma, gets a PMD entry
 * on its first touch instead of page table entries now.
 */
static bool ccsh_huge_chunk(struct vm_area_struct *vma, struct scatterlist *sg,
			    unsigned long addr)
{
#ifndef CCSH_HUGE_PFNMAP
	return false;
#endif
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	if (ccsh_emu_naive())
		return false;
#endif
	return sg->length == PMD_SIZE && IS_ALIGNED(addr, PMD_SIZE) &&
	       IS_ALIGNED(page_to_pfn(sg_page(sg)), CCSH_PMD_PAGES) &&
	       addr + PMD_SIZE <= vma->vm_end;
}

/* Map @len bytes of one physically contiguous chunk from @pfn at @addr. */
static int ccsh_remap(struct vm_area_struct *vma, unsigned long addr,
		      unsigned long pfn, unsigned long len)
{
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	/* the benchmark's "before": a call per page, as the system heap does */
	for (; ccsh_emu_naive() && len > PAGE_SIZE; len -= PAGE_SIZE) {
		int ret = remap_pfn_range(vma, addr, pfn++, PAGE_SIZE,
					  vma->vm_page_prot);

		if (ret)
			return ret;
		addr += PAGE_SIZE;
	}
#endif
	return remap_pfn_range(vma, addr, pfn, len, vma->vm_page_prot);
}

/*
 * Finding the chunk of a faulting page. A buffer's table never changes
 * after allocation, so an index built with it serves every fault without a
 * lock: every CCSH_INDEX_STRIDE-th entry, with the buffer page it starts
 * at. A binary search finds the mark at or before the page and a walk of
 * fewer than CCSH_INDEX_STRIDE entries the chunk, where walking the table
 * from its start made faulting in a buffer of n chunks cost O(n^2). The
 * index takes 1/16 of a pointer and a page offset per entry.
 */
#define CCSH_INDEX_STRIDE	16

/**
 * struct ccsh_index_mark - one entry of the table the index points into
 * @first: the buffer page the entry starts at
 * @sg: the entry
 */
struct ccsh_index_mark {
	pgoff_t first;
	struct scatterlist *sg;
};

/**
 * struct ccsh_map_index - what the user mappings of one buffer share
 * @sgt: the buffer's table
 * @marks: entries 0, CCSH_INDEX_STRIDE, 2 * CCSH_INDEX_STRIDE, ...
 * @nr_marks: how many
 * @fault_lock: serialises faults that map chunks, so that each knows
 *	whether it installed an entry or found one another fault installed
 */
struct ccsh_map_index {
	struct sg_table *sgt;
	struct ccsh_index_mark *marks;
	unsigned int nr_marks;
	struct mutex fault_lock;	/* see above */
};

/**
 * ccsh_map_index_create() - index a buffer's table for its user mappings
 * @sgt: the table, which must not change afterwards and must outlive the
 *	index
 *
 * Return: the index, or NULL without memory.
 */
struct ccsh_map_index *ccsh_map_index_create(struct sg_table *sgt)
{
	struct ccsh_map_index *idx = kzalloc(sizeof(*idx), GFP_KERNEL);
	struct scatterlist *sg;
	pgoff_t first = 0;
	unsigned int i;

	if (!idx)
		return NULL;
	idx->nr_marks = DIV_ROUND_UP(sgt->orig_nents, CCSH_INDEX_STRIDE);
	idx->marks = kvmalloc_array(max(idx->nr_marks, 1U),
				    sizeof(*idx->marks), GFP_KERNEL);
	if (!idx->marks) {
		kfree(idx);
		return NULL;
	}
	idx->sgt = sgt;
	mutex_init(&idx->fault_lock);
	for_each_sgtable_sg(sgt, sg, i) {
		if (i % CCSH_INDEX_STRIDE == 0)
			idx->marks[i / CCSH_INDEX_STRIDE] =
				(struct ccsh_index_mark){ first, sg };
		first += sg->length >> PAGE_SHIFT;
	}
	return idx;
}

/**
 * ccsh_map_index_destroy() - free an index once no mapping uses it
 * @idx: the index, or NULL
 */
void ccsh_map_index_destroy(struct ccsh_map_index *idx)
{
	if (!idx)
		return;
	mutex_destroy(&idx->fault_lock);
	kvfree(idx->marks);
	kfree(idx);
}

/*
 * The chunk holding page @pgoff of the buffer indexed by @idx, NULL past
 * its end; @first is set to the buffer page the chunk starts at.
 */
static struct scatterlist *ccsh_chunk_at(const struct ccsh_map_index *idx,
					 pgoff_t pgoff, pgoff_t *first)
{
	unsigned int lo = 0, hi = idx->nr_marks, mid, left;
	struct scatterlist *sg;

	if (!hi || pgoff < idx->marks[0].first)
		return NULL;
	/* the last mark at or before @pgoff: marks[lo] <= pgoff < marks[hi] */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (idx->marks[mid].first <= pgoff)
			lo = mid;
		else
			hi = mid;
	}
	sg = idx->marks[lo].sg;
	*first = idx->marks[lo].first;
	left = idx->sgt->orig_nents - lo * CCSH_INDEX_STRIDE;
	while (pgoff >= *first + (sg->length >> PAGE_SHIFT)) {
		*first += sg->length >> PAGE_SHIFT;
		if (!--left)
			return NULL;
		sg = sg_next(sg);
	}
	return sg;
}

#ifdef CCSH_HUGE_PFNMAP
/*
 * A 2 MiB chunk at a 2 MiB-aligned place: one PMD entry for all of it.
 * Besides a first touch, the fault core calls this for a write to a PMD
 * entry mapped read-only, and for a fault that lost a race with another
 * one on the same chunk: only an entry installed here counts as a map.
 */
static vm_fault_t ccsh_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PMD_MASK;
	struct ccsh_map_index *idx = vma->vm_private_data;
	struct scatterlist *sg;
	pgoff_t pgoff, first;
	vm_fault_t ret;
	bool was_none;

	if (order != PMD_ORDER || addr < vma->vm_start)
		return VM_FAULT_FALLBACK;
	pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	sg = ccsh_chunk_at(idx, pgoff, &first);
	if (!sg || first != pgoff || !ccsh_huge_chunk(vma, sg, addr))
		return VM_FAULT_FALLBACK;
	/*
	 * The chunk covers the PMD's range and only this mapping's faults
	 * fill it: with them held off, the entry is new if the slot was
	 * empty before the insert.
	 */
	mutex_lock(&idx->fault_lock);
	was_none = pmd_none(pmdp_get_lockless(vmf->pmd));
	ret = vmf_insert_pfn_pmd(vmf, ccsh_pmd_frame(page_to_pfn(sg_page(sg))),
				 vmf->flags & FAULT_FLAG_WRITE);
	mutex_unlock(&idx->fault_lock);
	if (was_none && ret == VM_FAULT_NOPAGE)
		atomic64_inc(&ccsh_stats.huge_maps);
	return ret;
}
#endif

/*
 * Page by page, the whole chunk around the fault (as far as the vma goes).
 * It counts as a map once every page of it is in place.
 */
static vm_fault_t ccsh_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct ccsh_map_index *idx = vma->vm_private_data;
	unsigned long addr, pfn, end;
	struct scatterlist *sg;
	pgoff_t first;
	vm_fault_t ret;

	sg = ccsh_chunk_at(idx, vmf->pgoff, &first);
	if (!sg)
		return VM_FAULT_SIGBUS;
	pfn = page_to_pfn(sg_page(sg));
	/* where the chunk's first and last pages are (or would be) mapped */
	addr = vmf->address - ((vmf->pgoff - first) << PAGE_SHIFT);
	end = addr + sg->length;
	if (addr < vma->vm_start) {
		pfn += (vma->vm_start - addr) >> PAGE_SHIFT;
		addr = vma->vm_start;
	}
	end = min(end, vma->vm_end);
	for (; addr < end; addr += PAGE_SIZE, pfn++) {
		ret = vmf_insert_pfn(vma, addr, pfn);
		if (ret != VM_FAULT_NOPAGE)
			return ret;
	}
	atomic64_inc(&ccsh_stats.fallback_maps);
	return VM_FAULT_NOPAGE;
}

static const struct vm_operations_struct ccsh_vm_ops = {
	.fault = ccsh_fault,
#ifdef CCSH_HUGE_PFNMAP
	.huge_fault = ccsh_huge_fault,
#endif
};

/**
 * ccsh_mmap_pages() - map a buffer's pages into user space
 * @idx: the index of the buffer's table (one entry per physically
 *	contiguous chunk); both must outlive the mapping
 * @vma: the mapping, whose vm_pgoff is the first buffer page to map
 *
 * The host can write the pages at any time, so nothing may run from them:
 * like a file on a noexec mount, an executable mapping gets -EPERM and no
 * mapping can become executable later (mprotect() gets -EACCES).
 *
 * Return: 0, -EINVAL for a private (copy-on-write) mapping, -EPERM for an
 * executable one, or the -errno of a failed page-table update.
 */
int ccsh_mmap_pages(struct ccsh_map_index *idx, struct vm_area_struct *vma)
{
	struct sg_table *sgt = idx->sgt;
	unsigned long skip = vma->vm_pgoff << PAGE_SHIFT;
	unsigned long addr = vma->vm_start, len;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	/* a read-only buffer's shared mapping has VM_MAYSHARE only */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot);
	/* what remap_pfn_range() would set; VM_HUGEPAGE: no cost to ask */
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP |
		     VM_HUGEPAGE);
	vma->vm_ops = &ccsh_vm_ops;
	vma->vm_private_data = idx;
	for_each_sgtable_sg(sgt, sg, i) {
		if (skip >= sg->length) {
			skip -= sg->length;
			continue;
		}
		len = min(sg->length - skip, vma->vm_end - addr);
		if (skip || !ccsh_huge_chunk(vma, sg, addr)) {
			ret = ccsh_remap(vma, addr, page_to_pfn(sg_page(sg)) +
					 (skip >> PAGE_SHIFT), len);
			if (ret)
				return ret;
		}
		addr += len;
		skip = 0;
		if (addr >= vma->vm_end)
			break;
		cond_resched();
	}
	return 0;
}
