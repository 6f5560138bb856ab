#!/usr/bin/env bash
# Installs ewarn's build, test and benchmark dependencies from Debian 12 packages.
# Only runs apt when something is missing, so repeated runs are quick.
set -euo pipefail

# What building the `ewarn` binary needs (the Docker image's build stage: scripts/deps.sh --build);
# CMake's configure step also finds GoogleTest and Google Benchmark.
build_packages=(
  g++ cmake ninja-build pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libboost1.81-dev prometheus-cpp-dev libssl-dev zlib1g-dev libgoogle-perftools-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjs-leaflet libjs-leaflet.markercluster
)
# What the tests and benchmarks run besides (tests/deploy_test.py: promtool from prometheus,
# docker-compose and python3-yaml; its ldd and dpkg -S are in every Debian).
test_packages=(
  kcat rocksdb-tools curl
  prometheus docker-compose python3-yaml
  kannel kannel-extras clang libclang-rt-14-dev wrk nginx-light
  python3-aiosmtpd libxml2-utils openssl
  chromium
)

build_only=false
case "${1:-}" in
  --build) build_only=true ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--build]   (--build: only what building ewarn needs)" >&2; exit 2 ;;
esac
packages=("${build_packages[@]}")
$build_only || packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ewarn: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

$build_only && exit 0

# The duty room's browser tests drive Debian's chromium with puppeteer-core from npm (web/
# package-lock.json); no browser is downloaded. Node.js and npm come from Debian when missing.
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi
web_dir="$(dirname "$0")/../web"
if [ ! -d "$web_dir/node_modules/puppeteer-core" ] || [ "$web_dir/package-lock.json" -nt "$web_dir/node_modules/.package-lock.json" ]; then
  (cd "$web_dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
