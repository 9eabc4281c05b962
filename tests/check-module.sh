#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The out-of-tree module on one of Debian's stock kernels (TARGET, one of
# module/targets/): build its test flavour against Debian's headers, pack
# it with the test programs into an initramfs, and boot the stock vmlinuz
# under QEMU as tests/check-base.sh boots a patched kernel: emulated
# conversions, the same with swiotlb=force, a plain boot, a boot whose
# registration fails, and the real-DMA rig's topologies (tests/dma-edu.sh).
# Logs go to build/module/logs/TARGET/.
set -euo pipefail
here=$(dirname "$0")
. "$here/../scripts/lib.sh"
. "$here/dma-edu.sh"

target=$1
LOGS="$REPO/build/module/logs/$target"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log
limit=${VM_TIMEOUT:-900}

# the test programs, built against the 6.12 base's uapi headers (the
# dma-heap uapi is the same everywhere)
stale=
for f in "$REPO/tests/vm/init" "$REPO"/tests/selftests/* "$REPO"/tools/*.[ch]; do
	[ "$f" -nt "$REPO/build/initramfs.cpio.gz" ] && stale=1
done
if [ -n "$stale" ] || [ ! -x "$REPO/build/initramfs/tests/cc_shared_heap_test" ]; then
	BASE=6.12 "$REPO/scripts/deps.sh"
	BASE=6.12 "$REPO/scripts/assemble.sh"
	BASE=6.12 "$REPO/scripts/initramfs.sh"
fi

# The packaged flavour: builds, and carries no test code. Its build is
# timed here (the test flavour's below is the one booted).
say "$target: module (packaged flavour)"
{
	echo "CCSH-BEGIN packaged-module"
	start=$(date +%s)
	if info=$("$REPO/scripts/module.sh" "$target" 2>"$LOGS/packaged.txt"); then
		eval "$info"
		echo "ok 1 packaged_module_builds # $(( $(date +%s) - start )) s"
		if nm "$KO" | grep -qE ' (ccsh_emu_init|ccsh_knob_should_fail|ccsh_importer_init)$' ||
		   modinfo -F parm "$KO" | grep -qE 'fail_register|fail_shrinker'; then
			echo "not ok 2 packaged_module_has_no_test_code"
		else
			echo "ok 2 packaged_module_has_no_test_code"
		fi
	else
		sed 's/^/# /' "$LOGS/packaged.txt" | tail -20
		echo "not ok 1 packaged_module_builds"
	fi
	echo "CCSH-END packaged-module rc=0"
} > "$LOGS/packaged.log"

say "$target: module (test flavour)"
start=$(date +%s)
info=$(EMULATION=1 "$REPO/scripts/module.sh" "$target" 2> "$LOGS/build.txt") || {
	cat "$LOGS/build.txt" >&2
	die "$target: the module does not build"
}
eval "$info"
echo "module build: $(( $(date +%s) - start )) s" >> "$LOGS/build.txt"

root="$REPO/build/module/initramfs-$KVER"
rm -rf "$root"
cp -a "$REPO/build/initramfs" "$root"
mkdir -p "$root/modules"
cp "$KO" "$root/modules/"
# the real-DMA rig's driver, from the same build; without it the dma-edu
# boots fail, saying so
edu_ko="${KO%/*}/cc_shared_edu_test.ko"
if [ -f "$edu_ko" ]; then
	cp "$edu_ko" "$root/modules/"
else
	say "$target: no $edu_ko: the dma-edu boots will fail"
fi
# and the stock kernel's virtio-iommu driver where it is a module (a
# failure shows in the virtio-iommu boot, and stops nothing else)
edu_extra_modules "${VMLINUZ%/boot/*}" "$KVER" "$root/modules/extra" ||
	say "$target: could not copy the virtio-iommu module"
initrd="$REPO/build/module/initramfs-$KVER.cpio.gz"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) |
	gzip -1 > "$initrd"

# what the tests need to know of this kernel (e.g. its DMA semantics)
args=$(BOOT_ARGS= && . "$REPO/module/targets/$target.env" && echo "$BOOT_ARGS")
boot() {
	local name=$1
	shift
	VM_KERNEL=$VMLINUZ VM_INITRD=$initrd \
		"$REPO/scripts/boot.sh" "$LOGS/$name.log" "$limit" $args "$@" ||
		true
}

say "$target: VM: emulated conversions (emulate=1)"
boot emulated cc_shared_heap.emulate=1 cc_shared_heap.prefill=16M \
	ccsh_run=check
say "$target: VM: emulated conversions with swiotlb=force"
boot swiotlb swiotlb=force cc_shared_heap.emulate=1 ccsh_run=check
say "$target: VM: plain boot, no emulation"
boot plain ccsh_run=plain
say "$target: VM: emulated conversions, registration failing"
boot regfail cc_shared_heap.emulate=1 cc_shared_heap.fail_register=1 \
	ccsh_run=regfail
say "$target: VM: emulated conversions, no shrinker to be had"
boot noshrinker cc_shared_heap.emulate=1 cc_shared_heap.pool_limit=8M \
	cc_shared_heap.fail_shrinker=1 ccsh_run=noshrinker
# real DMA by QEMU's edu device, in each topology (tests/dma-edu.sh)
for topo in $EDU_TOPOLOGIES; do
	say "$target: VM: real DMA through QEMU's edu device ($topo)"
	edu_boot boot "$target" "$topo"
done
