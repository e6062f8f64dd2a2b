#!/usr/bin/env bash
# import, from a review: a .zst cut inside its first or a later frame is an
# error (exit 3), --check too; a header after records is refused; --space
# goes with --create and a file without headers; text_chunk null leaves the
# document, a non-string uri is reported, a UTF-8 BOM is skipped; legacy
# hnsw:* metadata of a header without a configuration reaches the index
# settings; a tenant or database that exists when its create arrives (409)
# is no failure; --json's sent counts what the server acknowledged;
# --resume refuses another file of the same size.
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

# --- records before a header, DEST naming the collection ------------------------
hdr='{"_collection":{"format":1,"name":"hdr","space":"l2","dimension":2,"metadata":null}}'
printf '%s\n' '{"id":"a","embedding":[1,2]}' "$hdr" '{"id":"a","embedding":[3,4]}' >"$T/late.jsonl"
expect_fail 3 "$CV" import http://127.0.0.1:1/coll --check -i "$T/late.jsonl"
grep -qF "late.jsonl:2: a collection header after records (the first on line 1)" "$T/stderr" ||
	fail "header after records: $(cat "$T/stderr")"

# --- --space ---------------------------------------------------------------------
printf '%s\n' '{"id":"a","embedding":[1,2]}' >"$T/plain.jsonl"
expect_fail 1 "$CV" import http://127.0.0.1:1/coll --space ip -i "$T/plain.jsonl"
grep -q -- "--space goes with --create" "$T/stderr" || fail "$(cat "$T/stderr")"
printf '%s\n' "$hdr" '{"id":"a","embedding":[1,2]}' >"$T/hdr.jsonl"
expect_fail 1 "$CV" import http://127.0.0.1:1/coll --create --space ip --check -i "$T/hdr.jsonl"
grep -qF "hdr.jsonl:1: --space is for a file without a collection header" "$T/stderr" ||
	fail "--space with a header: $(cat "$T/stderr")"
expect_fail 1 "$CV" import http://127.0.0.1:1 --create --space ip -i "$T/hdr.jsonl"

# --- documents, uris, a BOM ------------------------------------------------------
printf '%s\n' '{"id":"a","embedding":[1,2],"uri":5}' >"$T/uri.jsonl"
expect_fail 3 "$CV" import http://127.0.0.1:1/coll --check -i "$T/uri.jsonl"
grep -qF 'uri.jsonl:1: "uri" is not a string' "$T/stderr" || fail "uri: $(cat "$T/stderr")"
printf '\xef\xbb\xbf%s\n%s\n' '{"id":"a","embedding":[1,2],"document":"doc a"}' \
	'{"id":"b","embedding":[1,3],"text_chunk":null,"document":"doc b"}' >"$T/doc.jsonl"

start_chroma "$T/data"
API="$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database/collections"
expect_ok "$CV" import "$CHROMA_URL/docs" --create -i "$T/doc.jsonl"
expect_ok "$CV" export "$CHROMA_URL/docs"
grep -q '"id":"a",.*"text_chunk":"doc a"' "$T/stdout" || fail "line 1 (a BOM): $(cat "$T/stdout")"
grep -q '"id":"b",.*"text_chunk":"doc b"' "$T/stdout" || fail "the document was dropped: $(cat "$T/stdout")"

# --- legacy hnsw:* metadata --------------------------------------------------------
python3 - "$T/legacy.jsonl" <<'PY'
import json, sys
m = {"hnsw:space": "cosine", "hnsw:M": 32, "hnsw:construction_ef": 150,
     "hnsw:search_ef": 33, "hnsw:num_threads": 3, "hnsw:resize_factor": 1.5,
     "hnsw:batch_size": 50, "hnsw:sync_threshold": 500}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"_collection": {"format": 1, "name": "legacy", "space": "cosine",
                                        "dimension": 2, "metadata": m,
                                        "configuration": None, "schema": None}}) + "\n")
    f.write(json.dumps({"id": "a", "embedding": [1.0, 2.0]}) + "\n")
PY
expect_ok "$CV" import "$CHROMA_URL" -i "$T/legacy.jsonl"
curl -fsS "$API/legacy" >"$T/legacy.json" || fail "no collection legacy"
python3 - "$T/legacy.json" <<'PY' || fail "legacy settings lost: $(cat "$T/legacy.json")"
import json, sys
c = json.load(open(sys.argv[1]))
h = c["configuration_json"]["hnsw"]
want = {"space": "cosine", "max_neighbors": 32, "ef_construction": 150, "ef_search": 33,
        "resize_factor": 1.5, "sync_threshold": 500}
