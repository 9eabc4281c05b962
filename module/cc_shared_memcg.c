// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroup accounting of pooled chunks in the out-of-tree module.
 *
 * New chunks are charged to the allocating task's cgroup as in the kernel
 * (__GFP_ACCOUNT), and the charge goes when the chunk is freed. What a
 * module cannot do is move a charge: the kernel's page charging functions
 * are not exported. So the module's pool only keeps chunks that no cgroup
 * pays for, and only serves callers that no cgroup would charge (the root
 * cgroup, kernel threads, or kmem accounting switched off with
 * cgroup.memory=nokmem). A buffer freed by a task in a cgroup is converted
 * back and freed rather than pooled: its cgroup gets its memory back at
 * once, and no cgroup ever pays for, or gets, another's shared memory.
 */
#include <linux/memcontrol.h>
#include <linux/mm_types.h>
#include <linux/sched.h>

#include "cc_shared_heap.h"

/**
 * ccsh_memcg_may_take() - whether the caller may be served from the pool
 *
 * Return: true when a new chunk would not be charged to any cgroup.
 */
bool ccsh_memcg_may_take(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;
	bool root;

	if (!memcg_kmem_online())
		return true;
	memcg = get_mem_cgroup_from_mm(current->mm);
	/* root_mem_cgroup is not exported: the root has no parent */
	root = !memcg || !memcg->css.parent;
	mem_cgroup_put(memcg);
	return root;
#else
	return true;
#endif
}

/**
 * ccsh_memcg_charge() - charge a chunk taken from the pool
 * @page: first page of the chunk
 * @gfp: allocation flags of a new chunk of its order
 * @order: chunk order
 *
 * Only callers that are charged nothing take pooled chunks.
 *
 * Return: 0.
 */
int ccsh_memcg_charge(struct page *page, gfp_t gfp, unsigned int order)
{
	return 0;
}

/**
 * ccsh_memcg_uncharge() - whether a chunk may enter the pool
 * @page: first page of the chunk
 * @order: chunk order
 *
 * Return: true when no cgroup pays for the chunk.
 */
bool ccsh_memcg_uncharge(struct page *page, unsigned int order)
{
#ifdef CONFIG_MEMCG
	return !READ_ONCE(page->memcg_data);
#else
	return true;
#endif
}
