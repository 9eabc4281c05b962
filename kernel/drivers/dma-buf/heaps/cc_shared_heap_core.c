// SPDX-License-Identifier: GPL-2.0
/*
 * The dma-buf of the system_cc_shared heap.
 *
 * Its pages are shared with the host for their whole life as a buffer
 * (see cc_shared_buffer.c), so every CPU mapping made here, user or
 * kernel, is made decrypted. This file knows nothing of how the heap is
 * registered, so the same core serves the in-tree heap and an
 * out-of-tree module.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "cc_shared_heap.h"

struct ccsh_buffer {
	struct mutex lock;		/* attachments, vmap_cnt, vaddr, map_index */
	struct list_head attachments;
	unsigned long len;
	struct ccsh_pages pages;
	struct ccsh_map_index *map_index;	/* made at the first mmap() */
	unsigned int vmap_cnt;
	void *vaddr;
};

struct ccsh_attachment {
	struct device *dev;
	struct sg_table sgt;		/* this device's copy of the pages */
	struct list_head node;
	bool mapped;
};

static int ccsh_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *at)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	struct scatterlist *src, *dst;
	struct ccsh_attachment *a;
	unsigned int i;
	int ret;

	a = kzalloc_obj(*a);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table(&a->sgt, buf->pages.sgt.orig_nents, GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	dst = a->sgt.sgl;
	for_each_sgtable_sg(&buf->pages.sgt, src, i) {
		sg_set_page(dst, sg_page(src), src->length, src->offset);
		dst = sg_next(dst);
	}
	a->dev = at->dev;
	at->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void ccsh_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *at)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	struct ccsh_attachment *a = at->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

static struct sg_table *ccsh_map_dma_buf(struct dma_buf_attachment *at,
					 enum dma_data_direction dir)
{
	struct ccsh_attachment *a = at->priv;
	int ret;

	ret = ccsh_dma_map(at->dev, &a->sgt, dir);
	if (ret)
		return ERR_PTR(ret);
	a->mapped = true;
	return &a->sgt;
}

static void ccsh_unmap_dma_buf(struct dma_buf_attachment *at,
			       struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	struct ccsh_attachment *a = at->priv;

	a->mapped = false;
	ccsh_dma_unmap(at->dev, sgt, dir);
}

static int ccsh_begin_cpu_access(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	struct ccsh_attachment *a;

	mutex_lock(&buf->lock);
	if (buf->vmap_cnt)
		invalidate_kernel_vmap_range(buf->vaddr, buf->len);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			ccsh_dma_sync(a->dev, &a->sgt, dir, true);
	mutex_unlock(&buf->lock);
	return 0;
}

static int ccsh_end_cpu_access(struct dma_buf *dmabuf,
			       enum dma_data_direction dir)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	struct ccsh_attachment *a;

	mutex_lock(&buf->lock);
	if (buf->vmap_cnt)
		flush_kernel_vmap_range(buf->vaddr, buf->len);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			ccsh_dma_sync(a->dev, &a->sgt, dir, false);
	mutex_unlock(&buf->lock);
	return 0;
}

static int ccsh_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	struct ccsh_map_index *idx;

	/* only mapped buffers pay for the index their faults search */
	mutex_lock(&buf->lock);
	if (!buf->map_index)
		buf->map_index = ccsh_map_index_create(&buf->pages.sgt);
	idx = buf->map_index;
	mutex_unlock(&buf->lock);
	return idx ? ccsh_mmap_pages(idx, vma) : -ENOMEM;
}

static void *ccsh_map_kernel(struct ccsh_buffer *buf)
{
	unsigned long n = buf->len >> PAGE_SHIFT, i = 0;
	struct sg_page_iter it;
	struct page **pages;
	void *vaddr;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for_each_sgtable_page(&buf->pages.sgt, &it, 0)
		pages[i++] = sg_page_iter_page(&it);
	vaddr = vmap(pages, n, VM_MAP, pgprot_decrypted(PAGE_KERNEL));
	kvfree(pages);
	return vaddr;
}

static int ccsh_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct ccsh_buffer *buf = dmabuf->priv;
	int ret = 0;

	mutex_lock(&buf->lock);
	if (!buf->vmap_cnt) {
		buf->vaddr = ccsh_map_kernel(buf);
		if (!buf->vaddr)
			ret = -ENOMEM;
	}
	if (!ret) {
		buf->vmap_cnt++;
		iosys_map_set_vaddr(map, buf->vaddr);
	}
	mutex_unlock(&buf->lock);
	return ret;
}

static void ccsh_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct ccsh_buffer *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	if (!--buf->vmap_cnt) {
		vunmap(buf->vaddr);
		buf->vaddr = NULL;
	}
	mutex_unlock(&buf->lock);
	iosys_map_clear(map);
}

