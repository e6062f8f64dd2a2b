#!/usr/bin/env bash
# Builds sample/chroma-data, the small persist directory `make demo` reads:
# written through the real Chroma server (tests/chroma-server.sh) by
# tests/gen/populate.py's "sample" scenario, then stopped and copied in place.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && bash tests/chroma-server.sh stop "$pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=$(CHROMA_LOG="$tmp/server.log" bash tests/chroma-server.sh start "$tmp/data" "$port")
python3 tests/gen/populate.py "http://127.0.0.1:$port" sample
bash tests/chroma-server.sh stop "$pid"
pid=
rm -rf sample/chroma-data
mkdir -p sample
cp -r "$tmp/data" sample/chroma-data
du -sh sample/chroma-data
