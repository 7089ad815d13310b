#!/usr/bin/env bash
# The cost of TLS on the Echo benchmark (issue 20, item 7). Two release servers on one scratch
# database, identical but for TLS: A speaks plain frames, B TLS (a P-256 certificate made here with
# openssl, TLS 1.3, ALPN karokar/1). Runs of `karokar-bench call` alternate between them (A B A B
# ...), ROUNDS each, on connections opened before the measured part (the handshakes are not in
# it); the report is each one's median server CPU per call, calls/s and p50/p99 latency, and B's
# extra server CPU per call in percent.
#   bash Deploy/bench-tls.sh                  # 5 rounds of 10 s, 64 in flight on 1 connection
#   ROUNDS=9 DURATION=20s CONCURRENCY=128 CONNECTIONS=4 BENCH_PIN=1 bash Deploy/bench-tls.sh
#   BENCH_BIN=.build/release bash Deploy/bench-tls.sh   # binaries already built
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

# A throwaway PKI: a CA and a server certificate for localhost and 127.0.0.1.
pki="$bench_dir/pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
  -subj "/CN=karokar bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/server.ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -out "$pki/server.pem" -days 2 \
  -extfile "$pki/server.ext" 2>/dev/null

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
start_server b "$port_b" --set tls-certificate-file="$pki/server.pem" --set tls-key-file="$pki/server.key"
for _ in $(seq 1 150); do
  grep -q listening "$bench_dir/a.log" && grep -q listening "$bench_dir/b.log" && break
  sleep 0.2
done
grep -q listening "$bench_dir/b.log" || { cat "$bench_dir"/*.log >&2; exit 1; }

run() {  # PORT PID EXTRA-ARGS... -> one JSON report
  local port=$1 pid=$2; shift 2
  ${pin_load[@]+"${pin_load[@]}"} "$bin/karokar-bench" call --address "127.0.0.1:$port" --duration "$duration" \
    -c "$concurrency" --connections "$connections" --server-pid "$pid" --format json --no-progress "$@"
}
: >"$bench_dir/a.jsonl"; : >"$bench_dir/b.jsonl"
for round in $(seq 1 "$rounds"); do
  run "$port_a" "$a_pid" | tr -d '\n' >>"$bench_dir/a.jsonl"; echo >>"$bench_dir/a.jsonl"
  run "$port_b" "$b_pid" --tls-ca "$pki/ca.pem" | tr -d '\n' >>"$bench_dir/b.jsonl"; echo >>"$bench_dir/b.jsonl"
  echo "round $round of $rounds done" >&2
done
python3 - "$bench_dir/a.jsonl" "$bench_dir/b.jsonl" "$rounds" "$duration" "$concurrency" "$connections" <<'PY'
import json, statistics, sys
def load(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    cpu = [r["cpu"]["serverMicrosPerCall"] for r in runs]
    rate = [round(r["rate"]) for r in runs]
    p50 = statistics.median(r["latencyMicros"]["p50"] for r in runs)
    p99 = statistics.median(r["latencyMicros"]["p99"] for r in runs)
    return cpu, rate, p50, p99
a_cpu, a_rate, a50, a99 = load(sys.argv[1]); b_cpu, b_rate, b50, b99 = load(sys.argv[2])
ma, mb = statistics.median(a_cpu), statistics.median(b_cpu)
print(f"Echo, {sys.argv[3]} rounds of {sys.argv[4]}, -c {sys.argv[5]} on {sys.argv[6]} connection(s)")
print(f"plain: server CPU {ma:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in a_cpu)}), calls/s {a_rate}, p50 {a50:.0f} us p99 {a99:.0f} us")
print(f"TLS:   server CPU {mb:.3f} us/call (runs: {', '.join(f'{x:.3f}' for x in b_cpu)}), calls/s {b_rate}, p50 {b50:.0f} us p99 {b99:.0f} us")
print(f"cost of TLS: {100 * (mb - ma) / ma:+.1f}% server CPU per call, {100 * (statistics.median(b_rate) - statistics.median(a_rate)) / statistics.median(a_rate):+.1f}% calls/s")
PY
