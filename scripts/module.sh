#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the out-of-tree module cc_shared_heap.ko for one kernel release:
#   module.sh KVER|TARGET      (EMULATION=1 for the test flavour)
# KVER is a release string; when module/targets/ pins that Debian kernel
# (or TARGET names one), its headers come from scripts/stock-kernel.sh,
# else from /lib/modules/KVER/build. The module's sources (the heap core
# from kernel/ and the module's own parts from module/) are staged in
# build/module/KVER/, where kbuild leaves cc_shared_heap.ko. Prints
# KVER=, KDIR=, KO= (and VMLINUZ= for a pinned kernel) for callers to eval.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

want=${1:-$(uname -r)}
EMULATION=${EMULATION:-0}
target=
for env in "$REPO"/module/targets/*.env; do
	name=$(basename "$env" .env)
	if [ "$name" = "$want" ] ||
	   grep -qx "KVER=$want" "$env"; then
		target=$name
	fi
done

VMLINUZ=
if [ -n "$target" ]; then
	eval "$("$REPO/scripts/stock-kernel.sh" "$target" | grep -E '^(KVER|KDIR|VMLINUZ)=')"
else
	KVER=$want
	KDIR=/lib/modules/$KVER/build
	[ -d "$KDIR" ] || die "no headers for $KVER: install linux-headers-$KVER, or use a pinned one ($(cd "$REPO/module/targets" && ls | sed 's/\.env$//' | tr '\n' ' '))"
fi

out="$REPO/build/module/$KVER"
mkdir -p "$out"
"$REPO/scripts/module-stage.sh" "$out"
# a change of flavour rebuilds everything
flavour="EMULATION=$EMULATION"
[ "$(cat "$out/.flavour" 2>/dev/null)" = "$flavour" ] ||
	make -s -C "$KDIR" M="$out" clean >/dev/null 2>&1 || true
echo "$flavour" > "$out/.flavour"

say "module: $KVER ($flavour) in build/module/$KVER/"
start=$(date +%s)
make -C "$KDIR" M="$out" EMULATION="$EMULATION" -j"$JOBS" modules >&2 ||
	die "module build for $KVER failed"
say "module: built in $(( $(date +%s) - start )) s"
echo "KVER=$KVER"
echo "KDIR=$KDIR"
echo "KO=$out/cc_shared_heap.ko"
[ -z "$VMLINUZ" ] || echo "VMLINUZ=$VMLINUZ"
