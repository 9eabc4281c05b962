// SPDX-License-Identifier: GPL-2.0
/*
 * The single place where pages of the system_cc_shared heap change between
 * private and shared. Everything above this file asks for a run of
 * physically contiguous pages to be converted; this file counts the call,
 * applies fault injection, hands the run to the backend, traces the call
 * with its duration (cc_shared_trace.h), and on failure records the run as
 * leaked: a page whose conversion failed is in an unknown state and must
 * never be converted again or freed.
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/cc_platform.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/set_memory.h>

#include "cc_shared_heap.h"
#include "cc_shared_trace.h"

#ifdef CCSH_FAULT_ATTR
DECLARE_FAULT_ATTR(ccsh_fail_share);
DECLARE_FAULT_ATTR(ccsh_fail_unshare);
#endif

static int ccsh_real_share(struct page *page, unsigned int nr)
{
	return set_memory_decrypted((unsigned long)page_address(page), nr);
}

static int ccsh_real_unshare(struct page *page, unsigned int nr)
{
	return set_memory_encrypted((unsigned long)page_address(page), nr);
}

static const struct ccsh_backend ccsh_real_backend = {
	.share = ccsh_real_share,
	.unshare = ccsh_real_unshare,
};

static const struct ccsh_backend *ccsh_backend;

/**
 * ccsh_pick_backend() - decide how the heap converts pages, if at all
 * @emulate: cc_shared_heap.emulate=1 was given
 * @emu_built: the kernel has the emulation backend
 * @mem_encrypted: memory really is encrypted (CC_ATTR_MEM_ENCRYPT)
 * @cc_guest: this is a confidential guest (CC_ATTR_GUEST_MEM_ENCRYPT)
 *
 * Emulation is only for machines whose memory is not encrypted: where it
 * is, emulated "shared" pages would stay private while mapped decrypted.
 * The real backend is only for confidential guests: a host that encrypts
 * its own memory (SME) has nobody to share pages with.
 *
 * Return: the backend to use.
 */
enum ccsh_backend_kind ccsh_pick_backend(bool emulate, bool emu_built,
					 bool mem_encrypted, bool cc_guest)
{
	if (emulate && emu_built && !mem_encrypted)
		return CCSH_BACKEND_EMULATED;
	return cc_guest ? CCSH_BACKEND_REAL : CCSH_BACKEND_NONE;
}

/**
 * ccsh_convert_init() - choose how pages will be converted
 * @emulate: the emulation was asked for
 *
 * Return: 0 when the heap can work, -ENODEV when this is not a
 * confidential guest and emulation is not possible, or another -errno
 * from setting up the emulation.
 */
int ccsh_convert_init(bool emulate)
{
	bool built = IS_ENABLED(CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION);
	bool encrypted = cc_platform_has(CC_ATTR_MEM_ENCRYPT);

	if (emulate && !built)
		pr_warn("emulate=1 ignored: built without the emulation backend\n");
	else if (emulate && encrypted)
		pr_warn("emulate=1 refused: memory is really encrypted here\n");

	switch (ccsh_pick_backend(emulate, built, encrypted,
				  cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))) {
	case CCSH_BACKEND_REAL:
		ccsh_backend = &ccsh_real_backend;
		return 0;
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	case CCSH_BACKEND_EMULATED: {
		int ret = ccsh_emu_init();

		if (!ret)
			ccsh_backend = &ccsh_emu_backend;
		return ret;
	}
#endif
	default:
		return -ENODEV;
	}
}

/**
 * ccsh_convert_exit() - undo ccsh_convert_init()
 *
 * Only for a heap that never handed out a page.
 */
void ccsh_convert_exit(void)
{
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	if (ccsh_emulating())
		ccsh_emu_exit();
#endif
	ccsh_backend = NULL;
}

/**
 * ccsh_emulating() - whether conversions go to the emulation backend
 *
 * Return: true in emulation mode.
 */
bool ccsh_emulating(void)
{
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	return ccsh_backend == &ccsh_emu_backend;
#else
	return false;
#endif
}

static bool ccsh_inject(bool share, unsigned int nr)
{
#if defined(CCSH_FAULT_ATTR)
	return should_fail(share ? &ccsh_fail_share : &ccsh_fail_unshare,
			   (ssize_t)nr << PAGE_SHIFT);
#elif defined(CCSH_FAULT_KNOBS)
	return ccsh_knob_should_fail(share ? CCSH_FAIL_SHARE : CCSH_FAIL_UNSHARE,
				     (size_t)nr << PAGE_SHIFT);
#else
	return false;
#endif
}

