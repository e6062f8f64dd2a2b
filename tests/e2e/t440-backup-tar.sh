#!/usr/bin/env bash
# backup --from-tar: a directory streamed as docker cp writes it backs up and
# restores byte-identical; hostile archives are refused, naming the entry,
# and leave the repository as it was.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir) # else the bundled sample
mkdir -p "$T/box"
if [ -n "$F" ]; then
	cp -r "$F/movie-suggestion-sumanhiremath/db" "$T/box/chroma"
	expected="$F/movie-suggestion-sumanhiremath/expected.jsonl"
else
	cp -r "$ROOT/sample/chroma-data" "$T/box/chroma"
	chmod -R u+w "$T/box/chroma"
	expected="$T/expected.jsonl"
	expect_ok "$CV" export "$T/box/chroma" -o "$expected"
fi
R="$T/repo"

# docker cp CONTAINER:/chroma/chroma - : one top-level folder
tar cf - -C "$T/box" chroma | "$CV" backup --from-tar - "$R" >"$T/stdout" 2>"$T/stderr" ||
	fail "tar backup: $(cat "$T/stderr")"
grep -q 'source is recorded as "-"' "$T/stderr" ||
	fail "no warning that standard input is one source: $(cat "$T/stderr")"
expect_ok "$CV" restore "$R" latest "$T/restored"
diff -r "$T/box/chroma" "$T/restored" >&2 || fail "tar round trip differs"
expect_ok "$CV" export "file://$T/restored" -o "$T/e.jsonl"
if [ -n "$F" ]; then # what a real server returned for it
	expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 "$T/e.jsonl" "$expected"
else # the source's own export
	test_cmp "$T/e.jsonl" "$expected"
fi


# two streams from standard input, each named: prune keeps each one's last
tar cf - -C "$T/box" chroma | expect_ok "$CV" backup --from-tar - --source box-a "$T/named"
tar cf - -C "$T/restored" . | expect_ok "$CV" backup --from-tar - --source box-b "$T/named"
grep -q "warning" "$T/stderr" && fail "warned with --source: $(cat "$T/stderr")"
expect_ok "$CV" prune "$T/named" --keep-last 1
[ "$(ls "$T/named/snapshots" | wc -l)" -eq 2 ] || fail "prune dropped one of two named sources"
expect_ok "$CV" snapshots --json "$T/named"
python3 -c 'import json, sys; s = sorted(x["source"] for x in json.load(open(sys.argv[1]))); sys.exit(s != ["box-a", "box-b"])' \
	"$T/stdout" || fail "sources: $(cat "$T/stdout")"
rm -rf "$T/named"
# a DIR whose path is not UTF-8: refused, unless named
odd=$T/$(printf 'box\xff')
cp -r "$T/box/chroma" "$odd"
expect_fail 1 "$CV" backup "$odd" "$T/odd-repo"
grep -q "not UTF-8" "$T/stderr" || fail "message: $(cat "$T/stderr")"
[ ! -e "$T/odd-repo" ] || fail "a repository was made for a refused backup"
expect_ok "$CV" backup "$odd" "$T/odd-repo" --source odd-box
rm -rf "$odd" "$T/odd-repo"

# a tar of the directory's contents, from a file
tar cf "$T/flat.tar" -C "$T/box/chroma" .
expect_ok "$CV" backup --from-tar "$T/flat.tar" "$R"
expect_fail 1 "$CV" backup --from-tar "$T/flat.tar" "$T/box/chroma" "$R" # DIR too

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
def dup(tf):
    file(tf, "chroma/x.bin"); file(tf, "chroma/x.bin")
make("duplicate", dup)
def chain(tf): # each link inside by its text; resolved in turn, d is outside
    tf.add(f"{t}/box/chroma", arcname="chroma")
    for name, target in [("a", "."), ("b", "a/.."), ("c", "b/.."), ("d", "c/..")]:
        link(tf, "chroma/" + name, target)
    file(tf, "chroma/d/escape-proof", b"inside")
