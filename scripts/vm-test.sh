#!/usr/bin/env bash
# Runs the kernel-SCTP backend's tests for real: inside a qemu VM (software emulation, TCG) with
# a Debian kernel that has the sctp module, because the host's kernel may have none.
#   usage: scripts/vm-test.sh [BUILD_DIR]            (default: build)
# The guest sees the host's / read-only over 9p, so it runs BUILD_DIR's test executables as
# they are (RSP_TRANSPORT=kernel); results come back through a writable 9p share.
# The guest's logs are kept in BUILD_DIR/vm-logs/.
# Exits 0 when every test passed, 1 when one failed or the VM did not finish in time, and 0
# with a "skipped" line when qemu or the kernel package is not available here.
# The guest runs under software emulation on a shared host, so a test program that fails is run
# once more: failing again fails the stage; passing then prints "vm: FLAKY: ..." with the cases
# that failed (scripts/test.sh repeats FLAKY lines at the end of its log; the first run's log is
# kept as BUILD_DIR/vm-logs/*.log.first). docs/ci.md "VM stage reruns".
# Environment:
#   RSP_VM_CACHE    where the VM pieces are cached (default ~/.cache/rsptools-vm)
#   RSP_VM_KERNEL   Debian kernel ABI to use (default 6.1.0-56-amd64, else the newest 6.1.0-N)
#   RSP_VM_TIMEOUT  seconds for the whole VM run (default 360; about 90 s on an idle host)
#   RSP_VM_CPUS     virtual CPUs (default 2)
#   RSP_VM_TIMEOUT_SCALE  factor for the tests' wait bounds in the guest (default 4, 12 for a
#                   sanitizer build)
#   RSP_VM_TESTS    doctest filter for the kernel tests (--test-case=...), optional
#   RSP_VM_BENCH=1  also run bench/transport's transport_bench in the guest (kernel backend
#                   included there); RSP_VM_BENCH_ARGS passes options to it
# Details and figures: docs/kernel-sctp.md.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
cache=${RSP_VM_CACHE:-${HOME:-/root}/.cache/rsptools-vm}
timeout_s=${RSP_VM_TIMEOUT:-360}
cpus=${RSP_VM_CPUS:-2}

skip() { echo "vm-test: skipped: $*" >&2; exit 0; }
fail() { echo "vm-test: FAILED: $*" >&2; exit 1; }

qemu=$(command -v qemu-system-x86_64 || true)
[[ -n $qemu ]] || skip "qemu-system-x86_64 not found (scripts/setup.sh installs qemu-system-x86)"
[[ $(uname -m) == x86_64 ]] || skip "the VM recipe is for x86_64 hosts"

tests=(tests/transport/test_transport_kernel)
for t in "${tests[@]}" tests/transport/transport_peer; do
  if [[ ! -x $build/$t ]]; then
    cmake --build "$build" --target "$(basename "$t")" >&2 || fail "cannot build $t in $build"
  fi
done

scripts/vm/build-vm.sh "$cache"
rc=$?
((rc == 69)) && skip "the VM could not be built here (see above)"
((rc == 0)) || fail "building the VM pieces failed"

share=$(mktemp -d "${TMPDIR:-/tmp}/rsp-vm.XXXXXX")
trap 'rm -rf "$share"' EXIT
bench=""
if [[ ${RSP_VM_BENCH:-0} == 1 && -x $build/bench/transport/transport_bench ]]; then
  bench="$build/bench/transport/transport_bench"
