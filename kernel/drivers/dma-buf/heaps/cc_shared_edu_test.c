// SPDX-License-Identifier: GPL-2.0
/*
 * A dma-buf importer on QEMU's "edu" PCI device, for tests only.
 *
 * edu has a DMA engine and a 4 KiB buffer that only DMA can reach: a
 * transfer moves up to a few KiB between that buffer and a bus address.
 * This driver binds the first edu device, imports a dma-buf by fd, maps
 * the attachment through the DMA API as any importer does (so an IOMMU,
 * swiotlb or the device's DMA mask applies as the DMA core decides), and
 * moves a known pattern through the device into and out of the whole
 * buffer. Each transfer to or from the buffer goes through the device's
 * own buffer and a small coherent scratch area of the driver, where the
 * CPU writes or checks the pattern. Userspace drives it through
 * /sys/kernel/debug/cc_shared_edu_test/ctl:
 *
 *   attach FD      import, attach and map the dma-buf (DMA_BIDIRECTIONAL)
 *   to_mem SEED    the device writes SEED's pattern over the whole buffer
 *   from_mem SEED  the device reads the whole buffer; mismatches counted
 *   detach         unmap, detach and drop the dma-buf
 *   cc_shared_sg   map 4 pages of the driver's own with DMA_ATTR_CC_SHARED
 *                  and report what the DMA core said
 *   control BYTES  the same round trip (to_mem, then from_mem) through
 *                  ordinary private pages of the driver's own, mapped
 *                  without attributes: the control on kernels that have
 *                  no system heap to export such a buffer
 *
 * A failed command fails the write(2) with its errno. Reading the file
 * gives the mapping's entry count and the last transfer's result.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

/* before 6.2 the plain calls took the reservation lock themselves */
#if defined(CCSH_MODULE) && !defined(CCSH_HAVE_MAP_UNLOCKED)
#define dma_buf_map_attachment_unlocked dma_buf_map_attachment
#define dma_buf_unmap_attachment_unlocked dma_buf_unmap_attachment
#endif

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_RUN		BIT(0)
#define EDU_DMA_TO_RAM		BIT(1)
/* the device's buffer, in its own DMA address space */
#define EDU_BUF_ADDR		0x40000
/*
 * One transfer: half the device's 4 KiB buffer (QEMU 7.2 stops the
 * machine on a transfer that reaches the buffer's last byte).
 */
#define EDU_XFER		2048
/*
 * A transfer runs from a 100 ms timer of the machine's virtual clock: sleep
 * that long, then poll (with -icount sleep=off the machine's clock jumps
 * over each sleep, so every wake-up costs, not the time slept).
 */
#define EDU_DMA_US		(100 * USEC_PER_MSEC)
#define EDU_POLL_US		(5 * USEC_PER_MSEC)
#define EDU_TIMEOUT_US		(2 * USEC_PER_SEC)

static unsigned int dma_bits = 28;
module_param(dma_bits, uint, 0444);
MODULE_PARM_DESC(dma_bits, "DMA mask width the device was given (edu's dma_mask; default 28)");

struct edu_import {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *at;
	struct sg_table *sgt;
};

static struct edu {
	struct mutex lock;		/* everything below */
	struct pci_dev *pdev;
	void __iomem *regs;
	void *scratch;			/* EDU_XFER bytes, coherent */
	dma_addr_t scratch_dma;
	struct dentry *dir;
	struct edu_import imp;
	unsigned int entries;
	unsigned long transfers, mismatches;
	long first_bad;
} edu = { .lock = __MUTEX_INITIALIZER(edu.lock) };

