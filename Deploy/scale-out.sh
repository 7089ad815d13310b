#!/usr/bin/env bash
# Scale-out (issue 20, item 9), FIRST DRAFT: three karokar-server instances on one PostgreSQL,
# behind HAProxy in TCP mode with /readyz health checks (Deploy/haproxy/karokar.cfg's settings),
# and karokar-bench through HAProxy:
#   1. Echo throughput through HAProxy with one, two and three instances, and directly against one
#      (HAProxy's own overhead);
#   2. a rolling restart of all three, one at a time (SIGTERM, wait for the exit, start again,
#      wait for /readyz), under load: the report's statuses must be all OK;
#   3. kill -9 of one instance under load: the failed calls, and the throughput afterwards.
# Not yet in CI, and not yet checking the no-double-booking and idempotency guarantees across
# instances (issue 20 remains). Uses `haproxy` from PATH, or HAPROXY=/path/to/haproxy.
# First run (2026-12-05, LOADED 2-core machine shared with four other builds, release, 3 s per
# figure): direct 538k calls/s; HAProxy with 1/2/3 instances 340k/399k/412k (all on the same two
# cores); rolling restart 32 CONNECTION_LOST of 4.48M calls (karokar-bench does not yet retry the
# calls a DRAIN or a closed connection left unstarted: the goal of 0 is not met); kill -9 16
# CONNECTION_LOST (the calls in flight on the killed instance).
#   bash Deploy/scale-out.sh                      # release binaries; DURATION=10s per measurement
#   BENCH_BIN=.build/debug DURATION=5s bash Deploy/scale-out.sh    # a functional run
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-10s}" concurrency="${CONCURRENCY:-64}" connections="${CONNECTIONS:-4}"
haproxy="${HAPROXY:-$(command -v haproxy || true)}"
[ -n "$haproxy" ] || { echo "haproxy is not installed (apt-get install haproxy, or HAPROXY=...)" >&2; exit 1; }
if [ -n "${BENCH_BIN:-}" ]; then
  bin="$(cd "$BENCH_BIN" && pwd)"
else
  swift build -c release --product karokar-server >/dev/null
  swift build -c release --product karokar-bench >/dev/null
  bin="$(swift build -c release --show-bin-path)"
fi
source Deploy/bench/cluster.sh
"$PGBIN/createdb" karokar
database="$(conninfo karokar)"
base=$((20000 + RANDOM % 20000))
lb_port=$base
declare -A pids
haproxy_pid=""
cleanup() {
  for pid in "${pids[@]}" $haproxy_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_cluster
}
trap cleanup EXIT

rpc_port() { echo $((base + $1)); }
admin_port() { echo $((base + 10 + $1)); }
start_server() {  # N
  env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="scale-out passphrase 1234" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@scale.local \
    KAROKAR_LOG_LEVEL=notice KAROKAR_DRAIN_DELAY_MS=2500 KAROKAR_HEALTH_CHECK_INTERVAL_MS=500 \
    "$bin/karokar-server" --port "$(rpc_port "$1")" --admin-port "$(admin_port "$1")" --database-url "$database" \
    --set data-dir="$bench_dir/server$1" >>"$bench_dir/server$1.log" 2>&1 &
  pids[$1]=$!
}
ready() { curl -sf "http://127.0.0.1:$(admin_port "$1")/readyz" >/dev/null 2>&1; }
wait_ready() {
  for _ in $(seq 1 300); do ready "$1" && return 0; sleep 0.1; done
  echo "server $1 did not become ready" >&2; cat "$bench_dir/server$1.log" >&2; exit 1
}
start_haproxy() {  # the instances to balance over, e.g. "1 2 3"
  [ -n "$haproxy_pid" ] && { kill "$haproxy_pid" 2>/dev/null || true; wait "$haproxy_pid" 2>/dev/null || true; }
  {
    echo "global"; echo "    maxconn 4000"
    echo "defaults"; echo "    mode tcp"; echo "    timeout connect 2s"; echo "    timeout client 330s"
    echo "    timeout server 330s"; echo "    timeout check 2s"
    echo "frontend karokar_rpc"; echo "    bind 127.0.0.1:$lb_port"; echo "    default_backend karokar_servers"
    echo "backend karokar_servers"; echo "    balance leastconn"; echo "    option httpchk"
    echo "    http-check send meth GET uri /readyz"; echo "    http-check expect status 200"
    echo "    default-server check inter 500ms fall 2 rise 2"
    for n in $1; do echo "    server karokar$n 127.0.0.1:$(rpc_port "$n") port $(admin_port "$n")"; done
  } >"$bench_dir/haproxy.cfg"
  "$haproxy" -f "$bench_dir/haproxy.cfg" -db >"$bench_dir/haproxy.log" 2>&1 &
  haproxy_pid=$!
  sleep 1.5  # two checks
}
bench() {  # ADDRESS [extra args] -> JSON report
  "$bin/karokar-bench" call --address "$1" --duration "$duration" -c "$concurrency" --connections "$connections" \
    --format json --no-progress "${@:2}"
}
summary() { python3 -c '
import json, sys
r = json.load(sys.stdin)
rate, p99, statuses = r["rate"], r["latencyMicros"].get("p99", 0), r["statuses"]
print(f"{rate:.0f} calls/s, p99 {p99:.0f} us, statuses {statuses}")'; }

"$bin/karokar-server" migrate --database-url "$database" >/dev/null
for n in 1 2 3; do start_server "$n"; done
for n in 1 2 3; do wait_ready "$n"; done

echo "== throughput (Echo, -c $concurrency, $connections connections, $duration)"
printf 'direct to one instance:   '; bench "127.0.0.1:$(rpc_port 1)" | summary
for set in "1" "1 2" "1 2 3"; do
  start_haproxy "$set"
  printf 'HAProxy, instances %-6s ' "$set:"; bench "127.0.0.1:$lb_port" | summary
done

echo "== rolling restart under load (all three, one at a time)"
bench "127.0.0.1:$lb_port" --duration 40s >"$bench_dir/rolling.json" &
load=$!
sleep 3
for n in 1 2 3; do
  kill -TERM "${pids[$n]}"; wait "${pids[$n]}" || true
  start_server "$n"; wait_ready "$n"; sleep 2
done
wait $load
printf 'rolling restart: '; summary <"$bench_dir/rolling.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["statuses"]; bad={k:v for k,v in s.items() if k!="OK"}; sys.exit(1 if bad else 0)' "$bench_dir/rolling.json" \
  && echo "rolling restart: every call OK" || echo "rolling restart: FAILED CALLS (above)"

echo "== kill -9 of one instance under load"
bench "127.0.0.1:$lb_port" --duration 20s >"$bench_dir/kill.json" &
load=$!
sleep 5
kill -KILL "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true
wait $load
printf 'kill -9: '; summary <"$bench_dir/kill.json"
