#!/usr/bin/env bash
# CI smoke test of a pool deployment: start a registrar and three echo pool elements on
# loopback, resolve the pool, send through it, kill one PE and check that a session fails over
# and that the registrar drops the dead PE. Copy it and replace the echo PEs with your service.
#
#   examples/ci-smoke-test.sh [BIN_DIR]      (BIN_DIR: where rsp-* live; default: $PATH)
#
# Exits 0 when the deployment works, 1 otherwise (with the failing step on stderr). Uses free
# ports and its own status socket, so it can run next to other instances; stops everything it
# started on every exit path.
set -euo pipefail

tool() {  # tool NAME: the binary from BIN_DIR (build tree layout or flat) or $PATH
  local dir=${BIN_DIR:-}
  if [[ -n $dir && -x $dir/$1/$1 ]]; then echo "$dir/$1/$1"
  elif [[ -n $dir && -x $dir/$1 ]]; then echo "$dir/$1"
  else command -v "$1"; fi
}
BIN_DIR=${1:-}
REGISTRAR=$(tool rsp-registrar) RESOLVE=$(tool rsp-resolve) SEND=$(tool rsp-send)
ECHO_PE=$(tool rsp-echo-pe) CAT=$(tool rsp-cat)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { echo "== $*" >&2; }
die() { echo "FAILED: $*" >&2; exit 1; }

# A free port (UDP and TCP) for the registrar.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export RSP_REGISTRAR=127.0.0.1:$port RSP_STATUS_SOCKET=$work/registrar.sock

step "registrar on $RSP_REGISTRAR"
"$REGISTRAR" --listen "$RSP_REGISTRAR" --no-announce --fast 2>"$work/registrar.log" &
pids+=($!)
# Ready when it answers a handle resolution: 68 means "no such pool", i.e. it is up.
rc=0
"$RESOLVE" SmokePool --wait-registrar 10s >/dev/null 2>&1 || rc=$?
[[ $rc == 68 ]] || die "registrar did not come up (rsp-resolve exit $rc)"

step "three echo PEs in SmokePool"
pe=()
for i in 1 2 3; do
  "$ECHO_PE" SmokePool --listen 127.0.0.1:0 --policy rr --prefix "pe$i " 2>"$work/pe$i.log" &
  pids+=($!)
  pe+=($!)
done
"$RESOLVE" SmokePool --all --wait-count 3 --timeout 20s >/dev/null || die "the 3 PEs did not register"

step "resolve"
count=$("$RESOLVE" SmokePool --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $count == 3 ]] || die "expected 3 PEs, resolved $count"

step "send: each PE answers (round robin)"
seen=""
for n in 1 2 3 4 5 6; do
  reply=$(echo "ping $n" | "$SEND" SmokePool --timeout 10s) || die "rsp-send $n failed"
  [[ $reply == pe?" ping $n" ]] || die "unexpected reply '$reply'"
  seen+="${reply%% *} "
done
for i in 1 2 3; do [[ $seen == *pe$i* ]] || die "pe$i never answered ($seen)"; done

step "kill the PE serving a session; the session must fail over"
mkfifo "$work/in"
"$CAT" SmokePool --idle-timeout 10s <"$work/in" >"$work/session.out" 2>"$work/session.err" &
cat_pid=$!
pids+=("$cat_pid")
exec 3>"$work/in"
echo "before" >&3
for _ in $(seq 100); do [[ -s $work/session.out ]] && break; sleep 0.1; done
first=$(head -n1 "$work/session.out" | cut -d' ' -f1)
[[ $first == pe? ]] || die "no answer in the session before the kill"
victim=${pe[$((${first#pe} - 1))]}
kill -9 "$victim"
echo "after" >&3
exec 3>&-
wait "$cat_pid" || true
grep -q "failed over to pool element" "$work/session.err" || die "no failover reported: $(cat "$work/session.err")"
last=$(tail -n1 "$work/session.out")
[[ $last == pe?" after" && ${last%% *} != "$first" ]] || die "after the kill the answer came from '$last'"

step "the registrar drops the dead PE"
for _ in $(seq 100); do
  count=$("$RESOLVE" SmokePool --all --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [[ $count == 2 ]] && break
  sleep 0.1
done
[[ $count == 2 ]] || die "the pool still has $count PEs"

step "ok"
