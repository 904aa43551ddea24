#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Checks that the guest kernel has what the isolation tests build on:
# namespaces, veth and debugfs (virtme-ng's own config lacks some of them;
# kconfig/tests.config adds them). Runs on patched and unpatched kernels.
# Output: KTAP. Exit: 0 all passed, 1 a case failed.

n=0
nfail=0
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		nfail=$((nfail + 1))
	fi
}

echo "KTAP version 1"
echo "1..4"

unshare --user --map-root-user true 2>/dev/null
result $? "user_namespace"

unshare --net true 2>/dev/null
result $? "net_namespace"

unshare --net sh -c 'ip link add va type veth peer name vb &&
	ip link set va up &&
	ip link set vb up && ip -o link show vb' >/dev/null 2>&1
result $? "veth_pair_in_netns"

if ! grep -q debugfs /proc/mounts; then
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
fi
grep -q debugfs /proc/mounts
result $? "debugfs_mounted"

echo "# Totals: pass:$((n - nfail)) fail:$nfail"
[ "$nfail" -eq 0 ]
