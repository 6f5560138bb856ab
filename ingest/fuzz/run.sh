#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for SECONDS:
#   sms          the SMS parser
#   json         the JSON decoder
#   dead_letter  the dead-letter encoder (GET /v1/rejected)
#   http         the HTTP request path: Beast's parser, the router, ingest's routes and validation
#                down to a real embedded log and state store
# Usage: ingest/fuzz/run.sh BUILD_DIR SECONDS [OUT_DIR]
# BUILD_DIR is a configured and built ewarn tree (for the generated protobuf sources).
# Exits non-zero on any crash, leak or sanitizer report. Inputs up to 64 KiB. Longer by hand:
# run.sh build 3600.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${3:-$build/fuzz}
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$src/ingest/include" -I"$src/schemas/include" -I"$src/base/include" -I"$src/store/include"
       -I"$build/schemas")
object_flags=("${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}")
common=("$src"/base/src/*.cc "$src/schemas/src/events.cc" "$build"/schemas/ewarn/v1/*.pb.cc)
# The HTTP target runs the ingest library whole, on the embedded log and the state store.
node=("$src"/ingest/src/*.cc "$src/store/src/event_log.cc" "$src/store/src/embedded_log.cc"
      "$src/store/src/state_store.cc")
libs=(-lprotobuf -lcrypto -lpthread)
node_libs=(-lrocksdb -lprometheus-cpp-core -lssl)
# Each source once, as an object (2 cores: two compiles at a time, only what changed).
compile() {
  local o="$out/$2.o"
  if [ ! -f "$o" ] || [ "$1" -nt "$o" ] || [ -n "$(find "$src/ingest/include" "$src/base/include" -newer "$o" -name '*.h' | head -1)" ]; then
    clang++ "${object_flags[@]}" -c "$1" -o "$o" &
  fi
  while [ "$(jobs -r | wc -l)" -ge 2 ]; do wait -n; done
}
common_objects=()
for f in "${common[@]}"; do compile "$f" "$(basename "$f")"; common_objects+=("$out/$(basename "$f").o"); done
node_objects=()
for f in "${node[@]}"; do
  name="$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
  compile "$f" "$name"
  node_objects+=("$out/$name.o")
done
wait
obj() { echo "$out/ingest-$1.o"; }
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_sms.cc" "${node_objects[@]}" "${common_objects[@]}" "${node_libs[@]}" "${libs[@]}" -o "$out/fuzz_sms" &
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_json.cc" "${node_objects[@]}" "${common_objects[@]}" "${node_libs[@]}" "${libs[@]}" -o "$out/fuzz_json" &
wait %1 && wait %2
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_dead_letter.cc" "$(obj dead_letters.cc)" "${common_objects[@]}" "${libs[@]}" \
  -o "$out/fuzz_dead_letter" &
clang++ "${flags[@]}" "$src/ingest/fuzz/fuzz_http.cc" "${node_objects[@]}" "${common_objects[@]}" "${node_libs[@]}" "${libs[@]}" \
  -o "$out/fuzz_http" &
wait %1 && wait %2
for target in sms json dead_letter http; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  cp -n "$src/ingest/fuzz/corpus/$target"/* "$corpus/" 2>/dev/null || true
  echo "fuzz_$target: ${seconds}s"
  "$out/fuzz_$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/crash-$target-" 2>&1 | tail -n 12
done
