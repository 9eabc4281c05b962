# SPDX-License-Identifier: GPL-2.0
# Shared paths and helpers for the build scripts. Source it, do not run it.
#
# BASE selects the kernel base, one directory under bases/: 6.12 (default)
# or 7.3. Each holds pin.env (package, version, sha256), series and its
# patches, export.map and the base's config fragments. 6.12 builds in
# build/, any other base in build/<base>/.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${BASE:-6.12}
BASEDIR="$REPO/bases/$BASE"
[ -f "$BASEDIR/pin.env" ] ||
	die "unknown BASE=$BASE (known: $(cd "$REPO/bases" && echo *))"
LINUX_DEB_URL= LINUX_DEB_SNAPSHOT_URL= LINUX_PKG_BASE=
. "$BASEDIR/pin.env"
[ -n "$LINUX_DEB_URL" ] ||
	die "bases/$BASE/pin.env pins no .deb (LINUX_DEB_URL)"
# where a base builds
base_build() {
	if [ "$1" = 6.12 ]; then
		echo "$REPO/build"
	else
		echo "$REPO/build/$1"
	fi
}
BUILD=$(base_build "$BASE")
# Every base's source comes as its pinned .deb, fetched by scripts/deps.sh,
# never installed: the tarball is kept in the build (build/pkg/ for 6.12,
# build/<base>/pkg/ for the others), never read from /usr/src. A variant of
# a base (LINUX_PKG_BASE) uses that base's.
LINUX_TARBALL="$(base_build "${LINUX_PKG_BASE:-$BASE}")/pkg/${LINUX_TARBALL##*/}"
SRC="$BUILD/src/$LINUX_TOPDIR"
# KFLAVOUR=debug: the same tree built with the kernel's sanitizers
# (config/sanitizers.config) in its own object directory; its image and
# logs sit beside the test kernel's, named with the flavour.
KFLAVOUR=${KFLAVOUR:-}
FSUFFIX=${KFLAVOUR:+-$KFLAVOUR}
OBJ="$BUILD/obj$FSUFFIX"
KIMAGE="$BUILD/bzImage$FSUFFIX"
LOGDIR="$BUILD/logs$FSUFFIX"
JOBS=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# hits across clones in other folders (CI clones afresh)
export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=1
KMAKE=(make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS"
       CC="ccache gcc" HOSTCC="ccache gcc"
       KBUILD_BUILD_TIMESTAMP=cc-shared-heap KBUILD_BUILD_USER=ccsh
       KBUILD_BUILD_HOST=build)
# the test kernel's config: tinyconfig + these, in this order
FRAGMENTS=("$REPO/config/base.config" "$BASEDIR/base.config"
	   "$REPO/config/debug.config" "$BASEDIR/debug.config")
if [ "$KFLAVOUR" = debug ]; then
	FRAGMENTS+=("$REPO/config/sanitizers.config")
	[ ! -f "$BASEDIR/sanitizers.config" ] ||
		FRAGMENTS+=("$BASEDIR/sanitizers.config")
fi

# Hash of everything that decides the assembled source tree's base.
series_hash() {
	cat "$BASEDIR/pin.env" "$BASEDIR/series" \
	    $(sed "s#^#$BASEDIR/#" "$BASEDIR/series") | sha256sum | cut -c1-16
}

# Everything a VM boot needs: packages, the tree, bzImage, the initramfs.
build_vm_images() {
	"$REPO/scripts/deps.sh"
	"$REPO/scripts/assemble.sh"
	"$REPO/scripts/kernel.sh"
	"$REPO/scripts/initramfs.sh"
}
