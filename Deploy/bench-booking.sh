#!/usr/bin/env bash
# Booking's benchmarks (issue 16), one command, on a scratch cluster and a release karokar-server:
#   0. the approve path's statements, from the server's own statement log: a few approvals with
#      log_statement = 'all' on the cluster, compared in order with Deploy/bench/approval.pgbench
#      (Deploy/bench/statements.py prints them and a diff); the script stops here if they differ;
#   1. the approve path (ApproveBooking: the booking saved APPROVED, Fleet's RESERVED record and
#      both events in one transaction) through the RPC at 16 in flight, vs pgbench running the same
#      statements (Deploy/bench/approval.pgbench) against the same database at the same
#      concurrency (target: at least 70% of pgbench's rate), median of alternating rounds
#      (BENCH_ROUNDS, default 3);
#   2. whole booking lives (create -> submit -> approve -> assign -> accept -> activate -> complete,
#      a fifth rejected, an eighth cancelled, a sixth terminated) at 16 concurrent flows: the
#      marketplace scenario with only its booking chain in the mix; lives per second and p99 per
#      step (target: every step's p99 under 20 ms);
#   3. the marketplace scenario with its whole mix, with and without the booking steps.
# Usage: bash Deploy/bench-booking.sh [SECONDS]   (default 20 s per run; BENCH_SKIP_APPROVALS=1 runs 2 and 3 only;
#        BENCH_LIVES_ONLY=1 runs 2 only; BENCH_STATEMENTS_ONLY=1 runs 0 only, a functional check that
#        needs no quiet machine; BENCH_SERVER_ENV adds server settings, e.g.
#        BENCH_SERVER_ENV=KAROKAR_EVENTS_CLAIM_INTERVAL_MS=0 for the relay claiming whenever woken;
#        BENCH_AFTER_START_SQL=FILE runs FILE on the database once the server has migrated it, e.g.
#        Deploy/bench/claim-heads.sql for the relay's claim before events migration 6; BENCH_POOL=N
#        sets the server's database pool, default 6)
# With BENCH_PG_WAITS=1, part 2 also prints where the database connections' busy time goes
# (Deploy/bench/pg-waits.py: on CPU in PostgreSQL, COMMIT waiting for the WAL, waiting for the
# server's next statement, locks).
# Part 2 also prints the server's and PostgreSQL's CPU per call over its load phase
# (Deploy/bench/cpu.py), the host's speed before and after it (Deploy/bench/hostspeed.py: a
# fixed loop's time per core; compare runs at like speed) and the WAL written per call
# (BENCH_WAL_STATS=1: by relation, with pg_walinspect); with BENCH_PG_STATS=1 (pg_stat_statements, Deploy/bench/cluster.sh) it
# prints PostgreSQL's time by part (request path, relay, each consumer) and the top statements
# (and, with BENCH_PG_SETTINGS=pg_stat_statements.track_planning=on, the top ones by planning time).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-20}"
clients=16
# A pool of 6 connections, three per core of this 2-core machine (server and PostgreSQL on it):
# calls beyond that wait in the pool's FIFO queue instead of sharing the cores inside PostgreSQL,
# which made the heavy steps' p99 two to three times their p50 (booking lives 2026-12-06, p99 per
# step: pool 20, 24 to 58 ms; 10, 24 to 43; 6, 19 to 24; 5, 21 to 26; 4 and 3 fewer calls/s).
# One event loop (BENCH_LOOPS to change it): PostgreSQL shares the two cores, and the lives ran
# about 3% more calls/s with one loop than with two (README, "Settings").
BENCH_SERVER_ENV="KAROKAR_DATABASE_POOL_SIZE=${BENCH_POOL:-6} KAROKAR_EVENT_LOOP_THREADS=${BENCH_LOOPS:-1} KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S=0 ${BENCH_SERVER_ENV:-}"
source Deploy/bench/server.sh
if [ -n "${BENCH_AFTER_START_SQL:-}" ]; then
  echo "== after start: $BENCH_AFTER_START_SQL"
  psql -q -v ON_ERROR_STOP=1 "$database" -f "$BENCH_AFTER_START_SQL"
