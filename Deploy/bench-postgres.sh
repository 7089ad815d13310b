#!/usr/bin/env bash
# The PostgreSQL layer's benchmarks (issue 3), on a scratch cluster of their own:
#   1. a trivial query through the pool from 16 concurrent Swift tasks vs `pgbench -S` with 16
#      clients, same statement, same database (target: at least 70% of pgbench's rate);
#   2. the outbox end to end, commit to consumer, at 2,000 events/s and flat out (target: at
#      least 2,000 events/s with a lag p99 under 100 ms).
# Usage: bash Deploy/bench-postgres.sh [SECONDS]   (default 15 s per run; release build)
#        BENCH_ROUNDS=N (default 5) alternating pool rounds; BENCH_OUTBOX_ROUNDS=N (default 3) outbox
#        rounds per rate; BENCH_SKIP_OUTBOX=1 runs the pool part only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-15}"
swift build -c release --product karokar-bench >/dev/null
bench="$(swift build -c release --show-bin-path)/karokar-bench"
source Deploy/bench/cluster.sh

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"
"$PGBIN/createdb" pgb && "$PGBIN/pgbench" -i -s 10 -q pgb >/dev/null 2>&1
rounds="${BENCH_ROUNDS:-5}"
echo "== pool: pgbench -S -M prepared -c 16 -j 2 vs karokar-bench pool --concurrency 16 (${seconds}s each, $rounds alternating rounds, medians)"
results=()
for run in $(seq "$rounds"); do
  pg=$("$PGBIN/pgbench" -S -M prepared -c 16 -j 2 -T "$seconds" pgb 2>/dev/null | awk '/^tps/ {print $3}')
  pooled=$("$bench" pool --database-url "$(conninfo pgb)" --concurrency 16 --duration "$seconds" --on-pool-executor --report json)
  ours=$("$bench" pool --database-url "$(conninfo pgb)" --concurrency 16 --duration "$seconds" --report json)
  results+=("$pg" "$pooled" "$ours")
  python3 - "$run" "$pg" "$pooled" "$ours" <<'PY'
import json, sys
run, pg = sys.argv[1], float(sys.argv[2])
for name, r in (("pool executor", json.loads(sys.argv[3])), ("cooperative pool", json.loads(sys.argv[4]))):
    q = r["queries_per_second"]
    print(f"  round {run}: pgbench {pg:7.0f} tps | ours ({name:16}) {q:7.0f} q/s = {100*q/pg:5.1f}%  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  client CPU {r['client_cpu_us_per_query']:.1f} us/query")
PY
done
python3 - "${results[@]}" <<'PY'
import json, statistics, sys
values = sys.argv[1:]
rounds = [(float(values[i]), json.loads(values[i + 1]), json.loads(values[i + 2])) for i in range(0, len(values), 3)]
for index, name in ((1, "pool executor"), (2, "cooperative pool")):
    ratios = [r[index]["queries_per_second"] / r[0] for r in rounds]
    cpu = statistics.median(r[index]["client_cpu_us_per_query"] for r in rounds)
    print(f"  {name:16}: median {statistics.median(r[index]['queries_per_second'] for r in rounds):7.0f} q/s vs pgbench {statistics.median(r[0] for r in rounds):7.0f} tps;"
          f" ratio median {100 * statistics.median(ratios):.1f}% (rounds {', '.join(f'{100 * x:.0f}%' for x in ratios)}; target 70%); client CPU {cpu:.1f} us/query")
PY

[ "${BENCH_SKIP_OUTBOX:-0}" = 1 ] && exit 0
outbox_rounds="${BENCH_OUTBOX_ROUNDS:-3}"
echo "== outbox: 16 publishers (one event per transaction, durable commits), 2 consumers, relay in process (${seconds}s each, $outbox_rounds rounds per rate, medians)"
for rate in 2000 0; do
  results=()
  for run in $(seq "$outbox_rounds"); do
    "$PGBIN/createdb" "outbox_${rate}_$run"
    results+=("$("$bench" outbox --database-url "$(conninfo "outbox_${rate}_$run")" --publishers 16 --consumers 2 --duration "$seconds" --rate "$rate" --report json)")
  done
  python3 - "$rate" "${results[@]}" <<'PY'
import json, statistics, sys
rate = sys.argv[1]; rounds = [json.loads(value) for value in sys.argv[2:]]
label = "flat out" if rate == "0" else f"at {rate}/s"
for index, r in enumerate(rounds, 1):
    print(f"  {label:9} round {index}: published {r['published_per_second']:7.0f}/s, delivered {r['delivered_events_per_second']:7.0f} events/s per consumer, lag p50 {r['lag_p50_ms']:6.1f} ms, p99 {r['lag_p99_ms']:6.1f} ms, max {r['lag_max_ms']:6.1f} ms")
median = lambda key: statistics.median(r[key] for r in rounds)
print(f"  {label:9} median : published {median('published_per_second'):7.0f}/s, delivered {median('delivered_events_per_second'):7.0f} events/s per consumer, lag p50 {median('lag_p50_ms'):6.1f} ms, p99 {median('lag_p99_ms'):6.1f} ms (target: 2,000 events/s, p99 under 100 ms)")
PY
done
