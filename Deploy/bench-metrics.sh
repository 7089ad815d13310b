#!/usr/bin/env bash
# The cost of metrics on the Echo benchmark (issue 20: under 5% of the server's CPU per call).
# Two release servers on one scratch database, identical but for metrics: "off" has no admin
# server (nothing measured), "on" has `--admin-port 0` (every call counted and timed, /metrics
# published). Runs of `karokar-bench call` alternate between them, ROUNDS each; the report is each
# one's median server CPU per call and calls/s, and "on"'s extra CPU per call in percent.
#   bash Deploy/bench-metrics.sh                  # 5 rounds of 10 s, 64 in flight on 1 connection
#   ROUNDS=9 DURATION=20s CONCURRENCY=128 CONNECTIONS=2 BENCH_PIN=1 bash Deploy/bench-metrics.sh
# Settings and the shared steps: Deploy/bench/echo-servers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source Deploy/bench/echo-servers.sh
port=$((20000 + RANDOM % 10000))
echo_server off "$bin" "$port"
echo_server on "$bin" $((port + 1)) --admin-port 0
echo_wait
echo_rounds
admin_port="$(grep -o 'admin-address=[^ ]*' "$bench_dir/on.log" | head -1 | sed 's/.*://')"
[ -n "$admin_port" ] && curl -s "http://127.0.0.1:$admin_port/metrics" | grep -E '^karokar_rpc_calls_total\{.*Echo' || true
echo_summary off
