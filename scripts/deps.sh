#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package the build and the tests need, and fetch the
# pinned kernel source of BASE without installing it: the .deb its pin.env
# names, checked against its pinned sha256, and the tarball taken out of it
# into the build directory (scripts/lib.sh says where). The host's own copy
# of that package, if any, at whatever version, is never changed or read.
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

# The newest version of the base's package in apt's lists (as of the last
# apt-get update), empty if apt knows none.
newest_in_archive() {
	local v newest=
	for v in $(apt-cache madison "$LINUX_PKG" 2>/dev/null |
		   awk -F'|' '{ gsub(/ /, "", $2); print $2 }'); do
		if [ -z "$newest" ] || dpkg --compare-versions "$v" gt "$newest"; then
			newest=$v
		fi
	done
	echo "$newest"
}

# No URL gave the pinned .deb: say so, with what the archive has now and
# how to move the pin. Never falls back to another version on its own: a
# new upstream release needs the series checked against it.
archive_dropped() {
	local newest now
	newest=$(newest_in_archive)
	if [ -z "$newest" ]; then
		now="apt's lists have no $LINUX_PKG at all (its suite is not in apt's sources)"
	elif [ "$newest" = "$LINUX_PKG_VERSION" ]; then
		now="apt's lists still show $LINUX_PKG_VERSION as the newest $LINUX_PKG, so the archive may still have it: check the network, or run apt-get update for fresh lists"
	else
		now="the archive now offers $LINUX_PKG $newest (apt-cache madison $LINUX_PKG, as of the last apt-get update)"
	fi
	die "could not fetch $LINUX_PKG $LINUX_PKG_VERSION, pinned in bases/$BASE/pin.env, from any of the $# URLs above. The archive may have dropped it; $now. To move the base to a newer version, set in bases/$BASE/pin.env LINUX_PKG_VERSION, LINUX_DEB, LINUX_DEB_URL and LINUX_DEB_SHA256 from \`apt-cache show $LINUX_PKG=VERSION\` (Filename, SHA256), LINUX_DEB_SNAPSHOT_URL from the .deb's sha1sum, LINUX_TARBALL_SHA256 from the tarball in it, then check that the series still applies (make patches) and run make check."
}

# The base's tarball from its pinned .deb, without installing the package:
# from the archive's pool; for a security update, then from the main
# archive's pool (where a point release copies it); then from
# snapshot.debian.org. Whichever answers, the .deb must have its pinned
# sha256 and the tarball in it its own.
fetch_deb_tarball() {
	local pkg=${LINUX_TARBALL%/*}
	local deb="$pkg/$LINUX_DEB" main url urls=()

	sha_ok "$LINUX_TARBALL" "$LINUX_TARBALL_SHA256" && return 0
	mkdir -p "$pkg"
	if ! sha_ok "$deb" "$LINUX_DEB_SHA256"; then
		urls=("$LINUX_DEB_URL")
		main=${LINUX_DEB_URL/debian-security\/pool\/updates\//debian\/pool\/}
		[ "$main" = "$LINUX_DEB_URL" ] || urls+=("$main")
		[ -z "$LINUX_DEB_SNAPSHOT_URL" ] || urls+=("$LINUX_DEB_SNAPSHOT_URL")
		for url in "${urls[@]}"; do
			say "fetching $LINUX_DEB from $url"
			rm -f "$deb"
			/usr/lib/apt/apt-helper download-file "$url" "$deb" \
				"SHA256:$LINUX_DEB_SHA256" > /dev/null 2> "$pkg/fetch.log" &&
				break
			say "failed: $(grep -m1 '^E: ' "$pkg/fetch.log" || tail -n 1 "$pkg/fetch.log")"
		done
		rm -f "$pkg/fetch.log"
		sha_ok "$deb" "$LINUX_DEB_SHA256" || archive_dropped "${urls[@]}"
	fi
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "$LINUX_DEB_MEMBER" \
		> "$LINUX_TARBALL.tmp"
	mv "$LINUX_TARBALL.tmp" "$LINUX_TARBALL"
	sha_ok "$LINUX_TARBALL" "$LINUX_TARBALL_SHA256" ||
		die "$LINUX_TARBALL does not match its pinned sha256"
	rm -f "$deb"
}

if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "could not install ${missing[*]}"
fi
fetch_deb_tarball
