#!/bin/sh
# Kernel SCTP between two network namespaces joined by a veth pair, run inside the test VM by
# scripts/vm-test.sh (POSIX sh: the guest runs it with the host's /bin/sh).
#   1. messages of 1 B..64 KiB echo across a 1500-byte-MTU link (fragmented into DATA chunks),
#      three rounds, then a graceful shutdown;
#   2. taking the link down is noticed as association loss (heartbeats unanswered, RFC 4960
#      §8.2/§8.1) within the --fast timers (RTO 100..300 ms, 3 retransmissions).
#   usage: netns-test.sh path/to/transport_peer [kernel|udp]
# Exits 0 on success, 1 on failure, 77 when network namespaces are unavailable.
peer=${1:?usage: netns-test.sh transport_peer [backend]}
backend=${2:-kernel}
ns_a=rsp-vm-a; ns_b=rsp-vm-b; addr_a=10.88.0.1; addr_b=10.88.0.2
tmp=${NETNS_TMP:-$(mktemp -d)}
echo_pid=""; client_pid=""
cleanup() {
  [ -n "$client_pid" ] && kill -KILL "$client_pid" 2>/dev/null
  [ -n "$echo_pid" ] && kill -KILL "$echo_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns_a" 2>/dev/null; ip netns del "$ns_b" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "netns-test: FAIL: $*"; for f in "$tmp"/*; do echo "--- $f"; cat "$f"; done; exit 1; }
# Bounds stretch with RSP_TEST_TIMEOUT_SCALE like the doctest cases' (ASan builds start slowly
# under emulation).
scale=${RSP_TEST_TIMEOUT_SCALE:-1}
# wait_for FILE PATTERN TENTHS: bounded wait for a line in a file.
wait_for() {
  n=$(( -$3 * (scale - 1) ))
  until grep -q "$2" "$1" 2>/dev/null; do
    n=$((n + 1)); [ "$n" -gt "$3" ] && return 1
    sleep 0.1
  done
}

ip netns add "$ns_a" 2>"$tmp/err" || { echo "netns-test: SKIP: $(cat "$tmp/err")"; exit 77; }
ip netns add "$ns_b" || fail "ip netns add"
ip link add rspva type veth peer name rspvb || fail "veth"
ip link set rspva netns "$ns_a" && ip link set rspvb netns "$ns_b" || fail "moving veth"
ip -n "$ns_a" addr add "$addr_a/24" dev rspva && ip -n "$ns_a" link set rspva up && ip -n "$ns_a" link set lo up || fail "ns a"
ip -n "$ns_b" addr add "$addr_b/24" dev rspvb && ip -n "$ns_b" link set rspvb up && ip -n "$ns_b" link set lo up || fail "ns b"

ip netns exec "$ns_a" "$peer" echo --backend "$backend" --address "$addr_a" --fast >"$tmp/echo.out" 2>"$tmp/echo.err" &
echo_pid=$!
wait_for "$tmp/echo.out" "^port " 100 || fail "echo peer did not start"
port=$(awk '/^port /{print $2}' "$tmp/echo.out")

ip netns exec "$ns_b" timeout $((60 * scale)) "$peer" client --backend "$backend" --to "$addr_a:$port" --fast \
  --sizes 1,64,1000,1400,1500,4096,16384,65536 --rounds 3 >"$tmp/client1.out" 2>"$tmp/client1.err" \
  || fail "echo across the veth pair"
grep -q "^ok 24 backend $backend" "$tmp/client1.out" || fail "unexpected client output"

ip netns exec "$ns_b" "$peer" client --backend "$backend" --to "$addr_a:$port" --fast --sizes 100 \
  --await-loss >"$tmp/client2.out" 2>"$tmp/client2.err" &
client_pid=$!
wait_for "$tmp/client2.out" "^ok " 200 || fail "second client got no echo"
start=$(date +%s%N)
ip -n "$ns_a" link set rspva down || fail "link down"
wait "$client_pid"; rc=$?; client_pid=""
[ "$rc" -eq 0 ] || fail "client exited $rc waiting for the loss"
grep -q "^lost" "$tmp/client2.out" || fail "loss not reported"
echo "netns-test: PASS ($backend): echo of 1 B..64 KiB across veth, loss noticed $(( ($(date +%s%N) - start) / 1000000 )) ms after link down"
