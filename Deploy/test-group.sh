#!/usr/bin/env bash
# One bounded `swift test` run, for Deploy/test.sh:  test-group.sh SECONDS [swift test arguments...]
#
# Output is line-buffered and kept in a log. If the run outlives SECONDS it is not simply killed
# (which loses the end of its output and says nothing of what hung): the script prints the
# tests that started and never finished, the test process's threads (gdb, when installed), then
# kills it and exits 124. Exits with swift test's own status otherwise.
set -uo pipefail
limit="$1"; shift
log="$(mktemp -t karokar-tests.XXXXXX)"
trap 'rm -f "$log" "$log.rc" "$log.gdb"' EXIT

# Tests (Swift Testing and XCTest) that printed "started" more often than "passed"/"failed"
# ("run" is the whole run's own line, not a test).
unfinished() {
  awk '
    /^◇ Test .* started\.$/           { name = $0; sub(/^◇ Test /, "", name); sub(/ started\.$/, "", name); open[name]++; next }
    /^(✔|✘) Test .* (passed|failed) /  { name = $0; sub(/^(✔|✘) Test /, "", name); sub(/ (passed|failed) .*$/, "", name); open[name]--; next }
    /^Test Case .* started/            { name = $0; sub(/^Test Case /, "", name); sub(/ started.*$/, "", name); open[name]++; next }
    /^Test Case .* (passed|failed) /   { name = $0; sub(/^Test Case /, "", name); sub(/ (passed|failed) .*$/, "", name); open[name]--; next }
    END { for (name in open) if (open[name] > 0 && name != "run") print "    " name }
  ' "$log" | sort
}

( stdbuf -oL -eL swift test --skip-build "$@" 2>&1; echo $? > "$log.rc" ) | tee "$log" &
runner=$!
deadline=$((SECONDS + limit))
while kill -0 "$runner" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo
    echo "==> swift test $* did not finish in ${limit}s"
    tests="$(pgrep -f 'PackageTests\.xctest' || true)"
    if command -v gdb >/dev/null && [ -n "$tests" ]; then
      for pid in $tests; do
        echo "==> threads of the test process $pid (gdb):"
        timeout 180 gdb -p "$pid" -batch -ex "thread apply all bt 25" > "$log.gdb" 2>&1 || true
        # Frames in the project's own code (and the waits under them), not every idle thread.
        grep -E '^Thread |^#.*(KaroKar|karokar|Tests|ChildProcess|waitpid|poll|futex)' "$log.gdb" | head -400
      done
    fi
    # The test processes, their children (servers, tools, clusters' shells) and swift test itself.
    for pid in $tests; do pkill -9 -P "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null; done
    # Their throwaway clusters (KaroKarTestSupport names them karokar-test-PID-...): stopped at once.
    for pid in $tests; do
      pkill -QUIT -f "postgres -D /tmp/karokar-test-$pid-" 2>/dev/null || true
      sleep 1
      rm -rf /tmp/karokar-test-"$pid"-* 2>/dev/null || true
    done
    pkill -9 -f 'swift-test' 2>/dev/null || true
    wait "$runner" 2>/dev/null
    echo
    echo "==> tests that started and did not finish in ${limit}s:"
    unfinished
    exit 124
  fi
  sleep 2
done
wait "$runner"
rc="$(cat "$log.rc" 2>/dev/null || echo 1)"
if [ "$rc" != 0 ]; then
  # The failures again, last: a run's output is long and what is kept of it is often its tail.
  echo
  echo "==> swift test $* failed (exit $rc); its failures:"
  grep -E '^✘ .*(recorded an issue|failed after)|^Test Case .* failed|: error: ' "$log" | grep -v '^✘ Test run with' | head -60
fi
exit "$rc"