fi
admin=$(token admin@bench.local "$password")
onboard() {  # $1 type, $2 e-mail: registers, approves, prints the organization id
  local id
  id=$(call karokar.identity.v1.IdentityService/RegisterOrganization "{\"organizationName\": \"Bench $1\", \"organizationType\": \"ORGANIZATION_TYPE_$1\",
    \"adminFirstName\": \"Bench\", \"adminLastName\": \"Admin\", \"adminEmail\": \"$2\", \"adminPassword\": \"$password\"}" | field "['organization']['id']")
  call karokar.administration.v1.AdministrationService/ApproveOrganization "{\"organizationId\": \"$id\"}" -H "authorization: Bearer $admin" >/dev/null
  echo "$id"
}
vendor=$(onboard VENDOR vendor@bench.local)
corporate=$(onboard CORPORATE corporate@bench.local)
vendor_token=$(token vendor@bench.local "$password")
decider=$(psql -Atq "$database" -c "SELECT id FROM identity.users WHERE email = 'vendor@bench.local'")

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(date -u '+%Y-%m-%d %H:%M UTC')"
rounds="${BENCH_ROUNDS:-3}"
if [ -z "${BENCH_LIVES_ONLY:-}" ]; then
# Booking n is REQUESTED by the corporate for vehicle (n mod 10,000) + 1 of the vendor, over the
# n-th hour from 2096: no two approvals meet. pgbench round r uses n = r * 1,000,000 + client *
# 10,000 + 1, 2, ...; the server's round r uses n = 10,000,000 + r * 1,000,000 + its call sequence;
# the statement capture n = 50,000,001 to 50,000,003 (the server) and 40,000,001 (pgbench).
echo "== data set: the vendor's 10,000 vehicles, REQUESTED bookings for $rounds rounds of each"
psql -q -v ON_ERROR_STOP=1 "$database" <<SQL
INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
SELECT ('00000000-0000-4000-8000-' || (100000000000 + g))::uuid, '$vendor', 'VENDOR_OWNED', 'Tata', 'Alpha', 2022, 'APR' || g, 'ACTIVE'
FROM generate_series(1, 10000) AS g;
CREATE TEMP TABLE n AS
  SELECT r * 1000000 + c * 10000 + i AS n FROM generate_series(1, $rounds) r, generate_series(0, $clients - 1) c, generate_series(1, 9000) i
  UNION ALL SELECT 10000000 + r * 1000000 + i FROM generate_series(1, $rounds) r, generate_series(0, 150000) i
  UNION ALL SELECT 50000000 + i FROM generate_series(1, 3) i UNION ALL SELECT 40000001;
INSERT INTO booking.bookings (id, vehicle_id, vendor_organization_id, corporate_organization_id, requested_by, period, status,
    submitted_at, expires_at, created_at, updated_at)
SELECT ('00000000-0000-4000-9000-' || (200000000000 + n))::uuid, ('00000000-0000-4000-8000-' || (100000000000 + n % 10000 + 1))::uuid,
    '$vendor', '$corporate', '$corporate', tstzrange(to_timestamp(4000000000 + n * 3600::bigint), to_timestamp(4000000000 + n * 3600::bigint + 3600), '[)'),
    'REQUESTED', now(), now() + interval '100 years', now(), now()
FROM n;
ANALYZE fleet.vehicle; ANALYZE booking.bookings;
SQL
psql -Atq "$database" -c "SELECT 'bookings ' || count(*) FROM booking.bookings"

echo "== the approve path's statements: 3 approvals and 1 pgbench transaction with log_statement = 'all', against Deploy/bench/approval.pgbench"
capture=()
psql -Atq "$database" -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
for i in 1 2 3; do
  id="00000000-0000-4000-9000-$((200000000000 + 50000000 + i))"
  call karokar.booking.v1.BookingService/ApproveBooking "{\"bookingId\": \"$id\"}" -H "authorization: Bearer $vendor_token" >/dev/null
  capture+=("$id")
