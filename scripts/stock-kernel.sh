#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Usage: stock-kernel.sh TARGET   (one of module/targets/*.env)
#
# One of Debian's own stock kernels, to build the out-of-tree module against
# and boot under QEMU, without installing anything: fetches the target's
# pinned .debs into build/module/debs/, checks them, and unpacks them into
# one root build/module/kernels/$KVER/, fixed up to work there (Debian's
# headers refer to each other by absolute /usr/src paths). Then
#	make -C $KDIR M=<module dir> modules
# builds a module with this machine's compiler. Prints, as its only stdout,
# KVER=, KDIR= (the headers) and VMLINUZ= for the caller to eval.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

targets="$REPO/module/targets"
[ $# -eq 1 ] || die "usage: $0 TARGET (known: $(cd "$targets" &&
	ls -- *.env | sed 's/\.env$//' | tr '\n' ' '))"
env="$targets/$1.env"
[ -f "$env" ] || die "unknown target $1 (no $env)"
# what a target's env may set besides KVER and DEB<n>*
KVER= MODULE_CC= CONFIG_FOR_CC=() HOSTPROGS_BASE= MODULE_BTF=
. "$env"
[ -n "$KVER" ] || die "$env sets no KVER"

debs="$REPO/build/module/debs"
root="$REPO/build/module/kernels/$KVER"
hdr="$root/usr/src/linux-headers-$KVER"
stamp="$root/.stamp"
# one run per kernel at a time (parallel checks share the unpacked root)
mkdir -p "${root%/*}"
exec 9> "$root.lock"
flock 9
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
fetch() { /usr/lib/apt/apt-helper download-file "$1" "$2" "SHA256:$3" >/dev/null; }

