#!/bin/bash
# Registrar discovery by SERVER_ANNOUNCE (RFC 5352 §3.6, issue 5 and 6) with real processes and
# no registrar address anywhere: rsp-registrar in one network namespace, pool elements and pool
# users in another, joined by a veth pair (10.81.x.0/30 and fd81:x::/64, private to them).
#   1. IPv4, the registrar with its defaults (wildcard :3863, 239.0.0.50:3863 every second): a PU
#      started before any registrar exists waits for the first announcement and reaches it;
#      rsp-echo-pe registers, rsp-resolve and rsp-send find it; the draft's echo_pe/echo_pu
#      examples (the rsp_* API, rsp_initialize with nothing configured) do the same.
#   2. --no-announce: a PE finds no registrar and gives up at its --timeout (exit 75), a PU after
#      T7-ENRPoutdate (exit 75); nothing registers.
#   3. IPv6: --announce to a site-scope group on a named interface, clients told the group by
#      RSP_ANNOUNCE and RSP_ANNOUNCE_INTERFACE: registration, resolution (IPv6 address), echo, API.
# Needs root (ip netns); exits 77 (skipped) otherwise.
# Usage: discovery_test.sh rsp-registrar rsp-echo-pe rsp-resolve rsp-send echo_pe echo_pu
set -u
usage="usage: discovery_test.sh rsp-registrar rsp-echo-pe rsp-resolve rsp-send echo_pe echo_pu"
registrar=${1:?$usage}; echo_pe=${2:?$usage}; resolve=${3:?$usage}; send=${4:?$usage}
api_pe=${5:?$usage}; api_pu=${6:?$usage}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi

id="$$"
ns_r="rsp-dc-r-$id"; ns_c="rsp-dc-c-$id"
if_r="rdcr$id"; if_c="rdcc$id"          # interface names: 15 characters at most
n=$(( id % 250 ))
v4_r="10.81.$n.1"; v4_c="10.81.$n.2"
v6_r="fd81:$n::1"; v6_c="fd81:$n::2"
group6="ff05::3863:50"                   # site scope; no IPv6 group is assigned to RSerPool
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns_r" 2>/dev/null; ip netns del "$ns_c" 2>/dev/null
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
# (background processes are started with `ip netns exec` itself, so that $! is their pid)
in_c() { ip netns exec "$ns_c" "$@"; }
# Nothing configured: no registrar list, no announce group from the environment.
unset RSP_REGISTRAR RSP_ANNOUNCE RSP_ANNOUNCE_INTERFACE RSP_PROFILE
export RSP_TRANSPORT=udp

start=$(now_ms)
if ! ip netns add "$ns_r" 2>"$tmp/err"; then echo "SKIP: ip netns unavailable: $(cat "$tmp/err")"; exit 77; fi
ip netns add "$ns_c" || fail "ip netns add"
ip link add "$if_r" type veth peer name "$if_c" || fail "veth"
ip link set "$if_r" netns "$ns_r" && ip link set "$if_c" netns "$ns_c" || fail "moving veth"
for side in r c; do
  ns_var="ns_$side"; if_var="if_$side"; v4_var="v4_$side"; v6_var="v6_$side"
  ip -n "${!ns_var}" link set lo up || fail "lo up"
  ip -n "${!ns_var}" addr add "${!v4_var}/30" dev "${!if_var}" || fail "IPv4 address"
  # nodad: usable at once (duplicate address detection would hold it for about a second)
  ip -n "${!ns_var}" addr add "${!v6_var}/64" dev "${!if_var}" nodad || fail "IPv6 address"
  ip -n "${!ns_var}" link set "${!if_var}" up || fail "link up"
done

status_sock="$tmp/registrar.sock"
dump() { "$resolve" --dump --json --status-socket "$status_sock" 2>>"$tmp/dump.err"; }
listed() { dump | grep -q "\"id\": *$1\b"; }
registrar_pid=""
start_registrar() {  # start_registrar LOG ARGS...: in ns R, with the status socket
  local log=$1; shift
  rm -f "$status_sock"
  ip netns exec "$ns_r" "$registrar" --transport udp --status-socket "$status_sock" -v "$@" >/dev/null 2>"$log" &
  registrar_pid=$!; pids+=("$registrar_pid")
  poll 10 dump >/dev/null || fail "registrar status socket did not come up ($log)"
}
# terminate NAME PID: SIGTERM, then the process must exit with 0 within 10 s.
terminate() {
  kill -TERM "$2" 2>/dev/null
  poll 10 bash -c "! kill -0 $2 2>/dev/null" || fail "$1 ignored SIGTERM"
  wait "$2"; local rc=$?
  [ "$rc" -eq 0 ] || fail "$1 exited $rc on SIGTERM"
}
stop_registrar() { terminate rsp-registrar "$registrar_pid"; }
# announce_listener_up: a process in ns C has bound the announce port (UDP 3863).
announce_listener_up() { in_c ss -Hunl 'sport = :3863' | grep -q .; }

