#!/usr/bin/env bash
# The main job, for a newcomer: a pool on loopback that you can watch work.
# Sets up and builds (scripts/setup.sh), then starts a registrar and two echo PEs, resolves the
# pool, sends a few messages through it, kills the PE that serves the session and shows the
# failover. Everything runs on 127.0.0.1 and stops when the demo ends (or on Ctrl-C).
#   scripts/demo.sh            (RSP_DEMO_PORT=3863 by default, RSP_TRANSPORT=auto)
set -euo pipefail
cd "$(dirname "$0")/.."
RSP_SETUP_TEST_DEPS=0 scripts/setup.sh build >&2
bin=$PWD/build/tools
port=${RSP_DEMO_PORT:-3863}
export RSP_REGISTRAR=127.0.0.1:$port
pids=()
# PEs first (they deregister), the registrar last.
cleanup() { for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; sleep 0.2; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
# Headings in bold only on a terminal: no escape codes in a pipe or a log file.
if [[ -t 2 ]]; then say() { printf '\n\033[1m# %s\033[0m\n' "$*" >&2; }
else say() { printf '\n# %s\n' "$*" >&2; }; fi

say "a registrar on 127.0.0.1:$port (no multicast announcements)"
"$bin/rsp-registrar/rsp-registrar" --listen "127.0.0.1:$port" --no-announce --fast -v &
pids+=($!)
"$bin/rsp-resolve/rsp-resolve" --wait-registrar 5s --dump >/dev/null

say "two echo pool elements for EchoPool, round robin"
for i in 1 2; do
  "$bin/rsp-echo-pe/rsp-echo-pe" EchoPool --listen "127.0.0.1:0" --policy rr --prefix "pe$i: " -v &
  pids+=($!)
done
"$bin/rsp-resolve/rsp-resolve" EchoPool --all --wait-count 2 --timeout 10s

say "four messages to the pool: round robin alternates between the PEs"
for n in 1 2 3 4; do echo "hello $n" | "$bin/rsp-send/rsp-send" EchoPool; done

say "a session with rsp-cat; the PE serving it is killed half-way: the session fails over"
replies=$(mktemp)
{
  for n in 1 2 3; do echo "line $n"; sleep 0.5; done
  serving=$(tail -n1 "$replies" | cut -d: -f1)
  kill -9 "${pids[${serving#pe}]}"; echo "(killed $serving, which served the session)" >&2; sleep 1
  for n in 4 5 6; do echo "line $n"; sleep 0.5; done
} | "$bin/rsp-cat/rsp-cat" EchoPool -v --idle-timeout 3s | tee "$replies" || true
rm -f "$replies"

say "the pool now"
"$bin/rsp-resolve/rsp-resolve" EchoPool --all
say "done"
