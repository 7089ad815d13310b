#!/usr/bin/env bash
# Audit's benchmarks (issue 17), one command, release build:
#   1. Audit keeping up with the outbox: 16 open-loop publishers offer KAROKAR_AUDIT_RATE events/s
#      (default 2,000) for KAROKAR_AUDIT_SECONDS (default 10) through the real outbox path (each
#      event in its own transaction via EventBus/UnitOfWork.publish, 800 aggregates), on a fresh
#      scratch PostgreSQL, one relay running the Audit consumer (`*`, from the beginning, two loops).
#      Prints the publish rate reached and the lag of each record behind its event: audit
#      `recorded_at` minus the outbox's `recorded_at` (the event's insert, just before its commit,
#      so the lag is over-stated by the commit's duration): p50, p99, max. Then every event must have
#      exactly one record and VerifyChain must find the chain intact. Target: p99 < 200 ms at 2,000/s.
#   2. VerifyChain over KAROKAR_AUDIT_VERIFY_RECORDS records (default 1,000,000), written straight
#      into the chain first: the time of one full recomputation.
# Usage: bash Deploy/bench-audit.sh            (figures; run on a quiet machine)
#        KAROKAR_AUDIT_RATE=4000 KAROKAR_AUDIT_SECONDS=20 bash Deploy/bench-audit.sh
#        BENCH_CONFIGURATION=debug bash Deploy/bench-audit.sh   (a functional run; never for figures)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
configuration="${BENCH_CONFIGURATION:-release}"
export KAROKAR_AUDIT_RATE="${KAROKAR_AUDIT_RATE:-2000}"
export KAROKAR_AUDIT_SECONDS="${KAROKAR_AUDIT_SECONDS:-10}"
verify_records="${KAROKAR_AUDIT_VERIFY_RECORDS:-1000000}"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'), $configuration build"
# The benchmarks are tests that import the contexts with @testable: a release build needs -enable-testing.
flags=(-c "$configuration")
if [ "$configuration" = release ]; then flags+=(-Xswiftc -enable-testing); fi
swift build --build-tests "${flags[@]}" >/dev/null
echo "== audit lag: ${KAROKAR_AUDIT_RATE} events/s offered by 16 publishers for ${KAROKAR_AUDIT_SECONDS} s"
swift test "${flags[@]}" --skip-build --filter 'AuditThroughputBenchmark' 2>&1 | grep -E "audit at|audit chain|✘|error|failed" | sed 's/^/  /'
echo "== VerifyChain over ${verify_records} records"
KAROKAR_AUDIT_VERIFY_RECORDS="$verify_records" swift test "${flags[@]}" --skip-build --filter 'AuditVerifyBenchmark' 2>&1 \
  | grep -E "VerifyChain over|✘|error|failed" | sed 's/^/  /'
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
