#!/usr/bin/env bash
# rsp-resolve: table, --json (parsed), --format, --count/--all, --watch (JSON lines), --dump,
# --wait-count, --wait-registrar, and every exit code.
source "$(dirname "$0")/lib.sh" "$1"

expect_status 64 "no POOL is a usage error" "$RESOLVE"
check "usage error: one line" one_line_error rsp-resolve
expect_status 64 "--count 0 is a usage error" "$RESOLVE" EchoPool --count 0
expect_status 64 "--count with --all is a usage error" "$RESOLVE" EchoPool --count 2 --all
expect_status 64 "unknown flag is a usage error" "$RESOLVE" EchoPool --bogus
check "unknown flag: one line" one_line_error rsp-resolve
expect_status 64 "bad --timeout is a usage error" "$RESOLVE" EchoPool --timeout soon

dead=$(free_port)
start=$(date +%s)
expect_status 75 "unreachable registrar gives 75" "$RESOLVE" EchoPool -r "127.0.0.1:$dead" -w 3s
check "unreachable registrar: one line" one_line_error rsp-resolve
check "unreachable registrar: bounded wait (< 8 s)" test $(($(date +%s) - start)) -lt 8
expect_status 75 "--dump without a registrar gives 75" "$RESOLVE" --dump --status-socket "$TMP/none.sock"

start_registrar
expect_status 68 "unknown pool gives 68" "$RESOLVE" EmptyPool
check "unknown pool: one line naming it" grep -q "pool 'EmptyPool' not found" "$TMP/err"
expect_status 124 "--wait-count not reached gives 124" "$RESOLVE" EmptyPool --wait-count 1 -w 1s

for i in 1 2 3; do start_pe EchoPool --policy wrr:$i; done
pe3=$LAST_PID
check "--wait-count 3 returns once 3 PEs are registered" "$RESOLVE" EchoPool --all --wait-count 3 -w 15s

expect_status 0 "table output" "$RESOLVE" EchoPool --all
check "table has a header and 3 rows" test "$(wc -l <"$TMP/out")" == 4
check "table shows the policy" grep -q "WeightedRoundRobin:3" "$TMP/out"

"$RESOLVE" EchoPool --all --json >"$TMP/all.json"
check "--json is an array of 3 PEs with the documented fields" python3 - "$TMP/all.json" <<'EOF'
import json, sys
pes = json.load(open(sys.argv[1]))
assert isinstance(pes, list) and len(pes) == 3, pes
for pe in pes:
    assert pe["pool"] == "EchoPool"
    assert isinstance(pe["id"], int) and pe["id_hex"] == "0x%08x" % pe["id"]
    assert pe["transport"]["protocol"] == "sctp" and pe["transport"]["addresses"] == ["127.0.0.1"]
    assert 0 < pe["transport"]["port"] < 65536
    assert pe["policy"]["name"] == "WeightedRoundRobin"
    assert isinstance(pe["home_registrar"], int) and pe["registration_life_ms"] > 0
assert sorted(pe["policy"]["weight"] for pe in pes) == [1, 2, 3]
EOF

"$RESOLVE" EchoPool --count 1 --json >"$TMP/one.json"
check "--count 1 gives one PE" python3 -c "import json; assert len(json.load(open('$TMP/one.json'))) == 1"

"$RESOLVE" EchoPool --all --format '{id_hex} {protocol} {address}:{port} {weight}' >"$TMP/fmt"
check "--format prints one line per PE from the template" python3 - "$TMP/fmt" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, lines
for l in lines:
    assert re.fullmatch(r"0x[0-9a-f]{8} sctp 127\.0\.0\.1:\d+ [123]", l), l
EOF

# --watch --json: one object per line; a removal shows up.
"$RESOLVE" EchoPool --watch --json --interval 200ms >"$TMP/watch" 2>/dev/null &
watch_pid=$!
PIDS+=("$watch_pid")
check "--watch reports the 3 PEs" wait_until 10 bash -c "test \$(wc -l <'$TMP/watch') -ge 3"
kill -TERM "$pe3"
check "--watch reports the removal" wait_until 10 grep -q '"event":"removed"' "$TMP/watch"
kill -TERM "$watch_pid"
wait "$watch_pid"
check "--watch exits 0 on SIGTERM" test $? == 0
check "--watch lines are JSON objects with event and element" python3 - "$TMP/watch" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert [e["event"] for e in events[:3]] == ["added"] * 3, events
assert events[-1]["event"] == "removed" and events[-1]["element"]["pool"] == "EchoPool"
EOF

expect_status 0 "--dump prints the registrar's handlespace" "$RESOLVE" --dump
check "--dump shows the pool" grep -q EchoPool "$TMP/out"
expect_status 0 "--dump --json" "$RESOLVE" --dump --json
check "--dump --json parses" python3 -c "import json; json.load(open('$TMP/out'))"

# --wait-registrar: a registrar that starts late is waited for.
port2=$(free_port)
( sleep 1; exec "$REGISTRAR" --listen "127.0.0.1:$port2" --no-announce --no-status-socket 2>/dev/null ) &
PIDS+=($!)
expect_status 68 "--wait-registrar waits for a registrar starting later" "$RESOLVE" Nothing -r "127.0.0.1:$port2" --wait-registrar 10s -w 15s

finish
