#!/usr/bin/env bash
# HTTP ingest benchmark: wrk posting small valid incidents to `ewarn serve --http` (every 202
# only after a durable append), and, in the same run with the same wrk settings, nginx serving
# a static 100-byte file: the ceiling. Usage: bench/http_bench.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
ewarn="$build/app/ewarn"
work=$(mktemp -d /tmp/ewarn-http-bench-XXXXXX)
chmod 755 "$work"  # nginx workers run as www-data
cleanup() {
  [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null || true
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
"$ewarn" import-stations --data "$work/data" "$work/stations.csv" > /dev/null
token=$("$ewarn" token create --data "$work/data" --role monitor --name wrk | tail -1)
stations=$(seq -s, -f 'B%g' 1 1000)

port_ewarn=18080
port_nginx=18081
port_metrics=18082
"$ewarn" serve --data "$work/data" --http 127.0.0.1:$port_ewarn --rate 10000000 --partitions 8 ${EWARN_SERVE_FLAGS:-} \
  --metrics 127.0.0.1:$port_metrics > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port_ewarn/healthz" > /dev/null && break; sleep 0.1; done

mkdir -p "$work/www"
head -c 100 /dev/zero | tr '\0' 'x' > "$work/www/static.txt"
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$port_nginx|g" "$src/bench/http/nginx.conf" > "$work/nginx.conf"
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port_nginx/static.txt" > /dev/null && break; sleep 0.1; done

wrk_args=(-t2 -c64 -d"${seconds}s" --latency)
echo "== nginx: static 100-byte file =="
wrk "${wrk_args[@]}" "http://127.0.0.1:$port_nginx/static.txt" | tee "$work/nginx.txt"
echo "== ewarn: POST /v1/incidents, durable =="
[ -n "${EWARN_PERF:-}" ] && (perf record -F 999 ${EWARN_PERF_CALLGRAPH:--g} -p "$serve_pid" -o /tmp/ewarn-perf.data -- sleep 5 > /dev/null 2>&1 &)
# CPU seconds serve spends (all its threads, user + system), to relate to the requests served:
# less sensitive to a busy machine than requests/s.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$serve_pid/stat"; }
cpu_before=$(cpu_seconds)
EWARN_TOKEN="$token" EWARN_STATIONS="$stations" \
  wrk "${wrk_args[@]}" -s "$src/bench/http/post_incident.lua" "http://127.0.0.1:$port_ewarn/v1/incidents" | tee "$work/ewarn.txt"
cpu_after=$(cpu_seconds)

nginx_rps=$(awk '/Requests\/sec/ {print $2}' "$work/nginx.txt")
ewarn_rps=$(awk '/Requests\/sec/ {print $2}' "$work/ewarn.txt")
ewarn_p99=$(awk '$1 == "99%" {print $2}' "$work/ewarn.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/ewarn.txt")
# Where the time goes: the mean durable append (a request's wait for its group's fsync) and
# what the processors, running in the same process, did with the events meanwhile.
curl -s "http://127.0.0.1:$port_metrics/metrics" > "$work/metrics.txt" || true
append_ms=$(awk '/^ewarn_log_append_seconds_sum/ {s=$2} /^ewarn_log_append_seconds_count/ {c=$2} END {if (c) printf "%.2f", 1000*s/c}' "$work/metrics.txt")
processed=$(awk '/^ewarn_processors_records_total/ && /stage="in.events"/ && /outcome="processed"/ {print $2}' "$work/metrics.txt")
skipped=$(awk '/^ewarn_processors_records_total/ && /stage="in.events"/ && /outcome="skipped"/ {print $2}' "$work/metrics.txt")
echo
echo "nginx ${nginx_rps} req/s; ewarn ${ewarn_rps} req/s (ratio $(awk -v a="$ewarn_rps" -v b="$nginx_rps" 'BEGIN {printf "%.2f", a / b}')), ewarn p99 ${ewarn_p99}, non-2xx: ${non2xx:-0}"
requests=$(awk '/requests in/ {print $1}' "$work/ewarn.txt")
echo "serve CPU: $(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" 'BEGIN {printf "%.1f s for %d requests = %.0f us per request", b - a, n, 1e6 * (b - a) / n}')"
echo "mean durable append (every log append in serve) ${append_ms:-?} ms; processors meanwhile: ${processed:-?} events processed, ${skipped:-?} skipped"
