# Helpers for the tools' shell tests (sourced). Real processes on 127.0.0.1, unique ports per
# test so that ctest -j runs them in parallel, bounded polling instead of sleeps, and every child
# killed on every exit path.
#   source lib.sh BIN_DIR     (BIN_DIR: the build's tools/ directory)
set -uo pipefail

BIN=${1:?usage: test.sh BIN_DIR}
REGISTRAR=$BIN/rsp-registrar/rsp-registrar
RESOLVE=$BIN/rsp-resolve/rsp-resolve
SEND=$BIN/rsp-send/rsp-send
ECHO_PE=$BIN/rsp-echo-pe/rsp-echo-pe
CAT=$BIN/rsp-cat/rsp-cat
REGISTER=$BIN/rsp-register/rsp-register
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rsp-tools-test.XXXXXX")
PIDS=()
FAILED=0
CHECKS=0
# No SERVER_ANNOUNCE discovery from a registrar another test runs: always name ours.
unset RSP_REGISTRAR
export RSP_STATUS_SOCKET=$TMP/registrar.sock

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*" >&2; }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# expect_status WANT DESCRIPTION COMMAND...: runs COMMAND (stdout/stderr to $TMP/out, $TMP/err).
expect_status() {
  local want=$1 what=$2; shift 2
  CHECKS=$((CHECKS + 1))
  "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
  local got=$?
  if [[ $got == "$want" ]]; then pass "$what (exit $got)"
  else fail "$what: exit $got, expected $want; stderr: $(head -c 600 "$TMP/err")"; fi
}
# One diagnostic line on stderr, starting with the tool's name.
one_line_error() {  # one_line_error TOOL
  [[ $(wc -l <"$TMP/err") == 1 ]] && grep -q "^$1: " "$TMP/err"
}
finish() {
  echo "$CHECKS checks, $FAILED failed" >&2
  ((FAILED == 0))
}

# A free port for both UDP (usrsctp encapsulation) and TCP/SCTP, distinct per call.
free_port() {
  python3 - <<'EOF'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    try:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", port))
        t.close()
    except OSError:
        u.close()
        continue
    u.close()
    print(port)
    break
EOF
}

# wait_until SECONDS COMMAND...: polls COMMAND every 100 ms for at most SECONDS.
wait_until() {
  local limit=$1; shift
  local i
  for ((i = 0; i < limit * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# start_registrar: a registrar on 127.0.0.1:$REG_PORT; sets RSP_REGISTRAR and REG_PID.
start_registrar() {
  REG_PORT=$(free_port)
  "$REGISTRAR" --listen "127.0.0.1:$REG_PORT" --no-announce --fast \
    --status-socket "$RSP_STATUS_SOCKET" 2>"$TMP/registrar.log" &
  REG_PID=$!
  PIDS+=("$REG_PID")
  export RSP_REGISTRAR=127.0.0.1:$REG_PORT
  # Ready when a handle resolution gets an answer (68: pool not found).
  local i
  for ((i = 0; i < 100; i++)); do
    "$RESOLVE" NoSuchPool -w 2s >/dev/null 2>&1
    [[ $? == 68 ]] && return 0
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "registrar did not come up: $(cat "$TMP/registrar.log")" >&2
  exit 1
}

# start_pe POOL ARGS...: an rsp-echo-pe; sets LAST_PID.
start_pe() {
  local pool=$1; shift
  "$ECHO_PE" "$pool" --listen 127.0.0.1:0 "$@" 2>>"$TMP/pe.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# pool_size POOL: how many PEs the registrar returns for POOL (0 when none).
pool_size() {
  "$RESOLVE" "$1" --all --json -w 2s 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0
}
wait_pool_size() {  # wait_pool_size POOL N
  "$RESOLVE" "$1" --all --wait-count "$2" -w 15s >/dev/null 2>&1
}
