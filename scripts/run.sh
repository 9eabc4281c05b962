#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: build everything, boot the VM with emulated conversions and
# run the demo (allocate, map, write, read, show the heap's counters).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build_vm_images
mkdir -p "$BUILD/logs"
say "VM: emulated conversions, demo"
ok=0
"$REPO/scripts/boot.sh" "$BUILD/logs/demo.log" 300 \
	cc_shared_heap.emulate=1 ccsh_run=demo kunit.enable=0 || ok=$?
grep -E 'cc_shared_heap:' "$BUILD/logs/demo.log" | sed 's/^\[[ 0-9.]*\] //'
sed -n '/^--- \/dev\/dma_heap/,/^CCSH-END/p' "$BUILD/logs/demo.log"
[ $ok -eq 0 ] || die "the VM did not finish; see build/logs/demo.log"
