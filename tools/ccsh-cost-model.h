/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccsh-cost-model.h - every parameter of the conversion cost model used by
 * ccsh-bench, in one place.
 *
 * The benchmark counts what the emulation backend really did (conversion
 * calls, their start pfn and length). What those calls would cost on SEV-SNP
 * or TDX hardware is *modelled* from the counts with the numbers below.
 * The structure of the model is the one in
 * Documentation/driver-api/dma-buf-cc-shared-heap.rst, section "Cost model":
 *
 *	cost of one call = F + n_hv * H + n_4k * c4k + n_2m * c2m + splits * P
 *
 * The counting rules (64 entries per exit, 2 MiB entries only for aligned
 * blocks, one MapGPA per call, accept on the way back to private) follow
 * the Linux 6.12 guest code, cited at each parameter. The *time* values are
 * MODEL ASSUMPTIONS, NOT MEASUREMENTS: round order-of-magnitude numbers we
 * chose so that the modelled times rank designs sensibly; only the TDX
 * accept cost comes from Documentation/driver-api/dma-buf-cc-shared-heap.rst
 * ("about 10-12 µs per 4 KiB"). Change them here and rerun; ccsh-bench
 * prints all of them in its JSON output so a result always carries the
 * assumptions it was computed with.
 */
#ifndef CCSH_COST_MODEL_H
#define CCSH_COST_MODEL_H

/* Counting rules (not assumptions about time) */

/* x86_64 base page: emu_log reports pfns and page counts of 4 KiB */
#define CCSH_MODEL_PAGE_SIZE		4096ULL

/*
 * A 2 MiB direct-map page / 2 MiB RMP entry / 2 MiB TDX accept covers 512
 * base pages, and only when its first pfn is a multiple of 512.
 */
#define CCSH_MODEL_BLOCK_PAGES		512ULL

/*
 * SEV-SNP page-state-change entries per VMGEXIT.
 * Documentation/driver-api/dma-buf-cc-shared-heap.rst: "a VMGEXIT carries up
 * to 64 page-state-change entries, and an entry covers 2 MiB only where the
 * range is 2 MiB aligned with at least 2 MiB left"; the same
 * as VMGEXIT_PSC_MAX_ENTRY (64) in arch/x86/include/asm/sev-common.h, used
 * by __set_pages_state() in arch/x86/coco/sev/core.c, which emits a 2 MiB
 * entry where the address is 2 MiB aligned and 2 MiB remain, else 4 KiB.
 */
#define CCSH_MODEL_SNP_PSC_ENTRIES	64ULL

/*
 * TDX: tdx_enc_status_changed() in arch/x86/coco/tdx/tdx.c makes one
 * TDG.VP.VMCALL<MapGPA> per converted range (retries ignored here); going
 * back to private it then accepts the range (TDG.MEM.PAGE.ACCEPT). The
 * accept is charged per 4 KiB of memory accepted, whatever the accept
 * granularity: a 2 MiB accept is one call but the TDX module still has to
 * initialise 2 MiB of memory, so we do not credit it (a documented choice).
 */

/* Time assumptions, in microseconds (MODEL ASSUMPTIONS, NOT MEASURED) */

/*
 * F: fixed cost of one set_memory_{de,en}crypted() call: page-table walk,
 * cache flush of the range where the CPU needs it, TLB-flush IPIs to every
 * CPU. Assumed, order of magnitude.
 */
#define CCSH_MODEL_CPA_CALL_US		10.0

/*
 * H (SNP): one page-state-change VMGEXIT round trip including the
 * hypervisor's RMPUPDATEs for up to CCSH_MODEL_SNP_PSC_ENTRIES entries.
 * Assumed.
 */
#define CCSH_MODEL_SNP_VMGEXIT_US	20.0

/* c4k/c2m (SNP): one PVALIDATE of a 4 KiB / of a 2 MiB entry. Assumed. */
#define CCSH_MODEL_SNP_PVALIDATE_4K_US	0.5
#define CCSH_MODEL_SNP_PVALIDATE_2M_US	2.0

/*
 * H (TDX): one MapGPA TDVMCALL round trip including the VMM's secure-EPT
 * update for the range. Assumed.
 */
#define CCSH_MODEL_TDX_MAPGPA_US	20.0

/*
 * c4k (TDX): accepting 4 KiB back into the private space.
 * Documentation/driver-api/dma-buf-cc-shared-heap.rst: "about 10-12 µs per
 * 4 KiB"; we take the middle.
 */
#define CCSH_MODEL_TDX_ACCEPT_4K_US	11.0

/*
 * P: splitting a 2 MiB direct-map page (new page-table page, TLB flush),
 * charged for every 2 MiB block a call touches without covering it. This
 * is an upper bound on the one-off split (an already split block is not
 * split again) and leaves out the lasting cost (lost TLB reach). Assumed.
 */
#define CCSH_MODEL_SPLIT_US		5.0

#endif /* CCSH_COST_MODEL_H */
