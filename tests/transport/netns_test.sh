#!/bin/bash
# The usrsctp backend between two network namespaces joined by a veth pair (10.77.x.1/.2):
# messages of 1 B to 64 KiB echo across a 1500-byte-MTU link, and taking the link down is
# noticed as association loss. Needs root (ip netns); exits 77 (skipped) otherwise.
# Usage: netns_test.sh path/to/transport_peer
set -u
peer=${1:?usage: netns_test.sh transport_peer}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi

id="$$"
ns_a="rsp-tr-a-$id"; ns_b="rsp-tr-b-$id"
if_a="rtra$id"; if_b="rtrb$id"          # interface names: 15 characters at most
net="10.77.$(( id % 250 )).0"; addr_a="${net%.0}.1"; addr_b="${net%.0}.2"
tmp=$(mktemp -d)
echo_pid=""; client_pid=""
cleanup() {
  [ -n "$client_pid" ] && kill -KILL "$client_pid" 2>/dev/null
  [ -n "$echo_pid" ] && kill -KILL "$echo_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns_a" 2>/dev/null; ip netns del "$ns_b" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*"; for f in "$tmp"/*; do echo "--- $f"; cat "$f"; done; exit 1; }

# wait_for FILE PATTERN SECONDS: poll a file for a line, bounded.
wait_for() {
  local deadline=$(( $(date +%s%N) + $3 * 1000000000 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(date +%s%N)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

if ! ip netns add "$ns_a" 2>"$tmp/err"; then echo "SKIP: ip netns unavailable: $(cat "$tmp/err")"; exit 77; fi
ip netns add "$ns_b" || fail "ip netns add"
ip link add "$if_a" type veth peer name "$if_b" || fail "veth"
ip link set "$if_a" netns "$ns_a" && ip link set "$if_b" netns "$ns_b" || fail "moving veth"
ip -n "$ns_a" addr add "$addr_a/24" dev "$if_a" && ip -n "$ns_a" link set "$if_a" up && ip -n "$ns_a" link set lo up || fail "ns a"
ip -n "$ns_b" addr add "$addr_b/24" dev "$if_b" && ip -n "$ns_b" link set "$if_b" up && ip -n "$ns_b" link set lo up || fail "ns b"

ip netns exec "$ns_a" "$peer" echo --backend udp --address "$addr_a" --fast >"$tmp/echo.out" 2>"$tmp/echo.err" &
echo_pid=$!
wait_for "$tmp/echo.out" "^port " 5 || fail "echo peer did not start"
port=$(awk '/^port /{print $2}' "$tmp/echo.out")

# 1. Echo of every size, three rounds, then a graceful shutdown.
ip netns exec "$ns_b" timeout 20 "$peer" client --backend udp --to "$addr_a:$port" --fast \
  --sizes 1,64,1000,1400,1500,4096,16384,65536 --rounds 3 >"$tmp/client1.out" 2>"$tmp/client1.err" \
  || fail "echo across the veth pair"
grep -q "^ok 24 backend udp" "$tmp/client1.out" || fail "unexpected client output"

# 2. Association loss when the path goes away.
ip netns exec "$ns_b" "$peer" client --backend udp --to "$addr_a:$port" --fast --sizes 100 \
  --await-loss >"$tmp/client2.out" 2>"$tmp/client2.err" &
client_pid=$!
wait_for "$tmp/client2.out" "^ok " 10 || fail "second client got no echo"
ip -n "$ns_a" link set "$if_a" down || fail "link down"
wait "$client_pid"; rc=$?; client_pid=""
[ "$rc" -eq 0 ] || fail "client exited $rc waiting for the loss"
grep -q "^lost" "$tmp/client2.out" || fail "loss not reported"
echo "PASS: echo of 1 B..64 KiB and loss detection between namespaces $ns_a and $ns_b"
