#!/usr/bin/env bash
# export http:// of every collection of a database lists them in pages by
# offset (the server orders them by id). Pages a proxy cuts shorter than
# asked for are not taken for the end of the list, and a collection deleted
# between two pages does not make the next page pass over one that stays:
# each page begins with the last id of the one before, or the listing starts
# again. Every collection there throughout is exported, once; one deleted
# after the listing, before its export began, is left out with a warning.
# Pages limited in bytes are read whole. What cannot be listed safely is an
# error, never a shorter export: pages of one collection, or one too large
# to share a page, a listing that ignores its offset, a 404 for a collection
# that is still there.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" <<'PY' || fail "could not add collections"
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
for k in range(12):
    cid = c.create(f"c{k:02d}")
    c.records(cid, "add", ids=[f"c{k:02d}-{i}" for i in range(k + 1)],
              embeddings=[[float(i), 1.0, 2.0, 3.0] for i in range(k + 1)])
PY
expect_ok "$CV" export "$CHROMA_URL" -o "$T/direct.jsonl"
[ "$(grep -c '"_collection"' "$T/direct.jsonl")" -eq 12 ] ||
	fail "a direct export holds $(grep -c '"_collection"' "$T/direct.jsonl") of 12 collections"

# PROXY_LIST_CAP ...: a proxy answering 4 collections to a listing; its pid
pport=$(free_port)
proxy() {
	[ -n "${proxy_pid:-}" ] && kill "$proxy_pid"
	rm -rf "$T/hold"
	mkdir "$T/hold"
	env PROXY_FAULTS=0 PROXY_LIST_CAP=4 PROXY_HOLD_DIR="$T/hold" "$@" \
		python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
	proxy_pid=$!
	for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
}
trap '[ -n "${proxy_pid:-}" ] && kill $proxy_pid 2>/dev/null; cleanup' EXIT

proxy
expect_ok "$CV" export "http://127.0.0.1:$pport" -o "$T/capped.jsonl"
test_cmp "$T/direct.jsonl" "$T/capped.jsonl"

# the second listing held; the collection listed first deleted meanwhile
proxy PROXY_HOLD="collections?limit@2"
"$CV" export "http://127.0.0.1:$pport" -o "$T/shifted.jsonl" 2>"$T/shifted.err" &
export_pid=$!
for i in $(seq 100); do [ -e "$T/hold/held1" ] && break; sleep 0.1; done
[ -e "$T/hold/held1" ] || fail "the second listing never came"
first=$(curl -s "$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database/collections?limit=1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')
curl -sf -X DELETE "$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database/collections/$first" >/dev/null ||
	fail "could not delete $first"
touch "$T/hold/release1"
wait $export_pid || fail "export failed: $(cat "$T/shifted.err")"
expect_ok "$CV" export "$CHROMA_URL" -o "$T/after.jsonl"
[ "$(grep -c '"_collection"' "$T/after.jsonl")" -eq 11 ] || fail "expected 11 collections left"
test_cmp "$T/after.jsonl" "$T/shifted.jsonl"

# the second collection's first count held (each collection is counted
# before and after its records); it and the third deleted meanwhile
names() { python3 -c 'import json,sys; print([json.loads(l)["_collection"]["name"] for l in open(sys.argv[1]) if "_collection" in l][int(sys.argv[2])])' "$@"; }
second=$(names "$T/after.jsonl" 1) third=$(names "$T/after.jsonl" 2)
proxy PROXY_HOLD="/count@3"
"$CV" export "http://127.0.0.1:$pport" -o "$T/gone.jsonl" 2>"$T/gone.err" &
export_pid=$!
for i in $(seq 100); do [ -e "$T/hold/held1" ] && break; sleep 0.1; done
[ -e "$T/hold/held1" ] || fail "the third count never came"
for c in "$second" "$third"; do
	curl -sf -X DELETE "$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database/collections/$c" >/dev/null ||
		fail "could not delete $c"
done
touch "$T/hold/release1"
wait $export_pid || fail "export failed: $(cat "$T/gone.err")"
grep -q "collection \"$second\" was deleted after the collections were listed, before its export began: left out; and 1 more" "$T/gone.err" ||
	fail "no warning about $second and $third: $(cat "$T/gone.err")"
expect_ok "$CV" export "$CHROMA_URL" -o "$T/after2.jsonl"
[ "$(grep -c '"_collection"' "$T/after2.jsonl")" -eq 9 ] || fail "expected 9 collections left"
test_cmp "$T/after2.jsonl" "$T/gone.jsonl"

proxy PROXY_LIST_CAP=1
expect_fail 2 "$CV" export "http://127.0.0.1:$pport" -o "$T/one.jsonl"
grep -q "pages of the list held only the collection they share with the page before" "$T/stderr" ||
	fail "pages of one collection: $(cat "$T/stderr")"
# pages limited in bytes: read whole; then one collection too large to share
# a page: an error, as the list cannot be checked, not the ones before it
proxy PROXY_LIST_CAP=0 PROXY_LIST_BYTES=6000
expect_ok "$CV" export "http://127.0.0.1:$pport" -o "$T/bytes-ok.jsonl"
test_cmp "$T/after2.jsonl" "$T/bytes-ok.jsonl"
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" "$(names "$T/after2.jsonl" 4)" <<'PY' ||
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.call("GET", c.prefix + "/collections/" + sys.argv[2])["id"]
c.call("PUT", c.prefix + "/collections/" + cid, {"new_metadata": {"pad": "x" * 4000}})
PY
	fail "could not enlarge a collection"
proxy PROXY_LIST_CAP=0 PROXY_LIST_BYTES=6000
expect_fail 2 "$CV" export "http://127.0.0.1:$pport" -o "$T/bytes.jsonl"
grep -q "pages of the list held only the collection they share with the page before" "$T/stderr" ||
	fail "pages limited in bytes: $(cat "$T/stderr")"
proxy PROXY_LIST_IGNORE_OFFSET=1
expect_fail 2 "$CV" export "http://127.0.0.1:$pport" -o "$T/ignored.jsonl"
grep -q "does not page the list by offset" "$T/stderr" ||
	fail "a listing that ignores its offset: $(cat "$T/stderr")"
proxy PROXY_NOT_FOUND=/count
expect_fail 2 "$CV" export "http://127.0.0.1:$pport" -o "$T/nocount.jsonl"
grep -q "count: HTTP 404" "$T/stderr" || fail "a 404 for a collection still there: $(cat "$T/stderr")"
[ ! -e "$T/one.jsonl" ] && [ ! -e "$T/ignored.jsonl" ] && [ ! -e "$T/nocount.jsonl" ] &&
	[ ! -e "$T/bytes.jsonl" ] ||
	fail "a failed export left its output"
echo "12 collections listed 4 at a time, 11 with one deleted between two listings, 9 with two deleted before their export: each exported once"
