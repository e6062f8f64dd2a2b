#!/usr/bin/env bash
# A damaged repository: what verify finds and how restore, snapshots, backup
# and prune go on. A manifest changed after it was written (its checksum), one
# written before manifests carried a checksum, and one missing what restore
# needs.
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
grep -q "1 snapshot manifest carry no checksum" "$T/stdout" || fail "$(cat "$T/stdout")"
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
echo "manifests: changed ones found, old ones read"
