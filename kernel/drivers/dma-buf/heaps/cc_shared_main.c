// SPDX-License-Identifier: GPL-2.0
/*
 * Registration of the system_cc_shared heap with the dma-heap core.
 *
 * The heap exists only in a confidential guest, or, in a kernel built with
 * the emulation backend on a machine whose memory is not encrypted, when
 * cc_shared_heap.emulate=1 asks for it. Anywhere else the device node
 * does not appear: software that does not expect the host to read its
 * buffers is never offered them.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/dma-heap.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/module.h>

#include "cc_shared_heap.h"

static bool emulate;
module_param(emulate, bool, 0444);
MODULE_PARM_DESC(emulate,
		 "Emulate memory conversions (debug kernels only; NOT secure)");

static bool fail_register;
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
module_param(fail_register, bool, 0444);
MODULE_PARM_DESC(fail_register,
		 "Make registration fail, to test its unwinding (debug kernels only)");
#endif

static struct dma_buf *ccsh_dma_heap_allocate(struct dma_heap *heap,
					      unsigned long len, u32 fd_flags,
					      u64 heap_flags)
{
	return ccsh_heap_allocate(dma_heap_get_name(heap), len, fd_flags,
				  heap_flags);
}

static const struct dma_heap_ops ccsh_dma_heap_ops = {
	.allocate = ccsh_dma_heap_allocate,
};

static int __init ccsh_init(void)
{
	struct dma_heap_export_info info = {
		.name = CCSH_HEAP_NAME,
		.ops = &ccsh_dma_heap_ops,
	};
	struct dma_heap *heap;
	int ret;

	ret = ccsh_core_init(emulate);
	if (ret == -ENODEV)
		return 0;	/* not a confidential guest: stay invisible */
	if (ret)
		return ret;

	heap = fail_register ? ERR_PTR(-EBUSY) : dma_heap_add(&info);
	if (IS_ERR(heap)) {
		pr_err("registering the heap failed: %ld\n", PTR_ERR(heap));
		ccsh_core_exit();
		return PTR_ERR(heap);
	}
	pr_info("%s heap registered%s\n", CCSH_HEAP_NAME,
		ccsh_emulating() ? " (EMULATED conversions)" : "");
#ifdef CCSH_TEST_IMPORTER
	/* the module's test flavour, for kernels without vgem */
	if (ccsh_importer_init())
		pr_warn("no test importer\n");
#endif
	return 0;
}
module_init(ccsh_init);

MODULE_DESCRIPTION("dma-buf heap of memory shared by a confidential VM");
MODULE_LICENSE("GPL");
