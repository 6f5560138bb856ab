#!/usr/bin/env bash
# Builds the SMS and JSON fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for
# SECONDS. Usage: ingest/fuzz/run.sh BUILD_DIR SECONDS [OUT_DIR]
# BUILD_DIR is a configured and built ewarn tree (for the generated protobuf sources).
# Exits non-zero on any crash, leak or sanitizer report. Longer by hand: run.sh build 3600.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${3:-$build/fuzz}
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$src/ingest/include" -I"$src/schemas/include" -I"$src/base/include" -I"$src/store/include"
       -I"$build/schemas")
common=("$src"/base/src/*.cc "$src/schemas/src/events.cc" "$build"/schemas/ewarn/v1/*.pb.cc)
libs=(-lprotobuf -lcrypto -lpthread)
# Shared code once, as objects, then the two targets (2 cores: keep the compile short).
objects=()
for f in "${common[@]}"; do
  o="$out/$(basename "$f").o"
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then
    clang++ "${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$f" -o "$o" &
  fi
  objects+=("$o")
  while [ "$(jobs -r | wc -l)" -ge 2 ]; do wait -n; done
done
wait
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_sms.cc" "$src/ingest/src/sms.cc" "${objects[@]}" "${libs[@]}" -o "$out/fuzz_sms" &
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_json.cc" "$src/ingest/src/json_input.cc" "${objects[@]}" "${libs[@]}" -o "$out/fuzz_json" &
wait %1 && wait %2
for target in sms json; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  cp -n "$src/ingest/fuzz/corpus/$target"/* "$corpus/" 2>/dev/null || true
  echo "fuzz_$target: ${seconds}s"
  "$out/fuzz_$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$out/crash-$target-" 2>&1 | tail -n 12
done
