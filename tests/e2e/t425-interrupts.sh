#!/usr/bin/env bash
# Ctrl-C (SIGINT) or SIGTERM while a restore, a snapshot or a backup is under
# way removes its temporary folder, and a backup's pack being written,
# before the process ends. Each command is
# held mid-way by a FIFO where it reads (a pack, the database, the tar).
. "$(dirname "$0")/lib.sh"
setup

cp -r "$ROOT/sample/chroma-data" "$T/src"
chmod -R u+w "$T/src"
expect_ok "$CV" backup "$T/src" "$T/repo"

# wait_for PATTERN: a name in $T matching it appears (the command got there)
wait_for() {
	local i
	for i in $(seq 100); do
		ls "$T" | grep -q "$1" && return 0
		sleep 0.05
	done
	fail "nothing named $1 appeared"
}
# interrupt SIGNAL PID: the command dies of it
interrupt() {
	local rc=0
	kill -"$1" "$2"
	wait "$2" || rc=$?
	[ "$rc" -ge 128 ] || fail "SIGNAL $1: exit $rc"
}

# restore: blocked opening a pack that is a FIFO, its first file written.
# Job control on, so the background job does not ignore SIGINT as a
# script's do (an ignored SIGINT stays ignored)
cp -a "$T/repo" "$T/stalled-repo"
for p in "$T"/stalled-repo/packs/*.pack; do rm "$p" && mkfifo "$p"; done
set -m
"$CV" restore "$T/stalled-repo" latest "$T/target" 2>/dev/null &
pid=$!
set +m
wait_for '^target\.tmp\.'
interrupt INT "$pid"
ls "$T" | grep -q '^target' && fail "SIGINT left $(ls "$T" | grep '^target')"

# snapshot: blocked reading a database that is a FIFO (before any copy)
cp -a "$T/src" "$T/stalled-src"
rm "$T/stalled-src/chroma.sqlite3" && mkfifo "$T/stalled-src/chroma.sqlite3"
"$CV" snapshot "$T/stalled-src" "$T/copy" 2>/dev/null &
pid=$!
wait_for '^copy\.tmp\.'
interrupt TERM "$pid"
ls "$T" | grep -q '^copy' && fail "SIGTERM left $(ls "$T" | grep '^copy')"

# backup --from-tar: blocked reading the rest of the tar, a collection's
# folder extracted (the removal goes into folders)
(cd "$T/src" && tar -cf "$T/src.tar" $(ls -d */) chroma.sqlite3)
mkfifo "$T/tar.fifo"
set -m
"$CV" backup --from-tar "$T/tar.fifo" "$T/repo" 2>/dev/null &
pid=$!
set +m
exec 3>"$T/tar.fifo"
head -c 300000 "$T/src.tar" >&3
inner() { find "$T/repo" -path '*staging.tmp.*/*/*' -type f 2>/dev/null; }
for i in $(seq 100); do
	[ -n "$(inner)" ] && break
	sleep 0.05
done
[ -n "$(inner)" ] || fail "the backup extracted no collection's folder"
interrupt INT "$pid"
exec 3>&-
ls "$T/repo" | grep -q '^staging' && fail "SIGINT left $(ls "$T/repo" | grep '^staging')"
expect_ok "$CV" verify --read-data "$T/repo"

# backup: interrupted while a pack is being written (60 MB that does not
# compress take a while), the pack's temporary file goes too
cp -a "$T/src" "$T/big"
head -c 60000000 /dev/urandom >"$T/big/blob"
set -m
"$CV" backup "$T/big" "$T/repo" 2>/dev/null &
pid=$!
set +m
for i in $(seq 20000); do
	compgen -G "$T/repo/packs/*.tmp.*" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
done
compgen -G "$T/repo/packs/*.tmp.*" >/dev/null || fail "the backup wrote no pack to interrupt"
interrupt INT "$pid"
left=$(find "$T/repo" -name '*.tmp.*')
[ -z "$left" ] || fail "SIGINT left $left"
expect_ok "$CV" verify --read-data "$T/repo"
echo "interrupted runs leave no temporary file or folder"
