#!/usr/bin/env python3
"""Interleaved rounds of the transport benchmark and one or more api_bench builds, so that
all of them see the same (shared, noisy) host. Prints medians and ranges of each build's rate
and of its ratio to the transport's rate in the same round (bench/api/README.md), and the
median CPU time per message of the benchmark's own thread (Google Benchmark's CPU column: the
client of the transport benchmark, the pool user's application thread of api_bench) and of both
sides together ("both": every thread of the client and of the echo server, i.e. transport_bench's
client_cpu_us + server_cpu_us, api_bench's pu_cpu_us + pe_cpu_us), with transport's "both" as a
percentage of the API's: what the rate ratio would be where both sides are CPU-bound, as in the
pipelined shapes. CPU figures vary less than the rates on a host that takes its vCPUs away.

usage: interleave.py --transport BUILD --api NAME=BUILD [--api NAME=BUILD ...]
                     [--rounds 6] [--min-time 2] [--failover]
BUILD is a build directory with bench/transport/transport_bench or bench/api/api_bench.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

SHAPES = [("sequential", "64"), ("sequential", "4096"), ("pipelined", "64"), ("pipelined", "4096")]
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def bench_json(argv):
    """Runs a Google Benchmark program; returns its JSON results (--benchmark_out) and stdout."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        out = subprocess.run(argv + [f"--benchmark_out={f.name}", "--benchmark_out_format=json"],
                             capture_output=True, text=True, check=False).stdout
        try:
            results = json.load(open(f.name)).get("benchmarks", [])
        except (OSError, ValueError):
            results = []
    return results, out


def rows(results, kind):
    """{(shape, size): (rate, thread cpu us, both sides' cpu us)} for rows named shape/KIND/size."""
    found = {}
    for b in results:
        m = re.match(r"(sequential|pipelined)/" + kind + r"/(\d+)/real_time$", b.get("name", ""))
        if not m or b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        if kind == "udp":
            both = b.get("client_cpu_us", 0) + b.get("server_cpu_us", 0)
        else:
            both = b.get("pu_cpu_us", 0) + b.get("pe_cpu_us", 0)
        per_us = {"ns": 1e-3, "us": 1, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        found[(m.group(1), m.group(2))] = (b["items_per_second"], b["cpu_time"] * per_us, both)
    return found


def transport_rates(argv):
    return rows(bench_json(argv)[0], "udp")


def api_rates(argv):
    results, out = bench_json(argv)
    failover = [line.strip() for line in COLOUR.sub("", out).splitlines()
                if line.startswith(("default ", "low-latency "))]
    return rows(results, "rsp_sendmsg"), failover


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transport", required=True)
    p.add_argument("--api", action="append", required=True, help="NAME=BUILD")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--min-time", default="2")
    p.add_argument("--failover", action="store_true", help="also the failover runs, every round")
    a = p.parse_args()
    apis = [tuple(x.split("=", 1)) for x in a.api]
    tr = {s: [] for s in SHAPES}
    ar = {name: {s: [] for s in SHAPES} for name, _ in apis}
    loads, failovers = [], []
    start = time.strftime("%H:%M", time.gmtime())
    for _ in range(a.rounds):
        loads.append(os.getloadavg()[0])
        t = transport_rates([f"{a.transport}/bench/transport/transport_bench",
                             f"--benchmark_min_time={a.min_time}", "--benchmark_filter=udp"])
        for name, build in apis:
            argv = [f"{build}/bench/api/api_bench", f"--benchmark_min_time={a.min_time}"]
            if not a.failover:
                argv.append("--no-failover")  # older builds ignore it and run them anyway
            r, f = api_rates(argv)
            failovers += [(name, line) for line in f]
            for s in SHAPES:
                if s in r and s in t:
                    ar[name][s].append((r[s][0], r[s][0] / t[s][0], r[s][1], r[s][2], t[s][2] / r[s][2]
                                        if r[s][2] > 0 else 0))
        for s in SHAPES:
            if s in t:
                tr[s].append(t[s])
        loads.append(os.getloadavg()[0])
    end = time.strftime("%H:%M", time.gmtime())
    print(f"{a.rounds} rounds, min_time {a.min_time} s, {start}-{end} UTC, "
          f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    for s in SHAPES:
        if not tr[s]:
            continue
        trates = [x[0] for x in tr[s]]
        line = (f"{s[0]:10} {s[1]:>4}  transport {statistics.median(trates) / 1e3:6.1f}k "
                f"({min(trates) / 1e3:.1f}-{max(trates) / 1e3:.1f}k) "
                f"cpu {statistics.median(x[1] for x in tr[s]):4.1f} us, both {statistics.median(x[2] for x in tr[s]):4.1f} us")
        for name, _ in apis:
            v = ar[name][s]
            if not v:
                continue
            rates, ratios = [x[0] for x in v], [x[1] for x in v]
            line += (f" | {name} {statistics.median(rates) / 1e3:6.1f}k "
                     f"{100 * statistics.median(ratios):4.0f} % ({100 * min(ratios):.0f}-"
                     f"{100 * max(ratios):.0f}) cpu {statistics.median(x[2] for x in v):4.1f} us, "
                     f"both {statistics.median(x[3] for x in v):4.1f} us = "
                     f"{100 * statistics.median(x[4] for x in v):.0f} %")
        print(line)
    for name, line in failovers:
        print(f"{name:8} {line}")


if __name__ == "__main__":
    main()
