#!/usr/bin/env bash
# Every real-world persist directory in shared/fixtures exports exactly what a
# real Chroma 1.5.9 server returned for it, and is not changed by a byte.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
[ -n "$F" ] || skip "shared/fixtures/real-world is absent"

n=0
for d in "$F"/*/; do
	name=$(basename "$d")
	[ -f "$d/expected.jsonl" ] || continue
	before=$(tree_hash "$d/db")
	expect_ok "$CV" export "file://$d/db" -o "$T/$name.jsonl"
	expect_ok "$CV" inspect --json "$d/db" >"$T/$name.inspect.json"
	expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 \
		"$T/$name.jsonl" "$d/expected.jsonl"
	[ "$(tree_hash "$d/db")" = "$before" ] || fail "$name: the source changed"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n fixtures with expected.jsonl"

for name in notion-qa-legacy-0.3 search-pdf-legacy-0.3; do
	[ -d "$F/$name" ] || continue
	expect_fail 3 "$CV" export "file://$F/$name/db" -o "$T/legacy.jsonl"
	grep -q "unsupported format (Chroma 0.3)" "$T/stderr" ||
		fail "$name: no clear legacy error: $(cat "$T/stderr")"
	[ ! -e "$T/legacy.jsonl" ] || fail "$name: output file left behind"
done
echo "$n fixtures match"
