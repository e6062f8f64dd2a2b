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
	for pid in "${SERVERS[@]}"; do
		bash "$ROOT/tests/chroma-server.sh" stop "$pid" || true
	done
	[ -n "${T:-}" ] && rm -rf "$T"
}

setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/cv-e2e.XXXXXX")
	trap cleanup EXIT
	[ -x "$CV" ] || fail "$CV is not built"
}

# Runs a command; its output goes to $T/stdout and $T/stderr.
expect_ok() {
	"$@" >"$T/stdout" 2>"$T/stderr" ||
		fail "exit $? from: $* -- $(head -c 2000 "$T/stderr")"
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

# Hash of every file's path, mode and content below a directory.
tree_hash() {
	(cd "$1" && find . -type f -printf '%p %m\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

fixtures_dir() {
	local d=${CV_FIXTURES:-$ROOT/../shared/fixtures/real-world}
	[ -d "$d" ] && (cd "$d" && pwd)
	return 0
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_chroma DIR: a real server persisting into DIR; sets CHROMA_URL/PID.
start_chroma() {
	CHROMA_PORT=$(free_port)
	CHROMA_PID=$(CHROMA_LOG="$T/chroma-$CHROMA_PORT.log" \
		bash "$ROOT/tests/chroma-server.sh" start "$1" "$CHROMA_PORT") ||
		fail "chroma server did not start"
	SERVERS+=("$CHROMA_PID")
	CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
}

stop_chroma() {
	bash "$ROOT/tests/chroma-server.sh" stop "$CHROMA_PID"
}
