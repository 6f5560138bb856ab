#!/usr/bin/env bash
# Installs what is missing, builds ewarn, and runs the demo: the platform on the embedded log
# with the election-day simulator feeding it over its own HTTP API (README "Two commands").
# Extra arguments go to 'ewarn demo' (e.g. --stations 2000 --speed 120 --duration 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${EWARN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)" --target ewarn
# A fresh directory per run (the demo starts from an empty log); kept afterwards for
# `ewarn evaluate`, `ewarn replay` and `ewarn digest`.
data=${EWARN_DATA:-./data/demo-$(date +%Y%m%d-%H%M%S)}
exec "$build/app/ewarn" demo --data "$data" "$@"
