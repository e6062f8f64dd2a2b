#!/usr/bin/env bash
# prune: the policy keeps what it says, --dry-run removes nothing, chunks only
# the dropped snapshots used are deleted, and a prune killed at any moment
# leaves every kept snapshot restorable.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir)
[ -n "$F" ] || skip "shared/fixtures/real-world is absent"
R="$T/repo"
dirs="yes-chef-4096 k4-day08-1usuzu agent-test-11230038 repomind-navneet movie-suggestion-sumanhiremath"
for d in $dirs; do
	expect_ok "$CV" backup "$F/$d/db" "$R"
done
expect_ok "$CV" snapshots --json "$R"
count() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/stdout"; }
[ "$(count)" -eq 5 ] || fail "expected 5 snapshots"

before=$(tree_hash "$R")
expect_ok "$CV" prune --keep-last 2 --dry-run "$R"
[ "$(grep -c '^remove' "$T/stdout")" -eq 3 ] || fail "dry run should list 3 removals"
[ "$(tree_hash "$R")" = "$before" ] || fail "--dry-run changed the repository"
expect_fail 1 "$CV" prune "$R"

size_before=$(du -sb "$R/packs" | cut -f1)
expect_ok "$CV" prune --keep-last 2 "$R"
expect_ok "$CV" snapshots --json "$R"
[ "$(count)" -eq 2 ] || fail "expected 2 snapshots kept"
grep -q '"source": ".*movie-suggestion' "$T/stdout" || fail "the newest was not kept"
[ "$(du -sb "$R/packs" | cut -f1)" -lt "$size_before" ] || fail "nothing was freed"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r1"
diff -r "$F/movie-suggestion-sumanhiremath/db" "$T/r1" >&2 || fail "kept snapshot differs"

# prune killed at different moments: kept snapshots stay whole
for d in $dirs; do
	expect_ok "$CV" backup "$F/$d/db" "$R"
done
for delay in 0.002 0.005 0.01 0.02 0.05; do
	(timeout -s KILL "$delay" "$CV" prune --keep-last 3 "$R" >/dev/null 2>&1) 2>/dev/null || true
	expect_ok "$CV" verify "$R"
done
expect_ok "$CV" prune --keep-last 3 "$R"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r2"
diff -r "$F/movie-suggestion-sumanhiremath/db" "$T/r2" >&2 || fail "kept snapshot differs after kills"
echo "prune keeps what it should"
