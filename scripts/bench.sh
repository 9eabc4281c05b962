#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark: build everything, boot the VM (4 GiB) with emulated
# conversions, swiotlb=force and a pool prefilled with 64 MiB at start-up,
# run the prefill probe, dma_bench, ccsh-mmap-bench and ccsh-bench --json
# in it and leave
#   build/bench/prefill_probe.txt  conversion calls of the first 64 MiB
#                            allocated after boot (1 MiB buffers)
#   build/bench/dma_bench.txt  DMA map/unmap of 64 MiB, shared vs bounced
#   build/bench/bench.txt   the table and the targets, as printed in the VM
#   build/bench/bench.json  every metric and the cost-model parameters
#   build/bench/bench.png   throughput vs the system heap, calls per GiB
#   build/bench/mmap_bench.txt  mmap + first touch of 1 GiB, per page vs
#                            per chunk vs the system heap; per GiB at
#                            1 GiB vs 3 GiB (the fault path's growth)
#   build/bench/dma_edu_bench.txt  device DMA of 64 MiB each way through
#                            QEMU's edu device, in place vs bounced
#                            (a second boot)
#
#   bench.sh                 build, boot, report
#   bench.sh --from-log LOG  only cut and plot the result already in LOG
# Environment: VM_MEM (guest memory, default 4G), BENCH_TIMEOUT (seconds
# the VM may run, default 3600).
set -euo pipefail
# A base with a benchmark variant (bases/<base>-bench: 7.3 keeps mainline's
# own heap beside the heap core there, to measure both in one run) is
# measured on that variant's kernel.
b=${BASE:-6.12}
[ ! -f "$(dirname "$0")/../bases/$b-bench/pin.env" ] || export BASE=$b-bench
. "$(dirname "$0")/lib.sh"

OUT="$BUILD/bench"
LOG="$BUILD/logs/bench.log"

need_gnuplot() {
	command -v gnuplot >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] ||
		die "gnuplot missing; install gnuplot-nox or run as root"
	say "installing gnuplot-nox"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends gnuplot-nox
}

run_vm() {
	mkdir -p "$BUILD/logs"
	say "VM: emulated conversions, ccsh-bench (${VM_MEM:-4G}; takes minutes)"
	VM_MEM=${VM_MEM:-4G} "$REPO/scripts/boot.sh" "$LOG" \
		"${BENCH_TIMEOUT:-3600}" $(cat "$BASEDIR/boot.args" 2>/dev/null) \
		swiotlb=force cc_shared_heap.emulate=1 ccsh_run=bench kunit.enable=0 \
		cc_shared_heap.prefill=64M
}

# The real-DMA row, in a boot of its own: QEMU's edu device moves 64 MiB
# each way for the system heap (bounced: swiotlb=force) and the heap (in
# place), under -icount so that the device's 100 ms timer does not wait
# (tests/dma-edu.sh). A base whose DMA core bounces shared memory where
# swiotlb is forced refuses the device there: its row says so.
run_edu_vm() {
	. "$REPO/tests/dma-edu.sh"
	say "VM: real DMA through QEMU's edu device, 64 MiB each way"
	VM_SMP=1 VM_QEMU_ARGS="-device edu,dma_mask=0xffffffffffffffff $EDU_QEMU_SPEED" \
		"$REPO/scripts/boot.sh" "$EDU_LOG" "${BENCH_TIMEOUT:-3600}" \
		$(cat "$BASEDIR/boot.args" 2>/dev/null) swiotlb=force \
		cc_shared_heap.emulate=1 kunit.enable=0 ccsh_run=dma_edu_bench \
		cc_shared_edu_test.dma_bits=64
}
EDU_LOG="$BUILD/logs/bench-dma-edu.log"

case "${1:-}" in
--from-log)	[ $# -eq 2 ] || die "usage: bench.sh [--from-log LOG]" ;;
"")		;;
*)		die "usage: bench.sh [--from-log LOG]" ;;
esac
need_gnuplot
vm_ok=0
if [ $# -eq 2 ]; then
	LOG=$2
else
	build_vm_images		# outside "||": a failed build stops the bench
	run_vm || vm_ok=$?
	run_edu_vm || vm_ok=$?
fi

mkdir -p "$OUT"
rm -f "$OUT"/bench.{txt,json,png} "$OUT"/*.dat "$OUT/plot-settings.gp"
report=0
python3 "$REPO/scripts/bench-report.py" "$LOG" "$OUT" || report=$?
case $report in
0|3)	;;
*)	die "no benchmark result; see $LOG" ;;
esac
gnuplot -e "dir='$OUT'" "$REPO/scripts/bench.gp"
# DMA map/unmap of 64 MiB, shared (in place) vs private (bounced)
sed -n '/^CCSH-BEGIN dma_bench/,/^CCSH-END dma_bench/p' "$LOG" |
	grep -E '^[a-z_0-9]+ -?[0-9]+$' > "$OUT/dma_bench.txt" || true
# mmap + first touch of 1 GiB: a remap call per page (before) vs per chunk;
# then per GiB at 1 GiB and at 3 GiB
sed -n '/^CCSH-BEGIN mmap_bench/,/^CCSH-END mmap_bench/p' "$LOG" |
	grep -E '^[a-z_0-9]+ -?[0-9]+$' > "$OUT/mmap_bench.txt" || true
# device DMA of 64 MiB each way, in place vs the system heap bounced
sed -n '/^CCSH-BEGIN dma_edu_bench/,/^CCSH-END dma_edu_bench/p' "$EDU_LOG" \
	2>/dev/null | grep -E '^edu(_ratio)? ' > "$OUT/dma_edu_bench.txt" || true
# the first 64 MiB allocated after boot, from a pool prefilled at start-up
sed -n '/^CCSH-BEGIN prefill_probe/,/^CCSH-END prefill_probe/p' "$LOG" |
	grep -E '^[a-z_0-9]+ -?[0-9]+$' > "$OUT/prefill_probe.txt" || true
cat "$OUT/bench.txt"
echo "--- prefill_probe (cc_shared_heap.prefill=64M) ---"
cat "$OUT/prefill_probe.txt"
echo "--- dma_bench (swiotlb=force) ---"
cat "$OUT/dma_bench.txt"
echo "--- mmap_bench (mmap + first touch) ---"
cat "$OUT/mmap_bench.txt"
echo "--- dma_edu_bench (device DMA through QEMU's edu, swiotlb=force) ---"
cat "$OUT/dma_edu_bench.txt"
say "results: ${OUT#"$REPO"/}/bench.txt, bench.json, bench.png"
# a run that warned, oopsed or hit the OOM killer is not a clean measurement
[ $report -eq 0 ] || die "the kernel log shows trouble (above); see $LOG"
[ $vm_ok -eq 0 ] || die "the VM did not reach its end marker; see $LOG"
