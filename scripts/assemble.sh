#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Assemble the kernel tree in build/src: pristine pinned source, the patch
# series applied, the overlay of new files copied in. The tree is extracted
# again only when the pin or the series changes; overlay files are copied
# only when their content changed, so incremental builds stay incremental.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

verify_tarball() {
	[ -f "$LINUX_TARBALL" ] || die "$LINUX_TARBALL missing; run scripts/deps.sh"
	local sum
	sum=$(sha256sum "$LINUX_TARBALL" | cut -d' ' -f1)
	[ "$sum" = "$LINUX_TARBALL_SHA256" ] ||
		die "$LINUX_TARBALL has sha256 $sum, expected $LINUX_TARBALL_SHA256 (pinned in bases/$BASE/pin.env)"
}

extract_and_patch() {
	local stamp="$BUILD/src/.series-hash" want
	want=$(series_hash)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$SRC" ]; then
		return 0
	fi
	verify_tarball
	say "extracting $LINUX_PKG $LINUX_PKG_VERSION"
	rm -rf "$BUILD/src"
	mkdir -p "$BUILD/src"
	tar -C "$BUILD/src" -xf "$LINUX_TARBALL"
	while read -r p; do
		[ -n "$p" ] || continue
		say "applying $p"
		patch -d "$SRC" -p1 -s --no-backup-if-mismatch < "$BASEDIR/$p" ||
			die "patch $p does not apply"
	done < "$BASEDIR/series"
	echo "$want" > "$stamp"
}

extract_and_patch
rsync -r --checksum "$REPO/kernel/" "$SRC/"
# the base's own glue files, if it has any
[ ! -d "$BASEDIR/kernel" ] || rsync -rL --checksum "$BASEDIR/kernel/" "$SRC/"
