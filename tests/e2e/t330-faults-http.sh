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
