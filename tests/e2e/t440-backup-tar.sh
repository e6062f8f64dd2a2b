#!/usr/bin/env bash
# backup --from-tar: a directory streamed as docker cp writes it backs up and
# restores byte-identical; hostile archives are refused, naming the entry,
# and leave the repository as it was.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
[ -n "$F" ] || skip "shared/fixtures/real-world is absent"
mkdir -p "$T/box"
cp -r "$F/movie-suggestion-sumanhiremath/db" "$T/box/chroma"
R="$T/repo"

# docker cp CONTAINER:/chroma/chroma - : one top-level folder
tar cf - -C "$T/box" chroma | "$CV" backup --from-tar - "$R" >"$T/stdout" 2>"$T/stderr" ||
	fail "tar backup: $(cat "$T/stderr")"
expect_ok "$CV" restore "$R" latest "$T/restored"
diff -r "$T/box/chroma" "$T/restored" >&2 || fail "tar round trip differs"
expect_ok "$CV" export "file://$T/restored" -o "$T/e.jsonl"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 "$T/e.jsonl" \
	"$F/movie-suggestion-sumanhiremath/expected.jsonl"

# a tar of the directory's contents, from a file
tar cf "$T/flat.tar" -C "$T/box/chroma" .
expect_ok "$CV" backup --from-tar "$T/flat.tar" "$R"

before=$(tree_hash "$R")
python3 - "$T" <<'PY'
import io, sys, tarfile
t = sys.argv[1]
def make(name, add):
    with tarfile.open(f"{t}/{name}.tar", "w", format=tarfile.GNU_FORMAT) as tf:
        add(tf)
def file(tf, path, data=b"x"):
    ti = tarfile.TarInfo(path); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
def link(tf, path, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(path); ti.type = kind; ti.linkname = target; tf.addfile(ti)
def dev(tf, path):
    ti = tarfile.TarInfo(path); ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3; tf.addfile(ti)
make("dotdot", lambda tf: file(tf, "chroma/../../evil"))
make("absolute", lambda tf: file(tf, "/tmp/evil"))
make("symlink", lambda tf: link(tf, "chroma/escape", "../../../etc"))
make("hardlink", lambda tf: link(tf, "chroma/h", "../outside", tarfile.LNKTYPE))
make("device", lambda tf: dev(tf, "chroma/null"))
data = open(f"{t}/flat.tar", "rb").read()
open(f"{t}/truncated.tar", "wb").write(data[:len(data) // 2 + 100])
PY
for bad in dotdot:'chroma/../../evil' absolute:'/tmp/evil' symlink:'chroma/escape' \
	hardlink:'chroma/h' device:'chroma/null' truncated:'truncated'; do
	name=${bad%%:*} entry=${bad#*:}
	expect_fail 3 "$CV" backup --from-tar "$T/$name.tar" "$R"
	grep -qF -- "$entry" "$T/stderr" || fail "$name: entry not named: $(cat "$T/stderr")"
done
[ ! -e /tmp/evil ] || fail "an entry was written outside"
[ "$(tree_hash "$R")" = "$before" ] || fail "refused archives changed the repository"
expect_ok "$CV" verify --read-data "$R"
echo "tar input checked"
