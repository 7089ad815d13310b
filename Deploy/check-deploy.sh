#!/usr/bin/env bash
# Checks the deployment files (README, "Operations"): the systemd unit passes `systemd-analyze
# verify` (with ExecStart pointed at the built binary, since verify wants an executable there),
# and the HAProxy configuration passes `haproxy -c` where HAProxy is installed. Skips a check
# whose tool is missing, saying so. Run from anywhere after `swift build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
binary="$(swift build --show-bin-path)/karokar-server"
[ -x "$binary" ] || { echo "build karokar-server first (swift build)" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/local/bin/karokar-server|$binary|" Deploy/systemd/karokar-server.service >"$scratch/karokar-server.service"
  systemd-analyze verify "$scratch/karokar-server.service"
  echo "systemd unit: verified"
else
  echo "systemd unit: not checked (no systemd-analyze)"
fi

if command -v haproxy >/dev/null; then
  haproxy -c -q -f Deploy/haproxy/karokar.cfg
  echo "haproxy configuration: valid"
else
  echo "haproxy configuration: not checked (no haproxy)"
fi
