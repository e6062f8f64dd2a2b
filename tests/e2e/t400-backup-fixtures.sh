#!/usr/bin/env bash
# Backup round trip on every real-world directory: backup, restore, the
# restored tree is byte-identical, its export equals what Chroma returned,
# and the source is untouched. Then snapshots, verify and dedup across runs.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
[ -n "$F" ] || skip "shared/fixtures/real-world is absent"
R="$T/repo"
n=0
for d in "$F"/*/; do
	name=$(basename "$d")
	[ -f "$d/expected.jsonl" ] || continue
	before=$(tree_hash "$d/db")
	expect_ok "$CV" backup --json "$d/db" "$R"
	snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$T/stdout")
	expect_ok "$CV" restore "$R" "$snap" "$T/restored-$name"
	diff -r "$d/db" "$T/restored-$name" >&2 || fail "$name: restored tree differs"
	[ "$(tree_hash "$T/restored-$name")" = "$before" ] || fail "$name: modes differ"
	expect_ok "$CV" export "file://$T/restored-$name" -o "$T/$name.jsonl"
	expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 \
		"$T/$name.jsonl" "$d/expected.jsonl"
	[ "$(tree_hash "$d/db")" = "$before" ] || fail "$name: the source changed"
	rm -rf "$T/restored-$name"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n fixtures"

expect_ok "$CV" snapshots --json "$R"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/stdout")" -eq "$n" ] ||
	fail "snapshots does not list $n snapshots"
expect_ok "$CV" verify --read-data "$R"

# a second backup of an unchanged directory stores nothing new
expect_ok "$CV" backup --json "$F/movie-suggestion-sumanhiremath/db" "$R"
python3 - "$T/stdout" <<'PY' || fail "unchanged directory stored again"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["chunks_new"] == 0 and s["bytes_stored"] == 0, s
PY

# restore refuses a non-empty target, and --force replaces it
mkdir -p "$T/busy" && echo x >"$T/busy/f"
expect_fail 1 "$CV" restore "$R" latest "$T/busy"
[ -f "$T/busy/f" ] || fail "refused restore touched the target"
expect_ok "$CV" restore --force "$R" latest "$T/busy"
[ ! -e "$T/busy/f" ] && [ -f "$T/busy/chroma.sqlite3" ] || fail "--force"
# an index folder that is a link (to another disk, say) is backed up with
# its files, and a link that leads nowhere is named
mkdir -p "$T/linked/elsewhere"
cp -r "$F/movie-suggestion-sumanhiremath/db" "$T/linked/db"
chmod -R u+w "$T/linked/db"
seg=$(cd "$T/linked/db" && ls -d */ | tr -d /)
mv "$T/linked/db/$seg" "$T/linked/elsewhere/$seg"
ln -s "../elsewhere/$seg" "$T/linked/db/$seg"
ln -s /nonexistent "$T/linked/db/dangling"
expect_ok "$CV" backup "$T/linked/db" "$T/linked/repo"
grep -q "warning: $T/linked/db/dangling: cannot be read" "$T/stderr" ||
	fail "dangling link not named: $(cat "$T/stderr")"
expect_ok "$CV" restore "$T/linked/repo" latest "$T/linked/r"
[ -f "$T/linked/r/$seg/data_level0.bin" ] || fail "the linked index folder was left out"
expect_ok "$CV" export "file://$T/linked/r" -o "$T/linked/e.jsonl"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 0 "$T/linked/e.jsonl" \
	"$F/movie-suggestion-sumanhiremath/expected.jsonl"
# a name that is not UTF-8 is named in the warning all the same
ln -s /nonexistent "$T/linked/db/"$'bad\xff'
expect_ok "$CV" backup "$T/linked/db" "$T/linked/repo"
grep -q "warning: $T/linked/db/bad?: cannot be read" "$T/stderr" ||
	fail "non-UTF-8 dangling link not named: $(cat "$T/stderr")"
rm "$T/linked/db/"$'bad\xff'
# a file with such a name cannot be recorded: refused, named
echo x >"$T/linked/elsewhere/$seg/"$'x\xfe'
expect_fail 3 "$CV" backup "$T/linked/db" "$T/linked/repo"
LC_ALL=C grep -q "$seg/x.: a name that is not UTF-8" "$T/stderr" || fail "$(cat "$T/stderr")"
rm "$T/linked/elsewhere/$seg/"$'x\xfe'
# an index folder whose link leads nowhere (its disk not mounted) is an error
mv "$T/linked/elsewhere" "$T/linked/unmounted"
expect_fail 2 "$CV" backup "$T/linked/db" "$T/linked/repo"
grep -q "$seg: index folder cannot be read" "$T/stderr" || fail "$(cat "$T/stderr")"
echo "$n fixtures round-trip"
