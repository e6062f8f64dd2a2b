#!/usr/bin/env bash
# The repository under injected faults (strace). prune: a directory listing,
# a read, an fsync, a removal or a write failing at any one point makes it
# stop or finish, never delete what a kept snapshot needs; afterwards the
# repository verifies with --read-data and the kept snapshot restores
# byte-identical. A chunk stored in two packs (what a killed prune leaves) is
# not kept twice. backup: a write failing at any point (a full disk) leaves
# the repository as it was.
. "$(dirname "$0")/lib.sh"
setup

strace -f -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
# LeakSanitizer cannot run under ptrace: the sanitizer build's leak check off
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# three snapshots of one source, the later ones partly deltas of the earlier
cp -r "$ROOT/sample/chroma-data" "$T/src"
chmod -R u+w "$T/src"
expect_ok "$CV" backup "$T/src" "$T/R0"
for v in x y; do
	python3 - "$T/src/chroma.sqlite3" "$v" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE embedding_metadata SET string_value = string_value || ? "
          "WHERE rowid % 3 = 0", (sys.argv[2],))
c.commit()
PY
	expect_ok "$CV" backup "$T/src" "$T/R0"
done

# every point of failure of each call prune makes, then a prune without one
runs=0 failed=0
for fault in getdents64:EIO pread64:EIO fsync:EIO unlink:EIO write:ENOSPC; do
	sc=${fault%%:*}
	for when in $(seq 1 12); do
		rm -rf "$T/R" "$T/out"
		cp -a "$T/R0" "$T/R"
		rc=0
		strace -f -o /dev/null -e trace="$sc" -e inject="$sc:error=${fault#*:}:when=$when" \
			"$CV" prune --keep-last 1 "$T/R" >"$T/prune.out" 2>&1 || rc=$?
		runs=$((runs + 1))
		[ "$rc" -eq 0 ] || failed=$((failed + 1))
		"$CV" verify --read-data "$T/R" >"$T/verify.out" 2>&1 ||
			fail "$sc failing at call $when (prune exit $rc: $(cat "$T/prune.out")) " \
				"damaged the repository: $(cat "$T/verify.out")"
		"$CV" prune --keep-last 1 "$T/R" >"$T/prune.out" 2>&1 ||
			fail "the prune after $sc failing at call $when: $(cat "$T/prune.out")"
		"$CV" verify --read-data "$T/R" >"$T/verify.out" 2>&1 ||
			fail "the prune after $sc failing at call $when damaged the " \
				"repository: $(cat "$T/verify.out")"
		"$CV" restore "$T/R" latest "$T/out" >/dev/null 2>&1 ||
			fail "$sc failing at call $when: the kept snapshot does not restore"
		diff -r "$T/src" "$T/out" >&2 || fail "$sc failing at call $when: restore differs"
	done
done
[ "$failed" -gt 0 ] || fail "no injected fault made prune fail: the injection did not work"
echo "$runs prunes with a fault injected, $failed of them stopped; every kept snapshot whole"

# a chunk in two packs: the second copy goes, the kept one stays readable
rm -rf "$T/R"
cp -a "$T/R0" "$T/R"
p=$(ls "$T/R/packs/" | grep '\.pack$' | head -1)
p=${p%.pack}
dup=0000000000000000000000000000000000000000000000000000000000000000
cp "$T/R/packs/$p.pack" "$T/R/packs/$dup.pack"
cp "$T/R/packs/$p.idx" "$T/R/packs/$dup.idx"
expect_ok "$CV" prune --keep-last 1 "$T/R"
# indexes load in name order and the last one found wins: every chunk of the
# all-zero copy is found in the other, so none of it is kept
[ ! -e "$T/R/packs/$dup.pack" ] && [ ! -e "$T/R/packs/$dup.idx" ] ||
	fail "the copy whose chunks are all found elsewhere is still there"
expect_ok "$CV" verify --read-data "$T/R"
rm -rf "$T/out"
expect_ok "$CV" restore "$T/R" latest "$T/out"
diff -r "$T/src" "$T/out" >&2 || fail "restore differs after pruning duplicates"