/* Word @i (byte offset 4 * @i) of @seed's pattern; userspace has the same. */
static u32 edu_word(u32 seed, u32 i)
{
	u32 x = seed ^ (i * 0x9e3779b9u);

	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/* Word @w of the buffer read @got: count it if it is not @seed's pattern. */
static void edu_check_word(__le32 got, u32 seed, unsigned long w)
{
	if (le32_to_cpu(got) != edu_word(seed, w) && !edu.mismatches++)
		edu.first_bad = 4 * w;
}

/* One transfer between the device's buffer and bus address @addr. */
static int edu_dma(dma_addr_t addr, u32 len, bool to_ram)
{
	u32 cmd;

	writeq(to_ram ? EDU_BUF_ADDR : addr, edu.regs + EDU_REG_DMA_SRC);
	writeq(to_ram ? addr : EDU_BUF_ADDR, edu.regs + EDU_REG_DMA_DST);
	writeq(len, edu.regs + EDU_REG_DMA_COUNT);
	writeq(EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0),
	       edu.regs + EDU_REG_DMA_CMD);
	edu.transfers++;
	fsleep(EDU_DMA_US);
	return readl_poll_timeout(edu.regs + EDU_REG_DMA_CMD, cmd,
				  !(cmd & EDU_DMA_RUN), EDU_POLL_US,
				  EDU_TIMEOUT_US);
}

/*
 * Move @len bytes at bus address @addr, which is byte @pos of the buffer:
 * the pattern from the scratch area into the buffer, or the buffer's
 * bytes into the scratch area to be checked.
 */
static int edu_piece(dma_addr_t addr, u32 len, unsigned long pos, u32 seed,
		     bool to_mem)
{
	__le32 *w = edu.scratch;
	u32 i, n = len / 4;
	int ret;

	if (to_mem) {
		for (i = 0; i < n; i++)
			w[i] = cpu_to_le32(edu_word(seed, pos / 4 + i));
		ret = edu_dma(edu.scratch_dma, len, false);
		return ret ?: edu_dma(addr, len, true);
	}
	memset(edu.scratch, 0, len);
	ret = edu_dma(addr, len, false) ?: edu_dma(edu.scratch_dma, len, true);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		edu_check_word(w[i], seed, pos / 4 + i);
	return 0;
}

/* The whole of @sgt, piece by piece, in the order of its DMA segments. */
static int edu_move(struct sg_table *sgt, u32 seed, bool to_mem)
{
	struct scatterlist *sg;
	unsigned long pos = 0;
	unsigned int i;
	int ret;

	if (!sgt)
		return -ENOTCONN;
	edu.transfers = 0;
	edu.mismatches = 0;
	edu.first_bad = -1;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		u32 off, len = sg_dma_len(sg);

		for (off = 0; off < len; off += EDU_XFER) {
			u32 n = min_t(u32, EDU_XFER, len - off);

			ret = edu_piece(sg_dma_address(sg) + off, n, pos, seed,
					to_mem);
			if (ret)
				return ret;
			pos += n;
		}
	}
	return 0;
}

static void edu_detach(void)
{
	struct edu_import *imp = &edu.imp;

	if (!IS_ERR_OR_NULL(imp->sgt))
		dma_buf_unmap_attachment_unlocked(imp->at, imp->sgt,
						  DMA_BIDIRECTIONAL);
	if (!IS_ERR_OR_NULL(imp->at))
		dma_buf_detach(imp->dmabuf, imp->at);
	if (!IS_ERR_OR_NULL(imp->dmabuf))
		dma_buf_put(imp->dmabuf);
	memset(imp, 0, sizeof(*imp));
	edu.entries = 0;
}

static int edu_attach(int fd)
{
	struct edu_import *imp = &edu.imp;
	int ret = 0;

	if (imp->dmabuf)
		return -EBUSY;
	imp->dmabuf = dma_buf_get(fd);
	if (IS_ERR(imp->dmabuf))
		ret = PTR_ERR(imp->dmabuf);
	if (!ret) {
		imp->at = dma_buf_attach(imp->dmabuf, &edu.pdev->dev);
		if (IS_ERR(imp->at))
			ret = PTR_ERR(imp->at);
	}
	if (!ret) {
		imp->sgt = dma_buf_map_attachment_unlocked(imp->at,
							   DMA_BIDIRECTIONAL);
		if (IS_ERR(imp->sgt))
			ret = PTR_ERR(imp->sgt);
	}
	if (ret) {
		edu_detach();
		return ret;
	}
	edu.entries = imp->sgt->nents;
	return 0;
}

