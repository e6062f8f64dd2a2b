# shellcheck shell=bash disable=SC2034  # (variables are for the sourcing test)
# Helpers for end-to-end tests, sourced by tests/e2e/tNNN-*.sh. A test passes
# with exit 0, is skipped with exit 77 (skip), fails otherwise (fail).
# Each test runs in its own temp dir $T with its own Chroma servers.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CV=${CV:-$ROOT/build/chromavault}
SERVERS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

cleanup() {
	local pid
	for pid in ${SERVERS[@]+"${SERVERS[@]}"}; do
		bash "$ROOT/tests/chroma-server.sh" stop "$pid" || true
	done
	SERVERS=()
	[ -n "${T:-}" ] && rm -rf "$T"
	return 0
}

# setup [--no-cv]: the temp dir $T, removed (servers stopped) on exit; the
# chromavault binary must be built unless --no-cv.
setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/cv-e2e.XXXXXX")
	export XDG_CONFIG_HOME=$T/xdg # backup's fingerprint key: the test's own
	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	[ "${1:-}" = --no-cv ] || [ -x "$CV" ] || fail "$CV is not built"
}

# Runs a command; its output goes to $T/stdout and $T/stderr.
expect_ok() {
	local rc=0
	"$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc from: $* -- $(head -c 2000 "$T/stderr")"
}

# expect_fail CODE CMD...: the command must exit with exactly CODE.
expect_fail() {
	local want=$1 rc=0
	shift
	"$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
	[ "$rc" -eq "$want" ] ||
		fail "expected exit $want, got $rc from: $* -- $(head -c 2000 "$T/stderr")"
}

test_cmp() { diff -u "$1" "$2" >&2 || fail "$1 and $2 differ"; }

# Hash of every file's relative path, mode and content below a directory.
tree_hash() { # a repository's write.lock (its last writer's pid) left out
	(cd "$1" && find . -type f ! -path ./write.lock -printf '%p %m\n' | LC_ALL=C sort &&
		find . -type f ! -path ./write.lock -print0 | LC_ALL=C sort -z |
		xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

# The real-world fixtures ($CV_FIXTURES or ../shared/fixtures/real-world);
# prints nothing when absent.
fixtures_dir() {
	local d=${CV_FIXTURES:-$ROOT/../shared/fixtures/real-world}
	[ -d "$d" ] && (cd "$d" && pwd)
	return 0
}

# writable_source DEST: a persist directory to change, a real-world one
# (movie-suggestion-sumanhiremath) when the fixtures are there, else the
# bundled sample.
writable_source() {
	local f
	f=$(fixtures_dir)
	if [ -n "$f" ]; then
		cp -r "$f/movie-suggestion-sumanhiremath/db" "$1"
	else
		cp -r "$ROOT/sample/chroma-data" "$1"
	fi
	chmod -R u+w "$1"
}

# edit_metadata DB N: rewrite every 40th string metadata value (rowid % 40
# == N) of chroma.sqlite3 DB in place, as Chroma's updates do, so pages
# change without moving.
edit_metadata() {
	python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE embedding_metadata SET string_value = string_value || ?"
               " WHERE rowid % 40 = ? AND string_value IS NOT NULL",
               (" (edit %s)" % sys.argv[2], int(sys.argv[2]))).rowcount
db.commit()
assert n > 0, "nothing to edit"
PY
}

# A loopback port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_chroma DIR: a real server persisting into DIR, its log in $T;
# sets CHROMA_PORT, CHROMA_PID, CHROMA_URL. Retries once if the port was taken.
start_chroma() {
	local _
	for _ in 1 2 3; do
		CHROMA_PORT=$(free_port)
		if CHROMA_PID=$(CHROMA_LOG="$T/chroma-$CHROMA_PORT.log" \
			bash "$ROOT/tests/chroma-server.sh" start "$1" "$CHROMA_PORT"); then
			SERVERS+=("$CHROMA_PID")
			CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
			return 0
		fi
		grep -q "is not available" "$T/chroma-$CHROMA_PORT.log" 2>/dev/null || break
	done
	fail "chroma server did not start"
}

# Stops the server start_chroma started last.
stop_chroma() {
	local pid keep=()
	bash "$ROOT/tests/chroma-server.sh" stop "$CHROMA_PID"
	for pid in ${SERVERS[@]+"${SERVERS[@]}"}; do
		[ "$pid" = "$CHROMA_PID" ] || keep+=("$pid")
	done
	SERVERS=(${keep[@]+"${keep[@]}"})
}
