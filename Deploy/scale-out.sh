#!/usr/bin/env bash
# Scale-out (issue 20, item 9): three karokar-server instances on one PostgreSQL, behind HAProxy in
# TCP mode with /readyz health checks (Deploy/haproxy/karokar.cfg's settings), loopback only.
#   a. guarantees across instances (karokar-bench cross-instance): concurrent approvals of
#      overlapping bookings, each through another instance, approve exactly one; one
#      idempotency key sent through two instances at once (then through all) makes one booking;
#   b. rolling restart of all three, one at a time (SIGTERM: /readyz fails, the server keeps
#      serving for drain-delay-ms while HAProxy marks it down, then DRAINs; restart; wait for
#      /readyz), under load through HAProxy by the Swift client (karokar-bench scenario builtin,
#      Echo only): every call must succeed; the calls the client retried by itself (DRAIN,
#      DRAINING, refused or closed-before-HELLO_ACK connections: not started) are reported;
#   c. kill -9 of one instance under the same load: only calls in flight on it may fail (at most
#      the load's concurrency, all UNAVAILABLE); the seconds until the throughput is back to half
#      of what it was before the kill are reported;
#   d. Echo throughput (karokar-bench call, the fast load generator) directly against one
#      instance and through HAProxy with one, two and three instances: HAProxy's overhead.
# Exits non-zero when an invariant of a, b or c is violated (d only reports). All instances and
# HAProxy share the machine's cores with the load generator: the throughput figures show
# HAProxy's cost, not the scaling a real deployment on separate hosts gets.
#
#   bash Deploy/scale-out.sh                                  # release build, 10 s per measurement
#   SHORT=1 BENCH_BIN=.build/debug bash Deploy/scale-out.sh   # CI: a few seconds per phase
# HAPROXY=/path/to/haproxy to use another binary than the one on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
short="${SHORT:-0}"
if [ "$short" = 1 ]; then
  duration="${DURATION:-2s}" rolling_seconds=300 kill_seconds=12 rounds=3 drain_delay_ms=1200 check_ms=200
else
  duration="${DURATION:-10s}" rolling_seconds=300 kill_seconds=20 rounds=10 drain_delay_ms=2500 check_ms=500
fi
concurrency="${CONCURRENCY:-64}" connections="${CONNECTIONS:-4}"
haproxy="${HAPROXY:-$(command -v haproxy || true)}"
[ -n "$haproxy" ] || { echo "haproxy is not installed (bash Deploy/install-deps.sh, or HAPROXY=...)" >&2; exit 1; }
source Deploy/bench/binaries.sh
bench_binaries karokar-server karokar-bench
source Deploy/bench/cluster.sh
"$PGBIN/createdb" karokar
database="$(conninfo karokar)"
base=$((20000 + RANDOM % 20000))
lb_port=$base
admin_password="scale-out passphrase $RANDOM$RANDOM"
signing_key="$(head -c 32 /dev/urandom | base64)"
declare -A pids
haproxy_pid=""
failures=()
cleanup() {
  for pid in "${pids[@]}" $haproxy_pid; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_cluster
}
trap cleanup EXIT
violated() { failures+=("$1"); echo "VIOLATED: $1"; }

