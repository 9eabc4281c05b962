/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the heap core expects of the kernel and older kernels spell
 * differently, for the out-of-tree module only. Kbuild tests the target
 * kernel's headers and passes CCSH_HAVE_* for what it found; macros are
 * tested here directly. cc_shared_heap.h includes it first in a module.
 */
#ifndef _CC_SHARED_COMPAT_H
#define _CC_SHARED_COMPAT_H

#include <linux/errno.h>
#include <linux/mmzone.h>
#include <linux/pgtable.h>
#include <linux/slab.h>

#ifdef CCSH_FAULT_KNOBS
/* fail_shrinker=1 (test flavour): the pool's shrinker cannot be had */
bool ccsh_knob_fail_shrinker(void);
#endif

/* kzalloc_obj(): 6.12.y backports and later */
#ifndef kzalloc_obj
#define kzalloc_obj(obj) kzalloc(sizeof(obj), GFP_KERNEL)
#endif

/* MAX_PAGE_ORDER (6.8): the largest order; before, MAX_ORDER was one more */
#ifndef MAX_PAGE_ORDER
#define MAX_PAGE_ORDER (MAX_ORDER - 1)
#endif

/* PMD_ORDER (6.7) */
#ifndef PMD_ORDER
#define PMD_ORDER (PMD_SHIFT - PAGE_SHIFT)
#endif

/* memcg_kmem_online() (6.4) was memcg_kmem_enabled() */
#ifndef CCSH_HAVE_MEMCG_KMEM_ONLINE
#include <linux/memcontrol.h>
#define memcg_kmem_online memcg_kmem_enabled
#endif

/* vm_flags_set() and vm_flags_clear() (6.3) */
#ifndef CCSH_HAVE_VM_FLAGS_SET
/* before 6.3 a driver set a mapping's flags directly */
#define vm_flags_set(vma, flags) ((vma)->vm_flags |= (flags))
#define vm_flags_clear(vma, flags) ((vma)->vm_flags &= ~(flags))
#endif

/* vmalloc_array() (6.4) */
#ifndef CCSH_HAVE_VMALLOC_ARRAY
#include <linux/overflow.h>
#include <linux/vmalloc.h>
#define vmalloc_array(n, size) vmalloc(array_size(n, size))
#endif

/* dma_buf_map_attachment_unlocked() (6.2); before, the plain call locked */
#ifndef CCSH_HAVE_MAP_UNLOCKED
#define dma_buf_map_attachment_unlocked dma_buf_map_attachment
#define dma_buf_unmap_attachment_unlocked dma_buf_unmap_attachment
#endif

/*
 * swiotlb_find_pool() (6.12) replaced is_swiotlb_buffer(); the test
 * importer only asks whether an address is a bounce slot at all
 */
#ifndef CCSH_HAVE_SWIOTLB_FIND_POOL
#include <linux/swiotlb.h>
#define swiotlb_find_pool(dev, paddr) is_swiotlb_buffer(dev, paddr)
#endif

/*
 * shrinker_alloc() and friends (6.7). Before, a shrinker was embedded and
 * named at registration, which could fail: ccsh_shrinker_register() says
 * so, and the pool then stays off (no shrinker, no pool).
 */
#ifndef CCSH_HAVE_SHRINKER_ALLOC
#include <linux/shrinker.h>

static inline struct shrinker *ccsh_compat_shrinker_alloc(unsigned int flags)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (s)
		s->flags = flags;
	return s;
}

static inline int ccsh_shrinker_register(struct shrinker *s)
{
#ifdef CCSH_FAULT_KNOBS
	if (ccsh_knob_fail_shrinker())
		return -ENOMEM;
#endif
	return register_shrinker(s, "cc_shared_heap-pool");
}

#define ccsh_shrinker_register ccsh_shrinker_register

static inline void ccsh_compat_shrinker_free(struct shrinker *s)
{
	if (!s)
		return;
	unregister_shrinker(s);	/* a no-op for one never registered */
	kfree(s);
}

#define shrinker_alloc(flags, name) ((void)(name), ccsh_compat_shrinker_alloc(flags))
#define shrinker_free(s) ccsh_compat_shrinker_free(s)
#elif defined(CCSH_FAULT_KNOBS)
/* the test flavour's stand-in for a failed allocation of the shrinker */
#define shrinker_alloc(flags, name) \
	(ccsh_knob_fail_shrinker() ? NULL : shrinker_alloc(flags, name))
#endif

#endif /* _CC_SHARED_COMPAT_H */