# ---- 1. IPv4 with every default -------------------------------------------------------------
# A pool user that starts before any registrar exists: it listens for SERVER_ANNOUNCE and must
# wait for one rather than give up after a hunt round. It asks for a pool nobody registered,
# so reaching the registrar means exit 68 (pool unknown); not finding one would be 75.
ip netns exec "$ns_c" "$resolve" --timeout 20s "NoSuchPool$id" >"$tmp/early.out" 2>"$tmp/early.err" &
early_pid=$!; pids+=("$early_pid")
poll 10 announce_listener_up || fail "the early pool user never listened for announcements"
start_registrar "$tmp/registrar4.err"   # no --listen, no --announce: *:3863 and 239.0.0.50:3863
wait "$early_pid"; rc=$?
[ "$rc" -eq 68 ] || fail "early pool user exited $rc, expected 68 (registrar reached, pool unknown)"
grep -q "announcing: 239.0.0.50:3863 on .*$if_r" "$tmp/registrar4.err" \
  || fail "registrar does not announce on $if_r by default"

pool4="Disc4Pool$id"; pe4=$(( id % 1000000 + 5100 ))
ip netns exec "$ns_c" "$echo_pe" --transport udp --id "$pe4" --timeout 20s -v "$pool4" >/dev/null 2>"$tmp/pe4.err" &
pe4_pid=$!; pids+=("$pe4_pid")
poll 10 listed "$pe4" || fail "PE $pe4 did not register through discovery"
grep -q "registered .* at $v4_r:3863" "$tmp/pe4.err" || fail "PE did not register with the announced $v4_r:3863"
in_c "$resolve" --transport udp --timeout 10s --format '{id} {addresses}' "$pool4" \
  >"$tmp/resolve4.out" 2>"$tmp/resolve4.err" || fail "rsp-resolve exited $?"
[ "$(cat "$tmp/resolve4.out")" = "$pe4 $v4_c" ] || fail "resolution: '$(cat "$tmp/resolve4.out")', expected '$pe4 $v4_c'"
msg="discovered over IPv4 $id"
in_c "$send" --transport udp --timeout 10s --message "$msg" "$pool4" >"$tmp/send4.out" 2>"$tmp/send4.err" \
  || fail "rsp-send exited $?"
[ "$(cat "$tmp/send4.out")" = "$msg" ] || fail "echo mismatch: '$(cat "$tmp/send4.out")'"

# The rsp_* API: rsp_initialize() with nothing configured learns the registrar from announcements.
api_pool4="Api4Pool$id"
ip netns exec "$ns_c" "$api_pe" -h "$api_pool4" >"$tmp/api_pe4.out" 2>"$tmp/api_pe4.err" &
api_pe4_pid=$!; pids+=("$api_pe4_pid")
poll 15 grep -q '^registered ' "$tmp/api_pe4.out" || fail "echo_pe (rsp_register) did not register"
api_id4=$(sed -n 's/^registered \([0-9]*\).*/\1/p' "$tmp/api_pe4.out")
listed "$api_id4" || fail "echo_pe's PE $api_id4 not in the registrar's handlespace"
printf 'hello api v4\n' >"$tmp/api_in"
in_c "$api_pu" -h "$api_pool4" <"$tmp/api_in" >"$tmp/api_pu4.out" 2>"$tmp/api_pu4.err" || fail "echo_pu exited $?"
cmp -s "$tmp/api_in" "$tmp/api_pu4.out" || fail "echo_pu output differs from its input"
terminate rsp-echo-pe "$pe4_pid"
terminate echo_pe "$api_pe4_pid"
stop_registrar
v4_done=$(now_ms)

# ---- 2. announcements off ----------------------------------------------------------------------
start_registrar "$tmp/registrar_off.err" --no-announce
grep -q "announcing" "$tmp/registrar_off.err" && fail "--no-announce registrar says it announces"
pool_off="OffPool$id"
t0=$(now_ms)
ip netns exec "$ns_c" "$echo_pe" --transport udp --timeout 3s "$pool_off" >/dev/null 2>"$tmp/pe_off.err" &
pe_off_pid=$!; pids+=("$pe_off_pid")
ip netns exec "$ns_c" "$resolve" --transport udp --timeout 20s "$pool_off" >/dev/null 2>"$tmp/resolve_off.err" &
resolve_off_pid=$!; pids+=("$resolve_off_pid")
wait "$pe_off_pid"; rc=$?; pe_off_ms=$(( $(now_ms) - t0 ))
[ "$rc" -eq 75 ] || fail "PE without a registrar exited $rc, expected 75 (not registered at --timeout)"
[ "$pe_off_ms" -ge 3000 ] || fail "PE gave up after $pe_off_ms ms, before its --timeout of 3 s"
wait "$resolve_off_pid"; rc=$?; resolve_off_ms=$(( $(now_ms) - t0 ))
[ "$rc" -eq 75 ] || fail "PU without a registrar exited $rc, expected 75 (no registrar)"
# The PU listens for T7-ENRPoutdate (5 s) before it reports that none was announced.
[ "$resolve_off_ms" -ge 5000 ] && [ "$resolve_off_ms" -lt 15000 ] \
  || fail "PU gave up after $resolve_off_ms ms, expected T7-ENRPoutdate (5 s) plus slack"
