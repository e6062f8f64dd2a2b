#!/usr/bin/env bash
# export http:// of a collection that changes while it is exported warns,
# naming the collection and the counts before and after (the cookbook's
# "may miss updates", made visible); an unchanged one gives no warning.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
api() { PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" "$@"; }
api <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.create("live")
c.records(cid, "add", ids=[f"r{i:04d}" for i in range(500)],
          embeddings=[[i, 1.0, 2.0, 3.0] for i in range(500)])
PY

# a slow link: each request waits 2 s; the export asks for the collection,
# its count (answered at about 4 s), the records, the count again (about 8 s)
pport=$(free_port)
PROXY_FAULTS=0 PROXY_DELAY=2 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
trap 'kill $proxy 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done

expect_ok "$CV" export "$CHROMA_URL/live" -o "$T/quiet.jsonl"
grep -q "changed during the export" "$T/stderr" && fail "warned about an unchanged collection"
[ "$(wc -l <"$T/quiet.jsonl")" -eq 500 ] || fail "expected 500 records"

"$CV" export "http://127.0.0.1:$pport/live" -o "$T/live.jsonl" 2>"$T/live.err" &
export_pid=$!
sleep 5 # the first count has been answered, the last one not yet
api <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = next(x["id"] for x in c.collections() if x["name"] == "live")
c.records(cid, "add", ids=[f"new{i}" for i in range(7)],
          embeddings=[[9.0, 9.0, 9.0, float(i)] for i in range(7)])
PY
wait "$export_pid" || fail "export failed: $(cat "$T/live.err")"
grep -q 'collection "live" changed during the export: 500 records before, 507 after' \
	"$T/live.err" || fail "no warning naming the change: $(cat "$T/live.err")"
echo "changes during an export are reported"
