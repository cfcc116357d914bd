#!/bin/bash
# A capture of the usrsctp backend's traffic on loopback decodes in tshark as SCTP over UDP
# (RFC 6951) with good CRC32c checksums, no malformed packets, and the chunks of a whole
# association: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, DATA, SACK, SHUTDOWN, SHUTDOWN ACK,
# SHUTDOWN COMPLETE. Exits 77 (skipped) without tshark/dumpcap or capture rights.
# Usage: tshark_test.sh path/to/transport_peer
set -u
peer=${1:?usage: tshark_test.sh transport_peer}
command -v tshark >/dev/null && command -v dumpcap >/dev/null || { echo "SKIP: tshark/dumpcap not installed"; exit 77; }
tmp=$(mktemp -d)
echo_pid=""; cap_pid=""
cleanup() {
  [ -n "$cap_pid" ] && kill -KILL "$cap_pid" 2>/dev/null
  [ -n "$echo_pid" ] && kill -KILL "$echo_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
[ -n "${KEEP:-}" ] && trap - EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.out "$tmp"/*.err; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
wait_for() {
  local deadline=$(( $(date +%s%N) + $3 * 1000000000 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(date +%s%N)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

"$peer" echo --backend udp >"$tmp/echo.out" 2>"$tmp/echo.err" &
echo_pid=$!
wait_for "$tmp/echo.out" "^port " 5 || fail "echo peer did not start"
port=$(awk '/^port /{print $2}' "$tmp/echo.out")

dumpcap -q -i lo -f "udp port $port" -w "$tmp/cap.pcapng" -a duration:20 >"$tmp/dumpcap.out" 2>"$tmp/dumpcap.err" &
cap_pid=$!
# dumpcap announces the capture on stderr once it is running.
wait_for "$tmp/dumpcap.err" "Capturing on" 5 || { grep -qi "permission\|privilege" "$tmp/dumpcap.err" && { echo "SKIP: no capture rights"; exit 77; }; fail "dumpcap did not start"; }

timeout 20 "$peer" client --backend udp --to "127.0.0.1:$port" --sizes 1,100,4096,65536 --rounds 2 \
  >"$tmp/client.out" 2>"$tmp/client.err" || fail "client"
# dumpcap may still be catching up with the last packets: wait (bounded) until the file shows
# the SHUTDOWN COMPLETE the client received before it exited.
deadline=$(( $(date +%s%N) + 5000000000 ))
until tshark -r "$tmp/cap.pcapng" -d "udp.port==$port,sctp" -Y "sctp.chunk_type == 14" 2>/dev/null | grep -q .; do
  [ "$(date +%s%N)" -ge "$deadline" ] && break
  sleep 0.1
done
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null; cap_pid=""

fields=$(tshark -r "$tmp/cap.pcapng" -d "udp.port==$port,sctp" -o "sctp.checksum:CRC 32c" \
  -T fields -E separator=';' -E aggregator=' ' -e frame.number -e udp.srcport -e sctp.chunk_type -e sctp.checksum.status -e _ws.malformed 2>"$tmp/tshark.err") \
  || fail "tshark could not read the capture"
echo "$fields" >"$tmp/fields.out"
packets=$(echo "$fields" | grep -c .)
[ "$packets" -ge 10 ] || fail "only $packets packets captured"
echo "$fields" | awk -F';' '$3 == ""' | grep -q . && fail "a UDP packet on port $port did not decode as SCTP"
echo "$fields" | awk -F';' '$5 != ""' | grep -q . && fail "malformed packets"
# Every packet's checksum is good (status 1 = Good).
echo "$fields" | awk -F';' '$4 != "1"' | grep -q . && fail "bad or unverified SCTP checksums"
chunks=$(echo "$fields" | awk -F';' '{print $3}' | tr ' ' '\n' | sort -n | uniq | tr '\n' ' ')
for want in 0 1 2 3 7 8 10 11 14; do
  echo " $chunks" | grep -q " $want " || fail "no chunk of type $want in the capture (saw: $chunks)"
done
echo "PASS: $packets packets decode as SCTP over UDP port $port, chunk types: $chunks"
