#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The 6.12 base's source, whatever linux-source-6.12 the host has:
#   check-pin.sh LOG      (default build/logs/pin.log)
# A Debian point release moves linux-source-6.12 past the version
# bases/6.12/pin.env pins, and an apt upgrade takes the host's copy with
# it. The build must neither need nor touch that copy. To have a newer one
# on the host without changing the real host (other builds may be running
# beside), the test works in a private mount namespace: an overlay whose
# lower layer is the host's / (upper and work layers in build/pin-root/),
# chrooted into, where dpkg installs a dummy linux-source-6.12 6.12.999-1
# built here (its tarball is a tree with SUBLEVEL 999, not Linux) over
# whatever version the host has. In there:
#  - scripts/deps.sh succeeds and leaves that package at 6.12.999-1;
#  - deps.sh and assemble.sh in a scratch copy of the repository, given the
#    tarball deps.sh fetched for the build, extract the pinned tree;
#  - with the pool's URL failing, deps.sh falls back to the next ones and
#    takes the .deb from the last (snapshot.debian.org's in the real pin;
#    here a local .deb of the pinned tarball, packed again);
#  - with every URL of the pinned .deb failing, as once the archive has
#    dropped it, deps.sh fails, naming the pinned version and the newest
#    one apt's lists have, and takes no other version.
# Then the real host's linux-source-6.12 is as it was. No kernel is built,
# nothing is downloaded when deps.sh has fetched the tarball for the build
# already; most of the time goes to extracting the tree (into a tmpfs):
# 15 to 55 s on the 2-core machine, by how busy other builds keep it.
# Results go to LOG as TAP for tests/summarize.py, the commands' output to
# LOG's .txt sibling. The overlay, and every mount, is gone at the end.
set -euo pipefail
here=$(dirname "$0")
. "$here/../scripts/lib.sh"

pkg=linux-source-6.12
dummy_version=6.12.999-1
root_tmp="$REPO/build/pin-root"

# One result, numbered after those already in the log (both halves,
# outside and inside the namespace, append to it).
tap() {
	local status=$1 test=$2 note=${3:+ # $3}
	local n
	n=$(grep -cE '^(not )?ok [0-9]+ ' "$LOG" || true)
	echo "$status $((n + 1)) $test$note" >> "$LOG"
	say "$status $test$note"
}
comment() { printf '# %s\n' "$@" >> "$LOG"; }
# the tail of the commands' output, into the log, when a step fails
tell() { tail -n "${1:-15}" "$OUT" | sed 's/^/#   /' >> "$LOG"; }
since() { echo $(( $(date +%s) - $1 )); }
# where the next step's output starts in OUT, and that step's first error
mark() { mark_line=$(wc -l < "$OUT"); }
step_error() {
	awk -v from="$mark_line" 'NR > from { last = $0
		if (/^error: /) { print; found = 1; exit } }
		END { if (!found) print last }' "$OUT"
}
# what the 6.12 base's scripts/lib.sh of repository $1 says
lib_says() {
	BASE=6.12 bash -c '. "$1/scripts/lib.sh"; echo "${!2}"' sh "$1" "$2"
}

