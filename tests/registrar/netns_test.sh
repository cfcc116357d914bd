#!/bin/bash
# rsp-registrar and its clients as real processes in two network namespaces joined by a veth
# pair (10.78.x.1/.2, private to the namespaces): rsp-echo-pe registers across the link with
# its non-loopback address, rsp-resolve returns it with that address, rsp-send round-trips a
# message through it; then the link is cut and the registrar removes the PE once it stops
# answering ENDPOINT_KEEP_ALIVE (RFC 5352 §3.5), within the keep-alive interval + timeout.
# Needs root (ip netns); exits 77 (skipped) otherwise.
# Usage: netns_test.sh rsp-registrar rsp-echo-pe rsp-resolve rsp-send
set -u
registrar=${1:?usage: netns_test.sh rsp-registrar rsp-echo-pe rsp-resolve rsp-send}
echo_pe=${2:?missing rsp-echo-pe}; resolve=${3:?missing rsp-resolve}; send=${4:?missing rsp-send}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi

id="$$"
ns_r="rsp-rg-r-$id"; ns_p="rsp-rg-p-$id"
if_r="rrgr$id"; if_p="rrgp$id"          # interface names: 15 characters at most
net="10.78.$(( id % 250 )).0"; addr_r="${net%.0}.1"; addr_p="${net%.0}.2"
port=3863
pool="NetnsPool$id"; pe_id=$(( id % 1000000 + 4242 ))
tmp=$(mktemp -d)
status_sock="$tmp/registrar.sock"
registrar_pid=""; pe_pid=""
cleanup() {
  [ -n "$pe_pid" ] && kill -KILL "$pe_pid" 2>/dev/null
  [ -n "$registrar_pid" ] && kill -KILL "$registrar_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns_r" 2>/dev/null; ip netns del "$ns_p" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; for f in "$tmp"/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# poll SECONDS COMMAND...: run COMMAND until it succeeds, bounded.
poll() {
  local deadline=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}
in_p() { ip netns exec "$ns_p" "$@"; }
dump() { "$resolve" --dump --json --status-socket "$status_sock" 2>>"$tmp/dump.err"; }
pe_listed() { dump | grep -q "\"id\": *$pe_id\b"; }
pe_gone() { local out; out=$(dump) && ! grep -q "\"id\": *$pe_id\b" <<<"$out"; }

start=$(now_ms)
if ! ip netns add "$ns_r" 2>"$tmp/err"; then echo "SKIP: ip netns unavailable: $(cat "$tmp/err")"; exit 77; fi
ip netns add "$ns_p" || fail "ip netns add"
ip link add "$if_r" type veth peer name "$if_p" || fail "veth"
ip link set "$if_r" netns "$ns_r" && ip link set "$if_p" netns "$ns_p" || fail "moving veth"
ip -n "$ns_r" addr add "$addr_r/30" dev "$if_r" && ip -n "$ns_r" link set "$if_r" up && ip -n "$ns_r" link set lo up || fail "ns r"
ip -n "$ns_p" addr add "$addr_p/30" dev "$if_p" && ip -n "$ns_p" link set "$if_p" up && ip -n "$ns_p" link set lo up || fail "ns p"

# The registrar listens on its veth address only (so the default minimum address scope is
# site-local: a PE registering 127.0.0.1 would be refused), announces nothing, and uses
# 1 s keep-alive interval and timeout.
ip netns exec "$ns_r" "$registrar" --transport udp --listen "$addr_r:$port" --no-announce \
  --keepalive-interval 1s --keepalive-timeout 1s --status-socket "$status_sock" -v \
  >"$tmp/registrar.out" 2>"$tmp/registrar.err" &
registrar_pid=$!
poll 10 dump >/dev/null || fail "registrar status socket did not come up"

# 1. The PE registers across the veth link; it listens on all addresses (lo and the veth).
ip netns exec "$ns_p" "$echo_pe" --transport udp --registrar "$addr_r:$port" --id "$pe_id" --timeout 10s -v "$pool" \
  >"$tmp/pe.out" 2>"$tmp/pe.err" &
pe_pid=$!
poll 10 pe_listed || fail "PE $pe_id not in the registrar's handlespace"
dump >"$tmp/dump1.json"
grep -q "$addr_p" "$tmp/dump1.json" || fail "registered PE lacks its veth address $addr_p"

# 2. Resolution from the PE's namespace returns the PE with its non-loopback address only.
in_p "$resolve" --transport udp --registrar "$addr_r:$port" --timeout 10s \
  --format '{id} {addresses} {port}' "$pool" >"$tmp/resolve.out" 2>"$tmp/resolve.err" \
  || fail "rsp-resolve exited $?"
[ "$(wc -l <"$tmp/resolve.out")" -eq 1 ] || fail "expected exactly one PE"
read -r got_id got_addrs got_port <"$tmp/resolve.out"
[ "$got_id" = "$pe_id" ] || fail "resolved PE id $got_id, expected $pe_id"
case ",$got_addrs," in *",$addr_p,"*) ;; *) fail "resolved addresses '$got_addrs' lack $addr_p" ;; esac
case "$got_addrs" in *127.*|*::1*) fail "loopback address in resolution: $got_addrs" ;; esac
[ "$got_port" -gt 0 ] 2>/dev/null || fail "bad port '$got_port'"

# 3. A message round-trips: PU in the PE's namespace, resolution via the other namespace,
# the data path to the PE's resolved address.
msg="hello across namespaces $id"
in_p "$send" --transport udp --registrar "$addr_r:$port" --timeout 10s --no-failover \
  --message "$msg" "$pool" >"$tmp/send.out" 2>"$tmp/send.err" || fail "rsp-send exited $?"
[ "$(cat "$tmp/send.out")" = "$msg" ] || fail "echo mismatch: '$(cat "$tmp/send.out")'"

# 4. Cut the link (from the registrar's side): keep-alives go unanswered and the PE is removed
# after interval + timeout (2 s); allow 8 s for scheduling slack on a busy machine.
ip -n "$ns_r" link set "$if_r" down || fail "link down"
cut=$(now_ms)
poll 8 pe_gone || fail "PE still registered 8 s after the link went down"
removed_after=$(( $(now_ms) - cut ))
# Removed by the keep-alive audit (not by a deregistration, expiry or association loss).
dump >"$tmp/dump2.json"
grep -q '"keepalive_timeouts": *1\b' "$tmp/dump2.json" || fail "removal not counted as a keep-alive timeout"
grep -q "keepalive-timeout .*pe=0x$(printf %08x "$pe_id")" "$tmp/registrar.err" || fail "no keepalive-timeout log line for the PE"
kill -0 "$registrar_pid" 2>/dev/null || fail "registrar died"

kill -TERM "$registrar_pid"
poll 5 bash -c "! kill -0 $registrar_pid 2>/dev/null" || fail "registrar ignored SIGTERM"
wait "$registrar_pid"; rc=$?; registrar_pid=""
[ "$rc" -eq 0 ] || fail "registrar exited $rc on SIGTERM"
echo "PASS: registration, resolution ($got_addrs:$got_port) and echo between namespaces $ns_r and $ns_p;" \
  "PE removed ${removed_after} ms after the link went down; total $(( $(now_ms) - start )) ms"