grep -q "none announced on 239.0.0.50:3863" "$tmp/resolve_off.err" || fail "PU's error does not say where it listened"
dump | grep -q '"element_count": *0\b' || fail "something registered with a registrar that does not announce"
stop_registrar
off_done=$(now_ms)

# ---- 3. IPv6 -------------------------------------------------------------------------------
start_registrar "$tmp/registrar6.err" --listen "[$v6_r]:3863" --announce "[$group6]:3863" \
  --announce-interface "$if_r"
grep -q "announcing: \[$group6\]:3863 on $if_r\$" "$tmp/registrar6.err" || fail "registrar does not announce on $if_r"
export RSP_ANNOUNCE="[$group6]:3863" RSP_ANNOUNCE_INTERFACE="$if_c"
pool6="Disc6Pool$id"; pe6=$(( id % 1000000 + 6100 ))
ip netns exec "$ns_c" "$echo_pe" --transport udp --id "$pe6" --timeout 20s -v "$pool6" >/dev/null 2>"$tmp/pe6.err" &
pe6_pid=$!; pids+=("$pe6_pid")
poll 10 listed "$pe6" || fail "PE $pe6 did not register through IPv6 discovery"
grep -q "registered .* at \[$v6_r\]:3863" "$tmp/pe6.err" || fail "PE did not register with the announced [$v6_r]:3863"
in_c "$resolve" --transport udp --timeout 10s --format '{id} {addresses}' "$pool6" \
  >"$tmp/resolve6.out" 2>"$tmp/resolve6.err" || fail "rsp-resolve (IPv6) exited $?"
[ "$(cat "$tmp/resolve6.out")" = "$pe6 $v6_c" ] || fail "resolution: '$(cat "$tmp/resolve6.out")', expected '$pe6 $v6_c'"
msg="discovered over IPv6 $id"
in_c "$send" --transport udp --timeout 10s --message "$msg" "$pool6" >"$tmp/send6.out" 2>"$tmp/send6.err" \
  || fail "rsp-send (IPv6) exited $?"
[ "$(cat "$tmp/send6.out")" = "$msg" ] || fail "echo mismatch: '$(cat "$tmp/send6.out")'"
# Meanwhile a client listening on the IPv4 group hears nothing from this registrar: after
# T7-ENRPoutdate it reports that none was announced.
RSP_ANNOUNCE= RSP_ANNOUNCE_INTERFACE= ip netns exec "$ns_c" "$resolve" --transport udp --timeout 20s "$pool6" \
  >/dev/null 2>"$tmp/resolve_v4group.err" &
v4group_pid=$!; pids+=("$v4group_pid")
api_pool6="Api6Pool$id"
ip netns exec "$ns_c" "$api_pe" -h "$api_pool6" >"$tmp/api_pe6.out" 2>"$tmp/api_pe6.err" &
api_pe6_pid=$!; pids+=("$api_pe6_pid")
poll 15 grep -q '^registered ' "$tmp/api_pe6.out" || fail "echo_pe (IPv6 discovery) did not register"
printf 'hello api v6\n' >"$tmp/api_in"
in_c "$api_pu" -h "$api_pool6" <"$tmp/api_in" >"$tmp/api_pu6.out" 2>"$tmp/api_pu6.err" || fail "echo_pu (IPv6) exited $?"
cmp -s "$tmp/api_in" "$tmp/api_pu6.out" || fail "echo_pu (IPv6) output differs from its input"
wait "$v4group_pid"; rc=$?
[ "$rc" -eq 75 ] || fail "a PU on the IPv4 group exited $rc, expected 75 (the registrar announces on IPv6 only)"
terminate rsp-echo-pe "$pe6_pid"
terminate echo_pe "$api_pe6_pid"
stop_registrar
end=$(now_ms)

echo "PASS: discovery with nothing configured: IPv4 $(( v4_done - start )) ms, --no-announce" \
  "(PE 75 after $pe_off_ms ms, PU 75 after $resolve_off_ms ms) $(( off_done - v4_done )) ms," \
  "IPv6 $(( end - off_done )) ms"
