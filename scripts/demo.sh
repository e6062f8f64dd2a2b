#!/usr/bin/env bash
# `make demo`: inspect and export the bundled sample persist directory
# (sample/chroma-data, made with the real Chroma server by scripts/make-sample.sh).
set -euo pipefail
cv=${1:-build/chromavault}
src=sample/chroma-data
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "\$ chromavault inspect $src"
"$cv" inspect "$src"
echo
echo "\$ chromavault export file://$PWD/$src -o export.jsonl"
"$cv" export -v "file://$PWD/$src" -o "$out/export.jsonl"
echo
echo "first lines of export.jsonl (embeddings cut short):"
head -n 3 "$out/export.jsonl" | cut -c 1-300
