#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Export the series as mailable `git format-patch` files in build/patches:
# a scratch git tree of the pinned source, one commit per patch in
# bases/<base>/series carrying its edits and the new files export.map
# gives it. With BUILD_EACH=1, build the kernel at every commit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export PATH="/usr/bin:/bin:$PATH"	# Debian python3 has ply for spdxcheck
EXP="$BUILD/export"
OUT="$BUILD/patches"
MAP="$BASEDIR/export.map"

sum=$(sha256sum "$LINUX_TARBALL" | cut -d' ' -f1)
[ "$sum" = "$LINUX_TARBALL_SHA256" ] || die "tarball checksum mismatch"
rm -rf "$EXP" "$OUT"
mkdir -p "$EXP"
tar -C "$EXP" -xf "$LINUX_TARBALL"
tree="$EXP/$LINUX_TOPDIR"
git -C "$tree" init -q
git -C "$tree" add -A -f
git -C "$tree" -c user.name=base -c user.email=base@invalid commit -qm \
	"Linux $LINUX_PKG $LINUX_PKG_VERSION"
base=$(git -C "$tree" rev-parse HEAD)

# the commit message is everything between the Subject and the "---" line
message() {
	sed -n '/^Subject: /{s/^Subject: \(\[PATCH[^]]*\] \)\?//;p;:b;n;/^---$/q;p;bb}' "$1"
}

build_commit() {
	local obj="$BUILD/export-obj"
	mkdir -p "$obj"
	cp "$OBJ/.config" "$obj/.config"
	make -C "$tree" O="$obj" ARCH=x86_64 -j"$JOBS" CC="ccache gcc" \
		HOSTCC="ccache gcc" olddefconfig >/dev/null
	make -C "$tree" O="$obj" ARCH=x86_64 -j"$JOBS" CC="ccache gcc" \
		HOSTCC="ccache gcc" bzImage >/dev/null ||
		die "the tree does not build after $1"
	say "builds: $1"
}

while read -r p; do
	[ -n "$p" ] || continue
	git -C "$tree" apply --whitespace=error "$BASEDIR/$p"
	while read -r name src dst; do
		[ "$name" = "$p" ] || continue
		dst=${dst:-${src#kernel/}}
		mkdir -p "$(dirname "$tree/$dst")"
		cp "$REPO/$src" "$tree/$dst"
	done < <(grep -v '^#' "$MAP")
	author=$(sed -n 's/^From: //p;/^$/q' "$BASEDIR/$p" | head -n1)
	git -C "$tree" add -A -f
	git -C "$tree" -c user.name=export -c user.email=export@invalid \
		commit -q --author="$author" -F <(message "$BASEDIR/$p")
	[ "${BUILD_EACH:-0}" = 1 ] && build_commit "$p"
done < "$BASEDIR/series"

cover=()
[ ! -f "$BASEDIR/cover-letter" ] || cover=(--cover-letter)
# the cover letter's From: is the series' author, not this machine's user
first=$(head -n1 "$BASEDIR/series")
from=$(sed -n 's/^From: //p;/^$/q' "$BASEDIR/$first" | head -n1)
email=${from##*<}
git -C "$tree" -c user.name="${from% <*}" -c user.email="${email%>}" \
	format-patch -q "${cover[@]}" -o "$OUT" "$base"..HEAD
# the cover letter: subject on the first line of bases/<base>/cover-letter,
# the body after the blank line that follows it
if [ ${#cover[@]} -gt 0 ]; then
	c="$OUT/0000-cover-letter.patch"
	python3 - "$c" "$BASEDIR/cover-letter" <<'PY'
import sys
letter, text = sys.argv[1], open(sys.argv[2]).read()
subject, _, body = text.partition("\n\n")
s = open(letter).read()
s = s.replace("*** SUBJECT HERE ***", subject.strip())
s = s.replace("*** BLURB HERE ***", body.rstrip())
open(letter, "w").write(s)
PY
fi
for f in "$OUT"/*.patch; do
	case "$f" in */0000-cover-letter.patch) continue ;; esac
	# the scratch tree has no history: a Fixes: id cannot be looked up
	"$tree/scripts/checkpatch.pl" --strict -q --ignore UNKNOWN_COMMIT_ID "$f" ||
		die "checkpatch complains about ${f##*/}"
done
say "series: $(ls "$OUT" | wc -l) files in ${OUT#"$REPO"/}, checkpatch --strict clean"
