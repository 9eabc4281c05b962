#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package the build and the tests need, and the pinned
# kernel source. Does nothing when all are present.
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
have=$(dpkg-query -W -f='${Version}' "$LINUX_PKG" 2>/dev/null || true)
[ "$have" = "$LINUX_PKG_VERSION" ] || missing+=("$LINUX_PKG=$LINUX_PKG_VERSION")
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
say "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
	die "could not install ${missing[*]}; the kernel base is pinned to $LINUX_PKG $LINUX_PKG_VERSION in scripts/pin.env"
