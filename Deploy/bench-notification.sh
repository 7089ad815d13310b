#!/usr/bin/env bash
# Notification keeping up (issue 18): booking.requested events offered at RATE per second for
# SECONDS, each notifying two recipients in-app and by e-mail to a local aiosmtpd
# (Deploy/smtp-recorder.py); prints the rate achieved, the e-mail delivery lag (p50, p99, max)
# and the backlog of PENDING e-mails sampled every second.
#
#   bash Deploy/bench-notification.sh [RATE=2000] [SECONDS=60] [IN_FLIGHT=64]
#
# Needs python3 with aiosmtpd (Deploy/install-deps.sh). Run on a quiet machine; figures from a
# shared one are labelled as such.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rate="${1:-2000}"
seconds="${2:-60}"
in_flight="${3:-64}"
swift build --build-tests -c debug >/dev/null
KAROKAR_NOTIFICATION_RATE="$rate" KAROKAR_NOTIFICATION_SECONDS="$seconds" KAROKAR_NOTIFICATION_IN_FLIGHT="$in_flight" \
  swift test --skip-build --filter 'NotificationBenchmark' 2>&1 | grep -E 'notification bench|passed|failed|error' || true
