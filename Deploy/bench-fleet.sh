#!/usr/bin/env bash
# Fleet's benchmarks (issue 5), one command, on a scratch cluster and a release karokar-server:
#   1. SearchAvailableVehicles over 100,000 vehicles of 500 vendors and 1,000,000 availability
#      records (Deploy/bench/fleet-dataset.sql): random 7-day windows, first page of 50, 8 concurrent
#      searchers as a corporate (target: p99 under 20 ms), with EXPLAIN ANALYZE of the query;
#   2. reservations through the engine (AvailabilityService/CreateAvailabilityRecord, the whole
#      RPC path) vs pgbench running the same SQL (Deploy/bench/reservation.pgbench) against the same
#      database at the same concurrency (target: at least 70% of pgbench's rate), in alternating rounds
#      (BENCH_ROUNDS, default 3) since one run of either varies by tens of per cent on a shared machine.
#   Issue 22: the search part asks many questions (one line each); BENCH_SCALE=10 loads ten times the
#   data set (1,000,000 vehicles, 10,000,000 records; several GB, a long load) and reports its load
#   time and size on disk; BENCH_SEARCH_SECONDS (default SECONDS) per question; BENCH_SKIP_SEARCH=1,
#   BENCH_SKIP_RESERVATIONS=1 skip a part; BENCH_EXPLAIN= (empty) skips the EXPLAIN ANALYZE;
#   BENCH_SEARCH_ROUNDS=N asks every question N times in alternating rounds and prints the medians.
#   BENCH_HOLD=1: once the data set is loaded, writes the server's address, the database and the
#   corporate's token to $bench_dir/hold.env (the path is printed) and waits, server and cluster
#   running, until that file is removed: for EXPLAINs and single questions by hand.
# Usage: bash Deploy/bench-fleet.sh [SECONDS]   (default 20 s per run)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-20}"
clients=16
BENCH_SERVER_ENV="KAROKAR_DATABASE_POOL_SIZE=20"
source Deploy/bench/server.sh
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
corporate_token=$(token corporate@bench.local "$password")

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(date -u '+%Y-%m-%d %H:%M UTC')"
scale="${BENCH_SCALE:-1}"
echo "== data set: loading $((100000 * scale)) vehicles and $((1000000 * scale)) availability records (BENCH_SCALE=$scale)"
load_start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 -v scale="$scale" -f Deploy/bench/fleet-dataset.sql "$database" >/dev/null
echo "  loaded in $(( $(date +%s) - load_start )) s; on disk: database $(psql -Atq "$database" -c "SELECT pg_size_pretty(pg_database_size(current_database()))"), $(psql -Atq "$database" -c "SELECT string_agg(relname || ' ' || pg_size_pretty(pg_total_relation_size(c.oid)), ', ' ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'fleet' AND c.relname IN ('vehicle', 'availability', 'vehicle_free')") (tables with their indexes)"
# The onboarded vendor's own 10,000 active vehicles, the reservation load's: their ids are
# md5('reservable' || n) for n = 1..10,000, spread over the id space as the server's random ids are
# (sequential ids would all fall in the first id bucket of the search's gaps index and put 10,000
# idle vehicles in front of every question's first step).
psql -q -v ON_ERROR_STOP=1 "$database" -c "
  INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
  SELECT md5('reservable' || g)::uuid, '$vendor', 'VENDOR_OWNED', 'Tata', 'Alpha', 2022, 'RES' || g, 'ACTIVE'
  FROM generate_series(1, 10000) AS g;" -c "VACUUM ANALYZE fleet.vehicle, fleet.vehicle_free;"
psql -Atq "$database" -c "SELECT 'vehicles ' || count(*) FROM fleet.vehicle" -c "SELECT 'records ' || count(*) FROM fleet.availability"

if [ -n "${BENCH_HOLD:-}" ]; then
  printf 'address=%q\ndatabase=%q\ncorporate=%q\ncorporate_token=%q\nbin=%q\nserver_pid=%q\n' \
    "$address" "$database" "$corporate" "$corporate_token" "$bin" "$server_pid" >"$bench_dir/hold.env"
  echo "== holding: source $bench_dir/hold.env; remove it to go on"
  while [ -e "$bench_dir/hold.env" ]; do sleep 2; done
fi

if [ -z "${BENCH_SKIP_SEARCH:-}" ]; then
search_seconds="${BENCH_SEARCH_SECONDS:-$seconds}"
# One line per question (issue 22): 8 concurrent searchers as a corporate, page of 50, random
# windows starting in 2027 (the records' year); calls/s, p50, p99 (target at 100k/1M: p99 < 50 ms
# for every shape; at BENCH_SCALE=10: p99 < 150 ms).
window() {  # $1 seconds long, $2 extra request fields
  echo "{\"period\": {\"start\": {\"seconds\": \"{{randomInt 1798761600 1829692800}}\"}, \"end\": {\"seconds\": \"{{prev + $1}}\"}}$2, \"page\": {\"pageSize\": 50}}"
}
# Access tokens live 15 minutes and the load alone can take longer (BENCH_SCALE=10: about 15
# minutes): each question signs in again, and a question answered with anything but OK fails the
# run (an expired token once made one look like 50,000 calls/s of UNAUTHENTICATED).
corporate_token=$(token corporate@bench.local "$password")
first_page=$(call karokar.fleet.v1.FleetService/SearchAvailableVehicles '{"period": {"start": {"seconds": "1811808000"}, "end": {"seconds": "1812412800"}}, "page": {"pageSize": 50}}' -H "authorization: Bearer $corporate_token")
token=$(echo "$first_page" | field "['page']['nextPageToken']")
for _ in 1 2 3; do  # the token of the fifth page
  token=$(call karokar.fleet.v1.FleetService/SearchAvailableVehicles "{\"period\": {\"start\": {\"seconds\": \"1811808000\"}, \"end\": {\"seconds\": \"1812412800\"}}, \"page\": {\"pageSize\": 50, \"pageToken\": \"$token\"}}" -H "authorization: Bearer $corporate_token" | field "['page']['nextPageToken']")
done
one_vendor=$(psql -Atq "$database" -c "SELECT md5('vendor7')::uuid")
shapes=(
  "7-day windows, no filter|SearchAvailableVehicles|$(window 604800 '')"
  "1-hour windows|SearchAvailableVehicles|$(window 3600 '')"
  "30-day windows|SearchAvailableVehicles|$(window 2592000 '')"
  "60-day windows|SearchAvailableVehicles|$(window 5184000 '')"
  "90-day windows|SearchAvailableVehicles|$(window 7776000 '')"
  "180-day windows|SearchAvailableVehicles|$(window 15552000 '')"
  "7 days, make+model+year matching nothing|SearchAvailableVehicles|$(window 604800 ', "filters": {"make": {"value": "Tata"}, "model": {"value": "Beta"}, "yearMin": {"value": 2030}}')"
  "60 days, make+model+year matching nothing|SearchAvailableVehicles|$(window 5184000 ', "filters": {"make": {"value": "Tata"}, "model": {"value": "Beta"}, "yearMin": {"value": 2030}}')"
  "7 days, a rare make (Skoda, 1 in 8; model Sigma, year 2025)|SearchAvailableVehicles|$(window 604800 ', "filters": {"make": {"value": "Skoda"}, "model": {"value": "Sigma"}, "yearMin": {"value": 2025}}')"
  "60 days, a rare make (Skoda)|SearchAvailableVehicles|$(window 5184000 ', "filters": {"make": {"value": "Skoda"}}')"
  "7 days, one vendor|SearchAvailableVehicles|$(window 604800 ", \"filters\": {\"vendorOrganizationId\": {\"value\": \"$one_vendor\"}}")"
  "60 days, one vendor|SearchAvailableVehicles|$(window 5184000 ", \"filters\": {\"vendorOrganizationId\": {\"value\": \"$one_vendor\"}}")"
  "7 days, own fleet (corporate-owned)|SearchAvailableVehicles|$(window 604800 ', "filters": {"ownershipType": "OWNERSHIP_TYPE_CORPORATE_OWNED"}')"
  "later page (5th of a fixed 7-day window)|SearchAvailableVehicles|{\"period\": {\"start\": {\"seconds\": \"1811808000\"}, \"end\": {\"seconds\": \"1812412800\"}}, \"page\": {\"pageSize\": 50, \"pageToken\": \"$token\"}}"
  "flexible: 30 days starting within 14 days|SearchFlexibleStart|{\"earliestStart\": {\"seconds\": \"{{randomInt 1798761600 1829692800}}\"}, \"latestStart\": {\"seconds\": \"{{prev + 1209600}}\"}, \"durationMinutes\": 43200, \"page\": {\"pageSize\": 50}}"
  "flexible: 7 days starting within 2 days|SearchFlexibleStart|{\"earliestStart\": {\"seconds\": \"{{randomInt 1798761600 1829692800}}\"}, \"latestStart\": {\"seconds\": \"{{prev + 172800}}\"}, \"durationMinutes\": 10080, \"page\": {\"pageSize\": 50}}"
)
echo "== search: 8 concurrent searchers (a corporate), page of 50, ${search_seconds}s per question"
search_rounds="${BENCH_SEARCH_ROUNDS:-1}"
[ "$search_rounds" -gt 1 ] && echo "   $search_rounds rounds, each asking every question in turn; then each question's median of its rounds"
printf '  %-58s %9s %9s %9s  %s\n' question calls/s "p50 ms" "p99 ms" statuses
failed_questions=()
search_reports="$bench_dir/search-reports.jsonl"
: >"$search_reports"
for search_round in $(seq 1 "$search_rounds"); do
  [ "$search_rounds" -gt 1 ] && echo "  round $search_round"
  for shape in "${shapes[@]}"; do
    IFS='|' read -r name method data <<<"$shape"
    corporate_token=$(token corporate@bench.local "$password")
    report=$("$bin/karokar-bench" --address "$address" --call "karokar.fleet.v1.FleetService/$method" --data "$data" \
      -H "authorization: Bearer $corporate_token" --concurrency 8 --connections 8 --duration "${search_seconds}s" --warmup 2s \
      --server-pid "$server_pid" --no-progress --format json) || { echo "karokar-bench failed ($name): $report" >&2; exit 1; }
    python3 - "$name" "$report" "$search_reports" <<'PY' || failed_questions+=("$name")
