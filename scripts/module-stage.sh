#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Stage the module's sources into one directory, as kbuild and DKMS want
# them: the heap core from kernel/drivers/dma-buf/heaps/ (not its KUnit
# tests or in-kernel benchmarks) and module/'s Kbuild, glue and dkms.conf.
#   module-stage.sh DIR [VERSION]     (CCSH_STAGE=package: no test sources)
# Files already there and unchanged keep their times (incremental builds).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$1
# the package (CCSH_STAGE=package) carries no test-flavour sources at all
test_only=()
[ "${CCSH_STAGE:-}" != package ] ||
	test_only=(--exclude=cc_shared_emu.c --exclude=cc_shared_fault_knobs.c
		   --exclude=cc_shared_test_importer.c)
mkdir -p "$dir"
rsync -c --chmod=F644 --exclude='*_test*' --exclude='*_bench*' \
	"${test_only[@]}" \
	"$REPO"/kernel/drivers/dma-buf/heaps/cc_shared_*.[ch] "$dir/"
rsync -c --chmod=F644 "${test_only[@]}" \
	"$REPO"/module/Kbuild "$REPO"/module/cc_shared_*.[ch] "$dir/"
# the test flavour's second module: the real-DMA rig's importer
[ "${CCSH_STAGE:-}" = package ] ||
	rsync -c --chmod=F644 \
		"$REPO"/kernel/drivers/dma-buf/heaps/cc_shared_edu_test.c "$dir/"
if [ -f "$REPO/module/dkms.conf" ]; then
	sed "s/@VERSION@/${2:-0}/" "$REPO/module/dkms.conf" > "$dir/dkms.conf.new"
	cmp -s "$dir/dkms.conf.new" "$dir/dkms.conf" 2>/dev/null &&
		rm "$dir/dkms.conf.new" || mv "$dir/dkms.conf.new" "$dir/dkms.conf"
fi
