#!/usr/bin/env bash
# Export memory by collection size (issue: peak RSS ≤ 64 MiB whatever the
# collection size). For each size: `chromavault export file://` as it runs
# by default, then with the sizes that bound its memory made small
# (CHROMAVAULT_TEST_LABEL_WINDOW: labels in a window of the id map, 1,048,576
# by default; CHROMAVAULT_TEST_HNSW_TABLE: elements whose label lookup stays
# in memory, 1,048,576 by default), which is what an index larger than those
# does; the two outputs must be the same bytes. Best of 3 each; appends to
# bench/RESULTS.md.
# usage: bash bench/memory.sh [N...]   (default: 100000 300000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${*:-100000 300000 1000000}
cv=build/chromavault
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# best of 3: "seconds peak-KiB" of the best time
run() {
	local best="" rss="" i secs kb
	for i in 1 2 3; do
		rm -f "$out/$1.jsonl"
		env "${@:3}" /usr/bin/time -f '%e %M' -o "$out/time" "$cv" export \
			"file://$PWD/$2/bench" -o "$out/$1.jsonl"
		read -r secs kb <"$out/time"
		if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $secs < $best)"; then
			best=$secs rss=$kb
		fi
	done
	echo "$best $rss"
}

rows=
for n in $sizes; do
	data=$(bash bench/make-data.sh "$n" 384)
	read -r s1 k1 < <(run plain "$data")
	read -r s2 k2 < <(run small "$data" CHROMAVAULT_TEST_LABEL_WINDOW=$((n / 4)) \
		CHROMAVAULT_TEST_HNSW_TABLE=1)
	cmp -s "$out/plain.jsonl" "$out/small.jsonl" || { echo "outputs differ at $n" >&2; exit 1; }
	rows="$rows$n $s1 $k1 $s2 $k2 $(stat -c %s "$out/plain.jsonl")\n"
done
printf "$rows" | python3 -c '
import sys, os, datetime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\n### export memory by collection size — {datetime.date.today()}\n")
print(f"machine: {os.cpu_count()} × {cpu}; command: `bash bench/memory.sh {sys.argv[1]}`\n")
print("| records × 384 | output | default: s | peak RSS | windows of N/4 labels, lookup in a file: s | peak RSS |")
print("|---|---|---|---|---|---|")
for line in sys.stdin:
    n, s1, k1, s2, k2, size = line.split()
    print(f"| {int(n):,} | {int(size)/1e6:,.0f} MB | {float(s1):.2f} | {int(k1)/1024:.1f} MiB "
          f"| {float(s2):.2f} | {int(k2)/1024:.1f} MiB |")
print("\nBoth outputs are the same bytes at every size (the script checks).")
' "$sizes" | tee -a bench/RESULTS.md
