#!/usr/bin/env bash
# Runs every built libFuzzer target: first over its crash regressions and seed
# corpus (must pass), then fuzzing for SECONDS each (default 60).
# usage: tests/fuzz/run.sh BUILD_FUZZ_DIR [SECONDS]
set -euo pipefail
bin=$1 secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
for f in "$bin"/fuzz_*; do
	[ -x "$f" ] && [ "${f%.o}" = "$f" ] || continue
	name=${f##*/fuzz_}
	corpus=$here/corpus/$name
	work=$(mktemp -d)
	mkdir -p "$corpus"
	regressions=("$here"/regressions/"$name"-*)
	if [ -e "${regressions[0]}" ]; then
		"$f" "${regressions[@]}" >/dev/null 2>&1 || { echo "fuzz_$name: a regression crashes again"; exit 1; }
	fi
	"$f" -runs=0 "$corpus" >/dev/null 2>&1 || { echo "fuzz_$name: a seed crashes"; exit 1; }
	echo "fuzz_$name: fuzzing ${secs}s"
	"$f" -max_total_time="$secs" -artifact_prefix="$work/" "$work" "$corpus" 2>&1 | tail -2
	if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
		echo "fuzz_$name: crash saved in $work; keep it as tests/fuzz/regressions/$name-NAME"
		exit 1
	fi
	rm -rf "$work"
done