rpc_port() { echo $((base + $1)); }
admin_port() { echo $((base + 10 + $1)); }
start_server() {  # N
  env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@scale.local \
    KAROKAR_TOKEN_SIGNING_KEY="$signing_key" KAROKAR_LOG_LEVEL=notice \
    KAROKAR_DRAIN_DELAY_MS="$drain_delay_ms" KAROKAR_HEALTH_CHECK_INTERVAL_MS=500 \
    "$bin/karokar-server" --port "$(rpc_port "$1")" --admin-port "$(admin_port "$1")" --database-url "$database" \
    --set data-dir="$bench_dir/server$1" >>"$bench_dir/server$1.log" 2>&1 &
  pids[$1]=$!
}
ready() { curl -sf "http://127.0.0.1:$(admin_port "$1")/readyz" >/dev/null 2>&1; }
wait_ready() {
  for _ in $(seq 1 600); do ready "$1" && return 0; sleep 0.1; done
  echo "server $1 did not become ready" >&2; tail -20 "$bench_dir/server$1.log" >&2; exit 1
}
start_haproxy() {  # the instances to balance over, e.g. "1 2 3"
  if [ -n "$haproxy_pid" ]; then kill "$haproxy_pid" 2>/dev/null || true; wait "$haproxy_pid" 2>/dev/null || true; fi
  {
    echo "global"; echo "    maxconn 4000"
    echo "defaults"; echo "    mode tcp"; echo "    timeout connect 2s"; echo "    timeout client 330s"
    echo "    timeout server 330s"; echo "    timeout check 2s"; echo "    retries 3"; echo "    option redispatch"
    echo "frontend karokar_rpc"; echo "    bind 127.0.0.1:$lb_port"; echo "    default_backend karokar_servers"
    echo "backend karokar_servers"; echo "    balance leastconn"; echo "    option httpchk"
    echo "    http-check send meth GET uri /readyz"; echo "    http-check expect status 200"
    echo "    default-server check inter ${check_ms}ms fall 2 rise 2"
    for n in $1; do echo "    server karokar$n 127.0.0.1:$(rpc_port "$n") port $(admin_port "$n")"; done
  } >"$bench_dir/haproxy.cfg"
  "$haproxy" -f "$bench_dir/haproxy.cfg" -db >"$bench_dir/haproxy.log" 2>&1 &
  haproxy_pid=$!
  sleep "$(python3 -c "print(3 * $check_ms / 1000)")"  # the first checks
}
fast_bench() {  # ADDRESS -> "rate p99"
  "$bin/karokar-bench" call --address "$1" --duration "$duration" --warmup 1s -c "$concurrency" --connections "$connections" \
    --format json --no-progress \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); bad=sum(v for k,v in r["statuses"].items() if k!="OK"); print("%.0f %.0f %d" % (r["rate"], r["latencyMicros"].get("p99", 0), bad))'
}
client_load() {  # SECONDS OUTPUT: Echo through HAProxy by the retrying Swift client, in the background
  rm -f "$bench_dir/stop"
  "$bin/karokar-bench" scenario builtin --stop-file "$bench_dir/stop" --address "127.0.0.1:$lb_port" --mix health=0,describe-type=0,echo=1 --size 1 \
    --duration "${1}s" -c "$concurrency" --connections "$connections" --timeout 30s --retries 5 --format json >"$2" 2>"$2.err" &
  load_pid=$!
}

"$bin/karokar-server" migrate --database-url "$database" >/dev/null
start_server 1; wait_ready 1  # the first start bootstraps the platform administrator
for n in 2 3; do start_server "$n"; done
for n in 2 3; do wait_ready "$n"; done
start_haproxy "1 2 3"
echo "scale-out: 3 instances on one PostgreSQL behind HAProxy $("$haproxy" -v | head -1 | awk '{print $3}'), binaries $bin$([ "$short" = 1 ] && echo ', SHORT run')"

echo "== a. guarantees across instances"
if "$bin/karokar-bench" cross-instance --address "127.0.0.1:$(rpc_port 1)" --address "127.0.0.1:$(rpc_port 2)" \
    --address "127.0.0.1:$(rpc_port 3)" --rounds "$rounds" --admin-email admin@scale.local --admin-password "$admin_password"; then
  :
else
  violated "guarantees across instances (above)"
fi

echo "== b. rolling restart under load (all three, one at a time; Echo by the retrying client, -c $concurrency, $connections connections)"
client_load "$rolling_seconds" "$bench_dir/rolling.json"
sleep 4
roll_start=$SECONDS
now() { date +%s.%N; }
for n in 1 2 3; do
  t0=$(now); kill -TERM "${pids[$n]}"; wait "${pids[$n]}" || true; t1=$(now)
  start_server "$n"; wait_ready "$n"; t2=$(now)
  sleep "$(python3 -c "print(4 * $check_ms / 1000)")"  # HAProxy's rise
  printf '  server %s: SIGTERM to exit %.1f s (grace period %s ms, then the drain), start to /readyz %.1f s\n' "$n" \
    "$(python3 -c "print($t1 - $t0)")" "$drain_delay_ms" "$(python3 -c "print($t2 - $t1)")"
