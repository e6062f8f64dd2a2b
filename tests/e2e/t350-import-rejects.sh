#!/usr/bin/env bash
# import: records the server refuses are found by sending halves of their
# batch again, each reported with its line; every other record arrives, and
# the exit code (4) says that not everything did.
. "$(dirname "$0")/lib.sh"
setup

python3 - "$T/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"_collection": {"format": 1, "name": "rejects", "dimension": 4,
                                        "space": "l2", "metadata": None}}) + "\n")
    for i in range(300):
        doc = "REJECT-ME" if i in (7, 123, 299) else f"document {i}"
        f.write(json.dumps({"id": f"r{i:03d}", "metadata": {"i": i},
                            "embedding": [i, 0.5, 0.25, 1.0], "text_chunk": doc}) + "\n")
PY
start_chroma "$T/data"
pport=$(free_port)
PROXY_FAULTS=0 PROXY_REJECT=REJECT-ME python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
trap 'kill $proxy 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done

expect_fail 4 "$CV" import "http://127.0.0.1:$pport" -i "$T/in.jsonl" --batch-size 50 --json
grep 'rejected:' "$T/stderr" | sed 's/ rejected: .*//' >"$T/rejected"
printf '%s\n' "$T/in.jsonl:9: record \"r007\"" "$T/in.jsonl:125: record \"r123\"" \
	"$T/in.jsonl:301: record \"r299\"" | sed 's/^/chromavault import: /' >"$T/want"
test_cmp "$T/want" "$T/rejected"
grep -q "injected fault" "$T/stderr" || fail "the server's message is not shown"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["rejected"] == 3 and s["sent"] == 297, s' \
	"$T/stdout" || fail "summary: $(cat "$T/stdout")"

expect_ok "$CV" export "$CHROMA_URL/rejects" -o "$T/out.jsonl"
[ "$(wc -l <"$T/out.jsonl")" -eq 297 ] || fail "expected the 297 other records"
grep -q '"r123"' "$T/out.jsonl" && fail "a rejected record arrived"
grep -q '"r122"' "$T/out.jsonl" || fail "a record beside a rejected one is missing"

# refused records survive a --resume: named again, counted, exit 4; a 404
# (the collection deleted meanwhile) stops the import, not blamed on records
kill $proxy
rm -rf "$T/data2"
start_chroma "$T/data2"
sed 's/"name": "rejects"/"name": "resumed"/' "$T/in.jsonl" >"$T/in2.jsonl"
PROXY_FAULTS=0 PROXY_REJECT=REJECT-ME PROXY_GONE_AFTER=16 \
	python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_fail 2 "$CV" import "http://127.0.0.1:$pport" -i "$T/in2.jsonl" --batch-size 50 \
	--concurrency 1
grep -q "HTTP 404" "$T/stderr" || fail "the 404 is not named: $(cat "$T/stderr")"
[ "$(grep -c 'rejected:' "$T/stderr")" -eq 1 ] || fail "a 404 blamed on records: $(cat "$T/stderr")"
kill $proxy
PROXY_FAULTS=0 PROXY_REJECT=REJECT-ME python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_fail 4 "$CV" import "http://127.0.0.1:$pport" -i "$T/in2.jsonl" --batch-size 50 \
	--resume --json
grep -q "in2.jsonl:9: record rejected by the server before --resume" "$T/stderr" ||
	fail "the earlier refusal is not named: $(cat "$T/stderr")"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["rejected"] == 3 and s["skipped"] > 0, s' \
	"$T/stdout" || fail "summary after --resume: $(cat "$T/stdout")"
expect_ok "$CV" export "$CHROMA_URL/resumed" -o "$T/out2.jsonl"
[ "$(wc -l <"$T/out2.jsonl")" -eq 297 ] || fail "expected 297 records after --resume"

# a metadata key the server would refuse is caught before anything is sent
printf '%s\n' '{"id":"a","metadata":{"#k":1},"embedding":[1,2],"text_chunk":null}' >"$T/bad.jsonl"
expect_fail 3 "$CV" import "$CHROMA_URL/other" --create -i "$T/bad.jsonl"
grep -q 'bad.jsonl:1: metadata key "#k"' "$T/stderr" || fail "$(cat "$T/stderr")"
echo "rejected records are named, the rest arrive"
