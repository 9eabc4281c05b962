#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The cc-heap tool against the running kernel: what `info --json`,
# `stats --json` and `alloc 4M --json` print agrees with /dev, /sys and
# debugfs, and bad input or a missing heap fails with the fix spelled out.
# With the node present it checks the heap's answers; with the node absent,
# that cc-heap says so. busybox sh, grep and sed only (no python, no jq).
# Output: TAP, "1..N" first. CC_HEAP overrides the tool's path.
# shellcheck disable=SC2317 # the checks are called through check()

CC_HEAP=${CC_HEAP:-/bin/cc-heap}
NODE=/dev/dma_heap/system_cc_shared
STATS=/sys/kernel/debug/cc_shared_heap/stats
SYSMOD=/sys/module/cc_shared_heap
TMP=${TMPDIR:-/tmp}/cc_heap_tool_test.$$
n=0

mkdir -p "$TMP" || exit 1
trap 'rm -rf "$TMP"' EXIT

# results are kept until the end, so that the plan can come first
check() {
	name=$1
	shift
	n=$((n + 1))
	if "$@" >"$TMP/why" 2>&1; then
		echo "ok $n $name" >>"$TMP/tap"
	else
		echo "not ok $n $name" >>"$TMP/tap"
		sed 's/^/# /' "$TMP/why" >>"$TMP/tap"
	fi
}

# run NAME ARGS...: cc-heap's stdout, stderr and exit status in $TMP/NAME.*
run() {
	name=$1
	shift
	"$CC_HEAP" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
}

rc() { cat "$TMP/$1.rc"; }

# json FILE KEY: the value of "KEY" (first match; strings keep their quotes)
json() {
	sed -nE "s/.*\"$2\": (\"[^\"]*\"|[^,}]*).*/\1/p" "$1" | head -n 1
}

expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', want '$3'"
	return 1
}

is_number() {	# is_number WHAT VALUE
	echo "$2" | grep -Eq '^[0-9]+(\.[0-9]+)?$' && return 0
	echo "$1: '$2' is not a number"
	return 1
}

one_object() {	# exactly one line, one object
	[ "$(wc -l <"$1")" -eq 1 ] && grep -q '^{.*}$' "$1" && return 0
	echo "not one JSON object on one line:"
	cat "$1"
	return 1
}

has_keys() {	# has_keys FILE KEY...
	f=$1
	shift
	for k in "$@"; do
		grep -q "\"$k\": " "$f" || { echo "no key $k in: $(cat "$f")"; return 1; }
	done
}

# --- info, everywhere -------------------------------------------------------

info_is_one_object() {
	expect "exit status" "$(rc info)" 0 && one_object "$TMP/info.out"
}

info_has_its_keys() {
	has_keys "$TMP/info.out" command ok confidential_guest technology \
		technology_source node node_present heap emulated \
		emulated_source stats_readable kernel_log_readable \
		kernel_release module_version
}

info_node_present_matches_dev() {
	want=false
	[ -e "$NODE" ] && want=true
	expect node_present "$(json "$TMP/info.out" node_present)" "$want"
}

info_heap_matches_sysfs() {
	want=absent
	[ -e "$NODE" ] && want=other
	[ -d "$SYSMOD" ] && want=builtin
	[ -e "$SYSMOD/initstate" ] && want=module
	expect heap "$(json "$TMP/info.out" heap)" "\"$want\""
}

info_technology_is_known() {
	t=$(json "$TMP/info.out" technology)
	g=$(json "$TMP/info.out" confidential_guest)
	case $t in
	'"none"') expect confidential_guest "$g" false ;;
	'"tdx"'|'"sev-snp"'|'"sev-es"'|'"sev"'|'"unknown"')
		expect confidential_guest "$g" true ;;
	*) echo "technology $t"; return 1 ;;
	esac
}

info_emulated_matches_stats() {
	want=false
	grep -q '^emu_' "$STATS" 2>/dev/null && want=true
	expect emulated "$(json "$TMP/info.out" emulated)" "$want"
}

info_release_matches_uname() {
	expect kernel_release "$(json "$TMP/info.out" kernel_release)" \
		"\"$(uname -r)\""
}

# --- usage, everywhere -------------------------------------------------------

alloc_bad_size_fails_with_a_fix() {
	[ "$(rc bad)" -ne 0 ] || { echo "exit status 0"; return 1; }
	grep -q 'bad SIZE "1X"' "$TMP/bad.err" &&
	grep -q 'fix: .*K, M or G' "$TMP/bad.err" && return 0
	cat "$TMP/bad.err"
	return 1
}

alloc_bad_size_json_says_not_ok() {
	[ "$(rc badj)" -ne 0 ] && one_object "$TMP/badj.out" &&
	expect ok "$(json "$TMP/badj.out" ok)" false
}

help_prints_usage() {
	"$CC_HEAP" --help | grep -q '^usage: cc-heap' &&
	"$CC_HEAP" help | grep -q 'alloc SIZE'
}

unknown_command_fails() {
	! "$CC_HEAP" frobnicate 2>"$TMP/unk.err" &&
	grep -q 'unknown command' "$TMP/unk.err"
}

# --- with the node ------------------------------------------------------------

stats_is_one_object() {
	expect "exit status" "$(rc stats)" 0 && one_object "$TMP/stats.out"
}

