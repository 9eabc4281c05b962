// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark kernels only: measure mainline's own system_cc_shared heap
 * beside this one. A test-only patch of system_heap.c gives mainline's heap
 * a conversion hook; with cc_shared_heap.mainline_bench=1 (and emulate=1)
 * it is set here, before the heaps register, so that mainline's heap
 * converts through the same seam, fault injection and emulation as this
 * one and registers as "system_cc_shared_mainline".
 */
#include <linux/dma-heap.h>
#include <linux/init.h>
#include <linux/module.h>

#include "cc_shared_heap.h"

static bool mainline_bench;
module_param(mainline_bench, bool, 0444);
MODULE_PARM_DESC(mainline_bench,
		 "Route mainline's system_cc_shared through the emulation (benchmark kernels)");

static int ccsh_mainline_convert(struct page *page, unsigned int nr, bool share)
{
	if (!ccsh_emulating())
		return -ENODEV;
	return share ? ccsh_share(page, nr) : ccsh_unshare(page, nr);
}

/* before module_init, where both heaps register */
static int __init ccsh_mainline_bench_init(void)
{
	if (mainline_bench)
		system_heap_cc_bench_convert = ccsh_mainline_convert;
	return 0;
}
subsys_initcall(ccsh_mainline_bench_init);