make("chain", chain)
data = open(f"{t}/flat.tar", "rb").read()
open(f"{t}/truncated.tar", "wb").write(data[:len(data) // 2 + 100])
PY
for bad in dotdot:'chroma/../../evil' absolute:'/tmp/evil' symlink:'chroma/escape' \
	hardlink:'chroma/h' device:'chroma/null' truncated:'truncated' \
	duplicate:'"chroma/x.bin" at offset 1024'; do
	name=${bad%%:*} entry=${bad#*:}
	expect_fail 3 "$CV" backup --from-tar "$T/$name.tar" "$R"
	grep -qF -- "$entry" "$T/stderr" || fail "$name: entry not named: $(cat "$T/stderr")"
done
[ ! -e /tmp/evil ] || fail "an entry was written outside"
expect_fail 3 "$CV" backup --from-tar "$T/truncated.tar" "$T/fresh"
[ ! -e "$T/fresh" ] || fail "a failed first backup left a repository behind"
mkdir "$T/mine" # a folder the user made is the user's, and stays
expect_fail 3 "$CV" backup --from-tar "$T/truncated.tar" "$T/mine"
[ -d "$T/mine" ] || fail "a failed first backup removed a folder the user made"

# symbolic links are never made, so no chain of them leads a later entry out
expect_ok "$CV" backup --from-tar "$T/chain.tar" "$T/repo-chain"
grep -qF 'warning: '"$T"'/chain.tar: symbolic link chroma/d -> c/.. left out' "$T/stderr" ||
	fail "skipped link not reported: $(cat "$T/stderr")"
[ -z "$(find "$T" -name escape-proof -not -path "$T/repo-chain/*")" ] ||
	fail "an entry was written outside"
# what was left out stays visible in the listing, for whoever restores later
expect_ok "$CV" snapshots "$T/repo-chain"
grep -qF '    warning: '"$T"'/chain.tar: symbolic link chroma/d -> c/.. left out' "$T/stdout" ||
	fail "snapshots does not show the backup's warning: $(cat "$T/stdout")"
expect_ok "$CV" snapshots --json "$T/repo-chain"
python3 -c 'import json, sys; w = json.load(open(sys.argv[1]))[0]["warnings"]; sys.exit(not any("chroma/d -> c/.. left out" in x for x in w))' \
	"$T/stdout" || fail "snapshots --json lacks the warning: $(cat "$T/stdout")"
expect_ok "$CV" restore "$T/repo-chain" latest "$T/chain-restored"
[ "$(cat "$T/chain-restored/d/escape-proof")" = inside ] || fail "chain entry not inside"
grep -qF 'warning: when backed up: '"$T"'/chain.tar: symbolic link chroma/d -> c/.. left out' \
	"$T/stderr" || fail "restore does not repeat the backup's warning: $(cat "$T/stderr")"
# a repository whose only backup was killed before its manifest: said so
rm "$T/repo-chain/snapshots/"*.json
expect_ok "$CV" snapshots "$T/repo-chain"
[ ! -s "$T/stdout" ] && grep -q "no snapshots yet" "$T/stderr" ||
	fail "an empty repository is listed silently: $(cat "$T/stdout" "$T/stderr")"
rm -rf "$T/repo-chain" "$T/chain-restored"

# files listed without their folders (tar cf x.tar chroma/*/*): folders made
(cd "$T/box" && tar cf "$T/nodirs.tar" --no-recursion $(find chroma -type f))
expect_ok "$CV" backup --from-tar "$T/nodirs.tar" "$T/repo-nodirs"
expect_ok "$CV" restore "$T/repo-nodirs" latest "$T/nodirs-restored"
diff -r "$T/box/chroma" "$T/nodirs-restored" >&2 || fail "tar without folders differs"
rm -rf "$T/repo-nodirs" "$T/nodirs-restored"
[ "$(tree_hash "$R")" = "$before" ] || fail "refused archives changed the repository"
expect_ok "$CV" verify --read-data "$R"
echo "tar input checked"