import json, sys
name, r, reports = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
lat = r.get("latencyMicros", {})
print(f"  {name:58} {r['rate']:9.0f} {lat.get('p50', 0)/1000:9.2f} {lat.get('p99', 0)/1000:9.2f}  {r.get('statuses')}")
with open(reports, "a") as out:
    out.write(json.dumps({"name": name, "rate": r["rate"], "p50": lat.get("p50", 0) / 1000, "p99": lat.get("p99", 0) / 1000}) + "\n")
sys.exit(0 if set(r.get("statuses") or {}) == {"OK"} else 1)
PY
  done
done
if [ "$search_rounds" -gt 1 ]; then
  echo "== search: medians of $search_rounds rounds"
  python3 - "$search_reports" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for name in dict.fromkeys(row["name"] for row in rows):
    mine = [row for row in rows if row["name"] == name]
    median = lambda key: statistics.median(row[key] for row in mine)
    spread = ", ".join("%.1f" % row["p99"] for row in mine)
    print(f"  {name:58} {median('rate'):9.0f} {median('p50'):9.2f} {median('p99'):9.2f}  (p99 of the rounds: {spread})")
PY
fi
if [ -n "${BENCH_EXPLAIN-1}" ]; then
echo "== EXPLAIN (ANALYZE, BUFFERS) of the search's three plans (Sources/FleetContext/Persistence/SearchStore.swift), a corporate caller"
psql -q "$database" -v corporate="$corporate" -f Deploy/bench/search-explain.sql | sed 's/^/  /'
fi
fi
if [ ${#failed_questions[@]} -gt 0 ]; then
  echo "answered with other statuses than OK (figures above are not the search's): ${failed_questions[*]}" >&2
  exit 1
fi
[ -n "${BENCH_SKIP_RESERVATIONS:-}" ] && exit 0
vendor_token=$(token vendor@bench.local "$password")
rounds="${BENCH_ROUNDS:-3}"
vehicle() { psql -Atq "$database" -c "SELECT md5('reservable' || $1)::uuid"; }
# The reservation path's statements, as for approvals in Deploy/bench-booking.sh: three
# reservations through the RPC (vehicles 2 to 4) and one pgbench transaction (vehicle 1) with
# log_statement = 'all', compared with Deploy/bench/reservation.pgbench; the script stops if they differ.
echo "== the reservation path's statements: 3 reservations and 1 pgbench transaction with log_statement = 'all', against Deploy/bench/reservation.pgbench"
psql -Atq "$database" -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
capture=()
for n in 2 3 4; do
  id=$(vehicle $n)
  call karokar.fleet.v1.AvailabilityService/CreateAvailabilityRecord "{\"vehicleId\": \"$id\", \"status\": \"AVAILABILITY_STATUS_RESERVED\",
    \"sourceType\": \"AVAILABILITY_SOURCE_TYPE_BOOKING\", \"sourceId\": \"$(python3 -c 'import uuid; print(uuid.uuid4())')\",
    \"period\": {\"start\": {\"seconds\": \"$((1900000000 + n * 3600))\"}, \"end\": {\"seconds\": \"$((1900000000 + n * 3600 + 3600))\"}}}" \
    -H "authorization: Bearer $vendor_token" >/dev/null
  capture+=("$id")
done
"$PGBIN/pgbench" -n -f Deploy/bench/reservation.pgbench -D vendor="$vendor" -D vehicles=1 -c 1 -t 1 -M prepared "$database" >/dev/null 2>&1 \
  || echo "pgbench could not run Deploy/bench/reservation.pgbench" >&2
psql -Atq "$database" -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
statements_report="$bench_dir/statements.txt"
if python3 Deploy/bench/statements.py "$bench_dir/postgres.log" Deploy/bench/reservation.pgbench "${capture[@]}" --pgbench "$(vehicle 1)" >"$statements_report"; then
  grep -E "same statements" "$statements_report" | sed 's/^/  /' || true
else
  tail -40 "$statements_report"
  echo "Deploy/bench/reservation.pgbench no longer runs what the server runs for a reservation: copy the statements above into it" >&2
  exit 1
fi
[ -n "${BENCH_STATEMENTS_ONLY:-}" ] && exit 0
# The RPC side names the same vehicles: one request line per vehicle (--data-file), taken at
# random, each call in an hour of its own (its sequence number), so no reservation meets another.
requests="$bench_dir/reservations.jsonl"
echo "== reservations: $clients clients, ${seconds}s each, durable commits, $rounds rounds (ours, then pgbench)"
results=()
for round in $(seq 1 "$rounds"); do
  # Each round books slots of its own, so no reservation meets an earlier one.
  base=$((2000000000 + round * 400000000))
  psql -Atq "$database" -c "SELECT md5('reservable' || g)::uuid FROM generate_series(1, 10000) AS g" | while read -r id; do
    echo "{\"vehicleId\": \"$id\", \"status\": \"AVAILABILITY_STATUS_RESERVED\", \"sourceType\": \"AVAILABILITY_SOURCE_TYPE_BOOKING\", \"sourceId\": \"{{uuid}}\", \"period\": {\"start\": {\"seconds\": \"{{seq * 3600 + $base}}\"}, \"end\": {\"seconds\": \"{{prev + 3600}}\"}}}"
  done >"$requests"
  ours=$("$bin/karokar-bench" --address "$address" --call karokar.fleet.v1.AvailabilityService/CreateAvailabilityRecord --data-file "$requests" --data-order random \
    -H "authorization: Bearer $vendor_token" --concurrency "$clients" --connections 4 --duration "${seconds}s" --warmup 3s \
    --server-pid "$server_pid" --no-progress --format json) || { echo "karokar-bench failed: $ours" >&2; exit 1; }
  pg=$("$PGBIN/pgbench" -n -f Deploy/bench/reservation.pgbench -D vendor="$vendor" -D vehicles=10000 -c "$clients" -j 2 -T "$seconds" -M prepared "$database" 2>&1) || { echo "pgbench failed: $pg" >&2; exit 1; }
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
    cpu = ours.get("cpu") or {}
    ratios.append(rate / tps)
    print(f"  round {number}: engine (RPC CreateAvailabilityRecord) {rate:7.0f}/s  p50 {lat.get('p50', 0)/1000:.2f} ms  p99 {lat.get('p99', 0)/1000:.2f} ms"
          f"  statuses {ours.get('statuses')}  CPU/call {cpu}")
    print(f"           pgbench, the same SQL            {tps:7.0f}/s  latency average {re.search(r'latency average = ([0-9.]+ ms)', pg).group(1)}"
          f"  -> {100 * rate / tps:.1f}%")
print(f"  ratio: median {100 * statistics.median(ratios):.1f}% of pgbench (rounds: {', '.join(f'{100 * r:.1f}%' for r in ratios)}; target 70%)")
PY
