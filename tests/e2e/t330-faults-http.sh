#!/usr/bin/env bash
# Through a proxy that answers 503 or 429 or drops the connection on a
# fraction of requests, export and import still complete, identical.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
expect_ok python3 "$ROOT/tests/gen/populate.py" "$CHROMA_URL" diff
expect_ok "$CV" export "$CHROMA_URL" -o "$T/direct.jsonl"
pport=$(free_port)
python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
trap 'kill $proxy 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
P="http://127.0.0.1:$pport"

expect_ok "$CV" export "$P" -o "$T/faulty.jsonl"
test_cmp "$T/direct.jsonl" "$T/faulty.jsonl"

# a proxy that answers shorter pages than asked for: the closing pass
# fetches what the paging did not reach, and a warning says so; with
# --limit there is no closing pass: an error, not a short file
pport3=$(free_port)
PROXY_FAULTS=0 PROXY_PAGE_CAP=50 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport3" "$CHROMA_URL" &
proxy3=$!
trap 'kill $proxy $proxy3 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport3/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_ok "$CV" export "http://127.0.0.1:$pport3" -o "$T/capped.jsonl"
test_cmp "$T/direct.jsonl" "$T/capped.jsonl"
grep -q "pages came shorter than the 2000 records asked for (a proxy limiting them?): the paging brought 50 of its" \
	"$T/stderr" || fail "no warning about short pages: $(cat "$T/stderr")"
grep -q "changed during the export" "$T/stderr" && fail "short pages taken for a change: $(cat "$T/stderr")"
expect_fail 2 "$CV" export "http://127.0.0.1:$pport3" --limit 100 -o "$T/capped100.jsonl"
grep -q "the server gave 50 records where its count says 100" "$T/stderr" || fail "$(cat "$T/stderr")"
[ ! -e "$T/capped100.jsonl" ] || fail "a short export was left as if complete"
kill $proxy3
# a server that asks to be left alone for 2 s (503, Retry-After) is waited for
PROXY_FAULTS=0 PROXY_BUSY=1 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport3" "$CHROMA_URL" &
proxy3=$!
for i in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$pport3") 2>/dev/null && break; sleep 0.1; done
start=$(date +%s%N)
expect_ok "$CV" export "http://127.0.0.1:$pport3" -o "$T/busy.jsonl"
[ $(($(date +%s%N) - start)) -ge 2000000000 ] || fail "Retry-After was not waited for"
test_cmp "$T/direct.jsonl" "$T/busy.jsonl"
kill $proxy3
# a record that comes without its vector: written with null, said, exit 4
id=$(grep -v '^{"_collection"' "$T/direct.jsonl" | head -1 | cut -d'"' -f4)
PROXY_FAULTS=0 PROXY_NULL_VECTOR="$id" python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport3" "$CHROMA_URL" &
proxy3=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport3/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_fail 4 "$CV" export "http://127.0.0.1:$pport3" -o "$T/novec.jsonl"
grep -q "[1-9][0-9]* records have no vector in the server's answer" "$T/stderr" || fail "$(cat "$T/stderr")"
grep -q "\"id\":\"$id\",.*\"embedding\":null" "$T/novec.jsonl" || fail "record $id not written with null"
kill $proxy3

# a proxy that ignores offset: stopped at the second page, not paged forever
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.create("many")
c.records(cid, "add", ids=[f"m{i:05d}" for i in range(4100)],
          embeddings=[[float(i), 1.0] for i in range(4100)])
PY
PROXY_FAULTS=0 PROXY_IGNORE_OFFSET=1 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport3" "$CHROMA_URL" &
proxy3=$!
for i in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$pport3") 2>/dev/null && break; sleep 0.1; done
expect_fail 2 timeout 60 "$CV" export "http://127.0.0.1:$pport3/many" -o "$T/many.jsonl"
grep -q "the page at offset 2000 starts with the record the page before it started with" \
	"$T/stderr" || fail "$(cat "$T/stderr")"
kill $proxy3

expect_fail 3 "$CV" import "$P/one" -i "$T/direct.jsonl"
grep -q "DEST names one collection" "$T/stderr" || fail "$(cat "$T/stderr")"

# import through a faulty proxy in front of a second, empty server
start_chroma "$T/data2"
pport2=$(free_port)
python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport2" "$CHROMA_URL" &
proxy2=$!
trap 'kill $proxy $proxy2 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport2/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_ok "$CV" import "http://127.0.0.1:$pport2" -i "$T/direct.jsonl" --batch-size 50
expect_ok "$CV" export "$CHROMA_URL" -o "$T/after.jsonl"
python3 "$ROOT/tests/tools/export_as_expected.py" "$T/direct.jsonl" >"$T/direct.expected"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 2 "$T/after.jsonl" "$T/direct.expected"
echo "faults survived"
