#!/usr/bin/env bash
# `make test`: unit tests, end-to-end tests against the real Chroma server,
# and both again under AddressSanitizer + UBSan. Ends with the
# line "N passed, N failed, N skipped".
set -u
build=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
total_p=0 total_f=0 total_s=0

count() { # $1: label line regex prefix; reads the summary line from $log
	local line
	line=$(grep -E "^$1" "$log" | tail -1)
	p=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
	total_p=$((total_p + ${p:-0})) total_f=$((total_f + ${f:-1}))
	total_s=$((total_s + ${s:-0}))
}

echo "== unit tests"
bash tests/run-unit.sh "$@" | tee "$log"
count "unit:"

echo "== end-to-end tests"
bash tests/e2e/run.sh 2>&1 | tee "$log"
count "e2e:"

echo "== unit tests under AddressSanitizer and UBSan"
make --no-print-directory asan 2>&1 | grep -v '^\(clang\|ar\) ' | tee "$log"
count "unit:"

echo "== end-to-end tests under AddressSanitizer and UBSan"
make --no-print-directory asan-e2e 2>&1 | tee "$log"
count "e2e:"

echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
