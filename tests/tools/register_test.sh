#!/usr/bin/env bash
# rsp-register: a sidecar registration for a TCP service, load changes from a file (polled and
# on SIGHUP), deregistration on SIGTERM, `-- COMMAND` whose exit deregisters and becomes the
# exit status, and the exit codes.
source "$(dirname "$0")/lib.sh" "$1"

expect_status 64 "missing --address is a usage error" "$REGISTER" WebPool
check "usage error: one line" one_line_error rsp-register
expect_status 64 "--address without a port is a usage error" "$REGISTER" WebPool --address 127.0.0.1
expect_status 64 "bad --protocol is a usage error" "$REGISTER" WebPool --address 127.0.0.1:80 --protocol quic
echo "lots" >"$TMP/badload"
expect_status 65 "unreadable load file content is bad data" "$REGISTER" WebPool --address 127.0.0.1:80 --load-from "$TMP/badload"

dead=$(free_port)
start=$(date +%s)
expect_status 75 "unreachable registrar with --timeout gives 75" "$REGISTER" WebPool --address 127.0.0.1:80 -r "127.0.0.1:$dead" -w 2s
check "unreachable registrar: bounded wait (< 10 s)" test $(($(date +%s) - start)) -lt 10

start_registrar
echo 0.25 >"$TMP/load"
"$REGISTER" WebPool --address 127.0.0.1:8080 --protocol tcp --policy lu --load-from "$TMP/load" --poll-interval 1h 2>"$TMP/reg.err" &
sidecar=$!
PIDS+=("$sidecar")
check "the sidecar registers the service" wait_pool_size WebPool 1
"$RESOLVE" WebPool --json >"$TMP/web.json"
check "registered as TCP 127.0.0.1:8080 with load 0.25" python3 - "$TMP/web.json" <<'PY'
import json, sys
pe = json.load(open(sys.argv[1]))[0]
assert pe["transport"] == {"protocol": "tcp", "addresses": ["127.0.0.1"], "port": 8080, "use": "data"}, pe
assert pe["policy"]["name"] == "LeastUsed" and abs(pe["policy"]["load"] - 0.25) < 1e-6, pe
PY
echo 60% >"$TMP/load"
kill -HUP "$sidecar"
check "SIGHUP re-reads the load file and re-registers" wait_until 10 bash -c \
  "\"$RESOLVE\" WebPool --format '{load}' -w 2s | python3 -c 'import sys; assert abs(float(sys.stdin.read()) - 0.6) < 1e-6'"
echo 0.1 >"$TMP/load"
kill -USR1 "$sidecar"
check "SIGUSR1 does the same" wait_until 10 bash -c \
  "\"$RESOLVE\" WebPool --format '{load}' -w 2s | python3 -c 'import sys; assert abs(float(sys.stdin.read()) - 0.1) < 1e-6'"
kill -TERM "$sidecar"
wait "$sidecar"
check "SIGTERM: exit 0 (got $?)" test $? == 0
expect_status 68 "SIGTERM deregistered the service" "$RESOLVE" WebPool -w 3s

# Two addresses: two pool elements.
echo 0.5 >"$TMP/load2"
"$REGISTER" TwoPool -a 127.0.0.1:7001 -a 127.0.0.1:7002 --protocol udp --policy lu --load-from "$TMP/load2" \
  --poll-interval 200ms 2>/dev/null &
PIDS+=($!)
check "two --address give two PEs" wait_pool_size TwoPool 2
echo 0.75 >"$TMP/load2"
check "a changed load file is noticed (polling) for both PEs" wait_until 10 bash -c \
  "\"$RESOLVE\" TwoPool --all --format '{load}' -w 2s | python3 -c 'import sys; v=[float(x) for x in sys.stdin.read().split()]; assert len(v)==2 and all(abs(x-0.75)<1e-6 for x in v)'"

# -- COMMAND: registered while it runs; its exit deregisters and is our exit status.
"$REGISTER" CmdPool -a 127.0.0.1:9000 -- bash -c 'while [ ! -e "$0" ]; do sleep 0.05; done; exit 3' "$TMP/stop" 2>"$TMP/cmd.err" &
cmd=$!
PIDS+=("$cmd")
check "the service is registered while it runs" wait_pool_size CmdPool 1
touch "$TMP/stop"
wait "$cmd"
rc=$?
check "the service's exit status (3) is rsp-register's (got $rc)" test "$rc" == 3
expect_status 68 "the service's exit deregistered it" "$RESOLVE" CmdPool -w 3s
expect_status 127 "a command that does not exist: 127" "$REGISTER" NoCmdPool -a 127.0.0.1:9001 -- /nonexistent/program

finish