done
"$PGBIN/pgbench" -n -f Deploy/bench/approval.pgbench -D vendor="$vendor" -D decider="$decider" -D first=40000000 -D i=0 \
  -c 1 -t 1 -M prepared "$database" >/dev/null 2>&1 || echo "pgbench could not run Deploy/bench/approval.pgbench" >&2
psql -Atq "$database" -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
python3 Deploy/bench/statements.py "$bench_dir/postgres.log" Deploy/bench/approval.pgbench "${capture[@]}" \
  --pgbench "00000000-0000-4000-9000-$((200000000000 + 40000001))" || {
  echo "Deploy/bench/approval.pgbench no longer runs what the server runs for an approval: copy the statements above into it" >&2
  exit 1
}
fi
[ -n "${BENCH_STATEMENTS_ONLY:-}" ] && exit 0

if [ -z "${BENCH_SKIP_APPROVALS:-}" ] && [ -z "${BENCH_LIVES_ONLY:-}" ]; then
echo "== approvals: $clients in flight, ${seconds}s each, durable commits, $rounds rounds (ours, then pgbench)"
results=()
for round in $(seq 1 "$rounds"); do
  approve='{"bookingId": "00000000-0000-4000-9000-{{seq * 1 + '$((200000000000 + 10000000 + round * 1000000))'}}"}'
  ours=$("$bin/karokar-bench" --address "$address" --call karokar.booking.v1.BookingService/ApproveBooking --data "$approve" \
    -H "authorization: Bearer $vendor_token" --concurrency "$clients" --connections 4 --duration "${seconds}s" --warmup 3s \
    --server-pid "$server_pid" --no-progress --format json) || { echo "karokar-bench failed: $ours" >&2; exit 1; }
  pg=$("$PGBIN/pgbench" -n -f Deploy/bench/approval.pgbench -D vendor="$vendor" -D decider="$decider" -D first=$((round * 1000000)) -D i=0 \
    -c "$clients" -j 2 -T "$seconds" -M prepared "$database" 2>&1) || { echo "pgbench failed: $pg" >&2; exit 1; }
  results+=("$ours" "$pg")
done
python3 - "${results[@]}" <<'PY'
import json, re, sys, statistics
pairs = [(json.loads(sys.argv[i]), sys.argv[i + 1]) for i in range(1, len(sys.argv), 2)]
ratios = []
for number, (ours, pg) in enumerate(pairs, 1):
    tps = float(re.search(r"tps = ([0-9.]+)", pg).group(1))
    rate = ours["rate"]
    lat = ours.get("latencyMicros", {})
    ratios.append(rate / tps)
    print(f"  round {number}: RPC ApproveBooking {rate:7.0f}/s  p50 {lat.get('p50', 0)/1000:.2f} ms  p99 {lat.get('p99', 0)/1000:.2f} ms"
          f"  statuses {ours.get('statuses')}")
    print(f"           pgbench, the same SQL {tps:7.0f}/s  latency average {re.search(r'latency average = ([0-9.]+ ms)', pg).group(1)}"
          f"  -> {100 * rate / tps:.1f}%")
print(f"  ratio: median {100 * statistics.median(ratios):.1f}% of pgbench (rounds: {', '.join(f'{100 * r:.1f}%' for r in ratios)}; target 70%)")
PY
psql -Atq "$database" -c "SELECT 'approved ' || count(*) FROM booking.bookings WHERE status = 'APPROVED'" \
  -c "SELECT 'reservations ' || count(*) FROM fleet.availability WHERE source_type = 'BOOKING'"
fi

