#!/usr/bin/env bash
# Interop check: runs the Python client written from Protos/PROTOCOL.md alone
# (Tests/Interop/karokar_client.py) against a real karokar-server on the loopback interface:
#   1. builds the server (swift build --product karokar-server) and finds it (--show-bin-path),
#   2. starts it on a free 127.0.0.1 port and waits until the port accepts connections,
#   3. runs the client's checks,
#   4. connects an --expect-drain client, sends SIGTERM to the server, and checks the graceful
#      drain: the client sees DRAIN OK with the right last_call_id and the close, and the server
#      exits 0 within 30 s.
# Set KAROKAR_SERVER_BIN=/path/to/karokar-server to skip the build and use that binary.
# Exits non-zero if anything fails. Requires python3 with the `protobuf` package and protoc-c.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

host=127.0.0.1
client=Tests/Interop/karokar_client.py
startup_timeout=30
drain_exit_timeout=30

log() { printf 'interop: %s\n' "$*"; }
fail() { printf 'interop: FAIL: %s\n' "$*" >&2; exit 1; }

if [[ -n "${KAROKAR_SERVER_BIN:-}" ]]; then
  server_bin="$KAROKAR_SERVER_BIN"
  log "using server binary $server_bin (KAROKAR_SERVER_BIN)"
else
  log "building: swift build --product karokar-server"
  swift build --product karokar-server
  server_bin="$(swift build --show-bin-path)/karokar-server"
  log "server binary: $server_bin"
fi
[[ -x "$server_bin" ]] || fail "no executable server at $server_bin"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/karokar-interop.XXXXXX")"
server_pid=""
drain_pid=""

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  if alive "$drain_pid"; then
    kill "$drain_pid" 2>/dev/null || true
  fi
  if alive "$server_pid"; then
    log "stopping server (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$server_pid" || break; sleep 0.1; done
    if alive "$server_pid"; then
      log "server still running; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -s "$workdir/server.log" ]]; then
    log "server log (last 40 lines):"
    tail -n 40 "$workdir/server.log" | sed 's/^/  server| /'
  fi
  rm -rf "$workdir"
  exit $rc
}
trap cleanup EXIT

port="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')"

log "starting server on $host:$port (log: $workdir/server.log)"
# The server runs a private PostgreSQL in the scratch directory (as the postgres user when root,
# so the directory must be traversable).
chmod 755 "$workdir"
"$server_bin" --host "$host" --port "$port" --set data-dir="$workdir/data" >"$workdir/server.log" 2>&1 &
server_pid=$!

log "waiting up to ${startup_timeout}s for $host:$port to accept connections"
deadline=$((SECONDS + startup_timeout))
until python3 -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$host" "$port" 2>/dev/null; do
  alive "$server_pid" || fail "server exited during startup"
  ((SECONDS < deadline)) || fail "server did not accept connections within ${startup_timeout}s"
  sleep 0.2
done
log "server is up (pid $server_pid)"

log "running checks: python3 $client --host $host --port $port"
checks_rc=0
python3 "$client" --host "$host" --port "$port" || checks_rc=$?

log "graceful drain: starting python3 $client --expect-drain in the background"
ready="$workdir/drain-ready"
python3 "$client" --host "$host" --port "$port" --expect-drain --ready-file "$ready" &
drain_pid=$!
deadline=$((SECONDS + 30))
until [[ -s "$ready" ]]; do
  alive "$drain_pid" || break
  ((SECONDS < deadline)) || break
  sleep 0.1
done
[[ -s "$ready" ]] || log "drain client did not become ready; sending SIGTERM anyway"

log "sending SIGTERM to the server (pid $server_pid)"
kill -TERM "$server_pid"
deadline=$((SECONDS + drain_exit_timeout))
while alive "$server_pid" && ((SECONDS < deadline)); do sleep 0.1; done
server_rc=0
if alive "$server_pid"; then
  server_rc="still running after ${drain_exit_timeout}s"
else
  wait "$server_pid" || server_rc=$?
  server_pid=""
fi

drain_rc=0
wait "$drain_pid" || drain_rc=$?
drain_pid=""

log "checks exit code: $checks_rc; drain client exit code: $drain_rc; server exit: $server_rc"
if [[ $checks_rc -ne 0 || $drain_rc -ne 0 || "$server_rc" != 0 ]]; then
  fail "interop check failed"
fi
log "PASS: the client written from PROTOCOL.md interoperates with karokar-server"
