# Sourced by the Echo cost benchmarks (bench-metrics.sh, bench-tls.sh, bench-tracing.sh), from the
# repository root: release servers on one scratch database, identical but for what is measured,
# loaded in turn (round robin) by `karokar-bench call`, ROUNDS each; `echo_summary` prints each
# one's median server CPU per call, calls/s and latency, and each against a reference.
# Settings: ROUNDS (5), DURATION (10s), CONCURRENCY (64 in flight), CONNECTIONS (1);
# BENCH_BIN=DIR takes the binaries from DIR instead of building release ones; BENCH_PIN=1 runs
# the servers on CPU 0 and the load generator on CPU 1. A busy machine adds noise of several
# percent per run: quote its state with the figures.
#
#   echo_server NAME BIN-DIR PORT SERVER-ARGS...   start one (its log: $bench_dir/NAME.log)
#   echo_client_args[NAME]="ARGS..."                 extra karokar-bench arguments for it (TLS)
#   echo_wait                                        until every server listens (30 s at most)
#   echo_rounds                                      the measured runs, round robin
#   echo_summary REFERENCE                           the report
rounds="${ROUNDS:-5}" duration="${DURATION:-10s}" concurrency="${CONCURRENCY:-64}" connections="${CONNECTIONS:-1}"
source Deploy/bench/binaries.sh
bench_binaries karokar-server karokar-bench
source Deploy/bench/cluster.sh
"$PGBIN/createdb" karokar
database="$(conninfo karokar)"
server_pin=() pin_load=()
if [ "${BENCH_PIN:-0}" = 1 ]; then server_pin=(taskset -c 0) pin_load=(taskset -c 1); fi
pids=() echo_names=()
declare -A echo_port echo_pid echo_client_args
# `|| true`: under `set -e` a `wait` on a server that SIGTERM ended (143) aborted the trap,
# leaving the other servers and the cluster running.
echo_cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; stop_cluster; }
trap echo_cleanup EXIT

echo_server() {  # NAME BIN-DIR PORT SERVER-ARGS...
  local name=$1 dir=$2 port=$3; shift 3
  env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="bench passphrase $RANDOM$RANDOM" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@bench.local \
    KAROKAR_LOG_LEVEL=info KAROKAR_FLEET_DOCUMENT_SWEEP_INTERVAL_S=0 KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S=0 \
    KAROKAR_VERIFICATION_EXPIRY_SWEEP_INTERVAL_S=0 \
    ${server_pin[@]+"${server_pin[@]}"} "$dir/karokar-server" --port "$port" --database-url "$database" \
    --set data-dir="$bench_dir/$name" "$@" >"$bench_dir/$name.log" 2>&1 &
  pids+=($!)
  echo_pid[$name]=$! echo_port[$name]=$port
  echo_names+=("$name")
}

echo_wait() {
  local name
  for name in "${echo_names[@]}"; do
    for _ in $(seq 1 150); do grep -v 'admin server' "$bench_dir/$name.log" | grep -q listening && break; sleep 0.2; done
    grep -v 'admin server' "$bench_dir/$name.log" | grep -q listening || { cat "$bench_dir/$name.log" >&2; exit 1; }
  done
}

echo_rounds() {
  local name round
  for name in "${echo_names[@]}"; do : >"$bench_dir/$name.jsonl"; done
  for round in $(seq 1 "$rounds"); do
    for name in "${echo_names[@]}"; do
      # shellcheck disable=SC2086  # the client arguments are words
      ${pin_load[@]+"${pin_load[@]}"} "$bin/karokar-bench" call --address "127.0.0.1:${echo_port[$name]}" --duration "$duration" \
        -c "$concurrency" --connections "$connections" --server-pid "${echo_pid[$name]}" --format json --no-progress \
        ${echo_client_args[$name]:-} | tr -d '\n' >>"$bench_dir/$name.jsonl"
      echo >>"$bench_dir/$name.jsonl"
    done
    echo "round $round of $rounds done" >&2
  done
}

echo_summary() {  # REFERENCE
  python3 - "$bench_dir" "$rounds" "$duration" "$concurrency" "$connections" "$1" "${echo_names[@]}" <<'PY'
import json, statistics, sys
directory, rounds, duration, concurrency, connections, reference, names = *sys.argv[1:7], sys.argv[7:]
print(f"Echo, {rounds} rounds of {duration}, -c {concurrency} on {connections} connection(s)")
cpu, rate = {}, {}
for name in names:
    runs = [json.loads(line) for line in open(f"{directory}/{name}.jsonl") if line.strip()]
    each = [r["cpu"]["serverMicrosPerCall"] for r in runs]
    rates = [round(r["rate"]) for r in runs]
    cpu[name], rate[name] = statistics.median(each), statistics.median(rates)
    p50 = statistics.median(r["latencyMicros"]["p50"] for r in runs)
    p99 = statistics.median(r["latencyMicros"]["p99"] for r in runs)
    print(f"{name:6}: server CPU {cpu[name]:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in each)}), calls/s {rates}, p50 {p50:.0f} us p99 {p99:.0f} us")
for name in names:
    if name != reference:
        print(f"{name:6} vs {reference}: {100 * (cpu[name] - cpu[reference]) / cpu[reference]:+.1f}% server CPU per call, "
              f"{100 * (rate[name] - rate[reference]) / rate[reference]:+.1f}% calls/s")
PY
}
