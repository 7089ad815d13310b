# Sourced by the benchmark scripts, from the repository root: `bench_binaries PRODUCT...` sets
# $bin to the directory of the release builds of those products, built here, or to BENCH_BIN
# when it is set (binaries built already; .build/debug for a functional run, never for figures).
bench_binaries() {
  if [ -n "${BENCH_BIN:-}" ]; then
    bin="$(cd "$BENCH_BIN" && pwd)"
  else
    local product
    for product in "$@"; do swift build -c release --product "$product" >/dev/null; done
    bin="$(swift build -c release --show-bin-path)"
  fi
  for product in "$@"; do [ -x "$bin/$product" ] || { echo "no $bin/$product" >&2; exit 1; }; done
}
