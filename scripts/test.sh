#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up, build, and run every stage.
#   1. release-with-debug-info build: doctest suites and multi-process e2e tests (ctest)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the wire decoder fuzzed with libFuzzer (clang, ASan+UBSan) for RSP_FUZZ_SECONDS (>= 60)
#   4. the kernel-SCTP backend inside a qemu VM (skipped with a message where qemu is missing)
# Some of it runs at the same time (see "Order" below).
# Ends with one line "tests: N passed, N failed" (ctest tests of both trees plus the other stages).
# Build trees: build, build-asan and build-fuzz; RSP_TEST_BUILD_DIR=NAME uses NAME, NAME-asan and
# NAME-fuzz instead (for a second checkout's or engineer's trees).
set -uo pipefail
cd "$(dirname "$0")/.."
export RSP_SETUP_TEST_DEPS=1
tree=${RSP_TEST_BUILD_DIR:-build}
[[ $tree == build ]] || export RSP_FUZZ_BUILD_DIR=${RSP_FUZZ_BUILD_DIR:-$tree-fuzz}
passed=0 failed=0             # stages
tests_passed=0 tests_failed=0  # ctest tests over both trees
ctest_ok=0 ctest_bad=0
# Durations: wall seconds since the start, and the CPU seconds (user+sys) of the finished
# child processes, from the shell's `times` (no /usr/bin/time needed).
t_start=$(date +%s)
cpu_now() {  # CPU=seconds of CPU used by the waited-for children so far (run in this shell)
  local f; f=$(mktemp); times >"$f"
  CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
                       printf "%.0f", t }' "$f")
  rm -f "$f"
}
since() {  # since WALL0 CPU0: SINCE="N s wall, N s CPU, at N s"
  local now; now=$(date +%s); cpu_now
  SINCE="$((now - $1)) s wall, $((CPU - $2)) s CPU, at $((now - t_start)) s"
}
timed() {  # timed NAME COMMAND...: runs a step that must succeed, with its duration
  local name=$1 w0 c0 rc; shift
  w0=$(date +%s); cpu_now; c0=$CPU
  echo "=== $name" >&2
  "$@"; rc=$?
  since "$w0" "$c0"
  echo "=== $name: $( ((rc == 0)) && echo done || echo "FAILED ($rc)") ($SINCE)" >&2
  return "$rc"
}
# A failed stage's telling lines (and a passed one's FLAKY lines) are repeated at the very end:
# CI keeps only the tail of a long log, and the ASan stage's output would push an earlier
# stage's failure out of it.
failures=$(mktemp)
stage() {  # stage NAME COMMAND...
  local name=$1 w0 c0 log rc; shift
  w0=$(date +%s); cpu_now; c0=$CPU
  echo "=== $name" >&2
  log=$(mktemp)
  # The command runs in this shell (ctest_in adds to the totals), its output copied to $log.
  "$@" > >(tee -a "$log") 2> >(tee -a "$log" >&2); rc=$?
  if ((rc == 0)); then passed=$((passed + 1)); since "$w0" "$c0"; echo "=== $name: ok ($SINCE)" >&2
    [[ $1 == ctest_in || $1 == asan_ctest ]] && ctest_ok=$((ctest_ok + 1))
    sleep 0.2
    # The VM stage runs a failed test program once more (scripts/vm-test.sh): say so at the end.
    grep -a 'FLAKY' "$log" | sed "s/^/--- $name: /" >>"$failures"
  else failed=$((failed + 1)); since "$w0" "$c0"; echo "=== $name: FAILED ($SINCE)" >&2
    [[ $1 == ctest_in || $1 == asan_ctest ]] && ctest_bad=$((ctest_bad + 1))
    sleep 0.2  # the tee processes finish copying
    { echo "--- $name: FAILED; its failure lines (whole output above):"
      grep -a -n -E 'ERROR|FAIL|[Ff]ailed|TEST CASE|exit [1-9]|Timeout|did not|Sanitizer|runtime error' "$log" \
        | grep -v -E ' 0 failed|Passed' | tail -n 40
    } >>"$failures"
  fi
  rm -f "$log"
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

# Order (docs/ci.md has the figures): compiling is what CI waits for, so the ASan tree builds
# while the RelWithDebInfo tests and the VM stage run, on what CPU they leave: at the lowest
# priority (nice 19), the tests at normal priority take the CPU first. The fuzzer (one core for
# RSP_FUZZ_SECONDS) runs alongside the VM stage instead of after it.
#   build RelWithDebInfo -> build fuzz tree -> ctest RelWithDebInfo -> VM stage + fuzzing -> ctest ASan
#                                              [ASan tree builds meanwhile, nice 19       ]
set -e
# Both C++ trees compile as unity builds: each target's sources in batches of up to 16 per
# translation unit (one per target here), so the headers (Asio, fmt, doctest) are parsed, and
# their templates instantiated and optimised, once per target instead of once per file. Cold,
# the two trees took 1462 s of CPU instead of 1985 s (-26 %; docs/ci.md). The few files that
# cannot share a batch are marked SKIP_UNITY_BUILD_INCLUSION in their CMakeLists.txt. A plain
# configure (scripts/setup.sh, build/) still compiles file by file.
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
# Line-table debug info (-g1) instead of full (-g): perf annotations and backtraces keep
# file:line (no local variables in gdb), and an optimised file compiles ~25 % faster
# (pool_user.cpp 17.2 s -> 12.6 s of CPU; docs/ci.md). Full -g stays the default of a plain
# RelWithDebInfo configure.
timed "setup + build (RelWithDebInfo)" scripts/setup.sh "$tree" "${unity[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
set +e
fuzz_built=0
if [[ -x scripts/fuzz.sh ]]; then
  timed "build (fuzz)" scripts/fuzz.sh --build-only && fuzz_built=1
fi

# bg_start NAME COMMAND...: runs COMMAND in the background, its output to a log.
declare -A bg_pid bg_log bg_t0
bg_start() {
  local name=$1; shift
  bg_log[$name]=$(mktemp); bg_t0[$name]=$(date +%s)
  "$@" >"${bg_log[$name]}" 2>&1 &
  bg_pid[$name]=$!
  echo "=== $name: started in the background" >&2
}
# bg_wait NAME: waits for it, prints its output and duration, returns its status.
bg_wait() {
  local name=$1 rc w0; w0=$(date +%s)
  wait "${bg_pid[$name]}"; rc=$?
  unset "bg_pid[$name]"
  cat "${bg_log[$name]}" >&2; rm -f "${bg_log[$name]}"
  echo "=== $name: $( ((rc == 0)) && echo done || echo "FAILED ($rc)") (within $(( $(date +%s) - bg_t0[$name] )) s" \
       "of its start, $(( $(date +%s) - w0 )) s waited for it, at $(( $(date +%s) - t_start )) s)" >&2
  return "$rc"
}
trap 'for p in "${bg_pid[@]}"; do kill "$p" 2>/dev/null; done' EXIT

bg_start "build (ASan+UBSan)" nice -n 19 scripts/setup.sh "$tree-asan" "${unity[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DRSP_SANITIZE=ON -DRSP_BUILD_BENCH=OFF
stage "unit+e2e (RelWithDebInfo)" ctest_in "$tree"
((fuzz_built)) && bg_start fuzz scripts/fuzz.sh
[[ -x scripts/vm-test.sh ]] && stage "kernel SCTP in qemu" scripts/vm-test.sh "$tree"
# The fuzz stage fails when its tree did not build (as before: fuzz.sh builds, then fuzzes).
fuzz_result() { ((fuzz_built)) && bg_wait fuzz; }
[[ -x scripts/fuzz.sh ]] && stage "fuzz (libFuzzer, ASan+UBSan)" fuzz_result
asan_ctest() {  # a tree that does not build ends the run, as the first tree's build does
  bg_wait "build (ASan+UBSan)" || { echo "test.sh: the ASan+UBSan tree did not build" >&2; exit 1; }
  ctest_in "$tree-asan"
}
stage "unit+e2e (ASan+UBSan)" asan_ctest
[[ -s $failures ]] && cat "$failures" >&2
rm -f "$failures"
echo "stages: $passed passed, $failed failed (ctest: $tests_passed passed, $tests_failed failed over both trees)" >&2
since "$t_start" 0; echo "=== total: $SINCE (CPU: of the waited-for processes)" >&2
# The closing line counts every ctest test of both trees plus the fuzz and VM stages.
# (The two ctest stages are counted by their tests, not as stages.)
echo "tests: $((tests_passed + passed - ctest_ok)) passed, $((tests_failed + failed - ctest_bad)) failed"
((failed == 0))
