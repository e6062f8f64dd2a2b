#!/usr/bin/env bash
# Backup benchmark (issue: full backup ≤ 1.0× `tar cf - DIR | zstd -T2 -3`,
# an incremental after +1% records stores ≤ 3% and takes ≤ 10% of the full,
# restore ≤ 1.2× `zstd -d | tar x`, lock ≤ 1 s, peak RSS ≤ 256 MiB); also a
# backup of the same directory again, unchanged.
# Appends the measurements to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000} dim=${2:-384} runs=${RUNS:-3}
cv=build/chromavault
data=$(bash bench/make-data.sh "$n" "$dim")
plus=$data-plus1pct
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ ! -f "$plus/chroma.sqlite3" ]; then # +1% records, flushed by Chroma
	rm -rf "$plus.tmp"
	cp -a "$data" "$plus.tmp"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	pid=$(CHROMA_LOG="$out/server.log" bash tests/chroma-server.sh start "$plus.tmp" "$port")
	python3 tests/gen/populate.py "http://127.0.0.1:$port" bench-more $((n / 100)) "$dim" "$n"
	bash tests/chroma-server.sh stop "$pid"
	mv "$plus.tmp" "$plus"
fi

best() { # best wall seconds of $runs runs of "$@"; sets BEST and BEST_RSS
	local i secs rss
	BEST= BEST_RSS=
	for i in $(seq "$runs"); do
		[ -n "${PRE:-}" ] && eval "$PRE"
		/usr/bin/time -f '%e %M' -o "$out/time" "$@" >"$out/last" 2>"$out/err"
		read -r secs rss <"$out/time"
		if [ -z "$BEST" ] || python3 -c "import sys; sys.exit(not $secs < $BEST)"; then
			BEST=$secs BEST_RSS=$rss
			cp "$out/last" "$out/best"
		fi
	done
}

best sh -c "tar cf - -C '$(dirname "$data")' '$(basename "$data")' | zstd -q -T2 -3 -o '$out/t.tar.zst' -f"
tar_secs=$BEST
PRE="rm -rf '$out/repo'" best "$cv" backup --json --source bench "$data" "$out/repo"
full_secs=$BEST full_rss=$BEST_RSS full_json=$(cat "$out/best")
PRE="rm -rf '$out/repo-i'; cp -a '$out/repo' '$out/repo-i'" \
	best "$cv" backup --json --source bench "$plus" "$out/repo-i"
incr_secs=$BEST incr_json=$(cat "$out/best")
PRE="rm -rf '$out/repo-u'; cp -a '$out/repo' '$out/repo-u'" \
	best "$cv" backup --json --source bench "$data" "$out/repo-u"
same_secs=$BEST same_json=$(cat "$out/best")
# the fingerprint cache is not backup data: measured on its own
repo_bytes=$(du -sb --exclude=cache "$out/repo" | cut -f1)
repo_i_bytes=$(du -sb --exclude=cache "$out/repo-i" | cut -f1)
cache_bytes=$(du -sb "$out/repo-i/cache" | cut -f1)
PRE="rm -rf '$out/x'; mkdir '$out/x'" best sh -c "zstd -q -d -c '$out/t.tar.zst' | tar xf - -C '$out/x'"
untar_secs=$BEST
PRE="rm -rf '$out/r'" best "$cv" restore "$out/repo" latest "$out/r"
restore_secs=$BEST restore_rss=$BEST_RSS
diff -r "$data" "$out/r" >/dev/null || { echo "restore differs" >&2; exit 1; }
# checking what is stored: every chunk of the full snapshot read and
# hashed, against zstd testing the tarball; then of both snapshots
best zstd -q -t "$out/t.tar.zst"
ztest_secs=$BEST
best "$cv" verify --read-data "$out/repo"
verify_secs=$BEST verify_rss=$BEST_RSS
best "$cv" verify --read-data "$out/repo-i"
verify2_secs=$BEST

