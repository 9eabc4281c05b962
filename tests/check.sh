#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every test, on every kernel base: tests/check-base.sh per base (6.12 and
# 7.3 unless CHECK_BASES says otherwise), tests/check-module.sh per stock
# Debian kernel (CHECK_MODULES), the DKMS package's install test
# (tests/check-deb.sh), the host tests once (the cost model; the pinned
# kernel source with a newer one on the host, tests/check-pin.sh), then
# one summary: failures, a line per base or stock kernel and the closing
# line "N passed, N failed, N skipped". Exit status 1 on any failure.
set -euo pipefail
here=$(dirname "$0")
. "$here/../scripts/lib.sh"
. "$here/dma-edu.sh"	# EDU_TOPOLOGIES: the real-DMA rig's boots

bases=${CHECK_BASES:-6.12 7.3}
# "test": the test kernels; "debug": the same with the kernel's sanitizers
# (KFLAVOUR=debug, config/sanitizers.config)
flavours=${CHECK_FLAVOURS:-test debug}
# host tests log next to the bases' logs (6.12's check-base.sh empties
# build/logs when it starts, so these run after every base)
LOGS="$REPO/build/logs"

runs=("host=$LOGS/host.log:host")
kunit_py=
for fl in $flavours; do
	kf=${fl/#test/}
	for b in $bases; do
		# a base that does not build leaves no logs: its runs count as failed
		KFLAVOUR=$kf BASE=$b "$here/check-base.sh" ||
			say "$b ${kf:-test}: build or boot failed"
		# the base's paths, from scripts/lib.sh (one lookup per base)
		{ read -r blogs; read -r bsrc; } < <(KFLAVOUR=$kf BASE=$b bash -c \
			'. "$0"; echo "$LOGDIR"; echo "$SRC"' "$REPO/scripts/lib.sh")
		[ -n "$kunit_py" ] || kunit_py="$bsrc/tools/testing/kunit/kunit.py"
		g=$b${kf:+-$kf}
		[ -n "$kf" ] || runs+=("$g/matrix=$blogs/matrix.log:host")
		runs+=("$g/emulated=$blogs/emulated.log:kunit"
		       "$g/swiotlb=$blogs/swiotlb.log:kunit"
		       "$g/prefill=$blogs/prefill.log" "$g/plain=$blogs/plain.log"
		       "$g/regfail=$blogs/regfail.log")
		# the real-DMA rig boots the test flavour only
		if [ -z "$kf" ]; then
			for topo in $EDU_TOPOLOGIES; do
				runs+=("$g/dma-edu-$topo=$blogs/dma-edu-$topo.log")
			done
		fi
	done
done

# the out-of-tree module on Debian's stock kernels (module/targets/)
modules=${CHECK_MODULES-6.1-cloud 6.12-cloud 7.3-cloud}
for t in $modules; do
	"$here/check-module.sh" "$t" || say "$t: module build or boot failed"
	ml="$REPO/build/module/logs/$t"
	runs+=("$t/packaged=$ml/packaged.log:host"
	       "$t/emulated=$ml/emulated.log" "$t/swiotlb=$ml/swiotlb.log"
	       "$t/plain=$ml/plain.log" "$t/regfail=$ml/regfail.log"
	       "$t/noshrinker=$ml/noshrinker.log")
	for topo in $EDU_TOPOLOGIES; do
		runs+=("$t/dma-edu-$topo=$ml/dma-edu-$topo.log")
	done
done
# the DKMS package, built and installed in a throwaway root
if [ -n "$modules" ] && [ -z "${CHECK_NO_DEB:-}" ]; then
	say "deb: build the DKMS package and install it in a throwaway root"
	"$here/check-deb.sh" "$LOGS/deb.log" || say "deb: install test failed"
	runs+=("deb=$LOGS/deb.log:host")
fi

# host: the benchmark's cost model against hand-computed counts
say "host: benchmark cost-model test"
mkdir -p "$LOGS"
{
	echo "CCSH-BEGIN bench-model-test"
	if gcc -O2 -Wall -Werror -o "$LOGS/ccsh-bench-model-test" \
		"$REPO/tools/ccsh-bench-model-test.c" &&
	   out=$("$LOGS/ccsh-bench-model-test" 2>&1); then
		echo "ok 1 cost_model_counts_match_hand_computed_values # $out"
	else
		echo "${out:-does not build}" | sed 's/^/# /'
		echo "not ok 1 cost_model_counts_match_hand_computed_values"
	fi
	echo "CCSH-END bench-model-test rc=0"
} > "$LOGS/host.log"

# host: the 6.12 base's pinned source whatever linux-source-6.12 the host
# has, and the day the archive drops it (a throwaway root, no kernel build)
say "host: pinned kernel source test"
"$here/check-pin.sh" "$LOGS/pin.log" || say "pin: test failed to run"
runs+=("pin=$LOGS/pin.log:host")

python3 "$here/summarize.py" "$kunit_py" "${runs[@]}"
