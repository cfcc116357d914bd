#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up, build, and run every stage.
#   1. release-with-debug-info build: doctest suites and multi-process e2e tests (ctest)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the wire decoder fuzzed with libFuzzer (clang, ASan+UBSan) for RSP_FUZZ_SECONDS (>= 60)
#   4. the kernel-SCTP backend inside a qemu VM (skipped with a message where qemu is missing)
# Ends with one line "tests: N passed, N failed" (ctest tests of both trees plus the other stages).
set -uo pipefail
cd "$(dirname "$0")/.."
export RSP_SETUP_TEST_DEPS=1
passed=0 failed=0             # stages
tests_passed=0 tests_failed=0  # ctest tests over both trees
ctest_ok=0 ctest_bad=0
# Durations: wall seconds since the start, and the CPU seconds (user+sys) of the finished
# child processes, from the shell's `times` (no /usr/bin/time needed).
t_start=$(date +%s)
cpu_now() {  # CPU seconds of waited-for children so far
  local f; f=$(mktemp); times >"$f"
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
                 printf "%.0f", t }' "$f"
  rm -f "$f"
}
since() {  # since WALL0 CPU0: "N s wall, N s CPU, at N s"
  local now; now=$(date +%s)
  echo "$((now - $1)) s wall, $(( $(cpu_now) - $2 )) s CPU, at $((now - t_start)) s"
}
timed() {  # timed NAME COMMAND...: runs a step that must succeed, with its duration
  local name=$1 w0 c0 rc; shift
  w0=$(date +%s); c0=$(cpu_now)
  echo "=== $name" >&2
  "$@"; rc=$?
  echo "=== $name: $( ((rc == 0)) && echo done || echo "FAILED ($rc)") ($(since "$w0" "$c0"))" >&2
  return "$rc"
}
stage() {  # stage NAME COMMAND...
  local name=$1 w0 c0; shift
  w0=$(date +%s); c0=$(cpu_now)
  echo "=== $name" >&2
  if "$@"; then passed=$((passed + 1)); echo "=== $name: ok ($(since "$w0" "$c0"))" >&2
    [[ $1 == ctest_in ]] && ctest_ok=$((ctest_ok + 1))
  else failed=$((failed + 1)); echo "=== $name: FAILED ($(since "$w0" "$c0"))" >&2
    [[ $1 == ctest_in ]] && ctest_bad=$((ctest_bad + 1))
  fi
  return 0
}
# Runs ctest in a build tree and adds its test counts to the totals (skipped tests count as
# neither); the stage itself fails when any test does.
ctest_in() {
  local log rc total failed_n
  log=$(mktemp)
  ctest --test-dir "$1" --output-on-failure -j "$(nproc)" --timeout 300 | tee "$log"
  rc=${PIPESTATUS[0]}
  total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
  failed_n=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n1)
  rm -f "$log"
  tests_passed=$((tests_passed + ${total:-0} - ${failed_n:-0}))
  tests_failed=$((tests_failed + ${failed_n:-0}))
  return "$rc"
}

set -e
timed "setup + build (RelWithDebInfo)" scripts/setup.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
timed "build (ASan+UBSan)" scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DRSP_SANITIZE=ON -DRSP_BUILD_BENCH=OFF
set +e
stage "unit+e2e (RelWithDebInfo)" ctest_in build
stage "unit+e2e (ASan+UBSan)" ctest_in build-asan
[[ -x scripts/fuzz.sh ]] && stage "fuzz (libFuzzer, ASan+UBSan)" scripts/fuzz.sh
[[ -x scripts/vm-test.sh ]] && stage "kernel SCTP in qemu" scripts/vm-test.sh build
echo "stages: $passed passed, $failed failed (ctest: $tests_passed passed, $tests_failed failed over both trees)" >&2
echo "=== total: $(since "$t_start" 0)" >&2
# The closing line counts every ctest test of both trees plus the fuzz and VM stages.
# (The two ctest stages are counted by their tests, not as stages.)
echo "tests: $((tests_passed + passed - ctest_ok)) passed, $((tests_failed + failed - ctest_bad)) failed"
((failed == 0))
