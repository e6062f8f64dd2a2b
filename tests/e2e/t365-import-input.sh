#!/usr/bin/env bash
# import, from a review: inputs and options that lost, doubled or misplaced
# records, or failed where nothing was wrong; each section below says what
# it checks.
. "$(dirname "$0")/lib.sh"
setup

# --- a .zst cut short ---------------------------------------------------------
expect_ok "$CV" export "file://$ROOT/sample/chroma-data" -o "$T/s.jsonl"
lines=$(wc -l <"$T/s.jsonl")
zstd -q -c "$T/s.jsonl" >"$T/s.jsonl.zst"
head -c $(($(stat -c %s "$T/s.jsonl.zst") / 2)) "$T/s.jsonl.zst" >"$T/half.jsonl.zst"
half=$((lines / 2))
head -n "$half" "$T/s.jsonl" | zstd -q -c >"$T/two.jsonl.zst"
first=$(stat -c %s "$T/two.jsonl.zst")
tail -n +"$((half + 1))" "$T/s.jsonl" | zstd -q -c >>"$T/two.jsonl.zst"
head -c $(((first + $(stat -c %s "$T/two.jsonl.zst")) / 2)) "$T/two.jsonl.zst" >"$T/cut2.jsonl.zst"
expect_ok "$CV" import http://127.0.0.1:1 --check -i "$T/two.jsonl.zst"
grep -q ": $lines lines" "$T/stdout" || fail "two frames: $(cat "$T/stdout")"
for f in half cut2; do
	expect_fail 3 "$CV" import http://127.0.0.1:1 --check -i "$T/$f.jsonl.zst"
	grep -qF "$T/$f.jsonl.zst: zstd input is truncated" "$T/stderr" || fail "$f: $(cat "$T/stderr")"
	expect_fail 3 "$CV" import http://127.0.0.1:1 -i "$T/$f.jsonl.zst"
done

echo "import: the review's cases hold"