static void ccsh_release(struct dma_buf *dmabuf)
{
	struct ccsh_buffer *buf = dmabuf->priv;

	atomic64_dec(&ccsh_stats.buffers);
	atomic64_sub(buf->len, &ccsh_stats.shared_bytes);
	ccsh_map_index_destroy(buf->map_index);
	ccsh_pages_release(&buf->pages);
	mutex_destroy(&buf->lock);
	kfree(buf);
}

static const struct dma_buf_ops ccsh_dmabuf_ops = {
	.attach = ccsh_attach,
	.detach = ccsh_detach,
	.map_dma_buf = ccsh_map_dma_buf,
	.unmap_dma_buf = ccsh_unmap_dma_buf,
	.begin_cpu_access = ccsh_begin_cpu_access,
	.end_cpu_access = ccsh_end_cpu_access,
	.mmap = ccsh_mmap,
	.vmap = ccsh_vmap,
	.vunmap = ccsh_vunmap,
	.release = ccsh_release,
};

static int ccsh_check_request(unsigned long len, u32 fd_flags, u64 heap_flags)
{
	if (heap_flags || (fd_flags & ~(O_RDWR | O_CLOEXEC)))
		return -EINVAL;
	if (!len || !PAGE_ALIGNED(len))
		return -EINVAL;
	/* more than the machine can spare: fail before taking anything */
	if (len > ccsh_spare_bytes())
		return -ENOMEM;
	return 0;
}

/**
 * ccsh_spare_bytes() - the largest buffer the machine can spare now
 *
 * What the kernel estimates it could hand to a new workload without
 * swapping (MemAvailable), plus the whole chunks the pool holds shared,
 * less 1/32 of RAM left for everything else. A larger request could only
 * be met by reclaiming nearly everything, and other tasks would then meet
 * the OOM killer, which cannot see whose dma-buf holds the memory. The
 * unused pages of blocks small chunks are cut from do not count: only
 * small chunks can use them.
 *
 * Return: bytes, 0 when nothing can be spared.
 */
unsigned long ccsh_spare_bytes(void)
{
	long pages = si_mem_available() - totalram_pages() / 32 +
		     (ccsh_pool_whole_bytes() >> PAGE_SHIFT);

	return pages > 0 ? (unsigned long)pages << PAGE_SHIFT : 0;
}

/**
 * ccsh_heap_allocate() - allocate a shared buffer and export it as a dma-buf
 * @exp_name: exporter name shown in dma-buf debugfs
 * @len: size in bytes, a non-zero multiple of PAGE_SIZE
 * @fd_flags: O_RDWR and/or O_CLOEXEC for the dma-buf file
 * @heap_flags: must be 0
 *
 * Return: the dma-buf, or ERR_PTR(-EINVAL) for bad arguments, -ENOMEM
 * (also for more than ccsh_spare_bytes()), -EINTR when a fatal signal
 * arrives during allocation, or the -errno of a failed conversion.
 */
struct dma_buf *ccsh_heap_allocate(const char *exp_name, unsigned long len,
				   u32 fd_flags, u64 heap_flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct ccsh_buffer *buf;
	struct dma_buf *dmabuf;
	int ret;

	ret = ccsh_check_request(len, fd_flags, heap_flags);
	if (ret)
		return ERR_PTR(ret);
	buf = kzalloc_obj(*buf);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	buf->len = len;

	ret = ccsh_pages_alloc(&buf->pages, len);
	if (ret)
		goto free_buf;

	exp_info.exp_name = exp_name;
	exp_info.ops = &ccsh_dmabuf_ops;
	exp_info.size = len;
	exp_info.flags = fd_flags;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		ccsh_pages_release(&buf->pages);
		goto free_buf;
	}
	atomic64_inc(&ccsh_stats.buffers);
	atomic64_add(len, &ccsh_stats.shared_bytes);
	return dmabuf;

free_buf:
	mutex_destroy(&buf->lock);
	kfree(buf);
	return ERR_PTR(ret);
}

/**
 * ccsh_core_init() - set up everything but the registration
 * @emulate: use the emulation backend if the kernel has it
 *
 * Return: 0, -ENODEV where the heap must not exist, or another -errno.
 */
int ccsh_core_init(bool emulate)
{
	int ret = ccsh_convert_init(emulate);

	if (ret)
		return ret;
	ccsh_pool_init();
	ccsh_debugfs_init();
	return 0;
}

/**
 * ccsh_core_exit() - undo ccsh_core_init() once no buffer is left
 *
 * For registration glue whose registration failed, and for a module being
 * unloaded (every dma-buf holds a reference to it). The pool is converted
 * back and freed; pages leaked after failed conversions stay leaked.
 */
void ccsh_core_exit(void)
{
	ccsh_debugfs_exit();
	ccsh_pool_exit();
	ccsh_convert_exit();
}
