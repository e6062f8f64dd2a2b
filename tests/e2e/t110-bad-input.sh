#!/usr/bin/env bash
# Bad input gets one clear message naming the file and row or offset, a
# documented exit code, and no output file left behind.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir) # else the bundled sample stands for every fixture

copy() { # copy fixture $1 (or the sample) to $T/$2, writable
	rm -rf "$T/$2"
	if [ -n "$F" ]; then
		cp -r "$F/$1/db" "$T/$2"
	else
		cp -r "$ROOT/sample/chroma-data" "$T/$2"
	fi
	chmod -R u+w "$T/$2"
}

fails_clearly() { # CODE NEEDLE SOURCE
	rm -f "$T/out.jsonl"
	expect_fail "$1" "$CV" export "$3" -o "$T/out.jsonl"
	grep -qF -- "$2" "$T/stderr" || fail "expected '$2' in: $(cat "$T/stderr")"
	[ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "more than one line: $(cat "$T/stderr")"
	[ ! -e "$T/out.jsonl" ] || fail "output file left behind"
	ls "$T" | grep -q 'out.jsonl.tmp' && fail "temp file left behind"
	return 0
}

# not SQLite
copy todo-davmateo notsql
head -c 4096 /dev/urandom >"$T/notsql/chroma.sqlite3"
fails_clearly 3 "notsql/chroma.sqlite3: not an SQLite database" "file://$T/notsql"

# SQLite, but not Chroma's
mkdir -p "$T/othersql"
sqlite3 "$T/othersql/chroma.sqlite3" "CREATE TABLE t(x)"
fails_clearly 3 "not a Chroma database" "file://$T/othersql"

# not a persist directory at all, and a missing one
mkdir -p "$T/empty"
fails_clearly 2 "not a Chroma persist directory" "file://$T/empty"
fails_clearly 2 "$T/missing" "file://$T/missing"

# a missing collection
copy todo-davmateo some
fails_clearly 2 'collection "nope" not found' "file://$T/some/nope"

# a vector of the wrong dimension in the WAL
copy todo-davmateo wrongdim
seq=$(sqlite3 "$T/wrongdim/chroma.sqlite3" "SELECT max(seq_id) FROM embeddings_queue")
sqlite3 "$T/wrongdim/chroma.sqlite3" \
	"UPDATE embeddings_queue SET vector = x'0000803f00000040' WHERE seq_id = $seq"
fails_clearly 3 "embeddings_queue row seq_id $seq: vector has dimension 2, the collection has " \
	"file://$T/wrongdim"

# malformed WAL metadata in a row above the metadata watermark
copy todo-davmateo badjson
sqlite3 "$T/badjson/chroma.sqlite3" \
	"UPDATE embeddings_queue SET metadata = '{\"a\":' WHERE seq_id = $seq;
	 UPDATE max_seq_id SET seq_id = $((seq - 1)) WHERE segment_id IN
	   (SELECT id FROM segments WHERE scope = 'METADATA')"
fails_clearly 3 "embeddings_queue row seq_id $seq: metadata is not valid JSON" \
	"file://$T/badjson"

# a hot journal left by a crash: said clearly, and the journal is not touched
copy todo-davmateo hot
head -c 2048 /dev/urandom >"$T/hot/chroma.sqlite3-journal"
before=$(tree_hash "$T/hot")
fails_clearly 3 "hot journal (chroma.sqlite3-journal)" "file://$T/hot"
[ "$(tree_hash "$T/hot")" = "$before" ] || fail "the hot journal was touched"
expect_fail 3 "$CV" inspect "$T/hot"
grep -q "hot journal" "$T/stderr" || fail "inspect does not report the journal"

# a flushed index, damaged in each of its files
copy repomind-navneet idx
seg=$(cd "$T/idx" && dirname "$(ls */index_metadata.pickle | head -1)")
truncate -s 60 "$T/idx/$seg/header.bin"
fails_clearly 3 "$seg/header.bin: 60 bytes, a header has 100" "file://$T/idx"

copy repomind-navneet idx
truncate -s 1000 "$T/idx/$seg/data_level0.bin"
fails_clearly 3 "$seg/data_level0.bin: 1000 bytes, " "file://$T/idx"

copy repomind-navneet idx
truncate -s -3 "$T/idx/$seg/link_lists.bin"
fails_clearly 3 "$seg/link_lists.bin" "file://$T/idx"

copy repomind-navneet idx
truncate -s 2000 "$T/idx/$seg/index_metadata.pickle"
fails_clearly 3 "$seg/index_metadata.pickle: offset " "file://$T/idx"

# a label the pickle names but no element carries: element 0's label byte
copy repomind-navneet idx
size=$(od -An -t u8 -j 28 -N 8 "$T/idx/$seg/header.bin" | tr -d ' ')
loff=$(od -An -t u8 -j 36 -N 8 "$T/idx/$seg/header.bin" | tr -d ' ')
printf '\xff\xff\xff\x7f' | dd of="$T/idx/$seg/data_level0.bin" bs=1 seek="$loff" conv=notrunc status=none
fails_clearly 3 "is in no element" "file://$T/idx"
expect_fail 3 "$CV" inspect --check "$T/idx"
grep -q "is in no element" "$T/stdout" || fail "inspect does not name the missing label"

# usage errors
expect_fail 1 "$CV" export
expect_fail 1 "$CV" export --limit x "file://$T/hot"
expect_fail 1 "$CV" export "ftp://no/such/scheme"
expect_fail 2 "$CV" export "/no/such/dir" # a plain path is a directory
grep -q "/no/such/dir: No such file or directory" "$T/stderr" || fail "$(cat "$T/stderr")"
expect_fail 1 "$CV" nosuchcommand
echo "bad input answered clearly"