assert all(h[k] == v for k, v in want.items()), h
s = c["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"]
assert s["num_threads"] == 3 and s["batch_size"] == 50, s
PY

# --- a tenant and a database made while their create was on its way (409) ----------
python3 - "$T/places.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for t, d in (("newten", "dd1"), ("default_tenant", "newdb")):
        f.write(json.dumps({"_collection": {"format": 1, "name": "ppp", "tenant": t,
                                            "database": d, "dimension": 2,
                                            "space": "l2", "metadata": None}}) + "\n")
        f.write(json.dumps({"id": "a", "embedding": [1.0, 2.0]}) + "\n")
PY
pport=$(free_port)
mkdir "$T/hold"
PROXY_FAULTS=0 PROXY_HOLD='"name":"newten"|"name":"newdb"' PROXY_HOLD_DIR="$T/hold" \
	python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
trap 'kill $proxy 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
"$CV" import "http://127.0.0.1:$pport" -i "$T/places.jsonl" >"$T/places.out" 2>"$T/places.err" &
imp=$!
wait_for() { for i in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; fail "never $1"; }
wait_for "$T/hold/held1"
curl -fsS -XPOST -H 'content-type: application/json' -d '{"name":"newten"}' \
	"$CHROMA_URL/api/v2/tenants" >/dev/null || fail "tenant newten not made"
touch "$T/hold/release1"
wait_for "$T/hold/held2"
curl -fsS -XPOST -H 'content-type: application/json' -d '{"name":"newdb"}' \
	"$CHROMA_URL/api/v2/tenants/default_tenant/databases" >/dev/null || fail "database newdb not made"
touch "$T/hold/release2"
wait "$imp" || fail "a create answered 409 failed the import: $(cat "$T/places.err")"
for p in newten/databases/dd1 default_tenant/databases/newdb; do
	curl -fsS "$CHROMA_URL/api/v2/tenants/$p/collections/ppp" >/dev/null || fail "no collection ppp in $p"
done
kill $proxy

# --- --json's sent counts what the server acknowledged -------------------------------
python3 - "$T/big.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"_collection": {"format": 1, "name": "big", "space": "l2",
                                        "dimension": 2, "metadata": None}}) + "\n")
    for i in range(100):
        f.write(json.dumps({"id": f"r{i:03d}", "embedding": [float(i), 1.0]}) + "\n")
PY
PROXY_FAULTS=0 PROXY_GONE_AFTER=3 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_fail 2 "$CV" import "http://127.0.0.1:$pport" -i "$T/big.jsonl" --batch-size 10 \
	--concurrency 1 --json
kill $proxy
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["sent"] == 30, s' \
	"$T/stdout" || fail "sent after a failure: $(cat "$T/stdout")"
cid=$(curl -fsS "$API/big" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ "$(curl -fsS "$API/$cid/count")" = 30 ] || fail "the server does not hold 30 records"

# --- --resume refuses another file of the same size --------------------------------
grep -q '"line":31,' "$T/big.jsonl.import-progress" || fail "$(cat "$T/big.jsonl.import-progress")"
cp "$T/big.jsonl.import-progress" "$T/progress.saved"
mv "$T/big.jsonl" "$T/big.orig"
sed 's/"r0\([0-9][0-9]\)"/"s0\1"/' "$T/big.orig" >"$T/big.jsonl" # same size, other ids
[ "$(stat -c %s "$T/big.jsonl")" = "$(stat -c %s "$T/big.orig")" ] || fail "sizes differ"
PROXY_FAULTS=0 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_fail 3 "$CV" import "http://127.0.0.1:$pport" -i "$T/big.jsonl" --resume
grep -q "import-progress: written for an input whose SHA-256 is .*not the same file" "$T/stderr" ||
	fail "another file resumed: $(cat "$T/stderr")"
mv "$T/big.orig" "$T/big.jsonl"
expect_ok "$CV" import "http://127.0.0.1:$pport" -i "$T/big.jsonl" --resume --json
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["sent"] == 70 and s["skipped"] == 30, s' \
	"$T/stdout" || fail "resume: $(cat "$T/stdout")"
[ "$(curl -fsS "$API/$cid/count")" = 100 ] || fail "the server does not hold 100 records"
# a progress file without the input's hash cannot say which input it was for
python3 - "$T/progress.saved" "$T/big.jsonl.import-progress" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
del p["input_sha256"]
json.dump(p, open(sys.argv[2], "w"))
PY
expect_fail 3 "$CV" import "http://127.0.0.1:$pport" -i "$T/big.jsonl" --resume
grep -q "does not say which input" "$T/stderr" || fail "$(cat "$T/stderr")"
kill $proxy
echo "import: the review's cases hold"
