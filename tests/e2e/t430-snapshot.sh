#!/usr/bin/env bash
# snapshot DIR DEST: a plain consistent copy. Of a stopped directory it is
# byte-identical; a DEST inside DIR is refused (and a backup's REPO, an
# export's output). While a writer adds records, exports succeed (a racing
# flush is read again), and each snapshot opens in a real server and holds a
# prefix of the written records. The same with the database switched to WAL
# mode (where writers do not wait for a reader and committed pages sit in
# chroma.sqlite3-wal): stopped, the copy holds what the -wal file holds; live,
# each snapshot and backup is still a prefix.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
if [ -n "$F" ]; then
	expect_ok "$CV" snapshot "$F/movie-suggestion-sumanhiremath/db" "$T/copy"
	diff -r "$F/movie-suggestion-sumanhiremath/db" "$T/copy" >&2 || fail "copy differs"
	expect_fail 1 "$CV" snapshot "$F/movie-suggestion-sumanhiremath/db" "$T/copy"

	# nothing writes into the directory it reads, however the path is spelt
	before=$(tree_hash "$T/copy")
	ln -s copy "$T/alias"
	expect_fail 1 "$CV" snapshot "$T/copy" "$T/copy/inner"
	expect_fail 1 "$CV" snapshot "$T/alias" "$T/copy/a/b"
	expect_fail 1 "$CV" backup "$T/copy" "$T/alias/../copy/repo"
	expect_fail 1 "$CV" export "file://$T/copy" -o "$T/copy/x.jsonl"
	grep -q "inside the persist directory" "$T/stderr" || fail "export: $(cat "$T/stderr")"
	[ "$(tree_hash "$T/copy")" = "$before" ] || fail "the source was written to"
fi

start_chroma "$T/data"
python3 "$ROOT/tests/gen/live.py" "$CHROMA_URL" write 1500 30 >"$T/written" &
writer=$!
sleep 1
for i in $(seq 10); do # export reads while flushes race it: retried, never "damaged"
	expect_ok "$CV" export "$T/data" -o "$T/live.jsonl"
done
for i in 1 2 3; do
	expect_ok "$CV" snapshot --json "$T/data" "$T/snap$i"
	sleep 0.5
done
wait "$writer" || fail "writer failed"
stop_chroma
for i in 1 2 3; do
	start_chroma "$T/snap$i"
	got=$(python3 "$ROOT/tests/gen/live.py" "$CHROMA_URL" check) || fail "snap$i: $got"
	stop_chroma
	echo "snap$i holds $got records"
done

# what a persist directory's layout has no room for is named, not dropped
# unseen: a folder inside a collection's folder, a FIFO, another name of
# the database file; more than 32 files in a folder are all copied
cp -r "$ROOT/sample/chroma-data" "$T/odd"
chmod -R u+w "$T/odd"
col=$(cd "$T/odd" && ls -d */ | head -1)
col=${col%/}
mkdir "$T/odd/$col/nested" && echo x >"$T/odd/$col/nested/file"
mkfifo "$T/odd/fifo"
mkdir "$T/odd/notes" && for i in $(seq 40); do echo "$i" >"$T/odd/notes/n$i"; done
ln -s chroma.sqlite3 "$T/odd/db-link" # closing it would drop SQLite's lock
ln "$T/odd/chroma.sqlite3" "$T/odd/$col/db-hardlink"
expect_ok "$CV" snapshot "$T/odd" "$T/odd-copy"
grep -q "$col/nested: left out (a folder inside a collection's folder)" "$T/stderr" ||
	fail "nested folder not named: $(cat "$T/stderr")"
grep -q "odd/fifo: left out (not a regular file)" "$T/stderr" ||
	fail "FIFO not named: $(cat "$T/stderr")"
[ "$(ls "$T/odd-copy/notes" | wc -l)" -eq 40 ] || fail "not every file of a folder was copied"
for l in db-link "$col/db-hardlink"; do
	grep -q "odd/$l: left out (a link to chroma.sqlite3, never opened)" "$T/stderr" ||
		fail "$l: $(cat "$T/stderr")"
	[ ! -e "$T/odd-copy/$l" ] || fail "$l was copied"
done
expect_ok "$CV" backup "$T/odd" "$T/odd-repo"
grep -q "nested: left out" "$T/stderr" || fail "backup: $(cat "$T/stderr")"

# WAL mode, stopped: the copy and the backup hold the commit only the -wal has
cp -r "$ROOT/sample/chroma-data" "$T/wal"
python3 - "$T/wal/chroma.sqlite3" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("UPDATE collections SET name = 'renamed' WHERE name = 'images'")
c.commit()
os._exit(0)  # no checkpoint at close: the commit stays in the -wal file
PY
wait $! || fail "could not switch the sample to WAL mode"
[ -s "$T/wal/chroma.sqlite3-wal" ] || fail "no -wal file"
wal_hash() { # the -shm file is SQLite's shared index, which every reader writes
	(cd "$T/wal" && sha256sum chroma.sqlite3 chroma.sqlite3-wal */*)
}
before=$(wal_hash)
expect_ok "$CV" snapshot "$T/wal" "$T/wal-copy"
expect_ok "$CV" backup "$T/wal" "$T/wal-repo"
expect_ok "$CV" restore "$T/wal-repo" latest "$T/wal-restored"
[ "$(wal_hash)" = "$before" ] || fail "the WAL-mode source was written to"
for d in wal-copy wal-restored; do
	[ ! -e "$T/$d/chroma.sqlite3-wal" ] || fail "$d: a -wal file was copied"
	"$CV" export "$T/$d" >"$T/$d.jsonl" || fail "$d: export failed"
	grep -q '"name":"renamed"' "$T/$d.jsonl" || fail "$d lost the commit in the -wal file"
done

# WAL mode, live: writers commit during the copies, which are taken again
start_chroma "$T/wdata"
stop_chroma
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' \
	"$T/wdata/chroma.sqlite3"
start_chroma "$T/wdata"
python3 "$ROOT/tests/gen/mixed.py" "$CHROMA_URL" pad 10 || fail "could not add collections"
python3 "$ROOT/tests/gen/mixed.py" "$CHROMA_URL" write 5 >"$T/written" &
writer=$!
sleep 0.5
for i in 1 2; do
	expect_ok "$CV" snapshot --json "$T/wdata" "$T/wsnap$i"
	sleep 0.3
done
expect_ok "$CV" backup "$T/wdata" "$T/wrepo"
wait "$writer" || fail "writer failed"
stop_chroma
expect_ok "$CV" restore "$T/wrepo" latest "$T/wsnap3"
for i in 1 2 3; do # adds, updates and deletes: a prefix of them, each
	start_chroma "$T/wsnap$i"
	got=$(python3 "$ROOT/tests/gen/mixed.py" "$CHROMA_URL" check) || fail "wsnap$i: $got"
	stop_chroma
	echo "WAL mode: wsnap$i holds the state after $got operations"
done
