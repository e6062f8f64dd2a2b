#!/usr/bin/env bash
# Incremental backups: a database changed in place is stored as chunk-list
# patches and delta chunks against the previous snapshot; pruning that
# snapshot keeps the bases the kept one needs; every snapshot restores
# byte-identical, and the chain goes on from the kept one. Index files whose
# device, inode, size, mtime and ctime are what the previous snapshot
# recorded (once they had not changed for 3 s) are taken from it without
# being chunked and hashed again, and not even copied: the database and
# index folders whose files are all unchanged are left where they are. One
# changed in place with its size and mtime put back (only its ctime tells)
# is read again. What is to be copied is read into the page cache before the
# lock, and nothing else.
. "$(dirname "$0")/lib.sh"
setup

src=$T/src R=$T/repo
writable_source "$src"

# out of the page cache where the filesystem lets it go (not tmpfs)
evict() {
	sync
	python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "$@"
}
cached() { fincore -b -n -o RES "$1" 2>/dev/null | tr -d ' ' | grep . || echo unknown; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/stdout" "$1"; }
edit() { edit_metadata "$src/chroma.sqlite3" "$1"; }

expect_ok "$CV" backup --json "$src" "$R"
full=$(field bytes_stored)
[ "$(field chunks_delta)" -eq 0 ] || fail "a first backup has nothing to be a delta of"

edit 1
cp -r "$src" "$T/v2"
expect_ok "$CV" backup --json "$src" "$R"
[ "$(field chunks_delta)" -gt 0 ] || fail "changed pages were not stored as deltas"
[ "$(field bytes_stored)" -lt $((full / 4)) ] ||
	fail "incremental stored $(field bytes_stored) of a full $full"
snap2=$(field snapshot)
grep -q '"patch"' "$R/snapshots/$snap2.json" || fail "no chunk list was stored as a patch"

# the first snapshot holds the bases; prune it
expect_ok "$CV" prune --keep-last 1 "$R"
[ "$(ls "$R/snapshots" | wc -l)" -eq 1 ] || fail "prune kept more than one snapshot"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r2"
diff -r "$T/v2" "$T/r2" >&2 || fail "the kept snapshot differs after its base snapshot was pruned"

edit 2
expect_ok "$CV" backup --json "$src" "$R"
[ "$(field chunks_delta)" -gt 0 ] || fail "no deltas against the kept snapshot"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r3"
diff -r "$src" "$T/r3" >&2 || fail "the third snapshot differs"
expect_ok "$CV" restore "$R" "$snap2" "$T/r2b"
diff -r "$T/v2" "$T/r2b" >&2 || fail "the second snapshot differs"

# nothing changed: every file is taken from the previous snapshot, once one
# recorded them settled (their last change 3 s before its copy)
index_files=$(find "$src" -mindepth 2 -type f | wc -l)
[ "$index_files" -gt 0 ] || fail "no index files to test with"
touch -c "$src/chroma.sqlite3" "$src"/*/* # changed just now: not settled
expect_ok "$CV" backup --json "$src" "$R"
expect_ok "$CV" backup --json "$src" "$R"
[ "$(field files_unchanged)" -eq 0 ] ||
	fail "files changed just before the last backup were taken from the snapshot before"
sleep 3.5
expect_ok "$CV" backup --json "$src" "$R"
evict "$src/chroma.sqlite3" "$src"/*/*
expect_ok "$CV" backup --json "$src" "$R"
[ "$(field bytes_paged_in)" -eq 0 ] ||
	fail "$(field bytes_paged_in) bytes of unchanged files read into the page cache"
[ "$(field files_unchanged)" -eq $((index_files + 1)) ] ||
	fail "$(field files_unchanged) of $((index_files + 1)) files taken as unchanged"
[ "$(field bytes_new)" -eq 0 ] || fail "an unchanged directory stored $(field bytes_new) bytes"
[ "$(field bytes_read)" -eq 0 ] || fail "an unchanged directory was copied ($(field bytes_read) bytes)"
# the database changed, no index folder: only the database is copied
edit 3
evict "$src/chroma.sqlite3"
db_cached=$(cached "$src/chroma.sqlite3")
expect_ok "$CV" backup --json "$src" "$R"
if [ "$db_cached" = 0 ]; then
	[ "$(field bytes_paged_in)" -gt "$(($(stat -c %s "$src/chroma.sqlite3") / 2))" ] ||
		fail "the database out of the page cache: $(field bytes_paged_in) bytes read in before the lock"
else
	echo "the page cache keeps the database ($db_cached bytes): its read before the lock not checked"
fi
[ "$(field files_unchanged)" -eq "$index_files" ] ||
	fail "$(field files_unchanged) of $index_files index files taken as unchanged"
[ "$(field bytes_read)" -eq "$(stat -c %s "$src/chroma.sqlite3")" ] ||
	fail "$(field bytes_read) bytes copied where only the database changed"
expect_ok "$CV" restore "$R" latest "$T/r3b"
diff -r "$src" "$T/r3b" >&2 || fail "the snapshot of a changed database differs"
# one changed in place, its size and mtime as they were
victim=$(find "$src" -mindepth 2 -type f -name data_level0.bin | head -1)
python3 - "$victim" <<'PY'
import os, sys
st = os.stat(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    f.seek(st.st_size // 2)
    b = f.read(1)
    f.seek(st.st_size // 2)
    f.write(bytes([b[0] ^ 0xff]))
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))
assert os.stat(sys.argv[1]).st_mtime_ns == st.st_mtime_ns
PY
expect_ok "$CV" backup --json "$src" "$R"
[ "$(field files_unchanged)" -eq $((index_files - 1)) ] ||
	fail "the file changed in place was not read again ($(field files_unchanged) unchanged)"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/r4"
diff -r "$src" "$T/r4" >&2 || fail "the snapshot after an in-place change differs"
echo "incremental snapshots restore exactly; unchanged files are neither copied nor chunked again"
