# Sourced by the benchmark scripts, from the repository root: release binaries, a scratch cluster
# (Deploy/bench/cluster.sh) with a database `karokar`, and a release karokar-server on a random
# loopback port serving it, with a known platform administrator; stopped on exit. Defines $bin,
# $database, $address, $server_pid, $password, and `call` (karokar call), `field` (a JSON path of
# stdin) and `token EMAIL PASSWORD` (an access token). Extra server environment: $BENCH_SERVER_ENV.
# The per-address limits on logins and registrations are off (every load comes from 127.0.0.1).
# BENCH_PIN=1 runs the server on CPU 0 only and defines $pin_load (`taskset -c 1`) for the load
# generator, so the two never share a core (less run-to-run noise on a 2-core machine).
# BENCH_BIN=DIR takes karokar-server, karokar-bench and karokar from DIR instead of building
# release ones (e.g. .build/debug for a functional run; never for figures).
source Deploy/bench/binaries.sh
bench_binaries karokar-server karokar-bench karokar
source Deploy/bench/cluster.sh
"$PGBIN/createdb" karokar
database="$(conninfo karokar)"
port=$((20000 + RANDOM % 20000))
server_pin=() pin_load=()
if [ "${BENCH_PIN:-0}" = 1 ]; then server_pin=(taskset -c 0) pin_load=(taskset -c 1); fi
password="bench passphrase $RANDOM$RANDOM"
env KAROKAR_BOOTSTRAP_ADMIN_PASSWORD="$password" KAROKAR_BOOTSTRAP_ADMIN_EMAIL=admin@bench.local KAROKAR_LOG_LEVEL=warning \
  KAROKAR_FLEET_DOCUMENT_SWEEP_INTERVAL_S=0 KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S=0 KAROKAR_VERIFICATION_EXPIRY_SWEEP_INTERVAL_S=0 \
  KAROKAR_LOGIN_RATE_PER_MINUTE=0 KAROKAR_REGISTER_RATE_PER_MINUTE=0 KAROKAR_TOKEN_EXCHANGE_RATE_PER_MINUTE=0 \
  KAROKAR_PASSWORD_HASH_QUEUE=256 ${BENCH_SERVER_ENV:-} \
  ${server_pin[@]+"${server_pin[@]}"} "$bin/karokar-server" --port "$port" --database-url "$database" --set data-dir="$bench_dir/server" >"$bench_dir/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; stop_cluster' EXIT
address="127.0.0.1:$port"
for _ in $(seq 1 100); do "$bin/karokar" call --address "$address" karokar.rpc.v1.HealthService/Check >/dev/null 2>&1 && break; sleep 0.2; done
kill -0 $server_pid 2>/dev/null || { echo "karokar-server did not start:" >&2; cat "$bench_dir/server.log" >&2; exit 1; }

call() { "$bin/karokar" call --address "$address" --compact "$@"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
token() { call karokar.identity.v1.IdentityService/Login "{\"email\": \"$1\", \"password\": \"$2\"}" | field "['grant']['accessToken']"; }
