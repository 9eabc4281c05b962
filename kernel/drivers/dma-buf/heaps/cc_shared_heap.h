/* SPDX-License-Identifier: GPL-2.0 */
/*
 * system_cc_shared dma-buf heap: interfaces between its parts.
 *
 *   cc_shared_main.c       registration with the dma-heap core
 *   cc_shared_heap_core.c  the dma-buf object and its ops
 *   cc_shared_buffer.c     pages of a buffer: allocate, share, zero, release
 *   cc_shared_mmap.c       user mappings, 2 MiB chunks by PMD entries
 *   cc_shared_dma.c        device mappings: in place or refused
 *   cc_shared_pool.c       pool of already-shared chunks, its shrinker
 *   cc_shared_carve.c      small chunks cut from whole shared blocks
 *   cc_shared_convert.c    the one seam that converts pages, fault injection
 *   cc_shared_emu.c        software model of conversions (debug builds)
 *   cc_shared_stats.c      counters and their debugfs view
 *   cc_shared_trace.c      trace events (cc_shared_trace.h)
 *
 * The same files build the out-of-tree module (CCSH_MODULE, see module/ in
 * the project), which brings its own registration, DMA mapping, memcg
 * accounting and fault knobs where the kernel lacks what the in-tree heap
 * uses: the seams for those are marked below.
 */
#ifndef _CC_SHARED_HEAP_H
#define _CC_SHARED_HEAP_H

#ifdef CCSH_MODULE
#include "cc_shared_compat.h"	/* what older kernels spell differently */
#endif

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/dma-mapping.h>
#include <linux/fault-inject.h>
#include <linux/gfp_types.h>
#include <linux/memcontrol.h>
#include <linux/mm_types.h>
#include <linux/mmzone.h>
#include <linux/pgtable.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/types.h>

struct dentry;
struct dma_buf;
struct page;
struct seq_file;

#define CCSH_HEAP_NAME "system_cc_shared"

/*
 * Chunk orders, largest first. The large chunk is one PMD-sized block (2 MiB
 * with 4 KiB pages), whole in the direct map, so converting it splits
 * nothing; the pool keeps one list per entry.
 */
#define CCSH_LARGE_ORDER	MIN_T(unsigned int, PMD_ORDER, MAX_PAGE_ORDER)
#define CCSH_MID_ORDER		4
#define CCSH_NR_ORDERS		3
extern const unsigned int ccsh_orders[CCSH_NR_ORDERS];
int ccsh_order_index(unsigned int order);
#define CCSH_BLOCK_PAGES	BIT(CCSH_LARGE_ORDER)

/*
 * While the heap owns a chunk, the private field of its first page holds
 * the chunk's order and, in a buffer, its state (cc_shared_buffer.c). No
 * chunk is a compound page: small chunks are cut from large ones.
 */
#define CCSH_STATE_BITS		4

static inline unsigned int ccsh_chunk_order(const struct page *page)
{
	return page_private(page) >> CCSH_STATE_BITS;
}

static inline unsigned int ccsh_chunk_state(const struct page *page)
{
	return page_private(page) & ((1U << CCSH_STATE_BITS) - 1);
}

static inline void ccsh_chunk_set(struct page *page, unsigned int order,
				  unsigned int state)
{
	set_page_private(page, (unsigned long)order << CCSH_STATE_BITS | state);
}

/*
 * Most pages converted in one call: 16 MiB, or one large chunk where that
 * is more. See ccsh_share_table() for why.
 */
#define CCSH_RUN_MAX_PAGES	MAX_T(unsigned long, SZ_16M >> PAGE_SHIFT, \
				      1UL << CCSH_LARGE_ORDER)

/*
 * Mapping a buffer for a device (cc_shared_dma.c): in place, at the pages'
 * unencrypted DMA address, or refused with -EINVAL. Kernels with
 * DMA_ATTR_CC_SHARED map through the DMA core; the module maps in place
 * itself on kernels before that attribute (module/cc_shared_dma_inplace.c).
 */
bool ccsh_dma_in_place_ok(struct device *dev, struct sg_table *sgt,
			  bool forced_bounce_ok);
int ccsh_dma_map(struct device *dev, struct sg_table *sgt,
		 enum dma_data_direction dir);
void ccsh_dma_unmap(struct device *dev, struct sg_table *sgt,
		    enum dma_data_direction dir);
void ccsh_dma_sync(struct device *dev, struct sg_table *sgt,
		   enum dma_data_direction dir, bool for_cpu);

/* --- cc_shared_heap_core.c --- */
struct dma_buf *ccsh_heap_allocate(const char *exp_name, unsigned long len,
				   u32 fd_flags, u64 heap_flags);
unsigned long ccsh_spare_bytes(void);
int ccsh_core_init(bool emulate);
void ccsh_core_exit(void);