/* The backend's conversion of the run, or the failure injected instead. */
static int ccsh_convert_run(struct page *page, unsigned int nr, bool share)
{
	if (ccsh_inject(share, nr))
		return ccsh_backend->fail ? ccsh_backend->fail(page, nr, share) :
					    -EIO;
	return share ? ccsh_backend->share(page, nr) :
		       ccsh_backend->unshare(page, nr);
}

static int ccsh_convert(struct page *page, unsigned int nr, bool share)
{
	/* timed only while someone traces: no clock reads otherwise */
	bool traced = trace_ccsh_convert_enabled();
	u64 start = traced ? ktime_get_ns() : 0;
	int ret;

	atomic64_inc(share ? &ccsh_stats.share_calls : &ccsh_stats.unshare_calls);
	ret = ccsh_convert_run(page, nr, share);
	if (traced)
		trace_ccsh_convert(page, nr, share, ret, ktime_get_ns() - start);
	if (likely(!ret))
		return 0;

	atomic64_inc(share ? &ccsh_stats.share_failures :
			     &ccsh_stats.unshare_failures);
	atomic64_add((u64)nr << PAGE_SHIFT, &ccsh_stats.leaked_bytes);
	pr_warn_ratelimited("%s of %u pages at pfn %#lx failed (%d), leaking them\n",
			    share ? "share" : "unshare", nr, page_to_pfn(page), ret);
	return ret;
}

/**
 * ccsh_share() - convert a run of private pages to shared
 * @page: first page of the run
 * @nr: number of pages, physically contiguous
 *
 * On failure the run is counted in leaked_bytes and belongs to nobody:
 * the caller must forget it, neither freeing nor converting it again.
 *
 * Return: 0 or -errno.
 */
int ccsh_share(struct page *page, unsigned int nr)
{
	return ccsh_convert(page, nr, true);
}

/**
 * ccsh_unshare() - convert a run of shared pages back to private
 * @page: first page of the run
 * @nr: number of pages, physically contiguous
 *
 * Failure is handled as for ccsh_share(): the run is leaked.
 *
 * Return: 0 or -errno.
 */
int ccsh_unshare(struct page *page, unsigned int nr)
{
	return ccsh_convert(page, nr, false);
}

/**
 * ccsh_alloc_private() - allocate a clean private chunk for the heap
 * @gfp: allocation flags
 * @order: allocation order
 *
 * The chunk is zeroed here, before anything can share it: where sharing
 * keeps a page's contents (pKVM protected guests, s390 PV guests), the
 * host would otherwise read whatever the page held last, another task's
 * data or the kernel's, until the heap clears it through the shared
 * mapping.
 *
 * Return: the chunk's first page, or NULL.
 */
struct page *ccsh_alloc_private(gfp_t gfp, unsigned int order)
{
	struct page *page = alloc_pages(gfp | __GFP_ZERO, order);

	if (page && ccsh_backend->got)
		ccsh_backend->got(page, 1U << order);
	return page;
}

/**
 * ccsh_free_private() - give private pages back to the page allocator
 * @page: first page, allocated with this @order
 * @order: allocation order
 *
 * The emulation backend checks that every page is private; pages that are
 * not are kept (leaked) rather than freed.
 */
void ccsh_free_private(struct page *page, unsigned int order)
{
	if (ccsh_backend->may_free && !ccsh_backend->may_free(page, 1U << order))
		return;
	set_page_private(page, 0);	/* the heap's chunk state */
	__free_pages(page, order);
}

/**
 * ccsh_convert_debugfs() - add the fault-injection controls
 * @dir: the heap's debugfs directory
 */
void ccsh_convert_debugfs(struct dentry *dir)
{
#ifdef CCSH_FAULT_KNOBS
	ccsh_knobs_debugfs(dir);
#endif
#if defined(CCSH_FAULT_ATTR) && defined(CONFIG_FAULT_INJECTION_DEBUG_FS)
	/* one line per injected failure, no stack dump */
	ccsh_fail_share.verbose = 1;
	ccsh_fail_unshare.verbose = 1;
	fault_create_debugfs_attr("fail_share", dir, &ccsh_fail_share);
	fault_create_debugfs_attr("fail_unshare", dir, &ccsh_fail_unshare);
#endif
}
