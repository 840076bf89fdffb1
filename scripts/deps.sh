#!/bin/sh
# Installs the Debian packages ivy needs that are missing, and nothing when none are.
#   scripts/deps.sh build   what building and testing need
#   scripts/deps.sh bench   what the benchmarks compare against as well
set -eu
pkgs="gcc make pkg-config clang libclang-rt-14-dev llvm libcmocka-dev clang-format git
	libunicorn-dev libfdt-dev gcc-aarch64-linux-gnu python3"
[ "${1:-build}" = bench ] && pkgs="$pkgs qemu-system-arm"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
sudo=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install:$missing" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
