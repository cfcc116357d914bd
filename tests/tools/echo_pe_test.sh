#!/usr/bin/env bash
# rsp-echo-pe: registers, echoes (with --prefix, --delay), --fail-after, --load-per-session,
# --cookie, deregisters on SIGTERM, and its documented exit codes.
source "$(dirname "$0")/lib.sh" "$1"

expect_status 64 "bad policy is a usage error" "$ECHO_PE" EchoPool --policy nosuch
check "bad policy: one line naming the option" one_line_error rsp-echo-pe
expect_status 64 "bad --delay is a usage error" "$ECHO_PE" EchoPool --delay 5parsecs
expect_status 64 "missing POOL is a usage error" "$ECHO_PE"
expect_status 0 "--help" "$ECHO_PE" --help
check "--help goes to stdout" grep -q -- --fail-after "$TMP/out"
expect_status 0 "--version" "$ECHO_PE" --version

# Unreachable registrar: bounded wait, clear error, 75.
dead=$(free_port)
start=$(date +%s)
expect_status 75 "unreachable registrar with --timeout gives 75" "$ECHO_PE" EchoPool -r "127.0.0.1:$dead" --timeout 2s
check "unreachable registrar: error names the pool" grep -q "not registered in 'EchoPool' within 2s" "$TMP/err"
check "unreachable registrar: bounded wait (< 10 s)" test $(($(date +%s) - start)) -lt 10

start_registrar
start_pe EchoPool --prefix "A: "
pe_a=$LAST_PID
check "PE registers" wait_pool_size EchoPool 1
out=$(echo hello | "$SEND" EchoPool -w 5s)
check "echo with --prefix" test "$out" == "A: hello"

# --delay: the reply takes at least the delay.
start_pe DelayPool --delay 700ms
check "delayed PE registers" wait_pool_size DelayPool 1
t0=$(date +%s%N)
out=$(echo slow | "$SEND" DelayPool -w 5s)
t1=$(date +%s%N)
check "delayed echo arrives" test "$out" == "slow"
check "delayed echo takes >= 700 ms" test $(((t1 - t0) / 1000000)) -ge 700

# SIGTERM deregisters: the pool is gone afterwards.
kill -TERM "$pe_a"
wait "$pe_a"
rc=$?
check "SIGTERM exits 0 (got $rc)" test "$rc" == 0
expect_status 68 "after SIGTERM the pool is gone (deregistered)" "$RESOLVE" EchoPool -w 3s

# --fail-after N: exits after N echoes without deregistering (still registered until the
# registrar's keep-alive audit notices).
start_pe FailPool --fail-after 2
pe_f=$LAST_PID
check "fail-after PE registers" wait_pool_size FailPool 1
echo 1 | "$SEND" FailPool -w 5s >/dev/null
echo 2 | "$SEND" FailPool -w 5s >/dev/null
check "the PE exits after 2 echoes" wait_until 5 bash -c "! kill -0 $pe_f"
expect_status 79 "a third message finds no answering PE (failover exhausted)" "$SEND" FailPool -m 3 -w 8s --attempts 1 --reply-timeout 1s
check "failover exhausted: one line" one_line_error rsp-send

# --load-per-session with least-used: the registered load follows the sessions.
start_pe LoadPool --policy lu --load 10% --load-per-session 20%
check "LU PE registers" wait_pool_size LoadPool 1
load0=$("$RESOLVE" LoadPool --format '{load}' -w 3s)
check "initial load 0.1 (got $load0)" python3 -c "assert abs($load0 - 0.1) < 0.001"
mkfifo "$TMP/hold"
( "$CAT" LoadPool -i 10s <"$TMP/hold" >/dev/null 2>&1 ) &
PIDS+=($!)
exec 7>"$TMP/hold"
echo open >&7
check "load rises to 0.3 with one session" wait_until 5 bash -c "\"$RESOLVE\" LoadPool --format '{load}' -w 2s | python3 -c 'import sys; assert abs(float(sys.stdin.read()) - 0.3) < 0.001'"
exec 7>&-

# --cookie: the PE sends cookies (the PU replays them on failover; see cat_test.sh).
start_pe CookiePool --cookie -vv
check "cookie PE registers" wait_pool_size CookiePool 1
out=$(echo c | "$SEND" CookiePool -w 5s)
check "cookie PE still echoes" test "$out" == "c"

finish
