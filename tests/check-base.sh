#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The tests of one kernel base (BASE, see scripts/lib.sh): build the kernel
# and the test programs, build the heap in the config matrix, and boot the
# VM in each configuration, then (test flavour) in each topology of the
# real-DMA rig (tests/dma-edu.sh). Logs go to the base's build/.../logs/;
# they are summarized by tests/check.sh.
set -euo pipefail
here=$(dirname "$0")
. "$here/../scripts/lib.sh"
. "$here/dma-edu.sh"

LOGS="$LOGDIR"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log	# never summarize an earlier run's logs
build_vm_images
limit=${VM_TIMEOUT:-900}
# what the tests need to know of this base (e.g. its DMA semantics)
args=$(cat "$BASEDIR/boot.args" 2>/dev/null || true)

# the heap's objects in other Kconfig combinations (-Werror); the debug
# flavour only changes the sanitizers, so it skips this
if [ -z "$KFLAVOUR" ]; then
	say "$BASE: config matrix (scripts/config-matrix.sh)"
	rc=0
	"$REPO/scripts/config-matrix.sh" > "$LOGS/matrix.log" || rc=$?
	# a script that died before its first line would otherwise count nothing
	grep -q '^CCSH-BEGIN config-matrix' "$LOGS/matrix.log" ||
		printf 'CCSH-BEGIN config-matrix\nCCSH-END config-matrix rc=%d\n' \
			"$((rc ? rc : 1))" >> "$LOGS/matrix.log"
fi
# the sanitizers need memory and time; in their emulated boot the fuzzer
# and the stress test run at full length (ccsh_full=1), briefly otherwise
full=
if [ "$KFLAVOUR" = debug ]; then
	export VM_MEM=${VM_MEM:-2G}
	args="$args ccsh_debug=1"
	full=ccsh_full=1
fi

boot() {
	local name=$1
	shift
	"$REPO/scripts/boot.sh" "$LOGS/$name.log" "$limit" $args "$@" || true
}

# emulated CoCo: KUnit at boot, then the selftests (our heap's and the tree's)
say "$BASE: VM: emulated conversions (cc_shared_heap.emulate=1)"
boot emulated cc_shared_heap.emulate=1 ccsh_run=check $full
# swiotlb=force emulates CoCo's forced bouncing
say "$BASE: VM: emulated conversions with swiotlb=force"
boot swiotlb swiotlb=force cc_shared_heap.emulate=1 ccsh_run=check
# a prefill at start-up; without KUnit, whose suites would drain the pool
say "$BASE: VM: emulated conversions, pool prefilled at start-up"
boot prefill kunit.enable=0 cc_shared_heap.emulate=1 \
	cc_shared_heap.prefill=16M ccsh_run=prefill
# plain boot of the same kernel: the heap must stay invisible
say "$BASE: VM: plain boot, no emulation"
boot plain kunit.enable=0 ccsh_run=plain
# registration made to fail (a debug-only parameter): nothing may remain
say "$BASE: VM: emulated conversions, registration failing"
boot regfail kunit.enable=0 cc_shared_heap.emulate=1 \
	cc_shared_heap.fail_register=1 ccsh_run=regfail
# real DMA by QEMU's edu device, in each topology (tests/dma-edu.sh); the
# debug flavour adds nothing to what these prove
if [ -z "$KFLAVOUR" ]; then
	for topo in $EDU_TOPOLOGIES; do
		say "$BASE: VM: real DMA through QEMU's edu device ($topo)"
		edu_boot boot "$BASE" "$topo"
	done
fi