/* --- cc_shared_buffer.c --- */
struct ccsh_policy;

/**
 * struct ccsh_pages - the pages of one buffer
 * @sgt: one entry per physically contiguous chunk, sorted by address
 * @policy: how they were obtained, and so how they are given back
 */
struct ccsh_pages {
	struct sg_table sgt;
	const struct ccsh_policy *policy;
};

gfp_t ccsh_chunk_gfp(unsigned int order);
int ccsh_pages_alloc(struct ccsh_pages *p, unsigned long len);
int ccsh_pages_share(struct ccsh_pages *p);
void ccsh_unshare_chunks(struct list_head *chunks, bool merge);
void ccsh_pages_release(struct ccsh_pages *p);

/* --- cc_shared_mmap.c --- */

/* PMD entries for PFN mappings, marked special: never taken for pages */
#if defined(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) && defined(CONFIG_TRANSPARENT_HUGEPAGE)
#define CCSH_HUGE_PFNMAP
#endif
struct vm_area_struct;
struct ccsh_map_index;
struct ccsh_map_index *ccsh_map_index_create(struct sg_table *sgt);
void ccsh_map_index_destroy(struct ccsh_map_index *idx);
int ccsh_mmap_pages(struct ccsh_map_index *idx, struct vm_area_struct *vma);

/* --- cc_shared_pool.c --- */
void ccsh_pool_init(void);
void ccsh_pool_exit(void);
struct page *ccsh_pool_take(unsigned int order, gfp_t gfp);
bool ccsh_pool_put(struct page *page, unsigned int order);
unsigned long ccsh_pool_shrink(unsigned long pages);
void ccsh_pool_set_limit(u64 bytes);
u64 ccsh_pool_get_limit(void);
void ccsh_pool_debugfs(struct dentry *dir);
struct page *ccsh_pool_take_block(void);
bool ccsh_pool_carve_reserve(unsigned long pages, bool pooled);
void ccsh_pool_carve_release(unsigned long pages);
bool ccsh_pool_carve_return(unsigned long pages);
unsigned long ccsh_pool_whole_bytes(void);
void ccsh_pool_trim(void);

/* --- cc_shared_carve.c --- */
struct page *ccsh_carve_take(unsigned int order, gfp_t gfp);
void ccsh_carve_put(struct page *page, unsigned int order);
unsigned long ccsh_carve_blocks(void);

/*
 * Seam: the memory cgroup of a chunk passing through the pool. In the
 * kernel, a pooled chunk is uncharged and charged again to whoever takes
 * it. A module cannot move charges (the kernel does not export that), so
 * its pool keeps only chunks no cgroup pays for and serves only callers no
 * cgroup charges (module/cc_shared_memcg.c).
 */
#ifndef CCSH_MODULE
static inline bool ccsh_memcg_may_take(void)
{
	return true;
}

static inline int ccsh_memcg_charge(struct page *page, gfp_t gfp,
				    unsigned int order)
{
	return memcg_kmem_charge_page(page, gfp, order);
}

static inline bool ccsh_memcg_uncharge(struct page *page, unsigned int order)
{
	memcg_kmem_uncharge_page(page, order);
	return true;
}
#else
bool ccsh_memcg_may_take(void);
int ccsh_memcg_charge(struct page *page, gfp_t gfp, unsigned int order);
bool ccsh_memcg_uncharge(struct page *page, unsigned int order);
#endif

/* --- cc_shared_convert.c --- */

/**
 * struct ccsh_backend - how pages change between private and shared
 * @share: make @nr pages starting at @page shared; 0 or -errno
 * @unshare: make them private again; 0 or -errno
 * @fail: an injected failure of a conversion in direction @share; the
 *	backend leaves the pages as a failed conversion would and returns
 *	the -errno
 * @got: the heap allocated these private pages
 * @may_free: whether every one of these pages is private
 *
 * @fail, @got and @may_free may be NULL.
 */
struct ccsh_backend {
	int (*share)(struct page *page, unsigned int nr);
	int (*unshare)(struct page *page, unsigned int nr);
	int (*fail)(struct page *page, unsigned int nr, bool share);
	void (*got)(struct page *page, unsigned int nr);
	bool (*may_free)(struct page *page, unsigned int nr);
};

/**
 * enum ccsh_backend_kind - how the heap converts pages, if at all
 * @CCSH_BACKEND_NONE: not a confidential guest: the heap stays away
 * @CCSH_BACKEND_REAL: set_memory_decrypted() and set_memory_encrypted()
 * @CCSH_BACKEND_EMULATED: the software model (debug kernels)
 */
enum ccsh_backend_kind {
	CCSH_BACKEND_NONE,
	CCSH_BACKEND_REAL,
	CCSH_BACKEND_EMULATED,
};

enum ccsh_backend_kind ccsh_pick_backend(bool emulate, bool emu_built,
					 bool mem_encrypted, bool cc_guest);
