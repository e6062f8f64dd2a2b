#!/usr/bin/env bash
# Hot copies while a writer adds, updates and deletes (flushing every 10) in
# one collection among 30 others, so the index folders take a while to copy.
# Every snapshot, and every backup restored, served by a real server holds
# the state after a prefix of the operations: get(), count() and query()
# agree. (The database's lock once ended when its file was copied, as
# closing any descriptor of a file drops a process's POSIX locks on it;
# writers then flushed while the folders were still being copied.) The 30
# others settle first, so every backup after the first takes their folders
# from the snapshot before, uncopied, beside the one being written.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/data"
url=$CHROMA_URL
python3 "$ROOT/tests/gen/mixed.py" "$url" pad 30 || fail "could not add collections"
sleep 3.5 # their last change 3 s before a copy: the next backup may trust it
python3 "$ROOT/tests/gen/mixed.py" "$url" write 6 >"$T/written" 2>"$T/writer.err" &
writer=$!
sleep 1
for i in $(seq 5); do
	expect_ok "$CV" snapshot "$T/data" "$T/snap$i"
	expect_ok "$CV" backup --json "$T/data" "$T/repo"
	cat "$T/stdout" >>"$T/backups.jsonl"
	sleep 0.3
done
wait "$writer" || fail "writer failed: $(cat "$T/writer.err")"
stop_chroma
echo "writer ran $(cat "$T/written") operations during 5 snapshots and 5 backups"
kept=$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["files_unchanged"]) for l in open(sys.argv[1])))' "$T/backups.jsonl")
echo "files taken from the snapshot before, by backup: $kept"
set -- $kept
shift
for k in "$@"; do
	[ "$k" -gt 0 ] || fail "a backup after the first copied every settled folder again ($kept)"
done

i=0
for snap in $(python3 -c 'import json,sys; [print(json.loads(l)["snapshot"]) for l in open(sys.argv[1])]' "$T/backups.jsonl"); do
	i=$((i + 1))
	expect_ok "$CV" restore "$T/repo" "$snap" "$T/restored$i"
done
for d in snap1 snap2 snap3 snap4 snap5 restored1 restored2 restored3 restored4 restored5; do
	start_chroma "$T/$d"
	got=$(python3 "$ROOT/tests/gen/mixed.py" "$CHROMA_URL" check) || fail "$d: $got"
	stop_chroma
	echo "$d: the state after $got operations"
done