# The .debs, DEB1.. in the env, each checked against its pinned sha256.
files=()
mkdir -p "$debs"
for ((i = 1; ; i++)); do
	name=DEB$i url=DEB${i}_URL sha=DEB${i}_SHA256
	[ -n "${!name:-}" ] || break
	deb="$debs/${!name}"
	files+=("$deb")
	sha_ok "$deb" "${!sha}" && continue
	say "fetching ${!name}"
	rm -f "$deb"
	fetch "${!url}" "$deb" "${!sha}" && continue
	# the security archive drops an update once a point release has
	# copied it into the main archive's pool
	alt=${!url/debian-security\/pool\/updates\//debian\/pool\/}
	[ "$alt" != "${!url}" ] && say "trying $alt" &&
		fetch "$alt" "$deb" "${!sha}" ||
		die "could not fetch ${!url} (pinned in $env)"
done
[ ${#files[@]} -gt 0 ] || die "$env lists no .debs (DEB1=...)"

# Set (NAME=value) or unset (NAME=) config symbols in the headers' config,
# where kbuild and the C preprocessor read it.
set_config() {
	local kv name val
	for kv in "$@"; do
		name=CONFIG_${kv%%=*} val=${kv#*=}
		sed -i "/^$name=/d" "$hdr/include/config/auto.conf"
		sed -i "/^#define $name /d" "$hdr/include/generated/autoconf.h"
		[ -n "$val" ] || continue
		echo "$name=$val" >> "$hdr/include/config/auto.conf"
		[ "$val" = y ] && val=1
		echo "#define $name $val" >> "$hdr/include/generated/autoconf.h"
	done
}

# The kbuild programs that do not run here (built against a newer glibc),
# rebuilt from HOSTPROGS_BASE's pinned source: modpost and objtool, which
# Debian ships as .real-* behind a wrapper that picks one per target arch.
rebuild_hostprogs() {
	local tarball topdir tmp="$REPO/build/module/hostprogs-$KVER"
	local log="$tmp.log"

	BASE=$HOSTPROGS_BASE "$REPO/scripts/deps.sh" >&2
	read -r tarball topdir < <(BASE=$HOSTPROGS_BASE bash -c \
		'. "$0"; echo "$LINUX_TARBALL $LINUX_TOPDIR"' "$REPO/scripts/lib.sh")
	say "building modpost and objtool for $KVER from ${tarball##*/} (log: ${log#"$REPO"/})"
	rm -rf "$tmp"
	mkdir -p "$tmp/obj"
	tar -xf "$tarball" -C "$tmp"
	cp "$root/boot/config-$KVER" "$tmp/obj/.config"
	make -C "$tmp/$topdir" O="$tmp/obj" -j"$JOBS" \
		olddefconfig modules_prepare > "$log" 2>&1 ||
		die "building the host programs failed, see $log"
	install "$tmp/obj/scripts/mod/modpost" "$hdr/scripts/mod/modpost.real-lsb-64"
	install "$tmp/obj/tools/objtool/objtool" "$hdr/tools/objtool/objtool.real-x86"
	rm -rf "$tmp"
}

# Make the unpacked root work where it is, as if installed in /.
fix_up() {
	local link dest

	[ -f "$hdr/Module.symvers" ] || die "no headers for $KVER in $env's .debs"
	# the flavour's Makefile includes the common headers' one (and since
	# trixie sets KBUILD_OUTPUT to itself) by absolute /usr/src path; make
	# -C runs it with CURDIR its own directory, so go from there
	sed -i 's#/usr/src/#$(CURDIR)/../#g' "$hdr/Makefile"
	# lib/modules/$KVER/{build,source} are absolute up to Debian 12
	find "$root" -type l -lname '/*' -print0 |
	while IFS= read -r -d '' link; do
		dest=$(readlink "$link")
		ln -sfn "$(realpath -ms --relative-to="${link%/*}" \
			"$root$dest")" "$link"
	done
	# since trixie the kernel, its config and System.map sit in
	# /usr/lib/modules/$KVER/ and only merged /usr has /lib and /boot
	[ -e "$root/lib" ] || ln -s usr/lib "$root/lib"
	mkdir -p "$root/boot"
	for f in vmlinuz config System.map; do
		[ -e "$root/boot/$f-$KVER" ] ||
			ln -s "../lib/modules/$KVER/$f" "$root/boot/$f-$KVER"
	done
	[ -f "$root/boot/vmlinuz-$KVER" ] || die "no vmlinuz in $env's .debs"

	# .kernelvariables (read after the Makefile's defaults) names the
	# compiler the kernel was built with; kbuild runs pahole by name for
	# module BTF: use the one a .deb of the env brought, if any
	if [ -n "$MODULE_CC" ]; then
		sed -i "s/^\(CC = .*\)gcc-[0-9]*\$/\1$MODULE_CC/" "$hdr/.kernelvariables"
		grep -q "^CC = .*$MODULE_CC\$" "$hdr/.kernelvariables" ||
			die "could not set CC in $hdr/.kernelvariables"
	fi
	[ ! -x "$root/usr/bin/pahole" ] ||
		echo "PAHOLE = $root/usr/bin/pahole" >> "$hdr/.kernelvariables"
	set_config "${CONFIG_FOR_CC[@]}"
	[ -z "$HOSTPROGS_BASE" ] || rebuild_hostprogs
	# kbuild skips module BTF when the headers have no vmlinux
	[ "$MODULE_BTF" != n ] || [ ! -f "$hdr/vmlinux" ] ||
		mv "$hdr/vmlinux" "$hdr/vmlinux.no-module-btf"
}

# Unpacked afresh whenever the env (and so any pin), this script or the
# root's place (in .kernelvariables) changes.
want=$({ cat "$env" "$0"; echo "$root"; } | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	say "unpacking $KVER into ${root#"$REPO"/}"
	rm -rf "$root"
	mkdir -p "$root"
	for deb in "${files[@]}"; do
		dpkg-deb -x "$deb" "$root"
	done
	fix_up
	echo "$want" > "$stamp"
fi

echo "KVER=$KVER"
echo "KDIR=$hdr"
echo "VMLINUZ=$root/boot/vmlinuz-$KVER"
