#!/usr/bin/env bash
# Benchmark of asi-tool's own costs on the default kernel, all in one run:
#   1. apply the queue to the cached tree (git am for real, then the no-op path)
#   2. asi-tool test with nothing changed (build should compile nothing)
#   3. asi-tool test after changing one patch (incremental rebuild)
# and, from each test run's results.json, boot + in-guest test time.
# Prints a markdown table for docs/performance.md. Needs a warm cache (run
# `asi-tool test` once first). Restores patches/ when done.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
ASI="$PWD/target/release/asi-tool"
KERNEL="${1:-6.12.107}"
src=$("$ASI" kernel fetch "$KERNEL" | sed 's/.*(\(.*\))$/\1/')

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }

branch=$("$ASI" apply --kernel "$KERNEL" | cut -d' ' -f1)
git -C "$src" checkout -q --detach "v$KERNEL"
git -C "$src" branch -q -D "$branch"
t0=$(now); "$ASI" apply --kernel "$KERNEL" >/dev/null; t1=$(now)
apply_real=$(secs "$t0" "$t1")
t0=$(now); "$ASI" apply --kernel "$KERNEL" >/dev/null; t1=$(now)
apply_noop=$(secs "$t0" "$t1")

run_test() {
	local out
	out=$("$ASI" test --kernel "$KERNEL" "$@" | tee /dev/stderr | sed -n 's/^results: //p')
	echo "$out"
}

# Settle: the real apply above touched the patched files; build them once.
run_test >/dev/null
t0=$(now); r1=$(run_test); t1=$(now)
warm_total=$(secs "$t0" "$t1")
warm_build=$(field "$r1" "f\"{r['build']['seconds']:.1f}\"")
warm_objs=$(field "$r1" "r['build']['objects_compiled']")
warm_boot=$(field "$r1" "f\"{sum(b['seconds'] for b in r['boots']):.1f}\"")
boots=$(field "$r1" "len(r['boots'])")
accel=$(field "$r1" "r['boots'][0]['accel']")

# Change one line of one patch: a comment line the first patch adds.
patch=$(sed -n '/^[^#]/{p;q}' patches/series)
trap 'git checkout -q -- patches' EXIT
python3 - "patches/$patch" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("+ * ") and len(l) < 70:
        lines[i] = l + " (bench)"
        break
else:
    sys.exit("no comment line to change in " + p)
open(p, "w").write("\n".join(lines))
PY
t0=$(now); r2=$(run_test); t1=$(now)
changed_total=$(secs "$t0" "$t1")
changed_build=$(field "$r2" "f\"{r['build']['seconds']:.1f}\"")
changed_objs=$(field "$r2" "r['build']['objects_compiled']")
changed_apply=$(field "$r2" "f\"{r['queue']['apply_seconds']:.2f}\"")

cat <<EOF2

| measurement ($KERNEL, $(nproc) cores, $accel) | value |
| --- | --- |
| apply the queue to the cached tree (git am) | ${apply_real} s |
| apply again, queue unchanged (no-op) | ${apply_noop} s |
| \`asi-tool test\`, nothing changed: total | ${warm_total} s |
| ... of which build (objects compiled) | ${warm_build} s (${warm_objs}) |
| ... of which ${boots} boots + in-guest tests | ${warm_boot} s |
| \`asi-tool test\` after changing one patch: total | ${changed_total} s |
| ... of which apply | ${changed_apply} s |
| ... of which build (objects compiled) | ${changed_build} s (${changed_objs}) |
EOF2
