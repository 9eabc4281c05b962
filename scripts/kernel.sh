#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure (tinyconfig + config/*.config) and build the kernel with ccache.
# Leaves the image at build/bzImage (KFLAVOUR=debug: build/bzImage-debug).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

configure() {
	local stamp="$OBJ/.fragments-hash" want
	want=$( (series_hash; cat "${FRAGMENTS[@]}") | sha256sum | cut -c1-16)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$OBJ/.config" ]; then
		return 0
	fi
	say "configuring: tinyconfig + ${FRAGMENTS[*]##*/}"
	mkdir -p "$OBJ"
	"${KMAKE[@]}" -s tinyconfig
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" \
		"${FRAGMENTS[@]}" >/dev/null
	"${KMAKE[@]}" -s olddefconfig
	local opt bad=0
	for opt in $(grep -h '^CONFIG_' "${FRAGMENTS[@]}"); do
		grep -qx "$opt" "$OBJ/.config" || { echo "config: $opt did not survive" >&2; bad=1; }
	done
	[ $bad -eq 0 ] || die "kernel config is missing options (see above)"
	echo "$want" > "$stamp"
}

ccache -M 8G >/dev/null 2>&1 || true
configure
say "building (make -j$JOBS)"
"${KMAKE[@]}" bzImage
cp "$OBJ/arch/x86/boot/bzImage" "$KIMAGE"
say "kernel: ${KIMAGE#"$REPO"/} ($(stat -c %s "$KIMAGE") bytes)"
