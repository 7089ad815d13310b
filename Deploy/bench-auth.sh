#!/usr/bin/env bash
# What authentication and authorization add to a call (issue 4's target: an authenticated,
# authorized read costs at most 15% more than an unauthenticated ping at 64 calls in flight),
# measured with karokar-bench against a release karokar-server on a scratch cluster. Alternating
# rounds of three calls, 64 in flight on one connection:
#   echo        DiagnosticsService/Echo, 64-byte payload, no token (the ping);
#   echo+token  the same Echo with a bearer token: the interceptor's whole work (token check,
#               principal, access rule) on the same handler;
#   whoami      IdentityService/WhoAmI with the token: the authorized read.
# Reports calls/s, p99 and the server's CPU per call (from /proc), and each one's extra over echo.
# Usage: bash Deploy/bench-auth.sh [SECONDS]   (default 10 s per run; BENCH_ROUNDS, default 3;
# BENCH_PIN=1 gives the server and the load generator a core each, see Deploy/bench/server.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-10}"
rounds="${BENCH_ROUNDS:-3}"
source Deploy/bench/server.sh
token=$(token admin@bench.local "$password")
payload=$(python3 -c "import base64; print(base64.b64encode(bytes(range(64))).decode())")

echo "== machine: $(nproc) cores, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC'); $rounds rounds of ${seconds}s, 64 in flight, 1 connection$([ "${BENCH_PIN:-0}" = 1 ] && echo '; server on CPU 0, load generator on CPU 1')"
run() {  # $1 name, $2 method, $3 request, then extra flags
  local name=$1 method=$2 data=$3; shift 3
  ${pin_load[@]+"${pin_load[@]}"} "$bin/karokar-bench" --address "$address" --call "$method" --data "$data" --concurrency 64 --connections 1 \
    --duration "${seconds}s" --warmup 2s --server-pid "$server_pid" --no-progress --format json "$@" >"$bench_dir/report.json"
  echo "$name $(tr -d '\n' <"$bench_dir/report.json")"
}
results=$(for round in $(seq 1 "$rounds"); do
  run echo karokar.rpc.v1.DiagnosticsService/Echo "{\"payload\": \"$payload\"}"
  run echo+token karokar.rpc.v1.DiagnosticsService/Echo "{\"payload\": \"$payload\"}" -H "authorization: Bearer $token"
  run whoami karokar.identity.v1.IdentityService/WhoAmI '{}' -H "authorization: Bearer $token"
done)
python3 - "$results" <<'PY'
import json, sys, statistics
runs = {}
for line in sys.argv[1].splitlines():
    name, _, text = line.partition(" ")
    report = json.loads(text)
    failures = sum(count for status, count in (report.get("statuses") or {}).items() if status != "OK")
    if failures:
        sys.exit(f"{name}: {failures} calls failed: {report.get('statuses')}")
    runs.setdefault(name, []).append(report)
def server_cpu(report):
    return (report.get("cpu") or {}).get("serverMicrosPerCall") or 0.0
for name, reports in runs.items():
    for number, report in enumerate(reports, 1):
        print(f"  round {number} {name:<10} {report['rate']:9.0f} calls/s  p99 {report['latencyMicros']['p99']:7.0f} µs  server CPU {server_cpu(report):5.2f} µs/call")
base_rate = statistics.median(r["rate"] for r in runs["echo"])
base_cpu = statistics.median(server_cpu(r) for r in runs["echo"])
for name in ("echo+token", "whoami"):
    rate = statistics.median(r["rate"] for r in runs[name])
    cpu = statistics.median(server_cpu(r) for r in runs[name])
    print(f"  {name}: median {rate:.0f} calls/s vs echo {base_rate:.0f} ({100 * (base_rate / rate - 1):+.1f}% time per call); "
          f"server CPU {cpu:.2f} vs {base_cpu:.2f} µs/call ({100 * (cpu / base_cpu - 1):+.1f}%); target: at most +15%")
PY
