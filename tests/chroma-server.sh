#!/usr/bin/env bash
# The real Chroma server for tests and benchmarks: npm chromadb 3.5.0 (Chroma's
# Rust core 1.5.9), run through a private Debian 13 glibc where the system's
# is older than the 2.39 the binding needs. Installs into a cache, idempotently.
#   tests/chroma-server.sh install
#   tests/chroma-server.sh start DIR PORT   -> prints the server's PID when ready
#   tests/chroma-server.sh stop PID
# Env: CHROMAVAULT_CACHE (default ~/.cache/chromavault), CHROMA_LOG (server
# log), CHROMA_START_TIMEOUT (60 s), CHROMA_STOP_GRACE (3 s).
set -euo pipefail

CHROMA_NPM_VERSION=3.5.0
GLIBC_NEEDED=2.39
CACHE=${CHROMAVAULT_CACHE:-$HOME/.cache/chromavault}
PKG=$CACHE/chroma-$CHROMA_NPM_VERSION
GLIBC=$CACHE/glibc
CLI=$PKG/node_modules/chromadb/dist/cli.mjs

die() { echo "chroma-server: $*" >&2; exit 1; }

# npm chromadb into a temp dir, renamed into place once complete.
install_npm() {
	[ -f "$PKG/.complete" ] && return 0
	local tmp=$CACHE/tmp-npm.$$
	mkdir -p "$tmp"
	npm install --silent --no-audit --no-fund --no-update-notifier --prefix "$tmp" \
		"chromadb@$CHROMA_NPM_VERSION" >&2 || die "npm install chromadb@$CHROMA_NPM_VERSION failed"
	[ -f "$tmp/node_modules/chromadb/dist/cli.mjs" ] || die "npm installed no chromadb cli"
	touch "$tmp/.complete"
	rm -rf "$PKG"
	mv "$tmp" "$PKG"
}

glibc_version() { getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'; }

glibc_too_old() {
	local v
	v=$(glibc_version)
	[ -n "$v" ] || return 0
	[ "$(printf '%s\n%s\n' "$v" "$GLIBC_NEEDED" | sort -V | head -1)" != "$GLIBC_NEEDED" ]
}

# The Debian mirror apt already uses (not the security one).
debian_mirror() {
	local m
	m=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{print $2}' | grep -v security | head -1 || true)
	[ -n "$m" ] || m=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null |
		grep -v security | grep -oE 'https?://[^ ]+' | head -1 || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# Debian 13's libc6, libgcc-s1, libstdc++6, fetched with a private apt setup
# (the system's sources and lists are untouched) and unpacked into $GLIBC.
install_glibc() {
	[ -f "$GLIBC/.complete" ] && return 0
	local apt=$CACHE/apt tmp=$CACHE/tmp-glibc.$$ deb
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$tmp/debs" "$tmp/root"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main" \
		>"$apt/sources.list"
	local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o "APT::Get::List-Cleanup=0")
	[ "$(id -u)" -eq 0 ] && opts+=(-o "APT::Sandbox::User=root")
	apt-get "${opts[@]}" -qq update >&2 || die "apt-get update (trixie) failed"
	(cd "$tmp/debs" && apt-get "${opts[@]}" -qq download libc6 libgcc-s1 libstdc++6 >&2) ||
		die "apt-get download of trixie's libc6 libgcc-s1 libstdc++6 failed"
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	[ -x "$tmp/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] || die "no loader in trixie's libc6"
	touch "$tmp/root/.complete"
	rm -rf "$GLIBC"
	mv "$tmp/root" "$GLIBC"
	rm -rf "$tmp"
}

# Under an exclusive lock: concurrent tests install once, the others wait.
install() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.install.lock"
	flock 9
	rm -rf "$CACHE"/tmp-npm.* "$CACHE"/tmp-glibc.* # left by a killed install
	install_npm
	if glibc_too_old; then install_glibc; fi
	exec 9>&-
}

# The command that runs the CLI, one word per line.
server_cmd() {
	local node
	node=$(readlink -f "$(command -v node)")
	if glibc_too_old; then
		printf '%s\n' "$GLIBC/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path \
			"$GLIBC/usr/lib/x86_64-linux-gnu" "$node" "$CLI"
	else
		printf '%s\n' "$node" "$CLI"
	fi
}

start() {
	local dir=$1 port=$2 log pid cmd
	install
	mkdir -p "$dir"
	log=${CHROMA_LOG:-$dir/../chroma-server-$port.log}
	mkdir -p "$(dirname "$log")"
	: >"$log"
	mapfile -t cmd < <(server_cmd)
	# The Rust server has no anonymized telemetry; OpenTelemetry stays off
	# unless configured. The variables are for older servers.
	ANONYMIZED_TELEMETRY=False CHROMA_ANONYMIZED_TELEMETRY=False \
		setsid "${cmd[@]}" run --path "$dir" --host 127.0.0.1 --port "$port" \
		>"$log" 2>&1 </dev/null &
	pid=$!
	local deadline=$((SECONDS + ${CHROMA_START_TIMEOUT:-60}))
	while [ "$SECONDS" -lt "$deadline" ]; do
		# ready: our process bound the port (not another server on it) and answers
		if grep -q "listening on address" "$log" &&
			curl -fsS -m 2 "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null 2>&1; then
			echo "$pid"
			return 0
		fi
		alive "$pid" || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	echo "--- last lines of $log:" >&2
	tail -20 "$log" >&2
	die "server on port $port did not become ready"
}

# Running and not a zombie (an unreaped zombie is as good as gone).
alive() { [ -e "/proc/$1" ] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# The --port a server was started with, from its command line.
server_port() {
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -A1 -x -- --port | tail -1
}

# Whether any client is still connected to PORT (requests to drain).
has_connections() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$2 ~ p"$" && $4 == "01" { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# SIGTERM, then up to 3 s (CHROMA_STOP_GRACE) for in-flight requests, then
# SIGKILL. Chroma 1.5.9 stops serving on SIGTERM but never exits (it spins),
# so the grace ends early once no client is connected.
stop() {
	local pid=$1 port _ grace=${CHROMA_STOP_GRACE:-3}
	alive "$pid" || return 0
	port=$(server_port "$pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 $((grace * 10))); do
		alive "$pid" || return 0
		sleep 0.1
		[ -n "$port" ] && ! has_connections "$port" && break
	done
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		alive "$pid" || return 0
		sleep 0.05
	done
}

case "${1:-}" in
install) install ;;
start) [ $# -eq 3 ] || die "usage: start DIR PORT"; start "$2" "$3" ;;
stop) [ $# -eq 2 ] || die "usage: stop PID"; stop "$2" ;;
cmd) install; server_cmd ;;
*) die "usage: $0 install | start DIR PORT | stop PID" ;;
esac
