#!/usr/bin/env bash
# export http:// gives the same record lines, byte for byte, as export file://
# of the directory the server serves; headers differ only in "configuration"
# (the server reports its resolved configuration). Unknown collections,
# tenants and databases and dead servers give clear errors.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
expect_ok python3 "$ROOT/tests/gen/populate.py" "$CHROMA_URL" diff
# float32 the server spells with an exponent sign ("3.4028235e+38")
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.create("extremes", configuration={"hnsw": {"space": "l2"}})
vals = [3.4028235e38, -3.4028235e38, 1e-45, 1.17549435e-38, -0.0, 1e20, 123456789.0, 0.1]
c.records(cid, "add", ids=[f"x{i}" for i in range(8)],
          embeddings=[vals[i:] + vals[:i] for i in range(8)])
PY
stop_chroma
expect_ok "$CV" export "file://$T/data" -o "$T/file.jsonl"
start_chroma "$T/data"
expect_ok "$CV" export "$CHROMA_URL" -o "$T/http.jsonl"
expect_ok "$CV" export "$CHROMA_URL/cosine-coll" --concurrency 2 -o "$T/one.jsonl"
expect_fail 2 "$CV" export "$CHROMA_URL/nope"
grep -q 'collection "nope" not found in tenant "default_tenant", database "default_database"' \
	"$T/stderr" || fail "missing collection: $(cat "$T/stderr")"
expect_fail 2 "$CV" export "$CHROMA_URL?tenant=nope"
grep -q 'Tenant \[nope\] not found' "$T/stderr" || fail "missing tenant: $(cat "$T/stderr")"
expect_fail 2 "$CV" export "$CHROMA_URL?database=nope"
grep -q 'Database \[nope\] not found' "$T/stderr" || fail "missing database: $(cat "$T/stderr")"
stop_chroma

grep -v '^{"_collection"' "$T/file.jsonl" >"$T/file.records"
grep -v '^{"_collection"' "$T/http.jsonl" >"$T/http.records"
[ "$(wc -l <"$T/file.records")" -gt 900 ] || fail "too few records"
test_cmp "$T/file.records" "$T/http.records"
python3 - "$T/file.jsonl" "$T/http.jsonl" <<'PY' || fail "headers differ"
import json, sys
def heads(p):
    return [json.loads(l)["_collection"] for l in open(p) if l.startswith('{"_collection"')]
a, b = heads(sys.argv[1]), heads(sys.argv[2])
assert len(a) == len(b) and len(a) >= 4, (len(a), len(b))
for x, y in zip(a, b):
    x.pop("configuration"); y.pop("configuration")
    assert x == y, (x, y)
PY
python3 "$ROOT/tests/tools/export_as_expected.py" "$T/file.jsonl" >"$T/file.expected"
python3 "$ROOT/tests/tools/jsonl_compare.py" --collection cosine-coll "$T/one.jsonl" \
	"$T/file.expected" >/dev/null || fail "single-collection export differs"

# a server that is not there
port=$(free_port)
expect_fail 2 "$CV" export "http://127.0.0.1:$port/x"
grep -q "127.0.0.1:$port" "$T/stderr" || fail "no clear connection error: $(cat "$T/stderr")"
echo "http export equals file export"
