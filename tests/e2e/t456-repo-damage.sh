#!/usr/bin/env bash
# A damaged repository: what verify finds and how restore, snapshots, backup
# and prune go on. A manifest changed after it was written (its checksum), one
# written before manifests carried a checksum, and one missing what restore
# needs. A pack and its index removed by hand: the deltas whose bases they
# held are stored again by the next backup, which restores.
. "$(dirname "$0")/lib.sh"
setup

cp -r "$ROOT/sample/chroma-data" "$T/src"
chmod -R u+w "$T/src"
expect_ok "$CV" backup "$T/src" "$T/R0"
snap=$(basename "$(ls "$T/R0/snapshots/"*.json)" .json)

# fresh R from R0
fresh() { rm -rf "$T/R" "$T/out"; cp -a "$T/R0" "$T/R"; M="$T/R/snapshots/$snap.json"; }

# as a version 2 backup wrote it (no checksum), with a python edit of m applied
old_manifest() {
	python3 - "$M" "$1" <<'PY'
import json, sys
path, edit = sys.argv[1], sys.argv[2]
m = json.load(open(path))
del m["manifest_sha256"]
m["version"] = 2
exec(edit)
open(path, "w").write(json.dumps(m, separators=(",", ":")))
PY
}

# a path renamed in a version 3 manifest: its checksum says so, also
# without --read-data, and restore refuses it
fresh
sed -i 's/"path":"chroma.sqlite3"/"path":"chroma.sqlite4"/' "$M"
grep -q chroma.sqlite4 "$M" || fail "the path was not renamed"
expect_fail 3 "$CV" verify "$T/R"
grep -q "snapshot $snap: checksum mismatch" "$T/stdout" || fail "$(cat "$T/stdout")"
expect_fail 3 "$CV" restore "$T/R" "$snap" "$T/out"
grep -q "snapshot $snap: checksum mismatch" "$T/stderr" || fail "$(cat "$T/stderr")"
[ ! -e "$T/out/chroma.sqlite4" ] || fail "restored under the changed name"

# one digit of a file's sha256 changed
fresh
python3 - "$M" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
i = t.index('"sha256":"') + len('"sha256":"')
open(p, "w").write(t[:i] + ("1" if t[i] != "1" else "2") + t[i + 1:])
PY
expect_fail 3 "$CV" verify "$T/R"
grep -q "checksum mismatch" "$T/stdout" || fail "$(cat "$T/stdout")"

# written before checksums: read, and said to carry none
fresh
old_manifest "pass"
expect_ok "$CV" verify --read-data "$T/R"
grep -q "^1 snapshot manifest carries no checksum" "$T/stdout" || fail "$(cat "$T/stdout")"
expect_ok "$CV" restore "$T/R" "$snap" "$T/out"
diff -r "$T/src" "$T/out" >&2 || fail "the old manifest restores otherwise"

# ... without its files list: an error, not an empty restore
fresh
old_manifest 'm["filez"] = m.pop("files")'
expect_fail 3 "$CV" verify "$T/R"
grep -q "snapshot $snap: no files list" "$T/stdout" || fail "$(cat "$T/stdout")"
expect_fail 3 "$CV" restore "$T/R" "$snap" "$T/out"
grep -q "snapshot $snap: no files list" "$T/stderr" || fail "$(cat "$T/stderr")"
[ ! -e "$T/out" ] || [ -z "$(ls -A "$T/out")" ] || fail "restored something"
# ... one digit of a file's sha256 changed, or its size: reading the data
# finds it, and names the snapshot and file
db='f = next(f for f in m["files"] if f["path"] == "chroma.sqlite3"); '
fresh
old_manifest "$db"'f["sha256"] = ("1" if f["sha256"][0] != "1" else "2") + f["sha256"][1:]'
expect_ok "$CV" verify "$T/R" # what is there is all it checks
expect_fail 3 "$CV" verify --read-data "$T/R"
grep -q "snapshot $snap: chroma.sqlite3: its chunks' SHA-256 is [0-9a-f]*, its manifest records" \
	"$T/stdout" || fail "$(cat "$T/stdout")"
