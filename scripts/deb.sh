#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The module as a Debian package for DKMS (what `make deb` runs):
# build/cc-shared-heap-dkms_<version>_all.deb. Its version comes from git,
# 0.<commits>+g<hash> (rises with every commit), or 0.0+unknown outside
# git. The source package (module/debian/ and the sources staged by
# scripts/module-stage.sh, in build/deb/) is built with Debian's own
# tooling, dpkg-buildpackage and dh with dh-dkms; the module itself is
# built on the target by DKMS. Prints DEB= and VERSION= for callers to eval.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The build dependencies, installed when missing (bookworm: dh_dkms is in
# dh-dkms, split out of dkms).
pkgs=(dpkg-dev debhelper dh-dkms dkms rsync)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "could not install ${missing[*]}"
fi

# The version, and the changelog's date from the commit (reproducible:
# dpkg-buildpackage takes SOURCE_DATE_EPOCH from the changelog).
if count=$(git -C "$REPO" rev-list --count HEAD 2>/dev/null) &&
   hash=$(git -C "$REPO" rev-parse --short=7 HEAD 2>/dev/null); then
	VERSION=0.$count+g$hash
	when=$(git -C "$REPO" log -1 --format=%ct HEAD)
	what="Built from git commit $(git -C "$REPO" rev-parse HEAD)"
	[ -z "$(git -C "$REPO" status --porcelain -- \
		kernel/drivers/dma-buf/heaps module scripts/module-stage.sh)" ] ||
		what="$what
    (with uncommitted changes)"
else
	VERSION=0.0+unknown
	when=$(date +%s)
	what="Built outside git"
fi

name=cc-shared-heap
out="$REPO/build/deb"
pkgroot="$out/$name-$VERSION"
log="$out/build.log"
say "deb: $name-dkms $VERSION in ${out#"$REPO"/}/"
start=$(date +%s)
rm -rf "$out"
mkdir -p "$pkgroot"
cp -a "$REPO/module/debian" "$pkgroot/"
CCSH_STAGE=package "$REPO/scripts/module-stage.sh" "$pkgroot/src" "$VERSION"
[ -f "$pkgroot/src/dkms.conf" ] || die "no module/dkms.conf to stage"

maint=$(sed -n 's/^Maintainer: //p' "$pkgroot/debian/control")
cat > "$pkgroot/debian/changelog" <<EOF
$name ($VERSION) unstable; urgency=medium

  * $what

 -- $maint  $(LC_ALL=C date -R -u -d "@$when")
EOF

(cd "$pkgroot" && dpkg-buildpackage -b -us -uc) > "$log" 2>&1 || {
	tail -n 40 "$log" >&2
	die "dpkg-buildpackage failed, see ${log#"$REPO"/}"
}
deb="$name-dkms_${VERSION}_all.deb"
[ -f "$out/$deb" ] || die "dpkg-buildpackage left no $deb"
# one package in build/, so ./build/cc-shared-heap-dkms_*.deb is this one
rm -f "$REPO"/build/"$name"-dkms_*_all.deb
cp "$out/$deb" "$REPO/build/$deb"

dpkg-deb -I "$REPO/build/$deb" >&2
dpkg-deb -c "$REPO/build/$deb" >&2
say "deb: build/$deb in $(( $(date +%s) - start )) s"
echo "DEB=$REPO/build/$deb"
echo "VERSION=$VERSION"