# ---- Inside the private mount namespace (the script runs itself). ----
inner() {
	local up=$root_tmp/upper work=$root_tmp/work m=$root_tmp/root
	local t0 have scratch tarball tree sub want_sub newest msg want tries

	# mounts die with the namespace anyway; unmount for a tidy exit
	# shellcheck disable=SC2064
	trap "umount -R '$m' 2>/dev/null || umount -R -l '$m' 2>/dev/null || true" EXIT

	mkdir -p "$up" "$work" "$m"
	if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$up,workdir=$work" \
		"$m" 2>> "$OUT"; then
		# a kernel that refuses upper layers inside the lower one
		# takes them from a tmpfs
		mkdir -p "$root_tmp/tmpfs"
		mount -t tmpfs -o size=1g tmpfs "$root_tmp/tmpfs" 2>> "$OUT" &&
		up=$root_tmp/tmpfs/upper work=$root_tmp/tmpfs/work &&
		mkdir -p "$up" "$work" &&
		mount -t overlay overlay \
			-o "lowerdir=/,upperdir=$up,workdir=$work" "$m" 2>> "$OUT" || {
			tap "not ok" throwaway_root_mounts "cannot mount an overlay of /: $(tail -n 1 "$OUT")"
			return 0
		}
	fi
	mount -t proc proc "$m/proc"
	mount --rbind /sys "$m/sys"
	mount --rbind /dev "$m/dev"
	mount -t tmpfs tmpfs "$m/run"
	mount -t tmpfs tmpfs "$m/tmp"
	cp --remove-destination -L /etc/resolv.conf "$m/etc/resolv.conf"
	# the scratch tree that assemble.sh extracts (1.4 GB) in memory,
	# written faster and gone at once
	mkdir -p "$root_tmp/repo"
	mount -t tmpfs -o size=3g tmpfs "$root_tmp/repo" 2>> "$OUT" || true
	# the repository itself, not the overlay's view of it: what deps.sh
	# fetches for the build stays there (mounted after the tmpfs, so that
	# the chroot sees it too)
	mkdir -p "$m$REPO"
	mount --rbind "$REPO" "$m$REPO"

	in_root() {
		chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	}
	installed() { in_root dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true; }

	comment "time: throwaway root mounted in $(since "$start") s"
	# The newer package, installed as dpkg installs any upgrade.
	t0=$(date +%s)
	echo "== dpkg -i ${DUMMY_DEB#"$REPO"/}" >> "$OUT"
	in_root dpkg --log=/dev/null -i "$DUMMY_DEB" >> "$OUT" 2>&1 || true
	have=$(installed)
	if [ "$have" != "$dummy_version" ]; then
		tell
		tap "not ok" host_gets_a_newer_linux_source_6_12 "dpkg -i left ${have:-none}"
		return 0
	fi
	comment "in the throwaway root, the host's $pkg is now $have, /usr/src/$pkg.tar.xz a tree with SUBLEVEL 999 (dpkg -i: $(since "$t0") s)"

	# 1. The repository's own deps.sh: nothing to do for the source (it
	# was fetched for the build) or a fetch into build/pkg/; never apt.
	t0=$(date +%s)
	echo "== BASE=6.12 scripts/deps.sh" >> "$OUT"
	mark
	if in_root env BASE=6.12 bash "$REPO/scripts/deps.sh" >> "$OUT" 2>&1; then
		have=$(installed)
		if [ "$have" = "$dummy_version" ]; then
			tap ok base_6_12_deps_leave_a_newer_host_linux_source_alone \
				"deps.sh succeeded in $(since "$t0") s, $pkg still $have"
		else
			tap "not ok" base_6_12_deps_leave_a_newer_host_linux_source_alone \
				"deps.sh changed $pkg from $dummy_version to ${have:-none}"
		fi
	else
		tell 5
		tap "not ok" base_6_12_deps_leave_a_newer_host_linux_source_alone \
			"deps.sh failed: $(step_error)"
	fi

	# 2. A scratch repository from the pinned tarball as deps.sh left it
	# in the build (hard-linked, no download): deps.sh, then assemble.sh
	# extracts and patches the pinned tree under its build/.
	t0=$(date +%s)
	scratch=$root_tmp/repo
	tarball=$(lib_says "$REPO" LINUX_TARBALL)
	mkdir -p "$scratch"
	cp -a "$REPO/scripts" "$REPO/bases" "$REPO/kernel" "$scratch/"
	mkdir -p "$scratch/build/pkg"
	if [ -f "$tarball" ]; then
		ln "$tarball" "$scratch/build/pkg/" 2>/dev/null ||
			cp "$tarball" "$scratch/build/pkg/"
	fi
	tree=$(lib_says "$scratch" SRC)
	want_sub=$(lib_says "$scratch" LINUX_PKG_VERSION)
	want_sub=${want_sub%%-*}
	want_sub=${want_sub##*.}
	echo "== scratch: scripts/deps.sh, scripts/assemble.sh" >> "$OUT"
	mark
	if in_root env BASE=6.12 bash "$scratch/scripts/deps.sh" >> "$OUT" 2>&1 &&
	   in_root env BASE=6.12 bash "$scratch/scripts/assemble.sh" >> "$OUT" 2>&1; then
		sub=$(sed -n 's/^SUBLEVEL = //p' "$tree/Makefile" 2>/dev/null || true)
		have=$(installed)
		if [ "$sub" = "$want_sub" ] && [ "$have" = "$dummy_version" ]; then
			tap ok base_6_12_builds_from_the_pinned_package_whatever_the_host_has \
				"SUBLEVEL $sub tree extracted from build/pkg/${tarball##*/} in $(since "$t0") s, $pkg still $have"
		else
			tap "not ok" base_6_12_builds_from_the_pinned_package_whatever_the_host_has \
				"tree has SUBLEVEL ${sub:-none}, want $want_sub; $pkg is ${have:-none}"
		fi
	else
		tell 5
		tap "not ok" base_6_12_builds_from_the_pinned_package_whatever_the_host_has \
			"$(step_error)"
	fi
	t0=$(date +%s)
	if mountpoint -q "$scratch"; then
		umount "$m$scratch" 2>/dev/null || true
		umount "$scratch"
	else
		rm -rf "$scratch"
	fi
	comment "time: scratch tree removed in $(since "$t0") s"

	# 3. The fallback: a scratch repository whose pool URL has nothing,
	# and whose last resort (snapshot.debian.org's URL in the real pin)
	# has a .deb of the pinned tarball, built here (the archive's .deb is
	# not kept after deps.sh), pinned by its own sha256.
	t0=$(date +%s)
	scratch=$root_tmp/fallback
	mkdir -p "$scratch/deb/DEBIAN" "$scratch/deb/usr/src"
	cp -a "$REPO/scripts" "$REPO/bases" "$scratch/"
	if [ -f "$tarball" ]; then
		ln "$tarball" "$scratch/deb/usr/src/" 2>/dev/null ||
			cp "$tarball" "$scratch/deb/usr/src/"
	fi
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: cc-shared-heap tests <ccsh@invalid>\nDescription: the pinned tarball, packed again\n' \
		"$pkg" "$(lib_says "$scratch" LINUX_PKG_VERSION)" > "$scratch/deb/DEBIAN/control"
	dpkg-deb -Znone --root-owner-group -b "$scratch/deb" "$scratch/again.deb" >> "$OUT" 2>&1 || true
	cat >> "$scratch/bases/6.12/pin.env" <<-EOF
	# check-pin.sh: the pool has nothing, the last resort has the .deb
	LINUX_DEB_URL=file://$scratch/gone/debian-security/pool/updates/main/l/linux-6.12/\$LINUX_DEB
	LINUX_DEB_SNAPSHOT_URL=file://$scratch/again.deb
	LINUX_DEB_SHA256=$(sha256sum "$scratch/again.deb" 2>/dev/null | cut -d' ' -f1)
	EOF
	echo "== fallback: scripts/deps.sh" >> "$OUT"
	mark
	if in_root env BASE=6.12 bash "$scratch/scripts/deps.sh" >> "$OUT" 2>&1 &&
	   [ "$(sha256sum < "$(lib_says "$scratch" LINUX_TARBALL)" | cut -d' ' -f1)" = \
	     "$(lib_says "$scratch" LINUX_TARBALL_SHA256)" ]; then
		tries=$(grep -c "^==> fetching .* from file://$scratch/" "$OUT" || true)
		tap ok base_6_12_fetch_falls_back_to_the_next_url_when_the_pool_lacks_the_pinned_deb \
			"pinned tarball from the last of $tries URLs in $(since "$t0") s"
	else
		tell 5
		tap "not ok" base_6_12_fetch_falls_back_to_the_next_url_when_the_pool_lacks_the_pinned_deb \
			"$(step_error)"
	fi
	rm -rf "$scratch"

	# 4. The day the archive drops the pinned version: a scratch
	# repository whose pin.env points every URL of the .deb at nothing.
	scratch=$root_tmp/dropped
	mkdir -p "$scratch"
	cp -a "$REPO/scripts" "$REPO/bases" "$scratch/"
	cat >> "$scratch/bases/6.12/pin.env" <<-EOF
	# check-pin.sh: the archive no longer has this version anywhere
	LINUX_DEB_URL=file://$scratch/gone/debian-security/pool/updates/main/l/linux-6.12/\$LINUX_DEB
	LINUX_DEB_SNAPSHOT_URL=file://$scratch/gone/snapshot/file/0
	EOF
	newest=$(in_root apt-cache madison "$pkg" 2>/dev/null |
		 awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }')
	want_sub=$(lib_says "$scratch" LINUX_PKG_VERSION)
	comment "the archive's newest $pkg, in apt's lists: ${newest:-none}; pinned: $want_sub"
	if [ -n "$newest" ] && [ "$newest" != "$want_sub" ]; then
		want="now offers $pkg $newest"
	else
		want="still show"
	fi
	echo "== dropped: scripts/deps.sh" >> "$OUT"
	mark
	if in_root env BASE=6.12 bash "$scratch/scripts/deps.sh" >> "$OUT" 2>&1; then
		tap "not ok" base_6_12_names_the_newer_version_when_the_archive_drops_the_pinned_one \
			"deps.sh succeeded with no URL to fetch from"
	else
		msg=$(step_error)
		comment "deps.sh: $msg"
		if grep -F "$pkg $want_sub" <<< "$msg" | grep -qF "$want" &&
		   ! compgen -G "$scratch/build/pkg/*.tar.xz" > /dev/null &&
		   [ "$(installed)" = "$dummy_version" ]; then
			tap ok base_6_12_names_the_newer_version_when_the_archive_drops_the_pinned_one \
				"fails naming $pkg $want_sub and \"$want\", takes no other version"
		else
			tap "not ok" base_6_12_names_the_newer_version_when_the_archive_drops_the_pinned_one \
				"want \"$pkg $want_sub\" and \"$want\", no tarball, $pkg untouched; got: $msg"
		fi
	fi
	rm -rf "$scratch"
}

if [ "${1:-}" = --inner ]; then
	inner
	exit 0
fi

# ---- Outside: the dummy package, the inside, the host check, clean up. ----
LOG=$(realpath -m "${1:-$REPO/build/logs/pin.log}")
OUT=${LOG%.log}.txt
mkdir -p "${LOG%/*}"
echo "CCSH-BEGIN pin" > "$LOG"
: > "$OUT"
export LOG OUT
start=$(date +%s)
export start
if [ "$(id -u)" -ne 0 ] || ! unshare --mount true 2>/dev/null; then
	for t in base_6_12_deps_leave_a_newer_host_linux_source_alone \
		 base_6_12_builds_from_the_pinned_package_whatever_the_host_has \
		 base_6_12_fetch_falls_back_to_the_next_url_when_the_pool_lacks_the_pinned_deb \
		 base_6_12_names_the_newer_version_when_the_archive_drops_the_pinned_one; do
		tap ok "$t" "SKIP needs root and mount namespaces (overlay, chroot, dpkg)"
	done
	echo "CCSH-END pin rc=0" >> "$LOG"
	exit 0
fi

# Removed only when nothing is mounted under it on the host (mounts live
# in the namespace only), so that rm cannot reach through to the host.
remove_root_tmp() {
	local mounted

	mounted=$(findmnt -rn -o TARGET | grep "^$root_tmp" || true)
	if [ -n "$mounted" ]; then
		tap "not ok" throwaway_root_removed "still mounted on the host: ${mounted%%$'\n'*}"
		return 1
	fi
	rm -rf --one-file-system "$root_tmp"
}
ended=
cleanup() {
	local rc=$?

	remove_root_tmp || true
	if [ -z "$ended" ]; then
		tap "not ok" check_pin_completes "stopped early (status $rc), see ${OUT#"$REPO"/}"
		echo "CCSH-END pin rc=0" >> "$LOG"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remove_root_tmp
mkdir -p "$root_tmp/dummy/DEBIAN" "$root_tmp/dummy/usr/src" "$root_tmp/tree/$pkg"

# The dummy: what a newer linux-source-6.12 looks like to dpkg, with a
# tarball that is not the pinned one (a build that read it would extract a
# tree with SUBLEVEL 999, or fail its sha256).
printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 999\n' > "$root_tmp/tree/$pkg/Makefile"
tar -C "$root_tmp/tree" -cJf "$root_tmp/dummy/usr/src/$pkg.tar.xz" "$pkg"
cat > "$root_tmp/dummy/DEBIAN/control" <<EOF
Package: $pkg
Version: $dummy_version
Architecture: all
Maintainer: cc-shared-heap tests <ccsh@invalid>
Section: kernel
Priority: optional
Description: dummy newer $pkg for tests/check-pin.sh
 Stands for a Debian point release of $pkg on the host; the tarball
 is not Linux.
EOF
DUMMY_DEB=$root_tmp/${pkg}_${dummy_version}_all.deb
dpkg-deb --root-owner-group -b "$root_tmp/dummy" "$DUMMY_DEB" >> "$OUT" 2>&1

host_state() { dpkg-query -W -f='${Version} ${Status}' "$pkg" 2>/dev/null || echo none; }
before=$(host_state)
comment "the real host's $pkg: $before"

DUMMY_DEB=$DUMMY_DEB unshare --mount --propagation private -- bash "$0" --inner ||
	tap "not ok" throwaway_root_run "the namespace's run failed (status $?)"

comment "time: throwaway root's run done at $(since "$start") s"
after=$(host_state)
if [ "$after" = "$before" ]; then
	tap ok pin_test_leaves_the_real_host_package_alone "$pkg: $after"
else
	tap "not ok" pin_test_leaves_the_real_host_package_alone "$pkg was $before, now $after"
fi
comment "time: total $(since "$start") s"
echo "CCSH-END pin rc=0" >> "$LOG"
ended=1
say "pin: $(grep -c '^ok ' "$LOG" || true) passed, $(grep -c '^not ok ' "$LOG" || true) failed in $(since "$start") s (log: ${LOG#"$REPO"/})"