# backup, a write failing at each point: exit 2, the repository as it was
python3 - "$T/src/chroma.sqlite3" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE embedding_metadata SET string_value = string_value || 'z'")
c.commit()
PY
rm -rf "$T/R"
cp -a "$T/R0" "$T/R"
before=$(tree_hash "$T/R")
stopped=0
for when in $(seq 1 8); do
	rc=0
	strace -f -o /dev/null -e trace=write,pwrite64 \
		-e inject=write,pwrite64:error=ENOSPC:when=$when \
		"$CV" backup "$T/src" "$T/R" >"$T/backup.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] && break
	stopped=$((stopped + 1))
	[ "$rc" -eq 2 ] || fail "write $when failing: exit $rc: $(cat "$T/backup.out")"
	grep -q "No space left on device" "$T/backup.out" ||
		fail "write $when failing: $(cat "$T/backup.out")"
	[ "$(tree_hash "$T/R")" = "$before" ] ||
		fail "write $when failing changed the repository"
done
[ "$stopped" -ge 3 ] || fail "only $stopped failing writes stopped the backup"
expect_ok "$CV" verify --read-data "$T/R"
echo "backup stopped by a full disk at $stopped points, the repository unchanged each time"

# verify: packs that cannot be read are not called damaged (exit 2, not 3),
# also where snapshots share their chunks; with a damaged pack beside an
# unreadable one, the damage decides (exit 3)
[ "$(ls "$T/R/snapshots" | wc -l)" -ge 2 ] || fail "no snapshots sharing chunks"
every=()
for p in "$T/R/packs/"*.pack; do every+=(-P "$p"); done
expect_fail 2 strace -f -o /dev/null "${every[@]}" -e trace=pread64 \
	-e inject=pread64:error=EIO "$CV" verify --read-data "$T/R"
grep -q "Input/output error" "$T/stdout" && grep -q "each a read that failed" "$T/stderr" ||
	fail "verify named no read error: $(cat "$T/stdout" "$T/stderr")"
grep -q "reported above" "$T/stdout" || fail "no chunk shared between snapshots was met"
pack=$(ls "$T/R/packs/"*.pack | head -1)
cp -a "$T/R" "$T/R2"
p2=$(ls "$T/R2/packs/"*.pack | tail -1)
[ "${p2##*/}" != "${pack##*/}" ] || fail "one pack only: no second one to damage"
printf 'X' | dd of="$p2" bs=1 seek=100 conv=notrunc status=none
expect_fail 3 strace -f -o /dev/null -P "${pack/\/R\//\/R2\/}" -e trace=pread64 \
	-e inject=pread64:error=EIO "$CV" verify --read-data "$T/R2"
echo "verify tells an unreadable pack (exit 2) from a damaged one (exit 3)"
# ... and no single read that fails, wherever it falls, makes it pass a
# damaged repository
reads=$(strace -f -c -e trace=pread64 "$CV" verify --read-data "$T/R2" 2>&1 >/dev/null |
	awk '$NF == "pread64" { print $4 }')
[ "${reads:-0}" -gt 3 ] || fail "verify read its packs $reads times"
for k in $(seq 1 "$reads"); do
	strace -f -o /dev/null -e trace=pread64 -e inject=pread64:error=EIO:when=$k \
		"$CV" verify --read-data "$T/R2" >"$T/stdout" 2>&1 &&
		fail "verify passed a damaged repository with read $k failing: $(cat "$T/stdout")"
done
echo "verify fails on a damaged repository whichever of its $reads reads fails"

# a new repository whose own folder entry cannot be synced: said, not ignored
mkdir "$T/parent"
expect_fail 2 strace -f -o /dev/null -P "$T/parent" -e trace=fsync \
	-e inject=fsync:error=EIO "$CV" backup "$T/src" "$T/parent/R"
grep -q "cannot sync the folder holding it" "$T/stderr" || fail "$(cat "$T/stderr")"
# ... nor one whose config's entry cannot be synced
mkdir "$T/parent2"
expect_fail 2 strace -f -o /dev/null -P "$T/parent2/R" -e trace=fsync \
	-e inject=fsync:error=EIO:when=1 "$CV" backup "$T/src" "$T/parent2/R"
grep -q "config: cannot sync its directory" "$T/stderr" || fail "$(cat "$T/stderr")"
echo "the repository survives faults and duplicates"
