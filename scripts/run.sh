#!/usr/bin/env bash
# Installs what is missing, builds ewarn, and runs the platform on the embedded log.
# Extra arguments go to 'ewarn serve' (e.g. --duration 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${EWARN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)" --target ewarn
data=${EWARN_DATA:-./data}
exec "$build/app/ewarn" serve --data "$data" --metrics 127.0.0.1:9464 "$@"
