#!/usr/bin/env bash
# Runs every end-to-end test tests/e2e/tNNN-*.sh in numeric order, each with a
# timeout (E2E_TIMEOUT, 300 s); prints "ok/FAIL/skip NAME (seconds)" per test
# and ends with "e2e: N passed, N failed, N skipped" (tests/run-all.sh reads it).
#   bash tests/e2e/run.sh [NAME-PREFIX...]   e.g. run.sh t000 t2  (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=0 failed=0 skipped=0
limit=${E2E_TIMEOUT:-300}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
	local t=$1 name start rc=0 secs
	name=$(basename "$t" .sh)
	start=$(date +%s)
	timeout -k 15 "$limit" bash "$t" >"$log" 2>&1 </dev/null || rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) passed=$((passed + 1)); echo "ok   $name (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "skip $name (${secs}s): $(grep -m1 '^skipped: ' "$log" | cut -c10-)" ;;
	*)
		failed=$((failed + 1))
		tail -30 "$log"
		[ "$rc" -eq 124 ] && echo "(timed out after ${limit}s)"
		echo "FAIL $name (${secs}s, exit $rc)"
		;;
	esac
}

selected() { # selected NAME: no prefixes given, or NAME starts with one
	local p
	[ ${#prefixes[@]} -eq 0 ] && return 0
	for p in "${prefixes[@]}"; do [[ $1 == "$p"* ]] && return 0; done
	return 1
}

prefixes=("$@")
for t in $(printf '%s\n' tests/e2e/t[0-9]*.sh | sort -V); do
	selected "$(basename "$t")" && run_one "$t"
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
