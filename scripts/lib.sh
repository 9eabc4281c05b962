# SPDX-License-Identifier: GPL-2.0
# Shared paths and helpers for the build scripts. Source it, do not run it.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/pin.env"
BUILD="$REPO/build"
SRC="$BUILD/src/$LINUX_TOPDIR"
OBJ="$BUILD/obj"
JOBS=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# hits across clones in other folders (CI clones afresh)
export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=1
KMAKE=(make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS"
       CC="ccache gcc" HOSTCC="ccache gcc"
       KBUILD_BUILD_TIMESTAMP=cc-shared-heap KBUILD_BUILD_USER=ccsh
       KBUILD_BUILD_HOST=build)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Hash of everything that decides the assembled source tree's base.
series_hash() {
	cat "$REPO/scripts/pin.env" "$REPO/patches/series" \
	    $(sed "s#^#$REPO/patches/#" "$REPO/patches/series") | sha256sum | cut -c1-16
}

# Everything a VM boot needs: packages, the tree, bzImage, the initramfs.
build_vm_images() {
	"$REPO/scripts/deps.sh"
	"$REPO/scripts/assemble.sh"
	"$REPO/scripts/kernel.sh"
	"$REPO/scripts/initramfs.sh"
}
