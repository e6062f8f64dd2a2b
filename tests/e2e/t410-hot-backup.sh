#!/usr/bin/env bash
# Hot backups under load: a writer adds records through the real server
# (flushing every 20) while backups run. Each snapshot, restored and served
# by a real server, holds exactly a prefix of the written ids, each record as
# written; the lock time stays short.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
url=$CHROMA_URL
python3 "$ROOT/tests/gen/live.py" "$url" write 3000 60 >"$T/written" 2>"$T/writer.err" &
writer=$!
sleep 1
backups=0
while kill -0 "$writer" 2>/dev/null || [ $backups -lt 10 ]; do
	expect_ok "$CV" backup --json "$T/data" "$T/repo"
	cat "$T/stdout" >>"$T/backups.jsonl"
	backups=$((backups + 1))
	[ $backups -ge 12 ] && break
	sleep 0.4
done
wait "$writer" || fail "writer failed: $(cat "$T/writer.err")"
stop_chroma
[ $backups -ge 10 ] || fail "only $backups backups"
echo "writer wrote $(cat "$T/written") records during $backups backups"

expect_ok "$CV" verify --read-data "$T/repo"
prev=0
for snap in $(python3 -c 'import json,sys; [print(json.loads(l)["snapshot"]) for l in open(sys.argv[1])]' "$T/backups.jsonl"); do
	expect_ok "$CV" restore "$T/repo" "$snap" "$T/r"
	start_chroma "$T/r"
	got=$(python3 "$ROOT/tests/gen/live.py" "$CHROMA_URL" check) || fail "snapshot $snap: $got"
	stop_chroma
	grep -q "panicked\|Error loading" "$T"/chroma-*.log && fail "server complained on $snap"
	[ "$got" -ge "$prev" ] || fail "snapshot $snap holds $got records, an earlier one $prev"
	prev=$got
	rm -rf "$T/r"
done
python3 - "$T/backups.jsonl" <<'PY' || fail "lock held too long"
import json, sys
locks = [json.loads(l)["lock_ms"] for l in open(sys.argv[1])]
print(f"lock held: max {max(locks):.0f} ms, mean {sum(locks)/len(locks):.0f} ms")
assert max(locks) < 1000, locks
PY
echo "last snapshot holds $prev records"
