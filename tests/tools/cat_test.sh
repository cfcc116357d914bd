#!/usr/bin/env bash
# rsp-cat: lines and raw bytes through a pool unchanged, interactive use under a pseudo-terminal
# (tmux), the PE side (-l with stdin/stdout and --exec), a PE killed mid-stream with the exact
# report of what may not have been delivered, and every exit code.
source "$(dirname "$0")/lib.sh" "$1"

expect_status 64 "--exec without -l is a usage error" "$CAT" EchoPool --exec cat
check "usage error: one line" one_line_error rsp-cat
expect_status 64 "unknown flag is a usage error" "$CAT" EchoPool --frobnicate
expect_status 64 "bad --idle-timeout is a usage error" "$CAT" EchoPool --idle-timeout forever
expect_status 64 "missing POOL is a usage error" "$CAT"

dead=$(free_port)
start=$(date +%s)
CHECKS=$((CHECKS + 1))
echo x | "$CAT" EchoPool -r "127.0.0.1:$dead" -w 5s >/dev/null 2>"$TMP/err"
rc=$?
if [[ $rc == 75 ]]; then pass "unreachable registrar gives 75"; else fail "unreachable registrar: exit $rc: $(cat "$TMP/err")"; fi
check "unreachable registrar: one line" one_line_error rsp-cat
check "unreachable registrar: bounded wait (< 10 s)" test $(($(date +%s) - start)) -lt 10

start_registrar
CHECKS=$((CHECKS + 1))
echo x | "$CAT" NoPool -w 5s >/dev/null 2>"$TMP/err"
rc=$?
if [[ $rc == 68 ]]; then pass "unknown pool gives 68"; else fail "unknown pool: exit $rc: $(cat "$TMP/err")"; fi

start_pe EchoPool
check "PE registers" wait_pool_size EchoPool 1

printf 'one\ntwo\nthree\n' | "$CAT" EchoPool -w 10s >"$TMP/lines" 2>"$TMP/err"
check "lines come back in order (exit $?)" test "$(cat "$TMP/lines")" == $'one\ntwo\nthree'
check "no diagnostics on a clean run" test ! -s "$TMP/err"

python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' >"$TMP/bytes"
"$CAT" EchoPool -w 60s <"$TMP/bytes" >"$TMP/bytes.lines"
check "all 256 byte values unchanged through a pipe (line mode)" cmp -s "$TMP/bytes" "$TMP/bytes.lines"
"$CAT" EchoPool --raw -w 60s <"$TMP/bytes" >"$TMP/bytes.raw"
check "all 256 byte values unchanged through a pipe (--raw)" cmp -s "$TMP/bytes" "$TMP/bytes.raw"
cat "$TMP/bytes" | "$CAT" EchoPool --raw --max-message 7 -w 60s >"$TMP/bytes.small"
check "all 256 byte values unchanged in 7-byte messages" cmp -s "$TMP/bytes" "$TMP/bytes.small"

# Interactive: a terminal on stdin and stdout (tmux gives rsp-cat a pseudo-terminal).
if command -v tmux >/dev/null; then
  sock="rsp-cat-test-$$"
  tmux -L "$sock" new-session -d -x 100 -y 20 \
    "\"$CAT\" EchoPool -v 2>\"$TMP/tty.err\" | tee \"$TMP/tty.out\"; echo \${PIPESTATUS[0]} >\"$TMP/tty.rc\"; sleep 30"
  check "interactive: connected notice on the terminal" wait_until 10 grep -q "connected to 0x" "$TMP/tty.err"
  tmux -L "$sock" send-keys "hello terminal" Enter
  check "interactive: the typed line is echoed" wait_until 10 grep -q "^hello terminal" "$TMP/tty.out"
  tmux -L "$sock" send-keys C-d
  check "interactive: Ctrl-D ends rsp-cat" wait_until 10 test -s "$TMP/tty.rc"
  check "interactive: exit status 0" test "$(cat "$TMP/tty.rc" 2>/dev/null)" == 0
  check "interactive: no ANSI escapes in diagnostics" bash -c "! grep -q $'\e' \"$TMP/tty.err\""
  tmux -L "$sock" kill-server 2>/dev/null
else
  fail "tmux is missing (apt-get install tmux)"
fi

