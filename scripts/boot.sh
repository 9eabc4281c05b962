#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test kernel (build/bzImage, or its KFLAVOUR) with
# build/initramfs.cpio.gz (or VM_KERNEL with
# VM_INITRD) under QEMU (TCG) and copy the serial console to a log.
#   boot.sh LOG TIMEOUT_SECONDS [extra kernel command line...]
# VM_MEM sets the guest's memory (1G), VM_SMP its CPUs (2), VM_QEMU_ARGS
# adds QEMU arguments (split at blanks: machine, devices, e.g.
# "-M q35 -device edu").
# Exit status: 0 if the VM reached its end marker, 1 otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$1 limit=$2
shift 2
append="console=ttyS0 panic=-1 oops=panic $*"
read -ra qemu_args <<< "${VM_QEMU_ARGS:-}"

timeout --foreground -k 5 "$limit" \
	qemu-system-x86_64 -accel tcg -m "${VM_MEM:-1G}" -smp "${VM_SMP:-2}" -nographic -no-reboot \
	-kernel "${VM_KERNEL:-$KIMAGE}" \
	-initrd "${VM_INITRD:-$BUILD/initramfs.cpio.gz}" \
	-append "$append" "${qemu_args[@]}" </dev/null > "$log" 2>&1 || true
tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
grep -q '^CCSH-VM-DONE' "$log"
