#!/usr/bin/env bash
# export http:// of a collection that changes while it is exported warns,
# naming the collection and the counts before and after (the cookbook's
# "may miss updates", made visible); an unchanged one gives no warning.
# Records deleted and added between two pages, the count unchanged: the
# closing pass over the ids fetches the records the shifted pages passed
# over, and an id deleted and added again is written once; records deleted
# while the closing pass lists the ids do not make it pass over any; pages
# a proxy cuts short are not taken for the end of the ids.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
api() { PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" "$@"; }
# NAME N FORMAT: a new collection NAME of N records, ids FORMAT of 0..N-1
fill() {
	api "$@" <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.create(sys.argv[2])
n, fmt = int(sys.argv[3]), sys.argv[4]
for b in range(0, n, 1000):
    c.records(cid, "add", ids=[fmt.format(i) for i in range(b, min(n, b + 1000))],
              embeddings=[[float(i), 1.0, 2.0, 3.0] for i in range(b, min(n, b + 1000))])
PY
}
# HOLD: the proxy again, holding the requests HOLD names (faulty_proxy.py)
hold_proxy() {
	kill $proxy
	rm -rf "$T/hold"
	mkdir "$T/hold"
	PROXY_FAULTS=0 PROXY_HOLD="$1" PROXY_HOLD_DIR="$T/hold" \
		python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
	proxy=$!
	for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
}
# NAME [FORMAT N]: $T/NAME.jsonl holds every record the collection NAME
# holds now, none twice (and besides them exactly the ids FORMAT of 0..N-1)
all_held() {
	expect_ok "$CV" export "$CHROMA_URL/$1" -o "$T/$1-now.jsonl"
	python3 - "$T/$1.jsonl" "$T/$1-now.jsonl" "${2:-}" "${3:-0}" <<'PY' || fail "$1: records missing or doubled"
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
now = {json.loads(l)["id"] for l in open(sys.argv[2])}
assert len(ids) == len(set(ids)), "an id written twice"
assert now <= set(ids), f"missing: {sorted(now - set(ids))[:5]}"
if sys.argv[3]:
    gone = {sys.argv[3].format(i) for i in range(int(sys.argv[4]))}
    assert set(ids) - now == gone, sorted(set(ids) - now)[:5]
PY
}
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

# 5,000 records in pages of 2,000, one at a time; the proxy holds the second
# page's request while 11 records of the first page are deleted (one of them
# added again) and 10 new ones added: the second page starts 11 records late
fill shift 5000 's{:04d}'
hold_proxy '"offset":2000'
"$CV" export "http://127.0.0.1:$pport/shift" --concurrency 1 -o "$T/shift.jsonl" \
	2>"$T/shift.err" &
export_pid=$!
for i in $(seq 300); do [ -e "$T/hold/held1" ] && break; sleep 0.1; done
[ -e "$T/hold/held1" ] || fail "the export never asked for its second page"
api <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = next(x["id"] for x in c.collections() if x["name"] == "shift")
c.records(cid, "delete", ids=[f"s{i:04d}" for i in range(10)] + ["s0100"])
c.records(cid, "add", ids=[f"n{i}" for i in range(10)] + ["s0100"],
          embeddings=[[7.0, 7.0, 7.0, float(i)] for i in range(11)])
PY
touch "$T/hold/release1"
wait "$export_pid" || fail "export failed: $(cat "$T/shift.err")"
grep -qF 'collection "shift" changed during the export: 5000 records before, 5000 after; 11 not seen by the paging' \
	"$T/shift.err" || fail "no warning naming the change: $(cat "$T/shift.err")"
grep -qF "fetched at the end; 10 written, then deleted; 1 deleted and added again" \
	"$T/shift.err" || fail "the warning does not count them: $(cat "$T/shift.err")"
all_held shift 's{:04d}' 10

# deletions during both passes, in a collection of 14,000 (t00000..t13999)
# exported in pages of 2,000 one at a time: 11 records of the first page
# deleted while the paging's page at offset 12,000 is held (it passes over
# t12000..t12010), then more while the closing pass's second page of ids
# is held, which a pass by offset alone would have passed over too
two_passes() { # NAME DELETIONS [READDED]: the deletions during the pass
	local name=$1
	fill "$name" 14000 't{:05d}'
	hold_proxy '"offset":12000,"include":["|"include":[]@2'
	"$CV" export "http://127.0.0.1:$pport/$name" --concurrency 1 -o "$T/$name.jsonl" \
		2>"$T/$name.err" &
	export_pid=$!
	delete_held "$name" 1 0-10
	delete_held "$name" 2 "$2" "${3:-}"
	wait "$export_pid" || fail "export failed: $(cat "$T/$name.err")"
	grep -qF "collection \"$name\" changed during the export: 14000 records before, 13989 after; 11 not seen by the paging" \
		"$T/$name.err" || fail "no warning naming the change: $(cat "$T/$name.err")"
	all_held "$name"
}
delete_held() { # NAME K FIRST-LAST [READDED]: while request K is held, delete
	# tFIRST..tLAST and READDED, then add READDED again
	for i in $(seq 300); do [ -e "$T/hold/held$2" ] && break; sleep 0.1; done
	[ -e "$T/hold/held$2" ] || fail "the export never made request $2: $(cat "$T/$1.err")"
	api "$1" "$3" "${4:-}" <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = next(x["id"] for x in c.collections() if x["name"] == sys.argv[2])
first, last = map(int, sys.argv[3].split("-"))
gone = [f"t{i:05d}" for i in range(first, last + 1)]
c.records(cid, "delete", ids=gone + ([sys.argv[4]] if sys.argv[4] else []))
if sys.argv[4]:
    c.records(cid, "add", ids=[sys.argv[4]], embeddings=[[0.5, 1.0, 2.0, 3.0]])
PY
	touch "$T/hold/release$2"
}
# 2,000 deleted: the pass's second page, at offset 9,999, starts past ids it
# never listed (t10011..t12010, the 11 among them); it steps back
two_passes shift2 11-2010
grep -qF "fetched at the end; 11 written, then deleted" "$T/shift2.err" ||
	fail "the warning does not count them: $(cat "$T/shift2.err")"
# 4,088 deleted and t09911 deleted and added again: the page at 9,999
# starts with t09911, an id listed, and reaches the end of the ids; its
# pages moved, so a second round lists the ids passed over
two_passes shift3 11-4098 t09911

# the count the same before and after the paging, which passed over 11
# records deleted while its page at offset 2,000 was held; 11 added while
# the count after it is held: no error for a paging "short" of the count,
# the closing pass fetches what it passed over
fill same 5000 't{:05d}'
hold_proxy '"offset":2000|/count@2'
"$CV" export "http://127.0.0.1:$pport/same" --concurrency 1 -o "$T/same.jsonl" 2>"$T/same.err" &
export_pid=$!
delete_held same 1 0-10
for i in $(seq 300); do [ -e "$T/hold/held2" ] && break; sleep 0.1; done
api <<'PY'
import sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = next(x["id"] for x in c.collections() if x["name"] == "same")
c.records(cid, "add", ids=[f"n{i}" for i in range(11)],
          embeddings=[[7.0, 7.0, 7.0, float(i)] for i in range(11)])
PY
touch "$T/hold/release2"
wait "$export_pid" || fail "export failed: $(cat "$T/same.err")"
grep -qF 'collection "same" changed during the export: 5000 records before, 5000 after; 22 not seen by the paging' \
	"$T/same.err" || fail "no warning naming the change: $(cat "$T/same.err")"
all_held same 't{:05d}' 11

# a proxy answering at most 3,000 records a request: the paging's pages of
# 2,000 pass, the closing pass's pages of 10,000 come short, and are not
# taken for the end (nothing changed, so no warning, and nothing missing)
kill $proxy
PROXY_FAULTS=0 PROXY_PAGE_CAP=3000 python3 "$ROOT/tests/tools/faulty_proxy.py" "$pport" "$CHROMA_URL" &
proxy=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$pport/api/v2/heartbeat" >/dev/null 2>&1 && break; sleep 0.1; done
expect_ok "$CV" export "http://127.0.0.1:$pport/shift" -o "$T/capped.jsonl"
grep -q "changed during the export" "$T/stderr" && fail "capped pages taken for a change: $(cat "$T/stderr")"
test_cmp "$T/shift-now.jsonl" "$T/capped.jsonl"
echo "changes during an export are reported, and nothing the collection holds is missed"
