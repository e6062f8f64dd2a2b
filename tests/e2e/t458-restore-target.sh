#!/usr/bin/env bash
# Where a restore may go: never onto the repository, a folder holding it or
# a folder inside it, even with --force (the repository is unchanged); an
# empty TARGET that something was written into while the restore waited for
# the repository's lock is left as it is, without --force; with --force a
# non-empty TARGET is replaced.
. "$(dirname "$0")/lib.sh"
setup

src=$T/src home=$T/home R=$T/home/repo
cp -r "$ROOT/sample/chroma-data" "$src"
mkdir "$home"
expect_ok "$CV" backup "$src" "$R"
echo "the user's notes" >"$home/notes.txt"
before=$(tree_hash "$home")

for target in "$R" "$home" "$R/snapshots" "$R/new"; do
	expect_fail 1 "$CV" restore "$R" latest "$target" --force
	grep -q "repository" "$T/stderr" || fail "restore onto $target: $(cat "$T/stderr")"
	[ "$(tree_hash "$home")" = "$before" ] || fail "restore onto $target changed $home"
done
expect_ok "$CV" verify --read-data "$R"

# TARGET empty when checked; a file written into it while the restore waits
# for the lock (held by flock, as prune would hold it)
mkdir "$T/target"
flock -x "$R/lock" sleep 3 &
holder=$!
sleep 0.5
"$CV" restore --lock-wait 20 "$R" latest "$T/target" >"$T/stdout" 2>"$T/stderr" &
restorer=$!
sleep 1
echo "written meanwhile" >"$T/target/important.txt"
rc=0
wait "$restorer" || rc=$?
wait "$holder"
[ "$rc" -eq 2 ] || fail "restore into a folder written into meanwhile: exit $rc"
grep -q "no longer empty" "$T/stderr" || fail "message: $(cat "$T/stderr")"
[ "$(ls "$T/target")" = important.txt ] || fail "the target was changed: $(ls "$T/target")"
[ -z "$(ls -d "$T"/target.tmp.* 2>/dev/null)" ] || fail "the restored tree was left behind"

# with --force it is replaced
expect_ok "$CV" restore "$R" latest "$T/target" --force
diff -r "$src" "$T/target" >&2 || fail "the forced restore differs from the source"
echo "restore never replaces the repository or what it did not find empty"
