#!/usr/bin/env bash
# Knee searches (issue 23), one command, on a scratch cluster and a release karokar-server
# (Deploy/bench/server.sh): the highest open-loop rate at which p99 stays under a bound with no
# failure, for
#   1. DiagnosticsService/Echo (64-byte payload): rates from ECHO_START by ECHO_STEP up to ECHO_END,
#      2 s per stage, p99 under ECHO_P99 (default 5ms);
#   2. the marketplace scenario (20 vendors, 5 corporates, 100 vehicles; mix steps per second): rates
#      from MARKET_START by MARKET_STEP up to MARKET_END, 3 s per stage, p99 of the mix under MARKET_P99
#      (default 50ms), 64 workers.
# Each run writes a JSON and a self-contained HTML report into $BENCH_OUT (default /tmp/karokar-bench-knee) and
# prints its text report. Usage: bash Deploy/bench-knee.sh   (BENCH_BIN=.build/debug for a functional run;
# KNEE=echo or KNEE=marketplace runs only that search)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${BENCH_OUT:-${TMPDIR:-/tmp}/karokar-bench-knee}"
mkdir -p "$out"
BENCH_SERVER_ENV="KAROKAR_PASSWORD_HASH_COST=12"
source Deploy/bench/server.sh

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
if [ "${KNEE:-echo}" = echo ]; then
echo "== knee: DiagnosticsService/Echo, p99 under ${ECHO_P99:-5ms}"
echo_args=(--address "$address" --load-schedule step --load-start "${ECHO_START:-20000}" --load-step "${ECHO_STEP:-20000}"
  --load-end "${ECHO_END:-500000}" --load-step-duration 2s --p99 "${ECHO_P99:-5ms}" -c 256 --connections 4 --warmup 1s --no-progress)
"$bin/karokar-bench" "${echo_args[@]}" --format json >"$out/echo-knee.json"
"$bin/karokar-bench" html "$out/echo-knee.json" >"$out/echo-knee.html"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); k=d["knee"]; print("  knee", k["kneeRate"], "calls/s; stopped at", k["brokenAtRate"], "-", k["reason"])' "$out/echo-knee.json"
fi
if [ "${KNEE:-marketplace}" = marketplace ]; then
echo "== knee: marketplace scenario, p99 of the mix under ${MARKET_P99:-50ms}"
market_args=(scenario marketplace --address "$address" --size 20 --admin-email admin@bench.local --admin-password "$password" -c 64
  --load-schedule step --load-start "${MARKET_START:-200}" --load-step "${MARKET_STEP:-200}" --load-end "${MARKET_END:-6000}"
  --load-step-duration 3s --p99 "${MARKET_P99:-50ms}")
"$bin/karokar-bench" "${market_args[@]}" --format json >"$out/marketplace-knee.json"
"$bin/karokar-bench" html "$out/marketplace-knee.json" >"$out/marketplace-knee.html"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); k=d["knee"]; print("  knee", k["kneeRate"], "steps/s; stopped at", k["brokenAtRate"], "-", k["reason"])' "$out/marketplace-knee.json"
fi
echo "== reports in $out (compare two runs: karokar-bench compare BASE.json NEW.json)"
