#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The DKMS package installed as a user would, in a throwaway root, never
# on the host:
#   check-deb.sh LOG      (default build/logs/deb-install.log)
# Builds build/cc-shared-heap-dkms_<version>_all.deb (scripts/deb.sh),
# fetches the pinned stock kernels 6.1-cloud and 6.12-cloud, then, in a
# private mount namespace, mounts an overlay whose lower layer is the
# host's / (upper and work layers in build/deb-root/), chroots into it,
# installs those kernels with their headers, then the package, and checks
# what DKMS built and installed, and that removing the package removes it.
# Results go to LOG as TAP for tests/summarize.py, the commands' output to
# LOG's .txt sibling. The overlay, and every mount, is gone at the end.
set -euo pipefail
here=$(dirname "$0")
. "$here/../scripts/lib.sh"

targets=(6.1-cloud 6.12-cloud)
name=cc-shared-heap
root_tmp="$REPO/build/deb-root"

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

# ---- Inside the private mount namespace (the script runs itself). ----
inner() {
	local up=$root_tmp/upper work=$root_tmp/work m=$root_tmp/root
	local kver t0 how ko vermagic deb

	# mounts die with the namespace anyway; unmount for a tidy exit
	# shellcheck disable=SC2064
	trap "umount -R '$m' 2>/dev/null || umount -R -l '$m' 2>/dev/null || true" EXIT

	t0=$(date +%s)
	mkdir -p "$up" "$work" "$m"
	if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$up,workdir=$work" \
		"$m" 2>> "$OUT"; then
		# a kernel that refuses upper layers inside the lower one
		# takes them from a tmpfs
		mkdir -p "$root_tmp/tmpfs"
		mount -t tmpfs -o size=8g tmpfs "$root_tmp/tmpfs" 2>> "$OUT" &&
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
	# /run and /tmp may be other filesystems: fresh ones, and a resolver
	# that works without the host's /run
	mount -t tmpfs tmpfs "$m/run"
	mount -t tmpfs tmpfs "$m/tmp"
	cp --remove-destination -L /etc/resolv.conf "$m/etc/resolv.conf"
	# no service starts in the throwaway root
	printf '#!/bin/sh\nexit 101\n' > "$m/usr/sbin/policy-rc.d"
	chmod 755 "$m/usr/sbin/policy-rc.d"
	mkdir -p "$m/root/debs"
	# shellcheck disable=SC2086
	cp $CCSH_KERNEL_DEBS "$CCSH_DEB" "$m/root/debs/"
	tap ok throwaway_root_mounts "overlay of / in build/deb-root/, $(since "$t0") s"

	# a clean environment: nothing of the caller's (EMULATION=1, say)
	# reaches the module's build
	in_root() {
		chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	}
	# apt, and once more after an update when the host's lists are stale
	apt_root() {
		in_root apt-get -q -y --no-install-recommends "$@" >> "$OUT" 2>&1 ||
		{ in_root apt-get -q update >> "$OUT" 2>&1 &&
		  in_root apt-get -q -y --no-install-recommends "$@" >> "$OUT" 2>&1; }
	}

	# The stock kernels with their headers (the 6.12 headers depend on
	# the image), and what apt pulls in for them from the network.
	t0=$(date +%s)
	echo "== stock kernels and headers" >> "$OUT"
	local rdebs=() f
	for f in $CCSH_KERNEL_DEBS; do
		rdebs+=("/root/debs/${f##*/}")
	done
	if apt_root install "${rdebs[@]}"; then
		for kver in $CCSH_KVERS; do
			if in_root test -f "/lib/modules/$kver/build/Makefile"; then
				tap ok "kernel_and_headers_install_for_$kver"
			else
				tap "not ok" "kernel_and_headers_install_for_$kver" \
					"no /lib/modules/$kver/build/Makefile"
			fi
		done
	else
		tell
		tap "not ok" kernels_and_headers_install "apt-get install failed"
		return 0
	fi
	comment "time: stock kernels and headers installed in $(since "$t0") s"

	# The package, as a user installs it: its postinst adds it to DKMS,
	# builds and installs it.
	t0=$(date +%s)
	deb=/root/debs/${CCSH_DEB##*/}
	echo "== apt-get install $deb" >> "$OUT"
	local mark
	mark=$(wc -l < "$OUT")
	# on failure go on: what DKMS has, kernel by kernel, says why
	if apt_root install "$deb"; then
		tap ok package_installs
	else
		tell 25
		tap "not ok" package_installs "apt-get install failed"
	fi
	comment "time: package installed (its postinst's DKMS builds) in $(since "$t0") s"
	# what the postinst chose to build for
	tail -n +"$((mark + 1))" "$OUT" | { grep -E '^(Building for|It is likely)' || true; } |
		while IFS= read -r l; do comment "postinst: $l"; done

	for kver in $CCSH_KVERS; do
		t0=$(date +%s)
		how="by the package's postinst"
		if ! in_root dkms status -m "$name" -v "$CCSH_VERSION" -k "$kver" 2>> "$OUT" |
			grep ': installed' >/dev/null; then
			# the postinst builds for the running kernel and the
			# newest one only (all of them in a chroot on first
			# install): do the rest as the kernel's own hook would
			how="by an explicit dkms install -k $kver (the postinst did not)"
			echo "== dkms install -k $kver" >> "$OUT"
			in_root dkms install -m "$name" -v "$CCSH_VERSION" \
				-k "$kver" >> "$OUT" 2>&1 || true
		fi
		if in_root dkms status -m "$name" -v "$CCSH_VERSION" -k "$kver" 2>> "$OUT" |
			grep ': installed' >/dev/null; then
			tap ok "dkms_builds_and_installs_for_$kver" "$how"
		else
			in_root cat "/var/lib/dkms/$name/$CCSH_VERSION/build/make.log" \
				>> "$OUT" 2>&1 || true
			tell 25
			tap "not ok" "dkms_builds_and_installs_for_$kver" \
				"dkms status: $(in_root dkms status -m "$name" -k "$kver" 2>&1 | head -n 1)"
			continue
		fi
		[ "$how" != "by the package's postinst" ] &&
			comment "time: dkms install for $kver: $(since "$t0") s"

		# where depmod finds it, and for which kernel it was built
		ko=$(in_root modinfo -k "$kver" -n cc_shared_heap 2>/dev/null || true)
		vermagic=$(in_root modinfo -F vermagic "$ko" 2>/dev/null || true)
		case $ko in
		"/lib/modules/$kver/updates/dkms/cc_shared_heap.ko"*)
			if [[ $vermagic == "$kver "* ]]; then
				tap ok "module_in_updates_dkms_matches_kernel_vermagic_for_$kver" "$ko"
			else
				tap "not ok" "module_in_updates_dkms_matches_kernel_vermagic_for_$kver" \
					"vermagic '$vermagic'"
			fi ;;
		*)
			tap "not ok" "module_in_updates_dkms_matches_kernel_vermagic_for_$kver" \
				"modinfo -k $kver finds '${ko:-nothing}'"
			continue ;;
		esac

		# the package flavour: no fault knobs, no emulation backend
		# (the heap's own load message names emulation in every
		# flavour, so look for the backend's banner); grep reads all,
		# as pipefail would take a writer it cut short for a miss
		if in_root modinfo -F parm "$ko" | grep '^fail_register:' >/dev/null; then
			tap "not ok" "module_has_no_test_code_for_$kver" "has fail_register"
		elif in_root sh -c 'case $1 in
				*.xz) xz -dc "$1" ;; *.zst) zstd -dc "$1" ;;
				*.gz) gzip -dc "$1" ;; *) cat "$1" ;; esac' sh "$ko" |
			strings | grep 'EMULATED memory conversions' >/dev/null; then
			tap "not ok" "module_has_no_test_code_for_$kver" "has the emulation backend"
		else
			tap ok "module_has_no_test_code_for_$kver"
		fi

		# Debian's dkms signs with its MOK key (made on first use)
		local signer
		signer=$(in_root modinfo -F signer "$ko" 2>/dev/null || true)
		if [ "$signer" = "DKMS module signing key" ] &&
		   [ -f "$m/var/lib/dkms/mok.pub" ]; then
			tap ok "module_signed_with_the_dkms_mok_key_for_$kver"
		else
			tap "not ok" "module_signed_with_the_dkms_mok_key_for_$kver" \
				"signer '${signer:-none}'"
		fi
	done

	# Removal takes the module away from every kernel.
	t0=$(date +%s)
	echo "== apt-get remove $name-dkms" >> "$OUT"
	local left
	if in_root apt-get -q -y remove "$name-dkms" >> "$OUT" 2>&1; then
		left=$(cd "$m" && ls -d lib/modules/*/updates/dkms/cc_shared_heap.ko* \
			"var/lib/dkms/$name" "usr/src/$name-$CCSH_VERSION" 2>/dev/null || true)
		for kver in $CCSH_KVERS; do
			in_root modinfo -k "$kver" -n cc_shared_heap >/dev/null 2>&1 &&
				left="$left modules.dep of $kver"
		done
		if [ -z "$left" ]; then
			tap ok package_removal_removes_the_module
		else
			tap "not ok" package_removal_removes_the_module "left: ${left//$'\n'/ }"
		fi
	else
		tell
		tap "not ok" package_removal_removes_the_module "apt-get remove failed"
	fi
	comment "time: package removed in $(since "$t0") s"
}

if [ "${1:-}" = --inner ]; then
	inner
	exit 0
fi

# ---- Outside: build, fetch, run the inside, check and clean up. ----
[ "$(id -u)" -eq 0 ] || die "needs root (overlay mount, chroot)"
LOG=$(realpath -m "${1:-$REPO/build/logs/deb-install.log}")
OUT=${LOG%.log}.txt
mkdir -p "${LOG%/*}"
echo "CCSH-BEGIN deb-install" > "$LOG"
: > "$OUT"
export LOG OUT
start=$(date +%s)
ended=

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
cleanup() {
	local rc=$?

	remove_root_tmp || true
	if [ -z "$ended" ]; then
		tap "not ok" check_deb_completes "stopped early (status $rc), see ${OUT#"$REPO"/}"
		comment "time: total $(since "$start") s"
		echo "CCSH-END deb-install rc=0" >> "$LOG"
	fi
}
trap cleanup EXIT
# a signal's status for cleanup to report
trap 'exit 130' INT
trap 'exit 143' TERM
finish() {
	comment "time: total $(since "$start") s"
	echo "CCSH-END deb-install rc=0" >> "$LOG"
	ended=1
	say "deb-install: $(grep -c '^ok ' "$LOG" || true) passed, $(grep -c '^not ok ' "$LOG" || true) failed in $(since "$start") s (log: ${LOG#"$REPO"/})"
	exit 0
}

# The package.
t0=$(date +%s)
echo "== scripts/deb.sh" >> "$OUT"
if info=$("$REPO/scripts/deb.sh" 2>> "$OUT") && eval "$info" &&
   [ -f "${DEB:-}" ]; then
	tap ok package_builds "${DEB#"$REPO"/}"
else
	tell
	tap "not ok" package_builds
	finish
fi
comment "time: package built in $(since "$t0") s"
src=./usr/src/$name-$VERSION
files=$(dpkg-deb -c "$DEB")
conf=$(dpkg-deb --fsys-tarfile "$DEB" | tar -xO "$src/dkms.conf" 2>/dev/null || true)
if grep " $src/dkms.conf\$" <<< "$files" >/dev/null &&
   grep " $src/Kbuild\$" <<< "$files" >/dev/null &&
   grep -x "PACKAGE_VERSION=\"$VERSION\"" <<< "$conf" >/dev/null &&
   ! grep '^MAKE.*EMULATION' <<< "$conf" >/dev/null; then
	tap ok package_ships_the_sources_and_dkms_conf "${src#.}"
else
	tap "not ok" package_ships_the_sources_and_dkms_conf "no $src/dkms.conf of $VERSION, or it sets EMULATION"
fi

# The stock kernels, fetched and checked against their pins.
t0=$(date +%s)
kvers=
kdebs=
for t in "${targets[@]}"; do
	echo "== scripts/stock-kernel.sh $t" >> "$OUT"
	if kinfo=$("$REPO/scripts/stock-kernel.sh" "$t" 2>> "$OUT"); then
		kver=$(echo "$kinfo" | sed -n 's/^KVER=//p')
		kvers="$kvers $kver"
		# the target's .debs, as stock-kernel.sh names them
		kdebs="$kdebs $(bash -c '. "$1"; for ((i = 1; ; i++)); do
			n=DEB$i; [ -n "${!n:-}" ] || break; echo "$2/${!n}"
		done' sh "$REPO/module/targets/$t.env" "$REPO/build/module/debs")"
		tap ok "stock_kernel_debs_fetched_for_$t" "$kver"
	else
		tell
		tap "not ok" "stock_kernel_debs_fetched_for_$t"
	fi
done
comment "time: stock kernels fetched in $(since "$t0") s"
[ -n "$kvers" ] || finish

# what the host has of the packages the throwaway root installs
host_pkgs() {
	local p
	for p in "$name-dkms" $(for f in $kdebs; do f=${f##*/}; echo "${f%%_*}"; done); do
		echo "$p $(dpkg-query -W -f='${Version} ${Status}' "$p" 2>/dev/null || true)"
	done
}
before=$(host_pkgs)

# The throwaway root, in a mount namespace of its own: every mount in it
# goes when the namespace does, whatever happens here.
remove_root_tmp || finish
mkdir -p "$root_tmp"
CCSH_DEB=$DEB CCSH_VERSION=$VERSION CCSH_KVERS=$kvers CCSH_KERNEL_DEBS=$kdebs \
	unshare --mount --propagation private -- bash "$0" --inner ||
	tap "not ok" throwaway_root_run "the namespace's run failed (status $?)"

# The host has none of it.
host=
[ ! -e "/usr/src/$name-$VERSION" ] || host="$host /usr/src/$name-$VERSION"
[ ! -e "/var/lib/dkms/$name" ] || host="$host /var/lib/dkms/$name"
[ "$(host_pkgs)" = "$before" ] || host="$host a change in dpkg's state"
if [ -z "$host" ]; then
	tap ok host_root_untouched
else
	tap "not ok" host_root_untouched "on the host:$host"
fi
finish