grep -q "1 problems" "$T/stdout" || fail "$(cat "$T/stdout")"
fresh
old_manifest "$db"'f["size"] += 1'
expect_fail 3 "$CV" verify --read-data "$T/R"
grep -q "snapshot $snap: chroma.sqlite3: its chunks add up to [0-9]* bytes, its manifest records" \
	"$T/stdout" || fail "$(cat "$T/stdout")"
# ... without host, time, source or Chroma version: listed, not left out
fresh
old_manifest 'for k in ("host", "time", "source", "chroma_version", "collections"): del m[k]'
expect_ok "$CV" snapshots "$T/R"
grep -q "^$snap  ?  ?  0 records  [0-9]* bytes  Chroma ?$" "$T/stdout" || fail "$(cat "$T/stdout")"
expect_ok "$CV" snapshots --json "$T/R"
python3 - "$T/stdout" "$snap" <<'PY' || fail "$(cat "$T/stdout")"
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s) == 1 and s[0]["id"] == sys.argv[2], s
assert all(s[0][k] is None for k in ("host", "time", "source", "chroma_version")), s
PY
expect_ok "$CV" verify "$T/R"
echo "manifests: changed ones found, old ones read"

# A pack index damaged. S1 holds the source changed one way (pack P1), S2 the
# source as it was (P2: the pages S1 changed, as they were, and its list
# patch), S3 the source as it was plus a new table (its patch in P3, the
# pages as they were still in P2): P2's index damaged, S1 needs none of P2,
# S3 has a list that reads and chunks that are not found.
sql() {
	python3 - "$1/chroma.sqlite3" "$2" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(sys.argv[2])
c.commit()
PY
}
rm -rf "$T/src" "$T/R"
cp -r "$ROOT/sample/chroma-data" "$T/orig"
chmod -R u+w "$T/orig"
cp -r "$T/orig" "$T/src"
sql "$T/src" "UPDATE embedding_metadata SET string_value = string_value || 'x' WHERE rowid % 3 = 0"
cp -r "$T/src" "$T/s1"
expect_ok "$CV" backup "$T/src" "$T/R"
rm -rf "$T/src" && cp -r "$T/orig" "$T/src"
packs() { ls "$T/R/packs/" | grep '\.idx$' | sort; }
packs >"$T/packs.1"
expect_ok "$CV" backup "$T/src" "$T/R"
p2=$(packs | comm -13 "$T/packs.1" -)
[ "$(echo "$p2" | wc -l)" -eq 1 ] || fail "S2 wrote no pack, or more than one: $p2"
sql "$T/src" "CREATE TABLE t456 (x); INSERT INTO t456 VALUES ('y');"
cp -r "$T/src" "$T/s3"
expect_ok "$CV" backup "$T/src" "$T/R"
expect_ok "$CV" verify --read-data "$T/R"
cp -a "$T/R" "$T/R.good"
s1=$(ls "$T/R/snapshots" | head -1) && s1=${s1%.json}
s3=$(ls "$T/R/snapshots" | tail -1) && s3=${s3%.json}
printf 'X' | dd of="$T/R/packs/$p2" bs=1 seek=30 conv=notrunc status=none

expect_ok "$CV" snapshots "$T/R"
[ "$(grep -c '^20[0-9]*T' "$T/stdout")" -eq 3 ] || fail "$(cat "$T/stdout")"
grep -q "warning: .*$p2: checksum mismatch" "$T/stderr" || fail "$(cat "$T/stderr")"

expect_fail 3 "$CV" verify "$T/R"
grep -q "^$T/R/packs/$p2: checksum mismatch: the chunks of its pack cannot be found" \
	"$T/stdout" || fail "the index is not named: $(cat "$T/stdout")"
grep -q "^snapshot $s3: chroma.sqlite3 at offset [0-9]*: chunk [0-9a-f]* is missing (or in a pack whose index" \
	"$T/stdout" || fail "no missing chunk named: $(cat "$T/stdout")"
# after the first chunk not found, offsets are not claimed exact
grep -q "^snapshot $s3: chroma.sqlite3 at chunk [0-9]*, at or after offset [0-9]*: chunk" \
	"$T/stdout" || fail "later chunks: $(cat "$T/stdout")"