static void edu_pages_free(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i)
		if (sg_page(sg))
			__free_page(sg_page(sg));
	sg_free_table(sgt);
}

/* @n private pages of the driver's own in @sgt, one per entry; all or none. */
static int edu_pages_alloc(struct sg_table *sgt, unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;
	int ret = sg_alloc_table(sgt, n, GFP_KERNEL);

	if (ret)
		return ret;
	for_each_sgtable_sg(sgt, sg, i) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page) {
			edu_pages_free(sgt);
			return -ENOMEM;
		}
		sg_set_page(sg, page, PAGE_SIZE, 0);
	}
	return 0;
}

/* What the DMA core does with DMA_ATTR_CC_SHARED for this device. */
static int edu_cc_shared_sg(void)
{
#ifdef DMA_ATTR_CC_SHARED
	struct device *dev = &edu.pdev->dev;
	struct sg_table sgt;
	int ret;

	ret = edu_pages_alloc(&sgt, 4);
	if (ret)
		return ret;
	ret = dma_map_sgtable(dev, &sgt, DMA_TO_DEVICE, DMA_ATTR_CC_SHARED);
	if (!ret)
		dma_unmap_sgtable(dev, &sgt, DMA_TO_DEVICE, DMA_ATTR_CC_SHARED);
	edu_pages_free(&sgt);
	return ret;
#else
	return -EOPNOTSUPP;
#endif
}

/* Word by word, as the CPU sees the pages of @sgt; mismatches counted. */
static void edu_cpu_pattern(struct sg_table *sgt, u32 seed, bool write)
{
	struct sg_page_iter it;
	unsigned long w = 0;

	edu.mismatches = 0;
	edu.first_bad = -1;
	for_each_sgtable_page(sgt, &it, 0) {
		__le32 *p = page_address(sg_page_iter_page(&it));
		unsigned int i;

		for (i = 0; i < PAGE_SIZE / 4; i++, w++) {
			if (write)
				p[i] = cpu_to_le32(edu_word(seed, w));
			else
				edu_check_word(p[i], seed, w);
		}
	}
}

/* The round trip of a dma-buf, through private pages of the driver's own. */
static int edu_control_trip(struct sg_table *sgt)
{
	struct device *dev = &edu.pdev->dev;
	unsigned long wrong;
	int ret;

	ret = dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		return ret;
	edu.entries = sgt->nents;
	ret = edu_move(sgt, 1, true);
	if (!ret) {
		dma_sync_sgtable_for_cpu(dev, sgt, DMA_BIDIRECTIONAL);
		edu_cpu_pattern(sgt, 1, false);
		wrong = edu.mismatches;
		edu_cpu_pattern(sgt, 2, true);
		dma_sync_sgtable_for_device(dev, sgt, DMA_BIDIRECTIONAL);
		ret = edu_move(sgt, 2, false);
		edu.mismatches += wrong;
	}
	dma_unmap_sgtable(dev, sgt, DMA_BIDIRECTIONAL, 0);
	return ret;
}

static int edu_control(u32 bytes)
{
	struct sg_table sgt;
	int ret;

	if (edu.imp.dmabuf)
		return -EBUSY;
	if (!bytes || bytes % PAGE_SIZE)
		return -EINVAL;
	ret = edu_pages_alloc(&sgt, bytes >> PAGE_SHIFT);
	if (ret)
		return ret;
	ret = edu_control_trip(&sgt);
	edu.entries = 0;
	edu_pages_free(&sgt);
	return ret;
}

