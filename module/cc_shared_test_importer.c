// SPDX-License-Identifier: GPL-2.0
/*
 * A test importer for the module's test flavour, for kernels without vgem
 * (Debian's cloud kernels have no DRM): a platform device on dma-direct
 * that attaches and maps any dma-buf whose fd is written to
 * /sys/kernel/debug/cc_shared_heap/test_import, and keeps it mapped until
 * "release" (or the next fd) is written. Reading the file tells how many
 * DMA segments the mapping has and how many of them the device reaches at
 * the memory's own unencrypted address (mapped in place, not bounced),
 * both told from the DMA side of the table alone, as an importer must.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/swiotlb.h>

#include "cc_shared_heap.h"
#include "cc_shared_module.h"

static DEFINE_MUTEX(ccsh_imp_lock);	/* everything below */
static struct platform_device *ccsh_imp_pdev;
static struct dma_buf *ccsh_imp_buf;
static struct dma_buf_attachment *ccsh_imp_at;
static struct sg_table *ccsh_imp_sgt;
static unsigned int ccsh_imp_entries, ccsh_imp_in_place;

/*
 * An importer may use only the DMA side of a table it mapped: the page
 * links belong to the exporter. CONFIG_DMABUF_DEBUG scrambles them while
 * an importer holds the table, to catch importers that follow them. The
 * stock kernels this module is tested on are built without that option,
 * so the test importer scrambles its own table the same way while it holds
 * it, flipping every bit of each link but its low byte (the entry's end and
 * chain marks), and flips them back before handing the table back. A
 * kernel with the option does this itself, and twice would undo it.
 */
static void ccsh_imp_scramble(struct sg_table *sgt)
{
#ifndef CONFIG_DMABUF_DEBUG
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i)
		sg->page_link ^= ~0xffUL;
#endif
}

static void ccsh_imp_release(void)
{
	if (ccsh_imp_sgt) {
		ccsh_imp_scramble(ccsh_imp_sgt);	/* back as it was */
		dma_buf_unmap_attachment_unlocked(ccsh_imp_at, ccsh_imp_sgt,
						  DMA_BIDIRECTIONAL);
	}
	if (ccsh_imp_at)
		dma_buf_detach(ccsh_imp_buf, ccsh_imp_at);
	if (ccsh_imp_buf)
		dma_buf_put(ccsh_imp_buf);
	ccsh_imp_sgt = NULL;
	ccsh_imp_at = NULL;
	ccsh_imp_buf = NULL;
	ccsh_imp_entries = 0;
	ccsh_imp_in_place = 0;
}

/*
 * Whether the device reaches a mapped segment in place, told from its DMA
 * address alone. The test device is a platform device on dma-direct: no
 * IOMMU, no DMA ops, no DMA offset map (nothing here gives it any, and the
 * heap maps no other kind of device, see ccsh_dma_in_place_ok()). For such
 * a device dma_to_phys() undoes what dma-direct, or the heap mapping in
 * place, did to a physical address, clearing the encryption bit where
 * there is one. The segment is in place when its address is the
 * unencrypted one of that physical address, and that is no swiotlb slot.
 */
static bool ccsh_imp_seg_in_place(struct device *dev, dma_addr_t addr)
{
	phys_addr_t phys = dma_to_phys(dev, addr);

	return addr == phys_to_dma_unencrypted(dev, phys) &&
	       !swiotlb_find_pool(dev, phys);
}

static int ccsh_imp_import(int fd)
{
	struct device *dev = &ccsh_imp_pdev->dev;
	struct scatterlist *sg;
	unsigned int i;

	ccsh_imp_buf = dma_buf_get(fd);
	if (IS_ERR(ccsh_imp_buf))
		return PTR_ERR(ccsh_imp_buf);
	ccsh_imp_at = dma_buf_attach(ccsh_imp_buf, dev);
	if (IS_ERR(ccsh_imp_at))
		return PTR_ERR(ccsh_imp_at);
	ccsh_imp_sgt = dma_buf_map_attachment_unlocked(ccsh_imp_at,
						       DMA_BIDIRECTIONAL);
	if (IS_ERR(ccsh_imp_sgt))
		return PTR_ERR(ccsh_imp_sgt);
	ccsh_imp_scramble(ccsh_imp_sgt);
	for_each_sgtable_dma_sg(ccsh_imp_sgt, sg, i) {
		ccsh_imp_entries++;
		if (ccsh_imp_seg_in_place(dev, sg_dma_address(sg)))
			ccsh_imp_in_place++;
	}
	return 0;
}

static ssize_t ccsh_imp_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	char cmd[16] = "";
	int fd, ret = 0;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	strim(cmd);
	if (strcmp(cmd, "release") && kstrtoint(cmd, 10, &fd))
		return -EINVAL;
	mutex_lock(&ccsh_imp_lock);
	ccsh_imp_release();
	if (strcmp(cmd, "release")) {
		ret = ccsh_imp_import(fd);
		/* a partial import (error pointers included) is undone */
		if (IS_ERR(ccsh_imp_buf))
			ccsh_imp_buf = NULL;
		if (IS_ERR(ccsh_imp_at))
			ccsh_imp_at = NULL;
		if (IS_ERR(ccsh_imp_sgt))
			ccsh_imp_sgt = NULL;
		if (ret)
			ccsh_imp_release();
	}
	mutex_unlock(&ccsh_imp_lock);
	return ret ?: count;
}

static int ccsh_imp_show(struct seq_file *m, void *unused)
{
	mutex_lock(&ccsh_imp_lock);
	seq_printf(m, "entries %u in_place %u\n", ccsh_imp_entries,
		   ccsh_imp_in_place);
	mutex_unlock(&ccsh_imp_lock);
	return 0;
}

static int ccsh_imp_open(struct inode *inode, struct file *file)
{
	return single_open(file, ccsh_imp_show, NULL);
}

static const struct file_operations ccsh_imp_fops = {
	.owner = THIS_MODULE,
	.open = ccsh_imp_open,
	.read = seq_read,
	.write = ccsh_imp_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * ccsh_importer_init() - create the test device and its debugfs file
 *
 * Return: 0 or -errno.
 */
int ccsh_importer_init(void)
{
	struct dentry *dir = debugfs_lookup("cc_shared_heap", NULL);
	int ret;

	if (!dir)
		return -ENOENT;
	ccsh_imp_pdev = platform_device_register_simple("cc_shared_heap_importer",
							PLATFORM_DEVID_NONE,
							NULL, 0);
	if (IS_ERR(ccsh_imp_pdev)) {
		ret = PTR_ERR(ccsh_imp_pdev);
		ccsh_imp_pdev = NULL;
		dput(dir);
		return ret;
	}
	ret = dma_coerce_mask_and_coherent(&ccsh_imp_pdev->dev,
					   DMA_BIT_MASK(64));
	if (!ret)
		debugfs_create_file("test_import", 0600, dir, NULL,
				    &ccsh_imp_fops);
	else
		ccsh_importer_exit();
	dput(dir);
	return ret;
}

/**
 * ccsh_importer_exit() - drop any import and remove the test device
 *
 * The debugfs file goes with the heap's directory.
 */
void ccsh_importer_exit(void)
{
	mutex_lock(&ccsh_imp_lock);
	ccsh_imp_release();
	mutex_unlock(&ccsh_imp_lock);
	platform_device_unregister(ccsh_imp_pdev);
	ccsh_imp_pdev = NULL;
}
