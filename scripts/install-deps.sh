#!/usr/bin/env bash
# Installs the Debian packages chromavault builds, tests and benchmarks with.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

pkgs=(
	build-essential pkg-config g++
	libsqlite3-dev libjansson-dev libzstd-dev libssl-dev libcurl4-openssl-dev
	libcmocka-dev libdragonbox-dev libxxhash-dev
	sqlite3 zstd jq curl ca-certificates python3
	clang libclang-rt-14-dev cppcheck clang-tidy
	debian-archive-keyring nginx-light openssl time strace
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# Node.js (with npm) runs the real Chroma server in the tests; the image may
# already carry a newer one than Debian's, which must not be replaced.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
