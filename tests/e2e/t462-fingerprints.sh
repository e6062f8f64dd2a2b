#!/usr/bin/env bash
# The fingerprint cache: an incremental backup takes the SHA-256 of a chunk
# whose fingerprint is the one at its place in the last snapshot, and hashes
# the rest; every snapshot restores byte-identical. Only the newest
# snapshot's cache of a source is kept, prune removes a removed snapshot's
# (and one whose snapshot is gone), and a cache that is missing, damaged, of
# other chunk lists or of another key is not used; --rehash uses none.
. "$(dirname "$0")/lib.sh"
setup

src=$T/src R=$T/repo
writable_source "$src"
sleep 3.2 # index files settled: taken from the last snapshot, only the database read

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/backup.json" "$1"; }
backup() {
	expect_ok "$CV" backup --json "$@" && cp "$T/stdout" "$T/backup.json" &&
		cp "$T/stderr" "$T/backup.err"
}
edit() { edit_metadata "$src/chroma.sqlite3" "$1"; }
caches() { ls "$R/cache" | tr '\n' ' ' | sed 's/ $//'; }
pages=$(($(stat -c %s "$src/chroma.sqlite3") / 4096))
# back up after an edit; the latest snapshot must restore byte-identical
backup_edited() {
	edit "$1"
	backup "${@:2}" "$src" "$R"
	expect_ok "$CV" restore "$R" latest "$T/r$1"
	diff -r "$src" "$T/r$1" >&2 || fail "snapshot after edit $1 differs"
}

backup "$src" "$R"
[ "$(field chunks_known)" -eq 0 ] || fail "a first backup knew chunks"
[ "$(caches)" = "$(field snapshot).fp" ] || fail "cache/ holds '$(caches)'"

backup_edited 1
known=$(field chunks_known)
[ "$known" -gt $((pages / 2)) ] ||
	fail "$known chunks known by their fingerprint, of a database of $pages pages"
[ "$(field chunks_delta)" -gt 0 ] || fail "changed pages were not found"
[ "$(caches)" = "$(field snapshot).fp" ] || fail "the last snapshot's cache was kept: $(caches)"
cp "$R/cache/$(caches)" "$T/old.fp"

# damaged: not used, and written again whole
last=$(caches)
python3 - "$R/cache/$last" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(b)
PY
backup_edited 2
[ "$(field chunks_known)" -eq 0 ] || fail "a damaged cache was used ($(field chunks_known) chunks)"
[ "$(caches)" = "$(field snapshot).fp" ] || fail "cache/ holds '$(caches)' after a damaged one"

# of other chunk lists (the database's of the snapshot before): not used
mv "$T/old.fp" "$R/cache/$(caches)"
backup_edited 3
[ "$(field chunks_known)" -eq 0 ] ||
	fail "fingerprints of other chunk lists were used ($(field chunks_known) chunks)"

# missing: every chunk hashed, and the next backup has one again
rm -r "$R/cache"
backup_edited 4
[ "$(field chunks_known)" -eq 0 ] || fail "chunks known without a cache"
backup_edited 5
[ "$(field chunks_known)" -gt $((pages / 2)) ] || fail "the cache was not made again"
expect_ok "$CV" verify --read-data "$R"

# another source has its own; prune removes a removed snapshot's
cp -r "$src" "$T/src2"
backup "$T/src2" "$R"
[ "$(ls "$R/cache" | wc -l)" -eq 2 ] || fail "cache/ holds '$(caches)' for two sources"
expect_ok "$CV" prune --keep-last 1 "$R"
for f in "$R"/cache/*; do
	[ -f "$R/snapshots/$(basename "$f" .fp).json" ] || fail "prune left $(basename "$f")"
done
[ "$(ls "$R/cache" | wc -l)" -eq 2 ] || fail "prune removed a kept snapshot's cache: '$(caches)'"
backup_edited 6
[ "$(field chunks_known)" -gt $((pages / 2)) ] || fail "no chunks known after prune"

# --rehash: no fingerprint trusted, and a cache written for the next one
backup_edited 7 --rehash
[ "$(field chunks_known)" -eq 0 ] || fail "--rehash knew $(field chunks_known) chunks"
backup_edited 8
[ "$(field chunks_known)" -gt $((pages / 2)) ] || fail "no cache after --rehash"
# another key (another user's): its cache is not used
key=$XDG_CONFIG_HOME/chromavault/fingerprint.key
[ "$(stat -c %a "$key")" = 600 ] || fail "the key is not private: $(stat -c %a "$key")"
XDG_CONFIG_HOME=$T/xdg2 backup_edited 9
[ "$(field chunks_known)" -eq 0 ] || fail "a cache taken with another key was used"
# no place for a key: a warning, and every chunk hashed
XDG_CONFIG_HOME=$src/chroma.sqlite3 backup_edited 10
[ "$(field chunks_known)" -eq 0 ] || fail "chunks known without a key"
grep -q "warning: .*every chunk is hashed" "$T/backup.err" || fail "no warning without a key"
# a key file that is not a key: moved aside with a warning, and a new key
# made, which the next backup's cache is taken with
printf 'short' >"$key"
backup_edited 11
grep -q "warning: $key: not a fingerprint key.*: moved to $key.bad, and a new key made" \
	"$T/backup.err" || fail "a damaged key: $(cat "$T/backup.err")"
[ "$(stat -c %s "$key")" = 192 ] && [ "$(cat "$key.bad")" = short ] ||
	fail "the damaged key was not replaced"
backup_edited 12
[ "$(field chunks_known)" -gt $((pages / 2)) ] || fail "no chunks known with the new key"
[ ! -s "$T/backup.err" ] || fail "a warning with a good key: $(cat "$T/backup.err")"
# a filesystem without hard links: the key is renamed into place
if strace -f -o /dev/null true 2>/dev/null; then
	# LeakSanitizer cannot run under ptrace (the sanitizer build)
	expect_ok env XDG_CONFIG_HOME="$T/xdg3" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -o /dev/null -e trace=link \
		-e inject=link:error=EPERM "$CV" backup "$src" "$T/repo3"
	k3=$T/xdg3/chromavault/fingerprint.key
	[ "$(stat -c %s:%a "$k3")" = 192:600 ] || fail "no key made without links"
	[ "$(ls "$T/xdg3/chromavault")" = fingerprint.key ] ||
		fail "left beside the key: $(ls "$T/xdg3/chromavault")"
	! grep -q warning "$T/stderr" || fail "a warning: $(cat "$T/stderr")"
else
	echo "skipped: a filesystem without hard links (strace cannot trace here)"
fi
# a cache whose snapshot is gone goes with the next prune
cp "$R/cache/$(ls "$R/cache" | head -1)" "$R/cache/20000101T000000.000000Z-00000000.fp"
expect_ok "$CV" prune --keep-last 1 --dry-run "$R"
grep -q "would remove .*20000101T000000.000000Z-00000000.fp" "$T/stdout" ||
	fail "prune --dry-run did not name the stray cache"
expect_ok "$CV" prune --keep-last 1 "$R"
[ ! -e "$R/cache/20000101T000000.000000Z-00000000.fp" ] || fail "prune left a stray cache"
echo "chunks known by their fingerprint are hashed no more; every snapshot restores exactly"
