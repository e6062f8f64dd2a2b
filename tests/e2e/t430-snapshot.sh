#!/usr/bin/env bash
# snapshot DIR DEST: a plain consistent copy. Of a stopped directory it is
# byte-identical; a DEST inside DIR is refused (and a backup's REPO, an
# export's output). While a writer adds records, exports succeed (a racing
# flush is read again), and each snapshot opens in a real server and holds a
# prefix of the written records.
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