scenario() {  # $1 mix (empty: the whole mix)
  "$bin/karokar-bench" scenario marketplace --address "$address" --size 20 --vehicles-per-vendor 10 --corporates 8 \
    --admin-email admin@bench.local --admin-password "$password" --concurrency "$clients" --connections 4 --duration "${seconds}s" \
    ${1:+--mix "$1"}
}
others="search=0,check-availability=0,get-vehicle=0,vehicle-timeline=0,list-fleet=0,who-am-i=0,schedule-maintenance=0,place-block=0"
echo "== booking lives: $clients concurrent flows, ${seconds}s (the marketplace scenario, booking chain only)${BENCH_SERVER_ENV:+; server: $BENCH_SERVER_ENV}"
[ "${BENCH_PG_STATS:-0}" = 1 ] && pg_stats_reset karokar
postmaster=$(head -1 "$bench_dir/data/postmaster.pid")
echo "  before: $(python3 Deploy/bench/hostspeed.py)"
wal_start=$(psql -Atq "$database" -c "SELECT pg_current_wal_lsn()")
# BENCH_PG_WAITS=1: where the connections' busy time goes (Deploy/bench/pg-waits.py), sampled over
# the middle of the load phase (it starts after the scenario's setup, about 15 s here).
if [ "${BENCH_PG_WAITS:-0}" = 1 ]; then
  (sleep 18; python3 Deploy/bench/pg-waits.py "$database" "$(( seconds > 8 ? seconds - 6 : 2 ))" > "$bench_dir/waits.txt") &
  waits_pid=$!
fi
python3 Deploy/bench/cpu.py "$server_pid" "$postmaster" -- \
  "$bin/karokar-bench" scenario marketplace --address "$address" --size 20 --vehicles-per-vendor 10 --corporates 8 \
    --admin-email admin@bench.local --admin-password "$password" --concurrency "$clients" --connections 4 --duration "${seconds}s" \
    --mix "$others,create-booking=1,self-book=0" | tee "$bench_dir/lives.txt" | sed 's/^/  /'
# WAL per call: the write amplification of the calls (rows, index entries, events, consumers'
# writes), which the host's speed does not move (setup included, a few hundred calls).
if [ -n "${waits_pid:-}" ]; then wait "$waits_pid" || true; sed 's/^/  /' "$bench_dir/waits.txt"; fi
calls=$(awk '/load:/ {print $2}' "$bench_dir/lives.txt")
psql -Atq "$database" -c "SELECT '  wal:        ' || round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal_start') / greatest(${calls:-0}, 1)) || ' bytes per call (the whole cluster''s, setup included)'"
if [ "${BENCH_WAL_STATS:-0}" = 1 ]; then
  echo "== WAL written during the booking lives, by relation (pg_walinspect; the record's main data and block references)"
  psql -q "$database" -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" -c "
    SELECT coalesce(c.relname::text, r.resource_manager || ' (no relation)') AS relation, r.resource_manager AS kind, count(*) AS records,
           pg_size_pretty(sum(r.record_length)::int8) AS bytes, round(100.0 * sum(r.record_length) / sum(sum(r.record_length)) OVER (), 1) AS pct
    FROM pg_get_wal_records_info('$wal_start', pg_current_wal_flush_lsn()) AS r
    LEFT JOIN pg_class AS c ON c.relfilenode = substring(r.block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)')::oid
    GROUP BY 1, 2 ORDER BY sum(r.record_length) DESC LIMIT 25" | sed 's/^/  /'
fi
echo "  after: $(python3 Deploy/bench/hostspeed.py)"
if [ "${BENCH_PG_STATS:-0}" = 1 ]; then
  echo "== PostgreSQL's statements during the booking lives (setup included; pg_stat_statements, wall time)"
  pg_stats_report karokar | sed 's/^/  /'
fi
[ -n "${BENCH_LIVES_ONLY:-}" ] && exit 0
echo "== the marketplace scenario with bookings (its whole mix), ${seconds}s"
scenario "" | sed 's/^/  /'
echo "== the marketplace scenario without bookings, ${seconds}s"
scenario "create-booking=0,self-book=0" | sed 's/^/  /'
