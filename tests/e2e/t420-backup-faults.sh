#!/usr/bin/env bash
# Repository faults: a flipped byte in a pack and a missing pack are named by
# verify --read-data (with every snapshot that needs the chunk) and by
# restore (which leaves no target behind), and a backup refuses to build on
# a missing pack; a backup killed at any moment
# leaves a repository that verifies, and the next backup works; an
# unreadable manifest is named and stops only prune; a full disk gives a
# clear error and changes nothing.
. "$(dirname "$0")/lib.sh"
setup

# real-world directories where the fixtures are; else the bundled sample,
# and a changed copy of it carrying 6 MB that does not compress
F=$(fixtures_dir)
if [ -n "$F" ]; then
	src="$F/yes-chef-4096/db" other="$F/movie-suggestion-sumanhiremath/db"
	small="$F/todo-davmateo/db" big="$F/yes-chef-4096/db"
else
	src="$T/sample" other="$T/other" small="$T/sample" big="$T/other"
	cp -r "$ROOT/sample/chroma-data" "$src"
	cp -r "$ROOT/sample/chroma-data" "$other"
	chmod -R u+w "$src" "$other"
	python3 - "$other/chroma.sqlite3" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE embedding_metadata SET string_value = string_value || '!'")
c.commit()
PY
	head -c 6000000 /dev/urandom >"$other/notes.bin"
