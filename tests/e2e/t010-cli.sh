#!/usr/bin/env bash
# The command line: help for every command, the README's usage section
# generated from the same entries and current, make demo's sample readable.
. "$(dirname "$0")/lib.sh"
setup

expect_ok "$CV" help
for cmd in $(sed -n 's/^  \([a-z]*\) .*/\1/p' "$T/stdout"); do
	expect_ok "$CV" help "$cmd"
	grep -q "^usage: chromavault $cmd" "$T/stdout" || fail "help $cmd"
	[ "$cmd" = help ] && continue
	expect_ok "$CV" "$cmd" --help
	grep -q "^exit codes:" "$T/stdout" || fail "$cmd --help lacks exit codes"
done
expect_ok "$CV" --version
(cd "$ROOT" && CV="$CV" bash scripts/readme-usage.sh --check) || fail "README usage out of date"

before=$(tree_hash "$ROOT/sample/chroma-data")
expect_ok "$CV" inspect --check "$ROOT/sample/chroma-data"
expect_ok "$CV" export "file://$ROOT/sample/chroma-data" -o "$T/sample.jsonl"
[ "$(grep -c '^{"_collection"' "$T/sample.jsonl")" -eq 2 ] || fail "sample collections"
[ "$(grep -c '^{"id"' "$T/sample.jsonl")" -eq 188 ] || fail "sample records"
[ "$(tree_hash "$ROOT/sample/chroma-data")" = "$before" ] || fail "sample changed"
echo "cli ok"
