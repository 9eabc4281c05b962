#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the heap's objects (drivers/dma-buf/heaps/ and kernel/dma/) with
# -Werror in other Kconfig combinations than the test kernel's, so that a
# combination that does not compile fails `make check`.
#
# usage: config-matrix.sh [VARIANT...]    (default: every config/matrix/*.config)
#
# A variant is tinyconfig + the test kernel's fragments (scripts/lib.sh
# FRAGMENTS, for BASE) + config/matrix/<variant>.config. Every option line of the variant's fragment
# must survive olddefconfig ("# CONFIG_X is not set" must stay unset), or the
# variant fails: Kconfig would no longer build what it claims to test.
# All variants share one output directory, build/obj-matrix, so switching
# between them rebuilds only what depends on the options that changed.
#
# stdout: one TAP section "config-matrix" (CCSH-BEGIN ... CCSH-END), one
# result per variant, builds_<variant>, failures explained in "# " lines.
# The output of each variant's configuration and build is kept in
# build/obj-matrix/matrix-<variant>.{config,build}.log.
# Exit status 1 if any variant failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECTION=config-matrix
echo "CCSH-BEGIN $SECTION"

MOBJ="$BUILD/obj-matrix"
MMAKE=(make -C "$SRC" O="$MOBJ" ARCH=x86_64 -j"$JOBS"
       CC="ccache gcc" HOSTCC="ccache gcc"
       KBUILD_BUILD_TIMESTAMP=cc-shared-heap KBUILD_BUILD_USER=ccsh
       KBUILD_BUILD_HOST=build)
TARGETS=(drivers/dma-buf/heaps/ kernel/dma/)
MAX_NOTES=80

mkdir -p "$MOBJ"
# one build at a time in the shared output directory
exec 9>"$MOBJ/.matrix.lock"
flock 9

if [ $# -gt 0 ]; then
	variants=("$@")
else
	variants=()
	for f in "$REPO"/config/matrix/*.config; do
		[ -e "$f" ] && variants+=("$(basename "$f" .config)")
	done
fi

notes=()
note() { notes+=("$@"); }
# The last lines of a log, for a step that failed without compiler output.
note_tail() { local l; while IFS= read -r l; do note "$l"; done < <(tail -n 20 "$1"); }

# The compiler's diagnostics of a failed build: the build log without
# kbuild's "  CC  file" lines and make's directory chatter.
note_build_errors() {
	local log=$1 l n=0 total
	total=$(grep -cvE '^  [A-Z][A-Z0-9_-]* |^make(\[[0-9]+\])?: (Entering|Leaving) ' "$log" || true)
	while IFS= read -r l; do
		note "$l"
		n=$((n + 1))
		[ $n -lt $MAX_NOTES ] || break
	done < <(grep -vE '^  [A-Z][A-Z0-9_-]* |^make(\[[0-9]+\])?: (Entering|Leaving) ' "$log" || true)
	[ "$total" -le $MAX_NOTES ] ||
		note "... $((total - MAX_NOTES)) more lines in ${log#"$REPO"/}"
}

# Configure and build one variant. Fills notes; returns 1 on failure.
run_variant() {
	local name=$1 frag="$REPO/config/matrix/$1.config" bad=0 line opt
	local clog="$MOBJ/matrix-$name.config.log" blog="$MOBJ/matrix-$name.build.log"
	: > "$clog"
	: > "$blog"
	if [ ! -f "$frag" ]; then
		note "no fragment ${frag#"$REPO"/}"
		return 1
	fi
	if [ ! -s "$TINY" ]; then
		note "make tinyconfig failed:"; note_tail "$MOBJ/matrix-tinyconfig.log"
		return 1
	fi
	# merge_config.sh leaves its temporary files in the current directory
	if ! (cd "$MOBJ" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$MOBJ" \
		"$TINY" "${FRAGMENTS[@]}" "$frag") >>"$clog" 2>&1; then
		note "merge_config.sh failed:"; note_tail "$clog"; return 1
	fi
	if ! "${MMAKE[@]}" -s olddefconfig >>"$clog" 2>&1; then
		note "make olddefconfig failed:"; note_tail "$clog"; return 1
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			opt=${BASH_REMATCH[1]}
			if grep -q "^$opt=" "$MOBJ/.config"; then
				note "config: $opt is not set in ${frag#"$REPO"/} but .config has $(grep "^$opt=" "$MOBJ/.config")"
				bad=1
			fi
		elif [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)= ]]; then
			opt=${BASH_REMATCH[1]}
			if ! grep -qxF "$line" "$MOBJ/.config"; then
				note "config: $line in ${frag#"$REPO"/} did not survive, .config has: $(grep -E "^(# )?$opt[= ]" "$MOBJ/.config" || echo "nothing (its dependencies are not met)")"
				bad=1
			fi
		fi
	done < "$frag"
	[ $bad -eq 0 ] ||
		note "config: Kconfig no longer allows what this variant tests; building it anyway"
	if ! "${MMAKE[@]}" KCFLAGS=-Werror "${TARGETS[@]}" >>"$blog" 2>&1; then
		note "make KCFLAGS=-Werror ${TARGETS[*]} failed:"
		note_build_errors "$blog"
		bad=1
	fi
	return $bad
}

n=0 failed=0 start=$SECONDS
# tinyconfig once per run (it takes several seconds): every variant starts from it
TINY="$MOBJ/matrix-tinyconfig"
rm -f "$TINY"
"${MMAKE[@]}" -s tinyconfig >"$MOBJ/matrix-tinyconfig.log" 2>&1 &&
	cp "$MOBJ/.config" "$TINY" || true
for name in "${variants[@]}"; do
	n=$((n + 1))
	notes=()
	say "config matrix: $name"
	t0=$SECONDS
	if run_variant "$name"; then
		echo "ok $n builds_$name # $((SECONDS - t0)) s"
	else
		failed=$((failed + 1))
		for l in "${notes[@]}"; do printf '# %s\n' "$l"; done
		echo "not ok $n builds_$name # $((SECONDS - t0)) s"
	fi
done
echo "# $n variants, $failed failed, $((SECONDS - start)) s"
echo "CCSH-END $SECTION rc=$((failed > 0))"
[ $failed -eq 0 ]
