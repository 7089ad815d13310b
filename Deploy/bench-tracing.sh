#!/usr/bin/env bash
# The cost of tracing on the Echo benchmark (issue 20, README "Tracing"). Release servers on one
# scratch database, identical but for tracing, loaded in turn (round robin) by `karokar-bench call`,
# ROUNDS each; the report is each one's median server CPU per call and calls/s:
#   base: BASE_BIN's server (a release build of the commit before tracing), when BASE_BIN is set;
#   off:  this build, no tracing-otlp-endpoint (the default: no tracer, no span);
#   zero: tracing on with tracing-sample-ratio=0 (every call in a task with an unsampled span,
#         nothing recorded nor sent);
#   full: tracing on, every call's span recorded and sent to a local OTLP/HTTP sink (python).
# "off" against "base" is what an operator who does not trace pays (the issue: negligible).
#   bash Deploy/bench-tracing.sh                               # 5 rounds of 10 s, 64 in flight, 1 connection
#   BASE_BIN=/tmp/base/.build/release ROUNDS=9 BENCH_PIN=1 bash Deploy/bench-tracing.sh
# BENCH_PIN=1 runs the servers on CPU 0 and the load generator on CPU 1. A busy machine adds
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

# The OTLP/HTTP sink: answers every POST with 200 and counts the bytes it received.
sink_port=$((40000 + RANDOM % 10000))
python3 - "$sink_port" "$bench_dir/sink.count" >"$bench_dir/sink.log" 2>&1 <<'PY' &
import http.server, sys
port, count_file = int(sys.argv[1]), sys.argv[2]
received = [0, 0]
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        received[0] += 1; received[1] += length
        open(count_file, "w").write(f"{received[0]} requests, {received[1]} bytes\n")
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
pids+=($!)

names=()
start_server() {  # NAME BIN-DIR PORT EXTRA-ARGS...
  local name=$1 dir=$2 port=$3; shift 3
  env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="bench passphrase $RANDOM$RANDOM" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@bench.local \
    KAROKAR_LOG_LEVEL=info KAROKAR_FLEET_DOCUMENT_SWEEP_INTERVAL_S=0 KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S=0 \
    KAROKAR_VERIFICATION_EXPIRY_SWEEP_INTERVAL_S=0 \
    ${server_pin[@]+"${server_pin[@]}"} "$dir/karokar-server" --port "$port" --database-url "$database" \
    --set data-dir="$bench_dir/$name" "$@" >"$bench_dir/$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$! ${name}_port=$port"
  names+=("$name")
}
port=$((20000 + RANDOM % 10000))
if [ -n "${BASE_BIN:-}" ]; then start_server base "$(cd "$BASE_BIN" && pwd)" $((port + 3)); fi
start_server off "$bin" "$port"
start_server zero "$bin" $((port + 1)) --set tracing-otlp-endpoint="http://127.0.0.1:$sink_port" --set tracing-sample-ratio=0
start_server full "$bin" $((port + 2)) --set tracing-otlp-endpoint="http://127.0.0.1:$sink_port" --set tracing-sample-ratio=1
for name in "${names[@]}"; do
  for _ in $(seq 1 150); do grep -q listening "$bench_dir/$name.log" && break; sleep 0.2; done
  grep -q listening "$bench_dir/$name.log" || { cat "$bench_dir/$name.log" >&2; exit 1; }
done

run() {  # NAME -> one JSON report line
  local port_var="${1}_port" pid_var="${1}_pid"
  ${pin_load[@]+"${pin_load[@]}"} "$bin/karokar-bench" call --address "127.0.0.1:${!port_var}" --duration "$duration" \
    -c "$concurrency" --connections "$connections" --server-pid "${!pid_var}" --format json | tr -d '\n'
  echo
}
for name in "${names[@]}"; do : >"$bench_dir/$name.jsonl"; done
for round in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do run "$name" >>"$bench_dir/$name.jsonl"; done
  echo "round $round of $rounds done" >&2
done
echo "OTLP sink: $(cat "$bench_dir/sink.count" 2>/dev/null || echo 'nothing received')"
python3 - "$bench_dir" "$rounds" "$duration" "$concurrency" "$connections" "${names[@]}" <<'PY'
import json, statistics, sys
directory, rounds, duration, concurrency, connections, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
print(f"Echo, {rounds} rounds of {duration}, -c {concurrency} on {connections} connection(s)")
medians = {}
for name in names:
    runs = [json.loads(line) for line in open(f"{directory}/{name}.jsonl") if line.strip()]
    cpu = [r["cpu"]["serverMicrosPerCall"] for r in runs]
    rate = [round(r["rate"]) for r in runs]
    medians[name] = statistics.median(cpu)
    print(f"{name:5}: server CPU {medians[name]:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in cpu)}), calls/s {rate}")
reference = medians.get("base", medians["off"])
for name in names:
    if name != ("base" if "base" in medians else "off"):
        print(f"{name:5} vs {'base' if 'base' in medians else 'off'}: {100 * (medians[name] - reference) / reference:+.1f}% server CPU per call")
PY
