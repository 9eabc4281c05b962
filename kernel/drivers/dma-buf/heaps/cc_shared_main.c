// SPDX-License-Identifier: GPL-2.0
/*
 * Registration of the system_cc_shared heap with the dma-heap core (or, in
 * the out-of-tree module for kernels that do not export dma_heap_add(),
 * as a misc device: cc_shared_misc.c).
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

#ifdef CCSH_MISC_DEVICE
/* the module where dma_heap_add() is not exported: cc_shared_misc.c */
#define ccsh_register ccsh_misc_register
#define CCSH_REGISTERED_AS " as a misc device"
#else
#define CCSH_REGISTERED_AS ""

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

/* The dma-heap core cannot remove a heap: once added, it stays. */
static int ccsh_register(void)
{
	struct dma_heap_export_info info = {
		.name = CCSH_HEAP_NAME,
		.ops = &ccsh_dma_heap_ops,
	};

	return PTR_ERR_OR_ZERO(dma_heap_add(&info));
}
#endif

static bool ccsh_registered;

static int __init ccsh_init(void)
{
	int ret = ccsh_core_init(emulate);

	if (ret == -ENODEV) {
		/* not a confidential guest: stay invisible */
#ifdef MODULE
		pr_info("not a confidential guest: no %s heap\n", CCSH_HEAP_NAME);
#endif
		return 0;
	}
	if (ret)
		return ret;

	ret = fail_register ? -EBUSY : ccsh_register();
	if (ret) {
		pr_err("registering the heap failed: %d\n", ret);
		ccsh_core_exit();
		return ret;
	}
	ccsh_registered = true;
	pr_info("%s heap registered" CCSH_REGISTERED_AS "%s\n", CCSH_HEAP_NAME,
		ccsh_emulating() ? " (EMULATED conversions)" : "");
#ifdef CCSH_TEST_IMPORTER
	/* the module's test flavour, for kernels without vgem */
	if (ccsh_importer_init())
		pr_warn("no test importer\n");
#endif
	return 0;
}
module_init(ccsh_init);

#ifdef CCSH_MISC_DEVICE
/* Only a misc device can go away; no buffer is left (each holds the module). */
static void __exit ccsh_exit(void)
{
	if (!ccsh_registered)
		return;
#ifdef CCSH_TEST_IMPORTER
	ccsh_importer_exit();
#endif
	ccsh_misc_unregister();
	ccsh_core_exit();
}
module_exit(ccsh_exit);
#endif

MODULE_DESCRIPTION("dma-buf heap of memory shared by a confidential VM");
MODULE_LICENSE("GPL");
