#!/usr/bin/env bash
# `make bench`: every benchmark on the 100,000 × 384 data set, each against
# its peer in the same run; each appends its results to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/export.sh 100000 384
bash bench/backup.sh 100000 384
bash bench/http.sh
