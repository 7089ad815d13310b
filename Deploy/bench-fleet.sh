#!/usr/bin/env bash
# Fleet's benchmarks (issue 5), one command, on a scratch cluster and a release karokar-server:
#   1. SearchAvailableVehicles over 100,000 vehicles of 500 vendors and 1,000,000 availability
#      records (Deploy/bench/fleet-dataset.sql): random 7-day windows, first page of 50, 8 concurrent
#      searchers as a corporate (target: p99 under 20 ms), with EXPLAIN ANALYZE of the query;
#   2. reservations through the engine (AvailabilityService/CreateAvailabilityRecord, the whole
#      RPC path) vs pgbench running the same SQL (Deploy/bench/reservation.pgbench) against the same
#      database at the same concurrency (target: at least 70% of pgbench's rate), in alternating rounds
#      (BENCH_ROUNDS, default 3) since one run of either varies by tens of per cent on a shared machine.
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
echo "== data set: loading 100,000 vehicles and 1,000,000 availability records"
psql -q -v ON_ERROR_STOP=1 -f Deploy/bench/fleet-dataset.sql "$database" >/dev/null
# The onboarded vendor's own 10,000 active vehicles, with ids the reservation load can name.
psql -q -v ON_ERROR_STOP=1 "$database" -c "
  INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
  SELECT ('00000000-0000-4000-8000-' || (100000000000 + g))::uuid, '$vendor', 'VENDOR_OWNED', 'Tata', 'Alpha', 2022, 'RES' || g, 'ACTIVE'
  FROM generate_series(1, 10000) AS g; ANALYZE fleet.vehicle;"
psql -Atq "$database" -c "SELECT 'vehicles ' || count(*) FROM fleet.vehicle" -c "SELECT 'records ' || count(*) FROM fleet.availability"

if [ -z "${BENCH_SKIP_SEARCH:-}" ]; then
echo "== search: 8 concurrent searchers (a corporate), random 7-day windows of 2027, page of 50, ${seconds}s"
search='{"period": {"start": {"seconds": "{{randomInt 1798761600 1829692800}}"}, "end": {"seconds": "{{prev + 604800}}"}}, "page": {"pageSize": 50}}'
"$bin/karokar-bench" --address "$address" --call karokar.fleet.v1.FleetService/SearchAvailableVehicles --data "$search" \
  -H "authorization: Bearer $corporate_token" --concurrency 8 --connections 8 --duration "${seconds}s" --warmup 3s \
  --server-pid "$server_pid" --no-progress | sed 's/^/  /'
echo "== EXPLAIN ANALYZE of the search (the server's statement, a corporate caller, 2027-06-01 + 7 days)"
psql -q "$database" <<SQL | sed 's/^/  /'
PREPARE search(tstzrange, bool, uuid, text, uuid, text, text, int, int, uuid, int) AS
SELECT v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version, v.created_at, v.updated_at
FROM fleet.vehicle AS v JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
WHERE v.status = 'ACTIVE' AND (\$2 OR v.ownership_type = 'VENDOR_OWNED' OR v.organization_id = \$3)
  AND (\$4::text IS NULL OR v.ownership_type = \$4::text) AND (\$5::uuid IS NULL OR v.organization_id = \$5::uuid)
  AND (\$6::text IS NULL OR lower(v.make) = lower(\$6::text)) AND (\$7::text IS NULL OR lower(v.model) = lower(\$7::text))
  AND (\$8::int IS NULL OR v.year >= \$8::int) AND (\$9::int IS NULL OR v.year <= \$9::int)
  AND (\$10::uuid IS NULL OR v.id > \$10::uuid)
  AND (SELECT NOT EXISTS (SELECT 1 FROM fleet.availability AS a
       WHERE a.vehicle_id = v.id AND a.released_at IS NULL AND a.blocked && fleet.with_turnaround(\$1::tstzrange, o.turnaround_minutes)))
ORDER BY v.id LIMIT \$11;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE search('[2027-06-01,2027-06-08)', false, '$corporate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 51);
SQL

fi
rounds="${BENCH_ROUNDS:-3}"
echo "== reservations: $clients clients, ${seconds}s each, durable commits, $rounds rounds (ours, then pgbench)"
results=()
for round in $(seq 1 "$rounds"); do
  # Each round books slots of its own, so no reservation meets an earlier one.
  base=$((2000000000 + round * 400000000))
  reserve='{"vehicleId": "00000000-0000-4000-8000-{{randomInt 100000000001 100000010000}}", "status": "AVAILABILITY_STATUS_RESERVED",
    "sourceType": "AVAILABILITY_SOURCE_TYPE_BOOKING", "sourceId": "{{uuid}}",
    "period": {"start": {"seconds": "{{seq * 3600 + '$base'}}"}, "end": {"seconds": "{{prev + 3600}}"}}}'
  ours=$("$bin/karokar-bench" --address "$address" --call karokar.fleet.v1.AvailabilityService/CreateAvailabilityRecord --data "$reserve" \
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
