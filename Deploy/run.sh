#!/usr/bin/env bash
# One command from a fresh clone to a running server: installs what is missing, builds (release),
# and runs karokar-server on 127.0.0.1:7420. Extra arguments go to the server, e.g.
#   bash Deploy/run.sh --port 7500
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash Deploy/install-deps.sh
swift build -c release --product karokar-server
exec "$(swift build -c release --show-bin-path)/karokar-server" "$@"
