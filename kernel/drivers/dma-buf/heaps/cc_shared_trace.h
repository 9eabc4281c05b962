/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of the system_cc_shared heap, events/cc_shared_heap/ in
 * tracefs: one per conversion call, with how long the backend took, and
 * one per chunk asked of the pool or offered to it. Together they show
 * where allocation time goes: converting, or served from the pool.
 *
 * cc_shared_trace.c instantiates them; every other file only calls them.
 * Where the kernel has no tracepoints they compile to nothing.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cc_shared_heap

#if !defined(_CC_SHARED_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CC_SHARED_TRACE_H

#include <linux/mm.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

/*
 * ccsh_convert - one call converting a run of pages
 * @page: first page of the run
 * @nr: pages in the run
 * @share: true: private to shared; false: shared to private
 * @ret: 0, or the -errno the call failed with (injected failures too)
 * @ns: nanoseconds the backend took
 */
TRACE_EVENT(ccsh_convert,
	    TP_PROTO(struct page *page, unsigned int nr, bool share, int ret,
		     u64 ns),
	    TP_ARGS(page, nr, share, ret, ns),
	    TP_STRUCT__entry(__field(unsigned long, pfn)
			     __field(u64, duration_ns)
			     __field(unsigned int, pages)
			     __field(int, result)
			     __field(bool, share)),
	    TP_fast_assign(__entry->pfn = page_to_pfn(page);
			   __entry->duration_ns = ns;
			   __entry->pages = nr;
			   __entry->result = ret;
			   __entry->share = share;),
	    TP_printk("dir=%s pfn=%#lx pages=%u result=%d duration_ns=%llu",
		      __entry->share ? "share" : "unshare", __entry->pfn,
		      __entry->pages, __entry->result,
		      (unsigned long long)__entry->duration_ns)
);

/*
 * ccsh_pool_take - a chunk of @order asked of the pool
 * @order: chunk order
 * @page: the chunk handed out, or NULL (a miss: the caller converts a new
 *	one)
 */
TRACE_EVENT(ccsh_pool_take,
	    TP_PROTO(unsigned int order, struct page *page),
	    TP_ARGS(order, page),
	    TP_STRUCT__entry(__field(unsigned long, pfn)
			     __field(unsigned int, order)
			     __field(bool, hit)),
	    TP_fast_assign(__entry->pfn = page ? page_to_pfn(page) : 0;
			   __entry->order = order;
			   __entry->hit = !!page;),
	    TP_printk("order=%u pfn=%#lx hit=%d", __entry->order,
		      __entry->pfn, __entry->hit)
);

/*
 * ccsh_pool_put - a shared chunk offered to the pool
 * @page: first page of the chunk
 * @order: chunk order
 * @pooled: the pool kept it; if not, the caller converts it back
 */
TRACE_EVENT(ccsh_pool_put,
	    TP_PROTO(struct page *page, unsigned int order, bool pooled),
	    TP_ARGS(page, order, pooled),
	    TP_STRUCT__entry(__field(unsigned long, pfn)
			     __field(unsigned int, order)
			     __field(bool, pooled)),
	    TP_fast_assign(__entry->pfn = page_to_pfn(page);
			   __entry->order = order;
			   __entry->pooled = pooled;),
	    TP_printk("order=%u pfn=%#lx pooled=%d", __entry->order,
		      __entry->pfn, __entry->pooled)
);

#endif /* _CC_SHARED_TRACE_H */

/* this file is not under include/trace/events: the build adds -I$(src) */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE cc_shared_trace
#include <trace/define_trace.h>
