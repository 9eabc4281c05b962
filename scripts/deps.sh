#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package the build and the tests need, and the pinned
# kernel source of BASE: installed from Debian 12's archive, or, for a base
# Debian 12 does not carry (LINUX_DEB_URL in its pin.env), fetched as a .deb,
# checked against its pinned sha256 and unpacked into the build directory.
# Does nothing when all are present.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs=(build-essential bc bison flex libelf-dev libssl-dev cpio ccache
      qemu-system-x86 busybox-static sparse python3 rsync kmod git xz-utils
      gzip python3-ply python3-git)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# The base's tarball from its .deb, without installing the package.
fetch_deb_tarball() {
	local pkg=${LINUX_TARBALL%/*}
	local deb="$pkg/$LINUX_DEB"

	sha_ok "$LINUX_TARBALL" "$LINUX_TARBALL_SHA256" && return 0
	mkdir -p "$pkg"
	if ! sha_ok "$deb" "$LINUX_DEB_SHA256"; then
		say "fetching $LINUX_DEB"
		/usr/lib/apt/apt-helper download-file "$LINUX_DEB_URL" "$deb" \
			"SHA256:$LINUX_DEB_SHA256" >/dev/null ||
			die "could not fetch $LINUX_DEB_URL (pinned in bases/$BASE/pin.env)"
	fi
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "$LINUX_DEB_MEMBER" \
		> "$LINUX_TARBALL.tmp"
	mv "$LINUX_TARBALL.tmp" "$LINUX_TARBALL"
	sha_ok "$LINUX_TARBALL" "$LINUX_TARBALL_SHA256" ||
		die "$LINUX_TARBALL does not match its pinned sha256"
	rm -f "$deb"
}

if [ -z "$LINUX_DEB_URL" ]; then
	have=$(dpkg-query -W -f='${Version}' "$LINUX_PKG" 2>/dev/null || true)
	[ "$have" = "$LINUX_PKG_VERSION" ] ||
		missing+=("$LINUX_PKG=$LINUX_PKG_VERSION")
fi
if [ ${#missing[@]} -eq 0 ]; then
	[ -z "$LINUX_DEB_URL" ] || fetch_deb_tarball
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
say "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
	die "could not install ${missing[*]}; the kernel base is pinned to $LINUX_PKG $LINUX_PKG_VERSION in bases/$BASE/pin.env"
[ -z "$LINUX_DEB_URL" ] || fetch_deb_tarball
