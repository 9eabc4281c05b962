// SPDX-License-Identifier: GPL-2.0
/*
 * Registration of the system_cc_shared heap on kernels that do not export
 * dma_heap_add() (before 6.18): a misc device whose node is
 * /dev/dma_heap/system_cc_shared and which answers DMA_HEAP_IOCTL_ALLOC
 * as the dma-heap core would, so that heap users cannot tell the two
 * apart: the same structure, the same size handling for older and newer
 * callers, the same errnos. The node exists only where the heap may be
 * used (see cc_shared_convert.c), and the module can be unloaded once no
 * buffer is left (each dma-buf holds a reference to it).
 */

#include <linux/dma-buf.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <uapi/linux/dma-heap.h>

#include "cc_shared_heap.h"
#include "cc_shared_module.h"

/* The checks of the dma-heap core's allocation ioctl, in its order. */
static struct dma_buf *ccsh_misc_alloc(struct dma_heap_allocation_data *data)
{
	const u32 fd_flags_ok = O_CLOEXEC | O_ACCMODE;
	size_t len;

	if (data->fd || (data->fd_flags & ~fd_flags_ok) || data->heap_flags)
		return ERR_PTR(-EINVAL);
	len = PAGE_ALIGN(data->len);	/* 0 also when rounding wraps */
	if (!len)
		return ERR_PTR(-EINVAL);
	return ccsh_heap_allocate(CCSH_HEAP_NAME, len, data->fd_flags,
				  data->heap_flags);
}

/*
 * Callers built against an older or newer uapi pass a smaller or larger
 * structure: read what they give, zero the rest, and write back only what
 * they asked for.
 */
static long ccsh_misc_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct dma_heap_allocation_data data = {};
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);
	size_t in = (cmd & IOC_IN) ? min(usize, sizeof(data)) : 0;
	size_t out = (cmd & IOC_OUT) ? min(usize, sizeof(data)) : 0;
	struct dma_buf *dmabuf;
	int fd;

	/* the core knows one command, by number, and rejects the others */
	if (_IOC_NR(cmd) != _IOC_NR(DMA_HEAP_IOCTL_ALLOC))
		return -EINVAL;
	if (copy_from_user(&data, uarg, in))
		return -EFAULT;
	dmabuf = ccsh_misc_alloc(&data);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = get_unused_fd_flags(data.fd_flags);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	data.fd = fd;
	if (copy_to_user(uarg, &data, out)) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}

static const struct file_operations ccsh_misc_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = ccsh_misc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice ccsh_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = CCSH_HEAP_NAME,
	.nodename = "dma_heap/" CCSH_HEAP_NAME,
	.fops = &ccsh_misc_fops,
};

/**
 * ccsh_misc_register() - create /dev/dma_heap/system_cc_shared
 *
 * Return: 0 or -errno.
 */
int ccsh_misc_register(void)
{
	return misc_register(&ccsh_misc);
}

/**
 * ccsh_misc_unregister() - remove the node again
 */
void ccsh_misc_unregister(void)
{
	misc_deregister(&ccsh_misc);
}