stats_counters_are_numbers() {
	f=$TMP/stats.out
	for k in buffers shared_bytes pooled_bytes leaked_bytes share_calls \
		 unshare_calls share_failures unshare_failures pool_hits \
		 pool_misses pool_limit_bytes; do
		is_number "$k" "$(json "$f" "$k")" || return 1
	done
}

stats_match_debugfs() {
	expect pool_limit_bytes "$(json "$TMP/stats.out" pool_limit_bytes)" \
		"$(sed -n 's/^pool_limit_bytes //p' "$STATS")"
}

stats_text_uses_binary_units() {
	grep -Eq '^  pool_limit_bytes +[0-9.]+ (B|KiB|MiB|GiB|TiB)  ' \
		"$TMP/stext.out" && return 0
	cat "$TMP/stext.out"
	return 1
}

alloc_reads_zero_and_keeps_a_pattern() {
	f=$TMP/alloc.out
	expect "exit status" "$(rc alloc)" 0 && one_object "$f" &&
	expect ok "$(json "$f" ok)" true &&
	expect zeroed "$(json "$f" zeroed)" true &&
	expect nonzero_bytes "$(json "$f" nonzero_bytes)" 0 &&
	expect pattern_ok "$(json "$f" pattern_ok)" true
}

alloc_reports_its_size() {
	expect size_bytes "$(json "$TMP/alloc.out" size_bytes)" 4194304 &&
	expect buffer_bytes "$(json "$TMP/alloc.out" buffer_bytes)" 4194304
}

alloc_times_each_step() {
	for k in alloc_us mmap_touch_us verify_us pattern_us; do
		is_number "$k" "$(json "$TMP/alloc.out" "$k")" || return 1
	done
}

alloc_frees_its_buffer() {
	expect buffers "$(sed -n 's/^buffers //p' "$STATS")" "$buffers_before"
}

alloc_text_says_ok() {
	expect "exit status" "$(rc atext)" 0 &&
	grep -q 'every byte reads zero: yes' "$TMP/atext.out" &&
	expect "last line" "$(tail -n 1 "$TMP/atext.out")" ok
}

# --- without the node ---------------------------------------------------------

alloc_without_node_fails_with_the_fix() {
	[ "$(rc alloc)" -ne 0 ] || { echo "exit status 0"; return 1; }
	grep -q "$NODE does not exist" "$TMP/alloc.err" &&
	grep -q 'fix: .*modprobe cc_shared_heap' "$TMP/alloc.err" &&
	grep -q 'cc_shared_heap.emulate=1' "$TMP/alloc.err" && return 0
	cat "$TMP/alloc.err"
	return 1
}

alloc_json_without_node_says_not_ok() {
	one_object "$TMP/alloc.out" &&
	expect ok "$(json "$TMP/alloc.out" ok)" false &&
	grep -q '"fix": ".*modprobe cc_shared_heap' "$TMP/alloc.out"
}

stats_without_node_fails() {
	[ "$(rc stats)" -ne 0 ] && grep -q 'fix: ' "$TMP/stats.err"
}

bench_without_node_fails() {
	[ "$(rc bench)" -ne 0 ] && grep -q "$NODE does not exist" "$TMP/bench.err"
}

run info info --json
run bad alloc 1X
run badj alloc 1X --json
check info_is_one_object info_is_one_object
check info_has_its_keys info_has_its_keys
check info_node_present_matches_dev info_node_present_matches_dev
check info_heap_matches_sysfs info_heap_matches_sysfs
check info_technology_is_known info_technology_is_known
check info_emulated_matches_stats info_emulated_matches_stats
check info_release_matches_uname info_release_matches_uname
check alloc_bad_size_fails_with_a_fix alloc_bad_size_fails_with_a_fix
check alloc_bad_size_json_says_not_ok alloc_bad_size_json_says_not_ok
check help_prints_usage help_prints_usage
check unknown_command_fails unknown_command_fails

if [ -e "$NODE" ]; then
	run stats stats --json
	run stext stats
	buffers_before=$(sed -n 's/^buffers //p' "$STATS")
	run alloc alloc 4M --json
	run atext alloc 4M
	check stats_is_one_object stats_is_one_object
	check stats_counters_are_numbers stats_counters_are_numbers
	check stats_match_debugfs stats_match_debugfs
	check stats_text_uses_binary_units stats_text_uses_binary_units
	check alloc_reads_zero_and_keeps_a_pattern \
		alloc_reads_zero_and_keeps_a_pattern
	check alloc_reports_its_size alloc_reports_its_size
	check alloc_times_each_step alloc_times_each_step
	check alloc_frees_its_buffer alloc_frees_its_buffer
	check alloc_text_says_ok alloc_text_says_ok
else
	run alloc alloc 4M --json
	run stats stats
	run bench bench
	check alloc_without_node_fails_with_the_fix \
		alloc_without_node_fails_with_the_fix
	check alloc_json_without_node_says_not_ok \
		alloc_json_without_node_says_not_ok
	check stats_without_node_fails stats_without_node_fails
	check bench_without_node_fails bench_without_node_fails
fi

echo "1..$n"
cat "$TMP/tap"
grep -q '^not ok' "$TMP/tap" && exit 1
exit 0
