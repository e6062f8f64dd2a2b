#!/usr/bin/env bash
# Remote benchmarks (issue: import ≥ 1.5× the JS client adding batches of
# 1,000 one after another, export over HTTP ≥ 2× its paged get; peak RSS
# ≤ 128 MiB), against the same real server in one run. Appends to
# bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cv=build/chromavault
data=$(bash bench/make-data.sh 100000 384)
cache=${CHROMAVAULT_CACHE:-$HOME/.cache/chromavault}/chroma-3.5.0
out=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && bash tests/chroma-server.sh stop "$pid"; rm -rf "$out"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# export 100,000 x 384 through the server
cp -r "$data" "$out/srv"
pid=$(CHROMA_LOG="$out/server.log" bash tests/chroma-server.sh start "$out/srv" "$port")
node bench/js-export.mjs "$cache" "$url" bench "$out/js.jsonl" >/dev/null # warm-up
node bench/js-export.mjs "$cache" "$url" bench "$out/js.jsonl" >"$out/js-export.json"
/usr/bin/time -f '%e %M' -o "$out/t" "$cv" export "$url/bench" -o "$out/cv.jsonl"
read -r cv_export cv_export_rss <"$out/t"
bash tests/chroma-server.sh stop "$pid"
pid=

# import 20,000 x 384 (cosine, as exported): each tool into a fresh server of
# its own, whose CPU time is then the cost of that import alone
head -n 20000 "$out/cv.jsonl" >"$out/in.jsonl"
pid=$(CHROMA_LOG="$out/server2.log" bash tests/chroma-server.sh start "$out/srv2" "$port")
node bench/js-import.mjs "$cache" "$url" js-import "$out/in.jsonl" cosine >"$out/js-import.json"
srv_js=$(ps -o times= -p "$pid" | tr -d ' ')
bash tests/chroma-server.sh stop "$pid"
pid=$(CHROMA_LOG="$out/server3.log" bash tests/chroma-server.sh start "$out/srv3" "$port")
/usr/bin/time -f '%e %M %U %S' -o "$out/t" "$cv" import "$url/cv-import" -i "$out/in.jsonl" \
	--create --space cosine >/dev/null
read -r cv_import cv_import_rss cv_user cv_sys <"$out/t"
srv_cv=$(ps -o times= -p "$pid" | tr -d ' ')

python3 - "$out/js-export.json" "$cv_export" "$cv_export_rss" "$out/js-import.json" \
	"$cv_import" "$cv_import_rss" "$cv_user" "$cv_sys" "$srv_js" "$srv_cv" <<'PY' | tee -a bench/RESULTS.md
import json, os, sys, datetime
je = json.load(open(sys.argv[1])); ji = json.load(open(sys.argv[4]))
ce, ce_rss, ci, ci_rss, cu, cs = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
srv_js, srv_cv = sys.argv[9], sys.argv[10]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\n### remote: export 100000 × 384 and import 20000 × 384 over HTTP — {datetime.date.today()}\n")
print(f"machine: {os.cpu_count()} × {cpu}; command: `bash bench/http.sh`\n")
print("| measurement | JS client | chromavault | ratio | target |")
print("|---|---|---|---|---|")
print(f"| export through the server, s | {je['seconds']:.2f} | {ce:.2f} (peak RSS {ce_rss/1024:.0f} MiB) | {je['seconds']/ce:.1f}× | ≥ 2× |")
print(f"| import, s | {ji['seconds']:.2f} ({ji['records']/ji['seconds']:.0f} records/s) | {ci:.2f} ({20000/ci:.0f} records/s; peak RSS {ci_rss/1024:.0f} MiB) | {ji['seconds']/ci:.1f}× | ≥ 1.5× |")
print(f"\nimport CPU: chromavault {cu + cs:.2f} s (user {cu:.2f}, sys {cs:.2f}), its server {srv_cv} s (with its start); the JS client's server {srv_js} s.")
PY
