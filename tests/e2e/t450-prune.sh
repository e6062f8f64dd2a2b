#!/usr/bin/env bash
# prune: the policy keeps what it says, for each source on its own, --dry-run
# removes nothing (not even what killed runs left, which it names), chunks
# only the dropped snapshots used are deleted, and a prune killed at any
# moment leaves every kept snapshot restorable.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
R="$T/repo"
if [ -n "$F" ]; then
	dirs="yes-chef-4096 k4-day08-1usuzu agent-test-11230038 repomind-navneet movie-suggestion-sumanhiremath"
	for d in $dirs; do cp -r "$F/$d/db" "$T/$d"; done
	last="$T/movie-suggestion-sumanhiremath"
	other="$F/todo-davmateo/db"
else # the bundled sample, changed five ways, and another copy of it
	dirs="v1 v2 v3 v4 v5"
	for d in $dirs; do
		cp -r "$ROOT/sample/chroma-data" "$T/$d"
		chmod -R u+w "$T/$d"
		python3 - "$T/$d/chroma.sqlite3" "$d" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE embedding_metadata SET string_value = string_value || ?", (sys.argv[2],))
c.commit()
PY
	done
	last="$T/v5"
	other="$T/todo-davmateo"
	cp -r "$ROOT/sample/chroma-data" "$other"
fi
backup_each() { # one source, $T/src, holding each version in turn
	local d
	for d in $dirs; do
		rm -rf "$T/src"
		cp -r "$T/$d" "$T/src"
		expect_ok "$CV" backup "$T/src" "$R"
	done
}
expect_ok "$CV" backup "$other" "$R" # another source, the oldest
backup_each
expect_ok "$CV" snapshots --json "$R"
count() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/stdout"; }
[ "$(count)" -eq 6 ] || fail "expected 6 snapshots"

before=$(tree_hash "$R")
expect_ok "$CV" prune --keep-last 2 --dry-run "$R"
[ "$(grep -c '^remove' "$T/stdout")" -eq 3 ] || fail "dry run should list 3 removals"
grep -q "^keep .*todo-davmateo" "$T/stdout" || fail "the other source's only snapshot is not kept"
[ "$(tree_hash "$R")" = "$before" ] || fail "--dry-run changed the repository"
expect_fail 1 "$CV" prune "$R"
# what killed runs left: --dry-run says it, and leaves it
touch "$R/packs/abc.pack.tmp.99999" "$R/snapshots/x.json.tmp.99999"
mkdir -p "$R/staging.tmp.99999/sub" && touch "$R/staging.tmp.99999/sub/f"
expect_ok "$CV" prune --keep-last 2 --dry-run "$R"
for f in packs/abc.pack.tmp.99999 snapshots/x.json.tmp.99999 staging.tmp.99999/sub/f; do
	[ -e "$R/$f" ] || fail "--dry-run removed $f"
done
grep -q "^dry run: would remove .*/packs/abc.pack.tmp.99999 " "$T/stdout" &&
	grep -q "^dry run: would remove .*/snapshots/x.json.tmp.99999 " "$T/stdout" &&
	grep -q "^dry run: would remove .*/staging.tmp.99999 " "$T/stdout" ||
	fail "--dry-run does not say what it would remove: $(cat "$T/stdout")"

size_before=$(du -sb "$R/packs" | cut -f1)
expect_ok "$CV" prune --keep-last 2 "$R"
[ ! -e "$R/packs/abc.pack.tmp.99999" ] && [ ! -e "$R/snapshots/x.json.tmp.99999" ] &&
	[ ! -e "$R/staging.tmp.99999" ] || fail "prune left what killed runs left"
expect_ok "$CV" snapshots --json "$R"
[ "$(count)" -eq 3 ] || fail "expected 3 snapshots kept"
grep -q '"source": ".*todo-davmateo' "$T/stdout" || fail "the other source lost its snapshot"
[ "$(du -sb "$R/packs" | cut -f1)" -lt "$size_before" ] || fail "nothing was freed"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r1"
diff -r "$last" "$T/r1" >&2 || fail "kept snapshot differs"

# prune killed at different moments: kept snapshots stay whole
backup_each
for delay in 0.002 0.005 0.01 0.02 0.05; do
	(timeout -s KILL "$delay" "$CV" prune --keep-last 3 "$R" >/dev/null 2>&1) 2>/dev/null || true
	expect_ok "$CV" verify "$R"
done
expect_ok "$CV" prune --keep-last 3 "$R"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r2"
diff -r "$last" "$T/r2" >&2 || fail "kept snapshot differs after kills"

# a held lock: refused after 2 s with a hint; --lock-wait waits it out
flock -x "$R/lock" sleep 4 &
locker=$!
sleep 0.3
start=$(date +%s%N)
expect_fail 2 "$CV" snapshots "$R"
grep -q "is rewriting the repository (waited 2 s; --lock-wait SECONDS" "$T/stderr" ||
	fail "no hint to wait longer: $(cat "$T/stderr")"
expect_ok "$CV" snapshots --lock-wait 30 "$R"
[ $(($(date +%s%N) - start)) -ge 3500000000 ] || fail "snapshots did not wait for the lock"
wait "$locker"
flock -x "$R/write.lock" sleep 3 &
locker=$!
sleep 0.3
expect_fail 2 "$CV" backup --lock-wait 1 "$last" "$R"
grep -q "another backup or prune.*(waited 1 s" "$T/stderr" || fail "$(cat "$T/stderr")"
expect_ok "$CV" prune --keep-last 3 --lock-wait 30 "$R"
wait "$locker"
expect_fail 1 "$CV" verify --lock-wait soon "$R"
echo "prune keeps what it should"
