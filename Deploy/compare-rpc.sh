#!/usr/bin/env bash
# Side-by-side comparison of a ping-class unary call on this machine, one run each:
#   karokar   karokar-server, /karokar.rpc.v1.DiagnosticsService/Echo, driven by karokar-bench
#             (once without deadlines, as the others, and once with a 10 s deadline on every call)
#   grpc      grpc-swift 2 (HTTP/2 defaults, plaintext), a raw-bytes unary echo (Deploy/baselines)
#   raw echo  a SwiftNIO length-prefixed echo, the ceiling (Deploy/baselines): it writes its answers
#             as karokar-server does (copied into one buffer, one write per read batch), so the
#             two differ by the work per call, not by how they use the socket
# Same 64-byte payload, concurrency (calls in flight), connections and duration for all three;
# each server runs alone while it is measured. Prints one table: calls/s, latency percentiles,
# server and load-generator CPU time per call, and the ratios the project targets.
#
# Usage: Deploy/compare-rpc.sh [--concurrency 64] [--connections 1] [--duration 10] [--warmup 2]
# Release builds of both packages come first (the baselines' first build takes several minutes).
# Set KAROKAR_COMPARE_SKIP_BUILD=1 to reuse the binaries already built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

concurrency=64 connections=1 duration=10 warmup=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --concurrency) concurrency="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    *) echo "usage: $0 [--concurrency N] [--connections N] [--duration SECONDS] [--warmup SECONDS]" >&2; exit 64 ;;
  esac
done

log() { printf 'compare: %s\n' "$*" >&2; }

if [[ "${KAROKAR_COMPARE_SKIP_BUILD:-0}" != 1 ]]; then
  log "building release binaries (main package)"
  swift build -c release --product karokar-server >&2
  swift build -c release --product karokar-bench >&2
  log "building release binaries (Deploy/baselines)"
  (cd Deploy/baselines && swift build -c release >&2)
fi
main_bin="$(swift build -c release --show-bin-path)"
base_bin="$(cd Deploy/baselines && swift build -c release --show-bin-path)"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/karokar-compare.XXXXXX")"
chmod 755 "$workdir"  # the private PostgreSQL runs as the postgres user when we are root
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() { stop_server; rm -rf "$workdir"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

wait_for_port() {
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { log "server exited; log:"; cat "$workdir/server.log" >&2; exit 1; }
    sleep 0.1
  done
  log "server did not listen on port $1"; exit 1
}

# run NAME SERVER-COMMAND... -- BENCH-COMMAND... (both with @PORT@ for the port)
run() {
  local name="$1"; shift
  local port; port="$(free_port)"
  local server=() bench=()
  while [[ "$1" != "--" ]]; do server+=("${1//@PORT@/$port}"); shift; done
  shift
  for arg in "$@"; do bench+=("${arg//@PORT@/$port}"); done
  log "$name: starting ${server[0]##*/} on port $port"
  "${server[@]}" >"$workdir/server.log" 2>&1 &
  server_pid=$!
  wait_for_port "$port"
  sleep 1
  log "$name: ${concurrency} in flight, ${connections} connection(s), ${warmup}s warm-up, ${duration}s measured"
  "${bench[@]}" --server-pid "$server_pid" >"$workdir/$name.json"
  stop_server
}

cut -d' ' -f1-3 /proc/loadavg >"$workdir/loadavg"  # the machine may be shared: say how busy it was
payload64="$(python3 -c 'import base64; print(base64.b64encode(bytes(64)).decode())')"
load=(--concurrency "$concurrency" --connections "$connections")

run karokar "$main_bin/karokar-server" --port @PORT@ --set "data-dir=$workdir/data" --set log-level=warning -- \
  "$main_bin/karokar-bench" --address 127.0.0.1:@PORT@ "${load[@]}" --duration "${duration}s" --warmup "${warmup}s" \
  --data "{\"payload\":\"$payload64\"}" --timeout 0 --format json --no-progress
run karokar-deadline "$main_bin/karokar-server" --port @PORT@ --set "data-dir=$workdir/data" --set log-level=warning -- \
  "$main_bin/karokar-bench" --address 127.0.0.1:@PORT@ "${load[@]}" --duration "${duration}s" --warmup "${warmup}s" \
  --data "{\"payload\":\"$payload64\"}" --timeout 10s --format json --no-progress
run grpc "$base_bin/grpc-baseline" serve --port @PORT@ -- \
  "$base_bin/grpc-baseline" bench --address 127.0.0.1:@PORT@ "${load[@]}" --duration "$duration" --warmup "$warmup" --payload-bytes 64
run raw "$base_bin/raw-echo-baseline" serve --port @PORT@ -- \
  "$base_bin/raw-echo-baseline" bench --address 127.0.0.1:@PORT@ "${load[@]}" --duration "$duration" --warmup "$warmup" --payload-bytes 64

python3 - "$workdir" "$concurrency" "$connections" "$duration" <<'PY'
import json, os, platform, subprocess, sys
workdir, concurrency, connections, duration = sys.argv[1:5]
rows = [("karokar (DiagnosticsService/Echo)", "karokar"), ("karokar, 10 s deadline on every call", "karokar-deadline"),
        ("grpc-swift 2 (HTTP/2)", "grpc"), ("raw NIO echo (ceiling)", "raw")]
reports = {key: json.load(open(os.path.join(workdir, key + ".json"))) for _, key in rows}
def cpu(report, key):
    value = report["cpu"][key]
    return "n/a" if value is None else "%.2f" % value
import datetime
cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
print("%s UTC; " % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), end="")
print("%s, %d cores, %s; 64-byte payload, %s in flight, %s connection(s), %s s measured, one run each"
      % (cpu_model, os.cpu_count(), platform.platform(terse=True), concurrency, connections, duration))
print("load average before the runs: %s" % open(os.path.join(workdir, "loadavg")).read().strip())
print()
print("| server | calls/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/call | load generator CPU µs/call | failures |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label, key in rows:
    r = reports[key]
    latency = r["latencyMicros"]
    failures = sum(count for status, count in r["statuses"].items() if status != "OK")
    print("| %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %d |" % (label, r["rate"], latency["p50"], latency["p99"], latency["p99.9"],
          cpu(r, "serverMicrosPerCall"), cpu(r, "loadGeneratorMicrosPerCall"), failures))
ours, grpc, raw = reports["karokar"], reports["grpc"], reports["raw"]
print()
print("targets: %.1fx grpc-swift 2's throughput (target >= 20x), %.0f%% of the raw echo (target >= 50%%), p99 %.0f µs (target < 1000 µs)"
      % (ours["rate"] / grpc["rate"], 100 * ours["rate"] / raw["rate"], ours["latencyMicros"]["p99"]))
PY
