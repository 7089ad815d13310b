#!/usr/bin/env bash
# Regenerates everything derived from Protos/: protoc-c's C codec, the Swift messages and the
# service protocols, stubs and method tables. With --check, regenerates into a scratch copy and
# fails if the committed output differs (CI runs this).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

check=0
[ "${1:-}" = "--check" ] && check=1

command -v protoc-c >/dev/null || { echo "protoc-c missing: apt-get install protobuf-c-compiler" >&2; exit 1; }
python3 -c 'import google.protobuf' 2>/dev/null || { echo "python protobuf missing: pip install protobuf" >&2; exit 1; }
# google/protobuf/descriptor.proto, which the custom options extend (Debian's libprotobuf-dev).
well_known=/usr/include
[ -f "$well_known/google/protobuf/descriptor.proto" ] || { echo "descriptor.proto missing: apt-get install libprotobuf-dev" >&2; exit 1; }

generate() {  # $1 = output root (a repository layout)
  local out="$1" tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  local protos wire_protos
  protos=$(cd "$root/Protos" && find karokar -name '*.proto' | LC_ALL=C sort)
  # karokar/options/ holds custom options (the access rule of each method): read by the Swift
  # generator from the descriptor set, never on the wire. protoc-c generates no C for them, and
  # the include of their header is dropped from the others' (nothing in them uses it; the header
  # would need descriptor.proto's C code).
  wire_protos=$(printf '%s\n' $protos | grep -v '^karokar/options/')
  (cd "$root/Protos" && mkdir -p "$tmp/c" && protoc-c --c_out="$tmp/c" -I . -I "$well_known" $wire_protos)
  find "$tmp/c" -name '*.pb-c.h' -exec sed -i '/^#include "karokar\/options\//d' {} +
  (cd "$root/Protos" && protoc-c --descriptor_set_out="$tmp/set.pb" --include_source_info -I . -I "$well_known" $protos)
  rm -rf "$out/Sources/CKaroKarProtos/src" "$out/Sources/CKaroKarProtos/include" \
         "$out/Sources/KaroKarMessages/Generated" "$out/Sources/KaroKarServices/Generated"
  mkdir -p "$out/Sources/CKaroKarProtos/src" "$out/Sources/CKaroKarProtos/include"
  (cd "$tmp/c" && find karokar -name '*.c' | while read -r f; do mkdir -p "$out/Sources/CKaroKarProtos/src/$(dirname "$f")"; cp "$f" "$out/Sources/CKaroKarProtos/src/$f"; done)
  (cd "$tmp/c" && find karokar -name '*.h' | while read -r f; do mkdir -p "$out/Sources/CKaroKarProtos/include/$(dirname "$f")"; cp "$f" "$out/Sources/CKaroKarProtos/include/$f"; done)
  python3 "$root/Deploy/codegen/generate_swift.py" "$tmp/set.pb" "$out"
}

generated_paths=(Sources/CKaroKarProtos/src Sources/CKaroKarProtos/include Sources/KaroKarMessages/Generated Sources/KaroKarServices/Generated)

if [ "$check" = 1 ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  generate "$scratch"
  status=0
  for p in "${generated_paths[@]}"; do
    if ! diff -r -q "$root/$p" "$scratch/$p" >/dev/null 2>&1; then
      echo "stale generated code in $p:" >&2
      diff -r "$root/$p" "$scratch/$p" | head -20 >&2 || true
      status=1
    fi
  done
  [ "$status" = 0 ] && echo "generated code is up to date"
  exit "$status"
fi

generate "$root"
echo "regenerated: ${generated_paths[*]}"
