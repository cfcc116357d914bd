#!/usr/bin/env bash
# rsp-send: stdin or --message to one PE, reply on stdout, --json, --no-reply, failover to
# another PE, and every exit code.
source "$(dirname "$0")/lib.sh" "$1"

expect_status 64 "missing POOL is a usage error" "$SEND"
check "usage error: one line" one_line_error rsp-send
expect_status 64 "--ppid 11 is a usage error" "$SEND" EchoPool --ppid 11 -m x
check "--ppid 11: one line" one_line_error rsp-send
expect_status 64 "--stream out of range is a usage error" "$SEND" EchoPool --stream 99 -m x
expect_status 65 "an empty message is bad data" "$SEND" EchoPool -m ""

dead=$(free_port)
start=$(date +%s)
expect_status 75 "unreachable registrar gives 75" "$SEND" EchoPool -m x -r "127.0.0.1:$dead" -w 5s
check "unreachable registrar: one line" one_line_error rsp-send
check "unreachable registrar: bounded wait (< 10 s)" test $(($(date +%s) - start)) -lt 10

start_registrar
expect_status 68 "unknown pool gives 68" "$SEND" EmptyPool -m x -w 5s
check "unknown pool: one line" one_line_error rsp-send

start_pe EchoPool
pe1=$LAST_PID
check "PE registers" wait_pool_size EchoPool 1
out=$(echo hi | "$SEND" EchoPool)
check "echo hi | rsp-send EchoPool prints hi" test "$out" == "hi"
out=$("$SEND" EchoPool --message "exact text")
check "--message is sent exactly" test "$out" == "exact text"

# Binary message through stdin, unchanged.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)' >"$TMP/bin"
"$SEND" EchoPool <"$TMP/bin" >"$TMP/bin.out"
check "1 KiB of all byte values comes back unchanged" cmp -s "$TMP/bin" "$TMP/bin.out"

"$SEND" EchoPool -m "json me" --json --ppid 42 --stream 3 >"$TMP/j"
check "--json reply parses with the documented fields" python3 - "$TMP/j" <<'EOF'
import base64, json, sys
j = json.load(open(sys.argv[1]))
assert j["pool"] == "EchoPool" and j["reply"] == "json me", j
assert base64.b64decode(j["reply_base64"]) == b"json me"
assert j["ppid"] == 42 and j["stream"] == 3 and j["size"] == 7
assert isinstance(j["pool_element"], int) and j["rtt_ms"] >= 0 and j["failovers"] == 0
EOF

expect_status 0 "--no-reply exits 0 once handed over" "$SEND" EchoPool -m "fire and forget" --no-reply
check "--no-reply prints nothing" test ! -s "$TMP/out"

# A PE that never answers (long delay): rsp-send fails over to the next one.
start_pe SlowPool --policy prio:9 --delay 60s --prefix "slow: "
check "slow PE registers" wait_pool_size SlowPool 1
start_pe SlowPool --policy prio:1 --prefix "fast: "
check "fast PE registers" wait_pool_size SlowPool 2
out=$("$SEND" SlowPool -m x --reply-timeout 500ms -w 10s -v 2>"$TMP/err")
check "the message is answered by the other PE after a failover (got '$out')" test "$out" == "fast: x"
check "-v says the first PE did not answer" grep -q "did not answer within 500ms" "$TMP/err"

# Timeout: 124 when no reply arrives in time and failover has no end in sight.
expect_status 124 "--timeout expiring gives 124" "$SEND" SlowPool -m y --reply-timeout 30s -w 1s
check "timeout: one line" one_line_error rsp-send

# Only a silent PE and one attempt: failover exhausted.
expect_status 79 "no PE answers within --attempts: 79" "$SEND" SlowPool -m z --reply-timeout 300ms --attempts 1 -w 10s
check "failover exhausted: the documented message" grep -q "no pool element answered for 'SlowPool' (1 tried)" "$TMP/err"

# Empty pool: the only PE deregistered.
kill -TERM "$pe1"
wait "$pe1"
expect_status 68 "a pool whose PEs left is unknown: 68" "$SEND" EchoPool -m x -w 5s

finish