fi
# Sanitizer builds start slowly in the guest (ASan maps its shadow memory: ~40 s per process
# under emulation), so their waits get a larger scale.
scale=${RSP_VM_TIMEOUT_SCALE:-4}
if [[ -z ${RSP_VM_TIMEOUT_SCALE:-} ]] && grep -q '^RSP_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  scale=12
fi
filter=""
[[ -n ${RSP_VM_TESTS:-} ]] && filter=$(printf '%q' "$RSP_VM_TESTS")
# The job runs in the guest inside `chroot /host`; the share is at /tmp/rsp-vm there.
cat > "$share/job.sh" <<JOB
#!/bin/sh
export RSP_TRANSPORT=kernel PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
export RSP_TEST_TIMEOUT_SCALE=$scale
cd /tmp
echo "vm: \$(uname -r), sctp \$( [ -d /proc/net/sctp ] && echo loaded || echo MISSING ), \$(nproc) cpu(s)"
status=0
for t in ${tests[*]}; do
  echo "vm: running \$t"
  # Separate copies of the output: the console for the live view, the share for the record.
  log=/tmp/rsp-vm/\$(basename \$t).log
  $build/\$t --duration=true $filter > \$log 2>&1
  rc=\$?
  cat \$log
  echo "vm: \$t exit \$rc"
  if [ \$rc -ne 0 ]; then
    # Once more (see the header): a failure that repeats fails the stage; one that does not is
    # reported as FLAKY with the cases that failed.
    cases=\$(sed -n 's/^TEST CASE: *//p' \$log | sort -u | tr '\\n' ';')
    cp \$log \$log.first
    $build/\$t --duration=true $filter > \$log 2>&1
    rc=\$?
    cat \$log
    echo "vm: \$t exit \$rc on the second run"
    if [ \$rc -eq 0 ]; then echo "vm: FLAKY: \$t failed once, then passed: \$cases"; else status=1; fi
  fi
done
echo "vm: SCTP counters: \$(awk '\$2 != 0 {printf "%s=%s ", \$1, \$2}' /proc/net/sctp/snmp)"
if [ -z "$filter" ]; then
  echo "vm: running scripts/vm/netns-test.sh (kernel backend across a veth pair)"
  for attempt in 1 2; do
    mkdir -p /tmp/rsp-vm/netns  # netns-test.sh removes it when it ends
    NETNS_TMP=/tmp/rsp-vm/netns timeout $((120 * scale)) $root/scripts/vm/netns-test.sh $build/tests/transport/transport_peer kernel > /tmp/rsp-vm/netns.log 2>&1
    rc=\$?
    cat /tmp/rsp-vm/netns.log
    echo "vm: netns-test.sh exit \$rc"
    [ \$rc -eq 0 ] && break
    [ \$attempt -eq 1 ] && cp /tmp/rsp-vm/netns.log /tmp/rsp-vm/netns.log.first
  done
  if [ \$rc -ne 0 ]; then status=1; elif [ \$attempt -eq 2 ]; then echo "vm: FLAKY: netns-test.sh failed once, then passed"; fi
fi
if [ -n "$bench" ]; then
  echo "vm: running $bench (kernel backend)"
  $bench ${RSP_VM_BENCH_ARGS:-} > /tmp/rsp-vm/bench.log 2>&1; echo "vm: bench exit \$?"
  cat /tmp/rsp-vm/bench.log
  echo "vm: SCTP counters after the benchmark: \$(awk '\$2 != 0 {printf "%s=%s ", \$1, \$2}' /proc/net/sctp/snmp)"
fi
echo "vm: job exit \$status"
exit \$status
JOB

echo "vm-test: booting $(cat "$cache/kernel") under qemu TCG (bounded to ${timeout_s}s)" >&2
start=$(date +%s)
timeout --kill-after=10 "$timeout_s" "$qemu" -accel tcg -cpu max -smp "$cpus" -m 1536 \
  -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 loglevel=3" \
  -nic none -nographic -no-reboot -monitor none -serial stdio \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$share,mount_tag=share,security_model=none,multidevs=remap" \
  < /dev/null 2> "$share/qemu.err" | tr -d '\r'
qrc=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - start ))
if [[ ! -f $share/job.rc ]]; then
  if ((qrc == 124 || qrc == 137)); then fail "the VM did not finish within ${timeout_s}s"; fi
  if grep -qiE 'accelerator|not supported|could not|failed to' "$share/qemu.err"; then
    cat "$share/qemu.err" >&2
    skip "qemu cannot run the VM here (exit $qrc)"
  fi
  cat "$share/qemu.err" >&2
  fail "the VM stopped without a result (qemu exit $qrc)"
fi
job_rc=$(cat "$share/job.rc")
mkdir -p "$build/vm-logs" && rm -f "$build/vm-logs"/*.first && cp "$share"/*.log "$share"/*.first "$build/vm-logs/" 2>/dev/null
echo "vm-test: guest finished in ${elapsed}s, tests exit $job_rc" >&2
((job_rc == 0))