# PE side with stdin/stdout: the PU's line reaches stdout; what we type goes back.
mkfifo "$TMP/pe.in"
"$CAT" -l CatPool --local 127.0.0.1:0 <"$TMP/pe.in" >"$TMP/pe.out" 2>"$TMP/pe.err" &
pe_cat=$!
PIDS+=("$pe_cat")
exec 8>"$TMP/pe.in"
check "rsp-cat -l registers" wait_pool_size CatPool 1
( printf 'ping\n' | "$CAT" CatPool -w 10s >"$TMP/pu.out" 2>"$TMP/pu.err"; echo $? >"$TMP/pu.rc" ) &
check "the PU's line reaches the PE's stdout" wait_until 10 grep -q '^ping$' "$TMP/pe.out"
echo pong >&8
check "the PE's stdin line reaches the PU" wait_until 10 test -s "$TMP/pu.rc"
check "the PU printed pong and exited 0" test "$(cat "$TMP/pu.out")" == pong -a "$(cat "$TMP/pu.rc")" == 0
exec 8>&-
check "EOF on the PE's stdin ends rsp-cat -l" wait_until 10 bash -c "! kill -0 $pe_cat"
expect_status 68 "rsp-cat -l deregistered at EOF" "$RESOLVE" CatPool -w 3s

# PE side with --exec: one command per session.
"$CAT" -l ExecPool --exec 'while read -r l; do echo "got $l in $RSP_POOL"; done' 2>"$TMP/exec.err" &
PIDS+=($!)
check "rsp-cat -l --exec registers" wait_pool_size ExecPool 1
printf 'a\nb\n' | "$CAT" ExecPool -w 10s >"$TMP/exec.out"
check "--exec: each line answered by the command" test "$(cat "$TMP/exec.out")" == $'got a in ExecPool\ngot b in ExecPool'

# A PE killed mid-stream: PE A (preferred: priority 9) exits abruptly after 3 echoes; the
# session fails over to B. Every message must be either echoed or named on stderr as possibly
# undelivered, and the exit status must say which case it was.
start_pe FoPool --policy prio:9 --fail-after 3 --prefix "A "
check "PE A registers" wait_pool_size FoPool 1
start_pe FoPool --policy prio:1 --prefix "B "
check "PE B registers" wait_pool_size FoPool 2
seq 1 8 | "$CAT" FoPool -i 10s -w 30s >"$TMP/fo.out" 2>"$TMP/fo.err"
rc=$?
check "the session failed over (stderr says so)" grep -q "failed over to pool element 0x" "$TMP/fo.err"
a_count=$(grep -c '^A ' "$TMP/fo.out")
# (A's last replies may die with it: then the messages come back and go to B, "possibly twice".)
check "A answered at most 3 messages before it died (got $a_count)" test "$a_count" -le 3
check "stderr, stdout and exit status account for every message exactly" python3 - "$TMP/fo.out" "$TMP/fo.err" "$rc" <<'EOF'
import re, sys
out = open(sys.argv[1]).read().splitlines()
err = open(sys.argv[2]).read()
rc = int(sys.argv[3])
echoed = [int(l.split()[1]) for l in out]
assert len(echoed) == len(set(echoed)) or "possibly twice" in err, (out, err)
m = re.search(r"messages (.*) \(of (\d+)\) may not have been delivered", err)
lost = set()
if m:
    assert int(m.group(2)) == 8, err
    for part in m.group(1).split(", "):
        a, _, b = part.partition("-")
        lost |= set(range(int(a), int(b or a) + 1))
assert set(echoed) | lost == set(range(1, 9)), (echoed, lost, err)
assert not (set(echoed) & lost), (echoed, lost)
assert rc == (80 if lost else 0), (rc, lost, err)
print("echoed", sorted(set(echoed)), "possibly undelivered", sorted(lost), "exit", rc)
EOF

# Failover exhausted: the only PE dies and nothing is left.
start_pe LastPool --fail-after 1
check "the last PE registers" wait_pool_size LastPool 1
seq 1 3 | "$CAT" LastPool -w 20s >/dev/null 2>"$TMP/last.err"
rc=$?
check "no PE left: exit 79 (got $rc)" test "$rc" == 79
check "no PE left: stderr names the undelivered messages" grep -q "may not have been delivered" "$TMP/last.err"

finish
