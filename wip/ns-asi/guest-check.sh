#!/bin/sh
# Minimal in-guest check for dev/ns-asi patches 8-10: status files, the
# ptdump marker, the KUnit results in the boot log, and no warnings.
echo "== cmdline: $(cat /proc/cmdline)"
for f in /sys/kernel/mm/asi/*; do
	echo "sysfs $(basename "$f"): $(cat "$f")"
done
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "== ptdump around the slot"
grep -B1 -A3 'ASI domains' /sys/kernel/debug/page_tables/kernel
echo "== boot log"
dmesg | grep -E 'ASI:|KTAP|Subtest|^\[ *[0-9.]*\] *(    )?(not )?ok |# (mx_|asi_)|asi_kunit|: (empty|phase)'
echo "== netns still works (no domain user yet)"
unshare -n sh -c "ip link set lo up && ip -o addr show lo" && echo netns-ok
if dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|not ok'; then
	echo "RESULT: FAIL"
	exit 1
fi
echo "RESULT: PASS"
