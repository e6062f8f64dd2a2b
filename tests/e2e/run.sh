#!/usr/bin/env bash
# Runs every end-to-end test in order; ends with "e2e: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0 skipped=0
for t in tests/e2e/t[0-9]*.sh; do
	start=$(date +%s)
	out=$(timeout 600 bash "$t" 2>&1)
	rc=$?
	secs=$(($(date +%s) - start))
	name=$(basename "$t" .sh)
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "skip $name: ${out##*skipped: }"
	else
		failed=$((failed + 1))
		printf '%s\n' "$out" | tail -30
		echo "FAIL $name (${secs}s, exit $rc)"
	fi
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
