#!/usr/bin/env bash
# One booking's UPDATE (status and version, as a transition writes them) on a copy of
# booking.bookings' columns and rules with its single-column rules as CHECKs (a) and as domains
# (b; booking migration 2): PostgreSQL reads a table's CHECKs from their stored text and plans
# them again on every INSERT or UPDATE statement, a domain's once per session. One connection,
# prepared statements, ROUNDS (default 16) alternating 2-s rounds of each on a scratch cluster
# (fsync off: the statement, not the disk); prints each side's median and mean transactions per
# second and the per-round ratio b/a. Rounds alternate because this host's speed moves by a third
# from one minute to the next (Deploy/bench/hostspeed.py).
#   bash Deploy/bench/checks-vs-domains.sh [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
rounds="${1:-16}"
BENCH_DURABLE=0 source Deploy/bench/cluster.sh
"$PGBIN/createdb" checks
psql -q -v ON_ERROR_STOP=1 "$(conninfo checks)" -f Deploy/bench/checks-vs-domains.sql
scripts="$bench_dir/scripts"
mkdir -p "$scripts"
for side in a b; do
  cat > "$scripts/$side.pgbench" <<SQL
\set n random(1, 1000)
UPDATE $side.bookings SET status = :status, version = version + 1, updated_at = now()
WHERE id = ('00000000-0000-0000-0000-' || lpad(to_hex(:n::int), 12, '0'))::uuid;
SQL
done
results="$bench_dir/results"
for _ in $(seq 1 "$rounds"); do
  for side in a b; do
    tps=$("$PGBIN/pgbench" -n -M prepared -c 1 -T 2 -D status=APPROVED -f "$scripts/$side.pgbench" "$(conninfo checks)" 2>&1 | awk '/^tps/ {print int($3)}')
    [ -n "$tps" ] || { echo "pgbench failed on side $side" >&2; exit 1; }
    echo "$side $tps" >> "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {"a": [], "b": []}
for line in open(sys.argv[1]):
    side, tps = line.split()
    runs[side].append(int(tps))
for side, label in (("a", "CHECKs"), ("b", "domains")):
    print(f"{label:8s} median {statistics.median(runs[side]):8.0f} tps, mean {statistics.mean(runs[side]):8.0f} ({len(runs[side])} rounds)")
ratios = [b / a for a, b in zip(runs["a"], runs["b"])]
print(f"domains / CHECKs per round: median {statistics.median(ratios):.3f}; domains faster in {sum(r > 1 for r in ratios)} of {len(ratios)}")
PY