fi
R="$T/repo"
expect_ok "$CV" backup "$src" "$R"
expect_ok "$CV" backup "$src" "$R" # a second snapshot, of the same chunks
expect_ok "$CV" verify --read-data "$R"
pack=$(ls "$R"/packs/*.pack | head -1)
every_snapshot_named() {
	local s
	for s in $(ls "$R/snapshots" | sed 's/\.json$//'); do
		grep -q "^snapshot $s: " "$T/stdout" ||
			fail "verify does not name snapshot $s: $(cat "$T/stdout")"
	done
}

# a flipped byte inside the pack
cp "$pack" "$T/pack.orig"
size=$(stat -c %s "$pack")
printf '\xff' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail 3 "$CV" verify --read-data "$R"
grep -q "^snapshot .*: chroma.sqlite3 at offset [0-9]*: .*$(basename "$pack")" "$T/stdout" ||
	fail "verify does not name snapshot, file, offset and pack: $(head -3 "$T/stdout")"
every_snapshot_named
expect_fail 3 "$CV" restore "$R" latest "$T/out"
grep -q "at offset" "$T/stderr" || fail "restore does not name the offset"
[ ! -e "$T/out" ] || fail "failed restore left a target"
ls "$T" | grep -q 'out.tmp' && fail "failed restore left its temp folder"
cp "$T/pack.orig" "$pack"
expect_ok "$CV" verify --read-data "$R"

# flipped bytes that still decompress, into the wrong content: bytes that
# do not compress are stored as they are, so they can be found in the pack
# and changed (in the chunks at 0 and 196608, of 64 KiB each); restore finds
# the file's hash wrong and names the first chunk, verify names both
# flip_noise REPO: a bit flipped in REPO's packs where they hold
# $T/raw/noise.bin's bytes at 20000 and at 200000 as they are
flip_noise() {
	python3 - "$T/raw/noise.bin" "$1"/packs/*.pack <<'PY' || fail "noise not found in a pack"
import sys
noise = open(sys.argv[1], "rb").read()
left = [noise[20000:20064], noise[200000:200064]]
for pack in sys.argv[2:]:
    data = bytearray(open(pack, "rb").read())
    for want in list(left):
        at = data.find(want)
        if at >= 0:
            data[at + 10] ^= 0x01
            left.remove(want)
    open(pack, "wb").write(data)
sys.exit(1 if left else 0)
PY
}
mkdir "$T/raw"
cp -r "$ROOT/sample/chroma-data/." "$T/raw/"
chmod -R u+w "$T/raw"
head -c 300000 /dev/urandom >"$T/raw/noise.bin"
expect_ok "$CV" backup "$T/raw" "$T/raw-repo"
flip_noise "$T/raw-repo"
expect_fail 3 "$CV" restore "$T/raw-repo" latest "$T/raw-out"
grep -q "noise.bin at offset [0-9]*: chunk [0-9a-f]*: .*pack: offset [0-9]*: wrong content" \
	"$T/stderr" || fail "restore does not name the damaged chunk: $(cat "$T/stderr")"
[ ! -e "$T/raw-out" ] || fail "failed restore left a target"
ls "$T" | grep -q 'raw-out.tmp' && fail "failed restore left its temp folder"
grep -q "noise.bin at offset 0: chunk" "$T/stderr" ||
	fail "restore does not name the first damaged chunk: $(cat "$T/stderr")"
expect_fail 3 "$CV" verify --read-data "$T/raw-repo"
for off in 0 196608; do
	grep -q "noise.bin at offset $off: .*wrong content" "$T/stdout" ||
		fail "verify does not name the damaged chunk at $off: $(cat "$T/stdout")"
done
grep -q ": 2 problems$" "$T/stdout" || fail "verify: $(cat "$T/stdout")"
# ... a chunk two snapshots share, and one only the second has: the second
# snapshot's file, which holds a chunk named under the first, still has its
# own damaged chunk named
expect_ok "$CV" backup "$T/raw" "$T/raw2"
head -c 100000 /dev/urandom | dd of="$T/raw/noise.bin" bs=1 seek=200000 conv=notrunc status=none
expect_ok "$CV" backup "$T/raw" "$T/raw2"
flip_noise "$T/raw2"
expect_fail 3 "$CV" verify --read-data "$T/raw2"
s1=$(ls "$T/raw2/snapshots" | sed -n 1p | sed 's/\.json$//')
s2=$(ls "$T/raw2/snapshots" | sed -n 2p | sed 's/\.json$//')
grep -q "^snapshot $s1: noise.bin at offset 0: .*wrong content" "$T/stdout" &&
	grep -q "^snapshot $s2: noise.bin at offset 196608: .*wrong content" "$T/stdout" &&
	grep -q "^snapshot $s2: 1 chunk reported above, the first in noise.bin at offset 0$" \
		"$T/stdout" && grep -q ": 3 problems$" "$T/stdout" ||
	fail "verify, a file with a chunk named before: $(cat "$T/stdout")"

# a missing pack
mv "$pack" "$T/pack.away"
expect_fail 3 "$CV" verify "$R"
grep -q "$(basename "$pack"): missing" "$T/stdout" || fail "missing pack not named"
expect_fail 3 "$CV" verify --read-data "$R"
every_snapshot_named
expect_fail 3 "$CV" restore "$R" latest "$T/out"
[ ! -e "$T/out" ] || fail "failed restore left a target"
# no backup on top of it: it would trust the index of a pack that is gone
before=$(tree_hash "$R")
expect_fail 3 "$CV" backup "$other" "$R"
grep -q "$(basename "$pack"): missing, though its index is there: no backup made" \
	"$T/stderr" || fail "backup beside a missing pack: $(cat "$T/stderr")"
[ "$(tree_hash "$R")" = "$before" ] || fail "a refused backup changed the repository"
mv "$T/pack.away" "$pack"

# kill -9 at different moments of a backup
for delay in 0.002 0.005 0.01 0.02 0.04 0.08; do
	(timeout -s KILL "$delay" "$CV" backup "$other" "$R" \
		>/dev/null 2>&1) 2>/dev/null || true
	expect_ok "$CV" verify "$R"
done
expect_ok "$CV" backup "$other" "$R"
expect_ok "$CV" verify --read-data "$R"
expect_ok "$CV" restore "$R" latest "$T/after-kill"
diff -r "$other" "$T/after-kill" >&2 || fail "restore after kills"

# two backups creating one repository at once: both land, one after the other
for i in 1 2 3 4 5; do
	rm -rf "$T/race"
	"$CV" backup "$src" "$T/race" >/dev/null 2>"$T/race1.err" &
	a=$!
	"$CV" backup "$src" "$T/race" >/dev/null 2>"$T/race2.err" &
	b=$!
	wait "$a" || fail "concurrent creation: $(cat "$T/race1.err")"
	wait "$b" || fail "concurrent creation: $(cat "$T/race2.err")"
	[ "$(ls "$T/race/snapshots" | wc -l)" -eq 2 ] || fail "a snapshot is missing"
done
expect_ok "$CV" verify --read-data "$T/race"

# an unreadable manifest: the other snapshots are still listed, prune
# refuses (its snapshot's chunks are unknown), every command names the file
cp -a "$R" "$T/r-bad"
bad=$(ls "$T/r-bad/snapshots/"*.json | head -1)
printf '{"format":' >"$bad"
expect_fail 3 "$CV" snapshots "$T/r-bad"
[ "$(wc -l <"$T/stdout")" -eq $(($(ls "$T/r-bad/snapshots" | wc -l) - 1)) ] ||
	fail "the readable snapshots are not all listed: $(cat "$T/stdout")"
grep -qF "$bad" "$T/stderr" || fail "snapshots: file not named: $(cat "$T/stderr")"
expect_fail 3 "$CV" prune "$T/r-bad" --keep-last 1
grep -qF "nothing pruned" "$T/stderr" && grep -qF "$bad" "$T/stderr" ||
	fail "prune: $(cat "$T/stderr")"
expect_fail 3 "$CV" verify "$T/r-bad"
grep -qF "$bad" "$T/stdout" || fail "verify: file not named: $(cat "$T/stdout")"

# a mistyped source: no repository is made for it, nothing left in a folder
expect_fail 2 "$CV" backup "$T/no-such-dir" "$T/new-repo"
[ ! -e "$T/new-repo" ] || fail "a repository was made for a missing source"
mkdir "$T/empty-repo"
expect_fail 2 "$CV" backup "$T/no-such-dir" "$T/empty-repo"
[ -z "$(ls -A "$T/empty-repo")" ] || fail "files were left in an empty folder"

# restore targets as users type them: a trailing slash, a link to a folder
# (filled, the link kept), ".", and a folder that does not exist
mkdir "$T/t1" "$T/real" "$T/t3"
ln -s real "$T/link"
expect_ok "$CV" restore "$R" latest "$T/t1/"
expect_ok "$CV" restore "$R" latest "$T/link"
[ -L "$T/link" ] || fail "restore replaced the link"
(cd "$T/t3" && "$CV" restore "$R" latest . >/dev/null) || fail "restore into ."
for d in t1 real t3; do
	diff -r "$other" "$T/$d" >&2 || fail "restore into $d differs"
done
expect_fail 2 "$CV" restore "$R" latest "$T/no/such"
grep -q "no/such: the folder to hold it does not exist" "$T/stderr" || fail "$(cat "$T/stderr")"

# a full disk: a 4 MiB filesystem for a backup of 5.6 MB or more
mkdir -p "$T/small"
if mount -t tmpfs -o size=4m tmpfs "$T/small" 2>/dev/null; then
	trap 'umount "$T/small" 2>/dev/null; cleanup' EXIT
	expect_ok "$CV" backup "$small" "$T/small/repo"
	before=$(tree_hash "$T/small/repo")
	expect_fail 2 "$CV" backup "$big" "$T/small/repo"
	grep -q "No space left on device" "$T/stderr" || fail "no clear disk-full error: $(cat "$T/stderr")"
	[ "$(tree_hash "$T/small/repo")" = "$before" ] || fail "a failed backup changed the repository"
	expect_ok "$CV" verify --read-data "$T/small/repo"
	umount "$T/small"
else
	echo "disk-full case skipped: cannot mount a small tmpfs here"
fi
echo "faults handled"
