#!/usr/bin/env bash
# Builds bench/data/bench-N-DIM, a persist directory with one cosine collection
# "bench" of N records of DIM random floats, ~60-word documents and 4 metadata
# keys, written through the real Chroma server. Skips when it already exists.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000} dim=${2:-384}
dst=bench/data/bench-$n-$dim
[ -f "$dst/chroma.sqlite3" ] && { echo "$dst"; exit 0; }
tmp=$dst.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=$(CHROMA_LOG="$tmp.log" bash tests/chroma-server.sh start "$tmp" "$port")
trap 'bash tests/chroma-server.sh stop "$pid"' EXIT
python3 tests/gen/populate.py "http://127.0.0.1:$port" bench "$n" "$dim" >&2
bash tests/chroma-server.sh stop "$pid"
trap - EXIT
mv "$tmp" "$dst"
echo "$dst"
