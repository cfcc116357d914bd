#!/bin/sh
# Interleaved A/B series of registrar_load's paced phase (bench/registrar/README.md):
#   p99_series.sh BUILD_DIR ROUNDS VARIANT...
# A VARIANT is a label and registrar_load options joined by ':', e.g. "off:" or
# "bp50:--busy-poll 50us"; prefix the options with "fifo " to run both processes under
# SCHED_FIFO (chrt -f 10), away from the host's other processes, or with "ag " to run them in
# a session of their own whose autogroup has nice -20 (with kernel.sched_autogroup_enabled,
# the default, CPU time is shared between sessions first: "nice -n 19" on another session's
# compiles does not give a benchmark the CPU; its autogroup's nice does, see sched(7)). Each round runs every
# variant once, in order; each run is a fresh registrar at --rate 13100 (half the
# transport's pipelined rate) with 2 paced runs of 3 s. Prints the paced lines with uptime.
set -eu
build=$1
rounds=$2
shift 2
load=$build/bench/registrar/registrar_load
r=1
while [ "$r" -le "$rounds" ]; do
  for v in "$@"; do
    label=${v%%:*}
    opts=${v#*:}
    prefix=""
    case $opts in
      fifo*) prefix="chrt -f 10"; opts=${opts#fifo} ;;
      ag*) prefix="ag"; opts=${opts#ag} ;;
    esac
    echo "=== round $r variant $label ($(uptime | sed 's/.*load average: //'))"
    if [ "$prefix" = ag ]; then
      # shellcheck disable=SC2086
      setsid sh -c 'echo -20 > /proc/self/autogroup && exec "$@"' sh "$load" --rate 13100 --paced-runs 2 $opts 2>&1 |
        grep -v '^registr\|^UDP'
    else
      # shellcheck disable=SC2086
      $prefix "$load" --rate 13100 --paced-runs 2 $opts 2>&1 | grep -v '^registr\|^UDP'
    fi
  done
  r=$((r + 1))
done
