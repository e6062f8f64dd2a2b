#!/usr/bin/env bash
# Differential test against the real server: a directory written through its
# HTTP API (adds, every kind of update, upserts, deletes, re-adds; l2, cosine,
# ip; flushed several times with a WAL tail; arrays, URIs, null documents,
# unicode and control characters; a deleted collection's orphan folder)
# exports exactly what the server's get returns, live and after it stopped.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
expect_ok python3 "$ROOT/tests/gen/populate.py" "$CHROMA_URL" diff
python3 "$ROOT/tests/gen/dump.py" "$CHROMA_URL" >"$T/expected.jsonl" || fail "dump"
[ "$(wc -l <"$T/expected.jsonl")" -gt 900 ] || fail "too few records generated"

# live: the server keeps running while we read its directory
before=$(tree_hash "$T/data")
expect_ok "$CV" export "file://$T/data" -o "$T/live.jsonl"
[ "$(tree_hash "$T/data")" = "$before" ] || fail "export changed the directory"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 "$T/live.jsonl" "$T/expected.jsonl"
cat "$T/stdout"

# the index really was flushed, with a WAL tail left to replay
expect_ok "$CV" inspect --json "$T/data"
python3 - "$T/stdout" <<'PY' || fail "unexpected inspect report"
import json, sys
doc = json.load(open(sys.argv[1]))
colls = {c["name"]: c for c in doc["collections"]}
for name in ("l2-coll", "cosine-coll", "ip-coll"):
    c = colls[name]
    assert c["index_flushed"] and c["vectors_in_index"] > 200, c
    assert 0 < c["wal_rows_not_indexed"] < 50, c
    assert c["index_deleted_slots"] > 0, c
assert colls["cosine-coll"]["space"] == "cosine" and colls["ip-coll"]["space"] == "ip"
assert not colls["wal-only"]["index_flushed"]
assert "gone-coll" not in colls
orphans = [p for p in doc["problems"] if "orphan folder" in p["problem"]]
assert len(orphans) == 1, doc["problems"]
PY

# stopped: the same bytes
stop_chroma
expect_ok "$CV" export "file://$T/data" -o "$T/stopped.jsonl"
test_cmp "$T/live.jsonl" "$T/stopped.jsonl"

# what an index of millions does, with sizes made small: label windows of 5
# labels (1,048,576 by default) move, records out of label order are looked
# up by reading the pickle through, the WAL tail's ids are settled, and the
# label -> slot lookup is a temporary file (above 1,048,576 elements); the
# same bytes, the same report
expect_ok "$CV" inspect --json "$T/data"
mv "$T/stdout" "$T/inspect.json"
export CHROMAVAULT_TEST_LABEL_WINDOW=5 CHROMAVAULT_TEST_HNSW_TABLE=1
expect_ok "$CV" export "file://$T/data" -o "$T/window.jsonl"
test_cmp "$T/live.jsonl" "$T/window.jsonl"
expect_ok "$CV" inspect --json "$T/data"
test_cmp "$T/inspect.json" "$T/stdout"
unset CHROMAVAULT_TEST_LABEL_WINDOW CHROMAVAULT_TEST_HNSW_TABLE

# one collection by name equals its part of the whole export
expect_ok "$CV" export "file://$T/data/cosine-coll" -o "$T/one.jsonl"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 --collection cosine-coll \
	"$T/one.jsonl" "$T/expected.jsonl"
echo "differential test passed"
