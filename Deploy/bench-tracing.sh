#!/usr/bin/env bash
# The cost of tracing on the Echo benchmark (issue 20, README "Tracing"). Release servers on one
# scratch database, identical but for tracing, loaded in turn (round robin) by `karokar-bench call`,
# ROUNDS each; the report is each one's median server CPU per call and calls/s:
#   base: BASE_BIN's server (a release build of the commit before tracing), when BASE_BIN is set;
#   off:  this build, no tracing-otlp-endpoint (the default: no tracer, no span);
#   zero: tracing on with tracing-sample-ratio=0 (every call with an unsampled span, nothing
#         recorded nor sent);
#   full: tracing on, every call's span recorded and sent to a local OTLP/HTTP sink (python).
# "off" against "base" is what an operator who does not trace pays (the issue: negligible).
#   bash Deploy/bench-tracing.sh                               # 5 rounds of 10 s, 64 in flight, 1 connection
#   BASE_BIN=/tmp/base/.build/release ROUNDS=9 BENCH_PIN=1 bash Deploy/bench-tracing.sh
# Settings and the shared steps: Deploy/bench/echo-servers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source Deploy/bench/echo-servers.sh

# The OTLP/HTTP sink: answers every POST with 200 and counts the bytes it received.
sink_port=$((40000 + RANDOM % 10000))
python3 - "$sink_port" "$bench_dir/sink.count" >"$bench_dir/sink.log" 2>&1 <<'PY' &
import http.server, sys
port, count_file = int(sys.argv[1]), sys.argv[2]
received = [0, 0]
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        received[0] += 1; received[1] += length
        open(count_file, "w").write(f"{received[0]} requests, {received[1]} bytes\n")
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
pids+=($!)

port=$((20000 + RANDOM % 10000))
# The base server migrates the database first, alone: an older build must not find a newer schema half-made.
if [ -n "${BASE_BIN:-}" ]; then echo_server base "$(cd "$BASE_BIN" && pwd)" $((port + 3)); echo_wait; fi
echo_server off "$bin" "$port"
echo_server zero "$bin" $((port + 1)) --set tracing-otlp-endpoint="http://127.0.0.1:$sink_port" --set tracing-sample-ratio=0
echo_server full "$bin" $((port + 2)) --set tracing-otlp-endpoint="http://127.0.0.1:$sink_port" --set tracing-sample-ratio=1
echo_wait
echo_rounds
echo "OTLP sink: $(cat "$bench_dir/sink.count" 2>/dev/null || echo 'nothing received')"
if [ -n "${BASE_BIN:-}" ]; then echo_summary base; else echo_summary off; fi