static int edu_command(char *cmd)
{
	char *arg = strim(cmd);
	char *word = strsep(&arg, " ");
	u32 val = 0;

	if (!strcmp(word, "detach")) {
		edu_detach();
		return 0;
	}
	if (!strcmp(word, "cc_shared_sg"))
		return edu_cc_shared_sg();
	if (!arg || kstrtou32(arg, 0, &val))
		return -EINVAL;
	if (!strcmp(word, "attach"))
		return edu_attach(val);
	if (!strcmp(word, "to_mem"))
		return edu_move(edu.imp.sgt, val, true);
	if (!strcmp(word, "from_mem"))
		return edu_move(edu.imp.sgt, val, false);
	if (!strcmp(word, "control"))
		return edu_control(val);
	return -EINVAL;
}

static ssize_t edu_ctl_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char buf[32];
	int ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	mutex_lock(&edu.lock);
	ret = edu_command(buf);
	mutex_unlock(&edu.lock);
	return ret ?: count;
}

static int edu_ctl_show(struct seq_file *m, void *unused)
{
	mutex_lock(&edu.lock);
	seq_printf(m, "entries %u bytes %zu transfers %lu mismatches %lu first_bad %ld\n",
		   edu.entries, edu.imp.dmabuf ? edu.imp.dmabuf->size : 0,
		   edu.transfers, edu.mismatches, edu.first_bad);
	mutex_unlock(&edu.lock);
	return 0;
}

static int edu_ctl_open(struct inode *inode, struct file *file)
{
	return single_open(file, edu_ctl_show, NULL);
}

static const struct file_operations edu_ctl_fops = {
	.owner = THIS_MODULE,
	.open = edu_ctl_open,
	.read = seq_read,
	.write = edu_ctl_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int edu_setup(struct pci_dev *pdev)
{
	struct device *dev = &pdev->dev;
	int ret;

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(dma_bits));
	if (ret) {
		dev_err(dev, "no %u-bit DMA mask: %d\n", dma_bits, ret);
		return ret;
	}
	edu.regs = pci_iomap(pdev, 0, 0);
	if (!edu.regs)
		return -ENOMEM;
	if ((readl(edu.regs + EDU_REG_ID) & 0xff) != 0xed) {
		pci_iounmap(pdev, edu.regs);
		return -ENODEV;
	}
	edu.scratch = dma_alloc_coherent(dev, EDU_XFER, &edu.scratch_dma,
					 GFP_KERNEL);
	if (!edu.scratch) {
		pci_iounmap(pdev, edu.regs);
		return -ENOMEM;
	}
	pci_set_master(pdev);
	return 0;
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret;

	mutex_lock(&edu.lock);
	ret = edu.pdev ? -EBUSY : pci_enable_device(pdev);
	if (ret)
		goto out;
	ret = pci_request_region(pdev, 0, KBUILD_MODNAME);
	if (ret)
		goto disable;
	ret = edu_setup(pdev);
	if (ret)
		goto release;
	edu.pdev = pdev;
	edu.first_bad = -1;
	edu.dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("ctl", 0600, edu.dir, NULL, &edu_ctl_fops);
	dev_info(&pdev->dev, "test importer, %u-bit DMA mask\n", dma_bits);
	goto out;
release:
	pci_release_region(pdev, 0);
disable:
	pci_disable_device(pdev);
out:
	mutex_unlock(&edu.lock);
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	debugfs_remove_recursive(edu.dir);
	mutex_lock(&edu.lock);
	edu_detach();
	dma_free_coherent(&pdev->dev, EDU_XFER, edu.scratch, edu.scratch_dma);
	pci_clear_master(pdev);
	pci_iounmap(pdev, edu.regs);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
	edu.pdev = NULL;
	mutex_unlock(&edu.lock);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};
module_pci_driver(edu_driver);

#ifdef MODULE
#ifdef CCSH_NS_BARE
MODULE_IMPORT_NS(DMA_BUF);
#else
MODULE_IMPORT_NS("DMA_BUF");
#endif
#endif
MODULE_DESCRIPTION("Test importer moving dma-buf data through QEMU's edu DMA engine");
MODULE_LICENSE("GPL");
