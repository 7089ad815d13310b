#!/usr/bin/env bash
# The cost of metrics on the Echo benchmark (issue 20: under 5% of the server's CPU per call).
# Two release servers on one scratch database, identical but for metrics: A has no admin server
# (nothing measured), B has `--admin-port 0` (every call counted and timed, /metrics published).
# Runs of `karokar-bench call` alternate between them (A B A B ...), ROUNDS each, and the report is
# each one's median server CPU per call and calls/s, and B's extra CPU per call in percent.
#   bash Deploy/bench-metrics.sh                  # 5 rounds of 10 s, 64 in flight on 1 connection
#   ROUNDS=9 DURATION=20s CONCURRENCY=128 CONNECTIONS=2 BENCH_PIN=1 bash Deploy/bench-metrics.sh
# BENCH_PIN=1 runs both servers on CPU 0 and the load generator on CPU 1. A busy machine adds
# noise of several percent per run: quote its state with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-5}" duration="${DURATION:-10s}" concurrency="${CONCURRENCY:-64}" connections="${CONNECTIONS:-1}"
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
server_pin=() pin_load=()
if [ "${BENCH_PIN:-0}" = 1 ]; then server_pin=(taskset -c 0) pin_load=(taskset -c 1); fi
pids=()
# `|| true`: under `set -e` a `wait` on a server that SIGTERM ended (143) aborted the trap,
# leaving the other servers and the cluster running.
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; stop_cluster; }
trap cleanup EXIT
start_server() {  # NAME PORT EXTRA-ARGS...
  local name=$1 port=$2; shift 2
  env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="bench passphrase $RANDOM$RANDOM" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@bench.local \
    KAROKAR_LOG_LEVEL=info KAROKAR_FLEET_DOCUMENT_SWEEP_INTERVAL_S=0 KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S=0 \
    KAROKAR_VERIFICATION_EXPIRY_SWEEP_INTERVAL_S=0 \
    ${server_pin[@]+"${server_pin[@]}"} "$bin/karokar-server" --port "$port" --database-url "$database" \
    --set data-dir="$bench_dir/$name" "$@" >"$bench_dir/$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
}
port_a=$((20000 + RANDOM % 10000)) port_b=$((30000 + RANDOM % 10000))
start_server a "$port_a"
start_server b "$port_b" --admin-port 0
for _ in $(seq 1 150); do
  grep -v admin "$bench_dir/a.log" | grep -q listening && grep -v admin "$bench_dir/b.log" | grep -q listening && break
  sleep 0.2
done
grep -v admin "$bench_dir/b.log" | grep -q listening || { cat "$bench_dir"/*.log >&2; exit 1; }

run() {  # PORT PID -> one JSON report
  ${pin_load[@]+"${pin_load[@]}"} "$bin/karokar-bench" call --address "127.0.0.1:$1" --duration "$duration" \
    -c "$concurrency" --connections "$connections" --server-pid "$2" --format json
}
: >"$bench_dir/a.jsonl"; : >"$bench_dir/b.jsonl"
for round in $(seq 1 "$rounds"); do
  run "$port_a" "$a_pid" | tr -d '\n' >>"$bench_dir/a.jsonl"; echo >>"$bench_dir/a.jsonl"
  run "$port_b" "$b_pid" | tr -d '\n' >>"$bench_dir/b.jsonl"; echo >>"$bench_dir/b.jsonl"
  echo "round $round of $rounds done" >&2
done
admin_port="$(grep -o 'admin-address=[^ ]*' "$bench_dir/b.log" | head -1 | sed 's/.*://')"
[ -n "$admin_port" ] && curl -s "http://127.0.0.1:$admin_port/metrics" | grep -E '^karokar_rpc_calls_total\{.*Echo' || true
python3 - "$bench_dir/a.jsonl" "$bench_dir/b.jsonl" "$rounds" "$duration" "$concurrency" "$connections" <<'PY'
import json, statistics, sys
def load(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    cpu = [r["cpu"]["serverMicrosPerCall"] for r in runs]
    rate = [round(r["rate"]) for r in runs]
    return cpu, rate
a_cpu, a_rate = load(sys.argv[1]); b_cpu, b_rate = load(sys.argv[2])
ma, mb = statistics.median(a_cpu), statistics.median(b_cpu)
print(f"Echo, {sys.argv[3]} rounds of {sys.argv[4]}, -c {sys.argv[5]} on {sys.argv[6]} connection(s)")
print(f"metrics off: server CPU {ma:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in a_cpu)}), calls/s {a_rate}")
print(f"metrics on:  server CPU {mb:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in b_cpu)}), calls/s {b_rate}")
print(f"cost of metrics: {100 * (mb - ma) / ma:+.1f}% server CPU per call")
PY
