#!/usr/bin/env bash
# Every real-world persist directory with an expected.jsonl: its export,
# imported into a real server (each into a database of its own) and exported
# back over HTTP, holds exactly what the server returned for the directory
# (cosine vectors within 2 ulps: the server normalises them again), and each
# collection keeps its name, metadata and space. Without the fixtures, the
# bundled sample, against its own export.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
if [ -z "$F" ]; then
	echo "shared/fixtures/real-world is absent: the bundled sample instead"
	F=$T/fx
	mkdir -p "$F/sample"
	cp -r "$ROOT/sample/chroma-data" "$F/sample/db"
	"$CV" export "file://$F/sample/db" -o "$T/sample.first.jsonl" || fail "export"
	python3 "$ROOT/tests/tools/export_as_expected.py" "$T/sample.first.jsonl" \
		>"$F/sample/expected.jsonl"
fi

start_chroma "$T/data"
n=0
for d in "$F"/*/; do
	name=$(basename "$d")
	[ -f "$d/expected.jsonl" ] || continue
	db=fx-$name
	curl -sf -X POST "$CHROMA_URL/api/v2/tenants/default_tenant/databases" \
		-H 'Content-Type: application/json' -d "{\"name\":\"$db\"}" >/dev/null ||
		fail "$name: database not made"
	expect_ok "$CV" export "file://$d/db" -o "$T/$name.jsonl"
	expect_ok "$CV" import "$CHROMA_URL?database=$db" -i "$T/$name.jsonl"
	expect_ok "$CV" export "$CHROMA_URL?database=$db" -o "$T/$name.back.jsonl"
	expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 2 \
		"$T/$name.back.jsonl" "$d/expected.jsonl"
	python3 - "$T/$name.jsonl" "$T/$name.back.jsonl" <<'PY' || fail "$name: collections differ"
import json, sys
def heads(p):
    out = {}
    for line in open(p, encoding="utf-8"):
        if line.startswith('{"_collection"'):
            h = json.loads(line)["_collection"]
            out[h["name"]] = (h["metadata"], h["space"], h["dimension"])
    return out
a, b = heads(sys.argv[1]), heads(sys.argv[2])
if a != b:
    sys.exit(f"before {a}\nafter  {b}")
PY
	n=$((n + 1))
done
[ "$F" = "$T/fx" ] || [ "$n" -ge 20 ] || fail "only $n fixtures with expected.jsonl"
echo "$n fixtures imported and exported back unchanged"