! grep -q "^snapshot $s1" "$T/stdout" || fail "S1 needs none of P2: $(cat "$T/stdout")"
grep -q ' problems$' "$T/stdout" || fail "no summary: $(cat "$T/stdout")"

expect_ok "$CV" restore "$T/R" "$s1" "$T/out1"
diff -r "$T/s1" "$T/out1" >&2 || fail "S1 restores otherwise"
expect_fail 3 "$CV" restore "$T/R" "$s3" "$T/out3"
grep -q "not in any index read; one could not be: .*$p2: checksum mismatch" "$T/stderr" ||
	fail "restore does not name the index: $(cat "$T/stderr")"

before=$(tree_hash "$T/R")
expect_fail 3 "$CV" prune --keep-last 1 "$T/R"
grep -q "$p2: checksum mismatch: nothing pruned: which chunks its pack holds is unknown" \
	"$T/stderr" || fail "$(cat "$T/stderr")"
expect_fail 3 "$CV" prune --keep-last 1 --dry-run "$T/R"
[ "$(tree_hash "$T/R")" = "$before" ] || fail "a refused prune changed the repository"

# backup refuses too: a pack written again under the same name would
# replace the one whose index is damaged, and a delta found elsewhere could
# lean on a base only that pack holds
expect_fail 3 "$CV" backup "$T/src" "$T/R"
grep -q "$p2: checksum mismatch: no backup made: put back a good copy of it" \
	"$T/stderr" || fail "$(cat "$T/stderr")"
[ "$(tree_hash "$T/R")" = "$before" ] || fail "a refused backup changed the repository"
# the way out both name: a good copy of the index
cp "$T/R.good/packs/$p2" "$T/R/packs/$p2"
expect_ok "$CV" backup "$T/src" "$T/R"
expect_ok "$CV" prune --keep-last 1 "$T/R"
expect_ok "$CV" verify --read-data "$T/R"
expect_ok "$CV" restore "$T/R" latest "$T/out4"
diff -r "$T/src" "$T/out4" >&2 || fail "the last snapshot restores otherwise"

# the packs of a first snapshot removed, pack and index, after a second
# snapshot stored deltas against its chunks: a third backup of the same
# directory does not take those deltas, whose bases are gone
rm -rf "$T/RD" "$T/src3"
cp -r "$T/src" "$T/src3"
expect_ok "$CV" backup "$T/src3" "$T/RD"
first_packs=$(ls "$T/RD/packs/" | sed -n 's/\.idx$//p')
edit_metadata "$T/src3/chroma.sqlite3" 1
expect_ok "$CV" backup --json "$T/src3" "$T/RD"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["chunks_delta"] == 0)' "$T/stdout" ||
	fail "the second backup stored no deltas"
# the same bytes again, with no snapshot to build on (their manifests moved
# away for it): a whole list of its own, in a new pack, of the first
# snapshot's chunks and the second's deltas
mv "$T/RD/snapshots" "$T/RD-snapshots" && mkdir "$T/RD/snapshots"
expect_ok "$CV" backup --source t456-other "$T/src3" "$T/RD"
mv "$T/RD-snapshots"/* "$T/RD/snapshots/"
other=$(ls "$T/RD/snapshots" | tail -1) && other=${other%.json}
for p in $first_packs; do rm "$T/RD/packs/$p.pack" "$T/RD/packs/$p.idx"; done
expect_fail 3 "$CV" verify "$T/RD"
grep -q "^snapshot $other: chroma.sqlite3 at offset [0-9]*: chunk [0-9a-f]*, a base its delta frame is compressed against, is missing$" \
	"$T/stdout" || fail "a missing base is not named as one: $(cat "$T/stdout")"
rm "$T/RD/snapshots/$other.json" # forgotten: prune keeps one a source
expect_ok "$CV" backup "$T/src3" "$T/RD"
expect_ok "$CV" restore "$T/RD" latest "$T/out5"
diff -r "$T/src3" "$T/out5" >&2 || fail "the backup after packs were removed restores otherwise"
expect_fail 3 "$CV" verify "$T/RD" # the first two snapshots lost chunks
expect_ok "$CV" prune --keep-last 1 "$T/RD"
expect_ok "$CV" verify --read-data "$T/RD"
echo "a damaged pack index: the rest of the repository is read; deltas whose bases are gone are stored again"
