#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The queue's boot-time KUnit suites (CONFIG_ASI_KUNIT_TEST): mx_kernel_page
# (kernel pages from the MAP_EXCLUSIVE pool) and asi_domain (domains, their
# windows and allocator; needs asi=on with 4-level paging). KUnit prints its
# KTAP to the kernel log while booting; this turns each suite's top-level
# result into one KTAP line, and fails if a suite is missing or failed.

SUITES="mx_kernel_page asi_domain"

log=$(dmesg 2>/dev/null) || { echo "1..0 # SKIP cannot read the kernel log"; exit 4; }
# Strip the "[    1.234567] " timestamps.
log=$(printf '%s\n' "$log" | sed 's/^\[[ 0-9.]*\] //')

echo "TAP version 13"
echo "1..$(echo $SUITES | wc -w)"
n=0
fails=0
for s in $SUITES; do
	n=$((n + 1))
	line=$(printf '%s\n' "$log" | grep -E "^(not )?ok [0-9]+ $s( |\$)" | tail -n 1)
	totals=$(printf '%s\n' "$log" | grep -E "^# $s: " | tail -n 1)
	[ -n "$totals" ] && echo "# $totals"
	case "$line" in
	"ok "*"# SKIP"*)
		echo "not ok $n $s # the suite skipped: ${line#*# SKIP}"
		fails=$((fails + 1)) ;;
	"ok "*)
		echo "ok $n $s" ;;
	"not ok "*)
		printf '%s\n' "$log" | grep -E "^    not ok " | sed 's/^/# /'
		echo "not ok $n $s"
		fails=$((fails + 1)) ;;
	*)
		echo "# no KUnit result for $s in the kernel log: is CONFIG_ASI_KUNIT_TEST=y?"
		echo "not ok $n $s"
		fails=$((fails + 1)) ;;
	esac
done
[ "$fails" -eq 0 ]
