#!/usr/bin/env bash
# Builds the libFuzzer target (Sources/karokar-fuzz: frame parsing, CALL envelopes, every message
# type's payload decoding and round trip, JSON and proto JSON) with AddressSanitizer, and runs it
# for a bounded time.
#   bash Deploy/fuzz.sh [SECONDS]      default 60; crashes are written to .build-fuzz/artifacts/
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"

fuzzer_lib=$(ls /opt/swift/usr/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1 || true)
if [ -z "$fuzzer_lib" ]; then
  swift_bin="$(dirname "$(readlink -f "$(command -v swift)")")"
  fuzzer_lib=$(ls "$swift_bin"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
fi

# SwiftPM renames an executable's main, so libFuzzer's own main cannot be used: the target's Swift
# @main calls LLVMFuzzerRunDriver from the no-main runtime instead.
swift build --product karokar-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
  -Xswiftc -DKAROKAR_FUZZ -Xcc -fsanitize=fuzzer-no-link,address \
  -Xlinker "$fuzzer_lib" -Xlinker -lstdc++

corpus=.build-fuzz/corpus
artifacts=.build-fuzz/artifacts
mkdir -p "$corpus" "$artifacts"
# Seeds: every protocol test vector, as server input (first byte 0) in 7-byte chunks.
python3 - "$corpus" Protos/vectors/*.hex <<'PY'
import os, sys
corpus = sys.argv[1]
for path in sys.argv[2:]:
    hex_text = "".join(line for line in open(path) if not line.startswith("#"))
    name = os.path.splitext(os.path.basename(path))[0]
    with open(os.path.join(corpus, "seed-" + name), "wb") as out:
        out.write(b"\x00\x07" + bytes.fromhex(hex_text))
PY
# Every message type's JSON skeleton and its binary encoding (written by the target itself from
# the schemas), a document of each JSON kind, and a dictionary of JSON's tokens, every field's
# JSON name (snake_case in the protos, lowerCamelCase in proto JSON) and every enum value.
KAROKAR_FUZZ_WRITE_SEEDS="$corpus" .build-fuzz/debug/karokar-fuzz
python3 - "$corpus" .build-fuzz/json.dict Protos <<'PY'
import os, re, sys
corpus, dictionary, protos = sys.argv[1:4]
with open(os.path.join(corpus, "seed-json-kinds"), "wb") as out:
    out.write(b'\x03\x00[1, -2.5e3, "x\\u00e9\\n", true, false, null, {"a": {}}]')
tokens = {'{', '}', '[', ']', ':', ',', '"', 'true', 'false', 'null', '"NaN"', '"Infinity"', '\\u', '\\u0000', '\\ud83d\\ude00', '1e308', '-0'}
for folder, _, files in os.walk(protos):
    for file in files:
        if file.endswith(".proto"):
            text = open(os.path.join(folder, file)).read()
            # Fields ("type name = N;", lower case) as keys; enum values ("NAME = N;") as strings.
            for name in re.findall(r"^\s*[\w.<>, ]*?[\w>]\s+([a-z]\w*)\s*=\s*\d+", text, re.M):
                tokens.add('"' + re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name) + '":')
            for name in re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*\d+", text, re.M):
                tokens.add('"' + name + '"')
with open(dictionary, "w") as out:
    for token in sorted(tokens):
        out.write('"' + token.replace('\\', '\\\\').replace('"', '\\"') + '"\n')
PY
# Inputs that once crashed it, kept as seeds so a fix can never silently regress.
cp Tests/KaroKarRPCTests/FuzzRegressions/*.bin "$corpus/"

# A fixed seed keeps CI's run repeatable; KAROKAR_FUZZ_SEED=0 lets libFuzzer pick one (exploration).
status=0
.build-fuzz/debug/karokar-fuzz -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
  -seed="${KAROKAR_FUZZ_SEED:-1}" -dict=.build-fuzz/json.dict -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" \
  > "$artifacts/last-run.log" 2>&1 || status=$?
grep -vE '^#[0-9]+' "$artifacts/last-run.log" | tail -40
if [ "$status" -ne 0 ]; then
  echo "fuzzing: crash (exit $status); reproduce with .build-fuzz/debug/karokar-fuzz $artifacts/crash-*" >&2
  exit "$status"
fi
echo "fuzzing: no crash in ${seconds}s"
