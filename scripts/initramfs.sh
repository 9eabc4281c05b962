#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the test programs (static, against the assembled tree's UAPI headers)
# and pack them with busybox into build/initramfs.cpio.gz.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HDR="$BUILD/hdr"
ROOT="$BUILD/initramfs"
SELFTESTS="$SRC/tools/testing/selftests"
CFLAGS=(-static -O2 -Wall -Werror -I "$HDR/include" -I "$SELFTESTS"
	-I "$SELFTESTS/dmabuf-heaps")

[ -x /bin/busybox ] || die "/bin/busybox missing; run scripts/deps.sh"
"${KMAKE[@]}" -s headers_install INSTALL_HDR_PATH="$HDR"

rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,tests}
cp /bin/busybox "$ROOT/bin/busybox"
install -m 0755 "$REPO/tests/vm/init" "$ROOT/init"

# our specification of the heap
gcc "${CFLAGS[@]}" -o "$ROOT/tests/cc_shared_heap_test" \
	"$REPO/tests/selftests/cc_shared_heap_test.c"
# the kernel's own dma-buf heap selftest, built from the tree unmodified
gcc "${CFLAGS[@]}" -pthread -o "$ROOT/tests/cc_shared_heap_fuzz" \
	"$REPO/tests/selftests/cc_shared_heap_fuzz.c"
gcc "${CFLAGS[@]}" -o "$ROOT/tests/cc_shared_heap_stress" \
	"$REPO/tests/selftests/cc_shared_heap_stress.c"
# real DMA by QEMU's edu device (ccsh_run=dma-edu boots only)
gcc "${CFLAGS[@]}" -o "$ROOT/tests/cc_shared_heap_dma_edu" \
	"$REPO/tests/selftests/cc_shared_heap_dma_edu.c"
gcc "${CFLAGS[@]}" -Wno-error -o "$ROOT/tests/dmabuf-heap" \
	"$SELFTESTS/dmabuf-heaps/dmabuf-heap.c"
gcc "${CFLAGS[@]}" -o "$ROOT/bin/ccsh-demo" "$REPO/tools/ccsh-demo.c"
gcc "${CFLAGS[@]}" -o "$ROOT/bin/ccsh-bench" "$REPO/tools/ccsh-bench.c"
gcc "${CFLAGS[@]}" -o "$ROOT/bin/ccsh-mmap-bench" "$REPO/tools/ccsh-mmap-bench.c"
gcc "${CFLAGS[@]}" -o "$ROOT/bin/ccsh-dma-edu-bench" "$REPO/tools/ccsh-dma-edu-bench.c"
gcc "${CFLAGS[@]}" -o "$ROOT/bin/cc-heap" "$REPO/tools/cc-heap.c"
install -m 0755 "$REPO/tests/selftests/cc_heap_tool_test.sh" \
	"$ROOT/tests/cc_heap_tool_test"

(cd "$ROOT" && find . -print0 | cpio --null -o -H newc --quiet) |
	gzip -1 > "$BUILD/initramfs.cpio.gz"
say "initramfs: build/initramfs.cpio.gz"
