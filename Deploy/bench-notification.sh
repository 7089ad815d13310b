#!/usr/bin/env bash
# Notification keeping up (issue 18): booking.requested events offered open loop at RATE per second
# for SECONDS, each notifying two recipients in-app and by e-mail to a local SMTP server: by default
# a small SwiftNIO one in the test process (it checks each message arrives once), or with
# KAROKAR_NOTIFICATION_SMTP_SERVER=aiosmtpd a local aiosmtpd (Deploy/smtp-recorder.py, SMTP_PROCESSES
# processes on one port; ~0.5 ms of Python per message, so on 2 cores it sets the pace). Prints one line: events offered
# and published per second, e-mails sent per second (while offered and overall), the e-mail delivery
# lag p50/p99/max (split into planning and sending), the PENDING backlog at the start, middle and end
# of the offered period (and per second), and the SMTP connections the server opened.
#
#   bash Deploy/bench-notification.sh [RATE=2000] [SECONDS=60] [IN_FLIGHT=64] [SMTP_CONNECTIONS=8] [SMTP_PROCESSES=2]
#
# CONFIG=release (default) builds and runs the tests in release (-enable-testing); CONFIG=debug for a
# quick look. NICE=19 runs it under `nice -n 19` (on a shared machine). KAROKAR_NOTIFICATION_HANDOFF=N
# sets the senders' handoff (direct dispatch; 0: every delivery claimed, as before it). Needs python3 with aiosmtpd
# (Deploy/install-deps.sh). Run on a quiet machine; figures from a shared one are labelled as such.
# The host's speed is printed before and after (Deploy/bench/hostspeed.py): compare runs at like speed.
# KAROKAR_NOTIFICATION_WAL_STATS=1 also prints the WAL per event by relation (pg_walinspect).
# The target (issue 18): 2,000 events/s, lag p99 under 1 s, no backlog growth over 60 s.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rate="${1:-2000}"
seconds="${2:-60}"
in_flight="${3:-64}"
connections="${4:-8}"
processes="${5:-2}"
config="${CONFIG:-release}"
nice=()
if [ -n "${NICE:-}" ]; then nice=(nice -n "$NICE"); fi
flags=(-c "$config")
if [ "$config" = release ]; then flags+=(-Xswiftc -enable-testing); fi
"${nice[@]}" swift build --build-tests "${flags[@]}" >/dev/null
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $config build"
echo "before: $(python3 Deploy/bench/hostspeed.py)"
# The test run's PostgreSQL as Deploy/bench/cluster.sh's for the other benchmarks (512 MB of shared
# buffers; PostgreSQL's default 128 MB holds less than a minute of deliveries at the target).
KAROKAR_TEST_PG_SETTINGS="${KAROKAR_TEST_PG_SETTINGS:-shared_buffers=512MB}" \
KAROKAR_NOTIFICATION_RATE="$rate" KAROKAR_NOTIFICATION_SECONDS="$seconds" KAROKAR_NOTIFICATION_IN_FLIGHT="$in_flight" \
  KAROKAR_NOTIFICATION_SMTP_CONNECTIONS="$connections" KAROKAR_NOTIFICATION_SMTP_PROCESSES="$processes" \
  "${nice[@]}" swift test --skip-build "${flags[@]}" --filter 'NotificationBenchmark' 2>&1 | grep -E 'notification bench|passed|failed|error' || true
echo "machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "after: $(python3 Deploy/bench/hostspeed.py)"
