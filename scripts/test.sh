#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up, build, and run every stage.
#   1. release-with-debug-info build: doctest suites and multi-process e2e tests (ctest)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the wire decoder fuzzed with libFuzzer (clang, ASan+UBSan) for RSP_FUZZ_SECONDS (>= 60)
#   4. the kernel-SCTP backend inside a qemu VM (skipped with a message where qemu is missing)
# Ends with one line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export RSP_SETUP_TEST_DEPS=1
passed=0 failed=0
stage() {  # stage NAME COMMAND...
  local name=$1; shift
  echo "=== $name" >&2
  if "$@"; then passed=$((passed + 1)); echo "=== $name: ok" >&2
  else failed=$((failed + 1)); echo "=== $name: FAILED" >&2; fi
}
ctest_in() { ctest --test-dir "$1" --output-on-failure -j "$(nproc)" --timeout 300; }

set -e
scripts/setup.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DRSP_SANITIZE=ON -DRSP_BUILD_BENCH=OFF
set +e
stage "unit+e2e (RelWithDebInfo)" ctest_in build
stage "unit+e2e (ASan+UBSan)" ctest_in build-asan
[[ -x scripts/fuzz.sh ]] && stage "fuzz (libFuzzer, ASan+UBSan)" scripts/fuzz.sh
[[ -x scripts/vm-test.sh ]] && stage "kernel SCTP in qemu" scripts/vm-test.sh build
echo "tests: $passed passed, $failed failed"
((failed == 0))
