#!/usr/bin/env bash
# The whole test suite, exactly what CI runs: installs what is missing, lints the protos, checks
# that generated code is up to date, builds, runs every Swift test, and runs the protocol interop
# client (written from Protos/PROTOCOL.md alone) against a live server, and the short scale-out run
# (three servers behind HAProxy: Deploy/scale-out.sh). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash Deploy/install-deps.sh

step "buf lint"
(cd Protos && buf lint)
echo "protos lint clean"

# Breaking-change detection against the previous commit. Reported, not enforced, while the
# context services are first drafts; set KAROKAR_ENFORCE_BREAKING=1 to fail on it.
if git rev-parse -q --verify HEAD~1 >/dev/null 2>&1 && git cat-file -e HEAD~1:Protos/buf.yaml 2>/dev/null; then
  step "buf breaking (against HEAD~1)"
  if ! (cd Protos && buf breaking --against "$root/.git#ref=HEAD~1,subdir=Protos"); then
    [ "${KAROKAR_ENFORCE_BREAKING:-0}" = 1 ] && exit 1
    echo "(breaking changes reported above; not enforced yet)"
  fi
fi

step "generated code is up to date"
bash Deploy/generate.sh --check

step "build"
swift build --build-tests

# Three runs: the RPC runtime suites assert on timeouts of a few hundred milliseconds, and on a
# 2-core machine they should not share it with PostgreSQL clusters being initialized; the
# PostgreSQL layer's and the event platform's suites time outages, cancels and relay leases, and
# should not share it with the contexts' suites (dozens of servers, two-process races, fuzzing).
# Everything else (every context, and any new target) runs in the third.
# Each group is bounded (20, 20 and 30 minutes; they take 1-8) by Deploy/test-group.sh: a hung
# test fails the run with the tests that never finished named (and the test process's threads),
# instead of using up CI's 90 minutes.
fast_suites='KaroKarProtoTests|KaroKarRPCTests'
platform_suites='KaroKarPostgresTests|KaroKarKernelTests'
step "swift test: protocol and RPC runtime suites"
bash Deploy/test-group.sh 1200 --filter "$fast_suites"

step "swift test: PostgreSQL layer and event platform (throwaway PostgreSQL)"
bash Deploy/test-group.sh 1200 --filter "$platform_suites"

# The third group is 368 tests; run all at once, on two cores, each got so little of them that
# two e-mail senders got about one message a second out (CI, 2026-12-06: 44 of 80 in 30 s, a
# test that takes 4 s alone). At most 24 at a time (Swift Testing's experimental width; override
# with KAROKAR_TEST_WIDTH, 0 for no bound), the group ran in 143 s against 154 s unbounded on the
# same machine, and that suite took 26 s instead of 94 (CrashTests 24 instead of 77).
step "swift test: every other suite (the contexts, the tools, the fuzzer, the architecture)"
width="${KAROKAR_TEST_WIDTH:-24}"
if [ "$width" != 0 ]; then export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="$width"; fi
bash Deploy/test-group.sh 1800 --skip "$fast_suites|$platform_suites"
unset SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH

step "interop: a client written from PROTOCOL.md alone"
bash Deploy/interop.sh

step "scale-out (short): three servers behind HAProxy, guarantees, rolling restart, kill -9"
SHORT=1 BENCH_BIN="$(swift build --show-bin-path)" timeout 600 bash Deploy/scale-out.sh

step "fuzzing frame and payload decoding (${KAROKAR_FUZZ_SECONDS:-60}s)"
bash Deploy/fuzz.sh "${KAROKAR_FUZZ_SECONDS:-60}"

echo
echo "all checks passed"