done
roll_took=$((SECONDS - roll_start))
kill -0 "$load_pid" 2>/dev/null || violated "the load ended before the rolling restart did (raise its duration)"
sleep 2; touch "$bench_dir/stop"  # the load ends with the restarts
wait "$load_pid" || violated "rolling restart: the load generator failed: $(cat "$bench_dir/rolling.json.err")"
if ! python3 - "$bench_dir/rolling.json" "$roll_took" >"$bench_dir/rolling.txt" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); load = r["load"]; step = load["steps"][0]
bad = {k: v for k, v in step["statuses"].items() if k != "OK"}
print(f"  {load['requests']} calls in {load['seconds']:.1f} s ({load['requests'] / load['seconds']:.0f}/s), the restarts took {sys.argv[2]} s; "
      f"failed {sum(bad.values())} {bad or ''}; retried by the client itself {load['clientRetries']}; "
      f"latency p99 {step['latencyMicros'].get('p99', 0) / 1000:.1f} ms, max {step['latencyMicros'].get('max', 0) / 1000:.1f} ms")
sys.exit(1 if bad or load["unexpected"] else 0)
EOF
then
  violated "rolling restart: calls failed that the client did not retry"
fi
cat "$bench_dir/rolling.txt"

echo "== c. kill -9 of one instance under load"
client_load "$kill_seconds" "$bench_dir/kill.json"
sleep "$(( kill_seconds / 3 ))"
kill -KILL "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true
unset 'pids[2]'
wait "$load_pid" || violated "kill -9: the load generator failed: $(cat "$bench_dir/kill.json.err")"
if ! python3 - "$bench_dir/kill.json" "$concurrency" >"$bench_dir/kill.txt" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); load = r["load"]; step = load["steps"][0]; limit = int(sys.argv[2])
bad = {k: v for k, v in step["statuses"].items() if k != "OK"}
series = load["series"]
hit = next((i for i, p in enumerate(series) if p["failuresPerSecond"] > 0), None)
recovered = True
if hit is None:
    recovery = "no failure seen"
else:
    width = series[1]["seconds"] - series[0]["seconds"] if len(series) > 1 else 0
    before = [p["rate"] for p in series[max(0, hit - 10):hit] if p["rate"] > 0] or [0]
    baseline = sum(before) / len(before)
    back = next((i for i in range(hit, len(series)) if series[i]["rate"] >= 0.5 * baseline and series[i]["failuresPerSecond"] == 0), None)
    recovered = back is not None
    recovery = "never" if back is None else f"{(back - hit + 1) * width:.1f} s (windows of {width:.2f} s; {baseline:.0f}/s before the kill)"
print(f"  {load['requests']} calls, failed {sum(bad.values())} {bad or ''} (at most {limit} may: the calls in flight on it); "
      f"retried by the client itself {load['clientRetries']}; throughput back to half within {recovery}")
sys.exit(0 if sum(bad.values()) <= limit and set(bad) <= {"UNAVAILABLE"} and recovered else 1)
EOF
then
  violated "kill -9: more failures than calls in flight, a failure other than UNAVAILABLE, or no recovery"
fi
cat "$bench_dir/kill.txt"
start_server 2; wait_ready 2

echo "== d. Echo throughput (karokar-bench call: -c $concurrency, $connections connections, $duration each)"
read -r rate p99 failed < <(fast_bench "127.0.0.1:$(rpc_port 1)")
direct=$rate
printf '  %-28s %12s %10s %8s %16s\n' "path" "calls/s" "p99 us" "failed" "vs direct"
printf '  %-28s %12s %10s %8s %16s\n' "direct, one instance" "$rate" "$p99" "$failed" "-"
for set in "1" "1 2" "1 2 3"; do
  start_haproxy "$set"
  read -r rate p99 failed < <(fast_bench "127.0.0.1:$lb_port")
  printf '  %-28s %12s %10s %8s %16s\n' "HAProxy, instances ${set// /,}" "$rate" "$p99" "$failed" \
    "$(python3 -c "print(f'{100 * ($rate / $direct - 1):+.1f}%')" 2>/dev/null || echo '?')"
done

echo
if [ "${#failures[@]}" -gt 0 ]; then
  echo "scale-out: ${#failures[@]} violated invariant(s):"; printf '  %s\n' "${failures[@]}"
  for n in 1 2 3; do echo "--- server $n log (tail)"; tail -5 "$bench_dir/server$n.log"; done
  exit 1
fi
echo "scale-out: every invariant held"
