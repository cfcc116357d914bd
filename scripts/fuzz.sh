#!/usr/bin/env bash
# Fuzz the ASAP/ENRP decoders with libFuzzer under ASan+UBSan for RSP_FUZZ_SECONDS (default 60)
# seconds, starting from a seed corpus of every valid sample message. Exits non-zero on any
# finding (crash, sanitizer report, round-trip mismatch, leak, timeout).
# Build tree: build-fuzz (clang++; RSP_FUZZ=ON builds only the library and the fuzz targets).
#   scripts/fuzz.sh [--build-only]   (--build-only: configure and build, do not fuzz; test.sh
#                                     builds first, then fuzzes while the VM stage runs)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
[[ ${1:-} == --build-only ]] && build_only=1
seconds=${RSP_FUZZ_SECONDS:-60}
build=${RSP_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 69
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRSP_FUZZ=ON -DRSP_SANITIZE=ON -DRSP_BUILD_TESTS=OFF -DRSP_BUILD_BENCH=OFF \
  -DRSP_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target fuzz_wire fuzz_wire_seeds
((build_only)) && exit 0

corpus="$build/fuzz/corpus"
artifacts="$build/fuzz/artifacts"
mkdir -p "$corpus" "$artifacts"
"$build/tests/fuzz/fuzz_wire_seeds" "$corpus"

echo "fuzz.sh: fuzzing the wire decoders for ${seconds}s" >&2
"$build/tests/fuzz/fuzz_wire" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"
status=$?
if compgen -G "$artifacts/*" >/dev/null; then
  echo "fuzz.sh: findings in $artifacts" >&2
  exit 1
fi
exit "$status"