python3 - "$n" "$dim" "$tar_secs" "$full_secs" "$full_rss" "$full_json" "$incr_secs" \
	"$incr_json" "$untar_secs" "$restore_secs" "$restore_rss" "$same_secs" "$same_json" \
	"$(du -sb "$data" | cut -f1)" "$(stat -c %s "$out/t.tar.zst")" \
	"$repo_bytes" "$repo_i_bytes" "$cache_bytes" "$ztest_secs" "$verify_secs" \
	"$verify_rss" "$verify2_secs" <<'PY' | tee -a bench/RESULTS.md
import json, os, sys, datetime
(n, dim, tar, full, full_rss, full_j, incr, incr_j, untar, rest, rest_rss,
 same, same_j, size, tarsize, repo_b, repo_i_b, cache_b, ztest, verify,
 verify_rss, verify2) = sys.argv[1:]
repo_b, repo_i_b = int(repo_b), int(repo_i_b)
f, i, u = json.loads(full_j), json.loads(incr_j), json.loads(same_j)
tar, full, incr, untar, rest, same, ztest, verify, verify2 = map(
    float, (tar, full, incr, untar, rest, same, ztest, verify, verify2))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\n### backup {n} × {dim} cosine ({int(size)/1e6:.0f} MB directory) — {datetime.date.today()}\n")
print(f"machine: {os.cpu_count()} × {cpu}; command: `bash bench/backup.sh {n} {dim}` (best of 3 each)\n")
print("| measurement | peer | chromavault | ratio | target |")
print("|---|---|---|---|---|")
print(f"| full backup, s | `tar cf - | zstd -T2 -3`: {tar:.2f} ({int(tarsize)/1e6:.0f} MB) | {full:.2f} ({f['bytes_stored']/1e6:.0f} MB stored, peak RSS {int(full_rss)/1024:.0f} MiB) | {full/tar:.2f}× | ≤ 1.0× |")
print(f"| incremental after +1% records and a flush: repository growth (`du -sb --exclude=cache`: packs, indexes, manifest) | {repo_b/1e6:.1f} MB (full) | {(repo_i_b-repo_b)/1e6:.2f} MB | {100*(repo_i_b-repo_b)/repo_b:.2f}% | ≤ 3% |")
print(f"| incremental: pack bytes (`bytes_stored`) | {f['bytes_stored']/1e6:.1f} MB (full) | {i['bytes_stored']/1e6:.2f} MB ({i['chunks_delta']} of {i['chunks_new']} new chunks as deltas) | {100*i['bytes_stored']/f['bytes_stored']:.2f}% | |")
print(f"| fingerprint cache (`cache/`: the last snapshot's of each source) | | {int(cache_b)/1e6:.1f} MB after the incremental ({i['chunks_known']} chunks known by it) | | |")
print(f"| incremental: time | {full:.2f} s (full) | {incr:.2f} s | {100*incr/full:.0f}% | ≤ 10% |")
print(f"| the same directory again, unchanged: time | {full:.2f} s (full) | {same:.2f} s ({u['files_unchanged']} of {u['files']} files taken from the last snapshot, {u['bytes_stored']} bytes stored) | {100*same/full:.0f}% | |")
print(f"| restore, s | `zstd -d | tar x`: {untar:.2f} | {rest:.2f} (peak RSS {int(rest_rss)/1024:.0f} MiB) | {rest/untar:.2f}× | ≤ 1.2× |")
print(f"| `verify --read-data`, s | `zstd -t` of the tarball: {ztest:.2f} | {verify:.2f} (peak RSS {int(verify_rss)/1024:.0f} MiB); with the incremental snapshot too: {verify2:.2f} | {verify/ztest:.2f}× | |")
print(f"| Chroma's writers held by the read lock | | full {f['lock_ms']:.0f} ms, incremental {i['lock_ms']:.0f} ms | | ≤ 1 s |")
PY
