#!/usr/bin/env bash
# HTTP ingest benchmark: wrk posting small valid incidents to `ewarn serve --http` (every 202
# only after a durable append), and, in the same run with the same wrk settings, nginx serving
# a static 100-byte file: the ceiling. ewarn runs twice, each on a fresh data directory:
#   ingest tier   `serve --ingest-only`: HTTP + validation + durable append (what is compared
#                 with nginx; on Kafka this tier runs apart from the processors)
#   full node     `serve`: the same with the station and alert stages consuming every event in
#                 the same process, on the same 2 cores
# Usage: bench/http_bench.sh [BUILD_DIR] [SECONDS]
#   EWARN_PERF=1: perf record of the ingest tier for 5 s (/tmp/ewarn-perf.data)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
ewarn="$build/app/ewarn"
work=$(mktemp -d /tmp/ewarn-http-bench-XXXXXX)
chmod 755 "$work"  # nginx workers run as www-data
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1,000 stations in 50 districts.
{
  echo "station_id,name,region,district,ward,lat,lon,registered_voters"
  for i in $(seq 1 1000); do
    echo "B$i,Station $i,REGION$((i % 5)),DISTRICT$((i % 50)),WARD$((i % 200)),6.$((i % 90 + 10)),3.$((i % 90 + 10)),900"
  done
} > "$work/stations.csv"
stations=$(seq -s, -f 'B%g' 1 1000)
port_ewarn=18080
port_nginx=18081
port_metrics=18082
wrk_args=(-t2 -c64 -d"${seconds}s" --latency)

mkdir -p "$work/www"
head -c 100 /dev/zero | tr '\0' 'x' > "$work/www/static.txt"
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$port_nginx|g" "$src/bench/http/nginx.conf" > "$work/nginx.conf"
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port_nginx/static.txt" > /dev/null && break; sleep 0.1; done
echo "== nginx: static 100-byte file =="
wrk "${wrk_args[@]}" "http://127.0.0.1:$port_nginx/static.txt" | tee "$work/nginx.txt"
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=""

# CPU seconds of serve (all threads, user + system): relates its work to the requests served,
# less sensitive to a busy machine than requests/s.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$serve_pid/stat"; }

# run_ewarn NAME [serve flags...]: a fresh directory, serve, wrk, a summary in $work/NAME.summary
run_ewarn() {
  local name=$1
  shift
  local data="$work/$name"
  "$ewarn" import-stations --data "$data" "$work/stations.csv" > /dev/null
  local token
  token=$("$ewarn" token create --data "$data" --role monitor --name wrk | tail -1)
  "$ewarn" serve --data "$data" --http 127.0.0.1:$port_ewarn --rate 10000000 --partitions 8 \
    --metrics 127.0.0.1:$port_metrics "$@" > "$work/$name.serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port_ewarn/healthz" > /dev/null && break; sleep 0.1; done
  echo "== ewarn $name: POST /v1/incidents, durable =="
  if [ -n "${EWARN_PERF:-}" ] && [ "$name" = ingest-tier ]; then
    (perf record -F 999 -g -p "$serve_pid" -o /tmp/ewarn-perf.data -- sleep 5 > /dev/null 2>&1 &)
  fi
  local cpu_before cpu_after
  cpu_before=$(cpu_seconds)
  EWARN_TOKEN="$token" EWARN_STATIONS="$stations" \
    wrk "${wrk_args[@]}" -s "$src/bench/http/post_incident.lua" "http://127.0.0.1:$port_ewarn/v1/incidents" \
    | tee "$work/$name.txt"
  cpu_after=$(cpu_seconds)
  # Where the time goes: the mean durable append (a request's wait for its group's fsync) and
  # what the processors, in the same process, did with the events meanwhile.
  curl -s "http://127.0.0.1:$port_metrics/metrics" > "$work/$name.metrics" || true
  kill "$serve_pid"
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
  local rps p99 requests non2xx append_ms processed
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.txt")
  requests=$(awk '/requests in/ {print $1}' "$work/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/$name.txt")
  append_ms=$(awk '/^ewarn_log_append_seconds_sum/ {s=$2} /^ewarn_log_append_seconds_count/ {c=$2} END {if (c) printf "%.2f", 1000*s/c}' "$work/$name.metrics")
  processed=$(awk '/^ewarn_processors_records_total/ && /stage="in.events"/ && /outcome="processed"/ {print $2}' "$work/$name.metrics")
  printf '%s: %s req/s (%.2fx nginx), p99 %s, non-2xx %s; serve CPU %.0f us per request; mean durable append %s ms; events processed meanwhile %s\n' \
    "$name" "$rps" "$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN {print a / b}')" "$p99" "${non2xx:-0}" \
    "$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" 'BEGIN {print 1e6 * (b - a) / n}')" \
    "${append_ms:-?}" "${processed:-none (no stages)}" > "$work/$name.summary"
}

# The disk's sync latency now: every durable answer waits for one, so it bounds what 64
# connections can do (64 / latency), and on a shared disk it moves from run to run.
fsync_probe() {
  python3 - "$work/fsync.probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
took = []
for _ in range(200):
    os.write(fd, b"x" * 200)
    t = time.perf_counter()
    os.fdatasync(fd)
    took.append(time.perf_counter() - t)
took.sort()
print("%.2f" % (1000 * took[len(took) // 2]))
PY
}

nginx_rps=$(awk '/Requests\/sec/ {print $2}' "$work/nginx.txt")
fsync_before=$(fsync_probe)
run_ewarn ingest-tier --ingest-only
run_ewarn full-node
fsync_after=$(fsync_probe)
echo
echo "disk: fdatasync of a 200-byte append, median ${fsync_before} ms before and ${fsync_after} ms after the ewarn runs"
echo "nginx, static 100 B: ${nginx_rps} req/s, p99 $(awk '$1 == "99%" {print $2}' "$work/nginx.txt")"
cat "$work/ingest-tier.summary" "$work/full-node.summary"