int ccsh_convert_init(bool emulate);
void ccsh_convert_exit(void);
bool ccsh_emulating(void);
int ccsh_share(struct page *page, unsigned int nr);
int ccsh_unshare(struct page *page, unsigned int nr);
struct page *ccsh_alloc_private(gfp_t gfp, unsigned int order);
void ccsh_free_private(struct page *page, unsigned int order);
void ccsh_convert_debugfs(struct dentry *dir);

/* fault injection: which conversion direction */
enum ccsh_fail_dir { CCSH_FAIL_SHARE, CCSH_FAIL_UNSHARE };

/*
 * Seam: fault injection. The kernel's fault_attr where it has one (not in
 * the module, whose test flavour brings knobs of its own, CCSH_FAULT_KNOBS:
 * module/cc_shared_fault_knobs.c; its packaged flavour has none).
 */
#if defined(CONFIG_FAULT_INJECTION) && !defined(CCSH_MODULE)
#define CCSH_FAULT_ATTR
extern struct fault_attr ccsh_fail_share;
extern struct fault_attr ccsh_fail_unshare;
#endif
#ifdef CCSH_FAULT_KNOBS
bool ccsh_knob_should_fail(enum ccsh_fail_dir dir, size_t bytes);
void ccsh_knobs_debugfs(struct dentry *dir);
#endif

/* a dma-buf importer of the module's test flavour (CCSH_TEST_IMPORTER) */
int ccsh_importer_init(void);
void ccsh_importer_exit(void);

/* the module's misc device, where dma_heap_add() is not exported */
int ccsh_misc_register(void);
void ccsh_misc_unregister(void);

/* --- cc_shared_emu.c --- */
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
/**
 * struct ccsh_emu_call - one conversion call the model received
 * @pfn: first page frame
 * @nr: pages
 * @share: direction
 * @failed: the call failed (injected)
 */
struct ccsh_emu_call {
	unsigned long pfn;
	unsigned int nr;
	bool share;
	bool failed;
};

int ccsh_emu_init(void);
void ccsh_emu_exit(void);
extern const struct ccsh_backend ccsh_emu_backend;
extern void (*ccsh_emu_test_hook)(bool share);
void ccsh_emu_show(struct seq_file *m);
unsigned long ccsh_emu_shared_pages(void);
unsigned long ccsh_emu_lost_pages(void);
unsigned long ccsh_emu_stray_pages(void);
unsigned long ccsh_emu_freed_unsafe_pages(void);
unsigned long ccsh_emu_log_len(void);
bool ccsh_emu_log_entry(unsigned long i, struct ccsh_emu_call *call);
void ccsh_emu_log_clear(void);
unsigned long ccsh_emu_violations(void);
unsigned long ccsh_emu_stale_pages(void);
bool ccsh_emu_set_keep_contents(bool keep);
bool ccsh_emu_page_shared(struct page *page);
bool ccsh_emu_page_lost(struct page *page);
bool ccsh_emu_naive(void);
void ccsh_emu_debugfs(struct dentry *dir);
#endif

/* --- cc_shared_stats.c --- */

/**
 * struct ccsh_stats - heap counters, shown in debugfs as "stats"
 * @buffers: live dma-bufs
 * @shared_bytes: bytes in live buffers
 * @pooled_bytes: shared bytes held outside any buffer: the pool's chunks
 *	and the unused pages of open blocks (bounded together by the limit)
 * @leaked_bytes: bytes given up after a failed conversion
 * @share_calls: conversions to shared attempted (one run each)
 * @unshare_calls: conversions to private attempted
 * @share_failures: conversions to shared that failed
 * @unshare_failures: conversions to private that failed
 * @pool_hits: chunks an allocation got from the pool, converting nothing
 *	(a block taken for pieces counts once, with its first piece)
 * @pool_misses: chunks an allocation converted new because the pool had
 *	none that fit (a new block for pieces counts once likewise)
 * @huge_maps: PMD entries installed, each mapping a 2 MiB chunk to user
 *	space
 * @fallback_maps: chunks mapped to user space page by page on a fault
 *
 * Documentation/driver-api/dma-buf-cc-shared-heap.rst defines each one.
 */
struct ccsh_stats {
	atomic64_t buffers;
	atomic64_t shared_bytes;
	atomic64_t pooled_bytes;
	atomic64_t leaked_bytes;
	atomic64_t share_calls;
	atomic64_t unshare_calls;
	atomic64_t share_failures;
	atomic64_t unshare_failures;
	atomic64_t pool_hits;
	atomic64_t pool_misses;
	atomic64_t huge_maps;
	atomic64_t fallback_maps;
};

extern struct ccsh_stats ccsh_stats;
void ccsh_debugfs_init(void);
void ccsh_debugfs_exit(void);

#endif /* _CC_SHARED_HEAP_H */
