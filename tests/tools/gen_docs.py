#!/usr/bin/env python3
"""Generates man/TOOL.1 and the bash, zsh and fish completions of the pool tools from their
--help option tables (cli_help.py) plus the prose below, so that the documentation cannot drift
from the options (check_docs.py verifies it in ctest).

    tests/tools/gen_docs.py --bin build/tools --root . [TOOL...]
"""
import argparse
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_help import read_help  # noqa: E402

POLICIES = ("rr wrr rand wrand prio lu lud plu rlu RoundRobin WeightedRoundRobin Random WeightedRandom "
            "Priority LeastUsed LeastUsedDegradation PriorityLeastUsed RandomizedLeastUsed").split()

COMMON_EXIT = [
    ("0", "Success."),
    ("64", "Usage error: a bad option or argument (one line on stderr)."),
    ("65", "Bad input data (an empty or oversized message, an unreadable load file)."),
    ("68", "The registrar does not know the pool (no pool element is registered under the handle)."),
    ("69", "The pool exists but offers no pool element."),
    ("70", "Internal error."),
    ("71", "An operating system call failed (socket, fork, exec)."),
    ("74", "Reading standard input or writing standard output failed."),
    ("75", "No registrar answered (none configured or reachable); try again later."),
    ("76", "The registrar rejected the registration (the cause is on stderr)."),
    ("79", "Failover exhausted: every pool element tried failed, none is left."),
    ("80", "Some messages may not have been delivered (rsp-cat; listed on stderr)."),
    ("124", "The --timeout expired."),
    ("130, 143", "Interrupted by SIGINT or SIGTERM before the job was done."),
]

ENV = [
    ("RSP_REGISTRAR", "Comma-separated registrar ADDR:PORT list used when no --registrar is given "
                      "(a bare ADDR means port 3863). Without it the tools listen for the registrars' "
                      "SERVER_ANNOUNCE multicast (RFC 5352 section 3.6)."),
    ("RSP_ANNOUNCE", "The multicast group and port to listen on for SERVER_ANNOUNCE when no registrar is "
                     "configured: IPv4 (239.0.0.50:3863, the default) or IPv6 ([ff05::3863:50]:3863)."),
    ("RSP_ANNOUNCE_INTERFACE", "The interface (by name, e.g. eth0) to join the announce group on; default every "
                               "multicast-capable interface."),
    ("RSP_TRANSPORT", "SCTP backend when no --transport is given: kernel or udp (usrsctp over UDP, RFC 6951)."),
]

TOOLS = {
    "rsp-echo-pe": dict(
        exits=["0", "64", "70", "71", "75", "76", "130, 143"],
        description=[
            "registers a pool element for POOL (RFC 5352 section 3.1) and echoes every message it "
            "receives back to the pool user that sent it, on the same stream with the same payload "
            "protocol identifier, optionally after --prefix. It stays registered (re-registering before "
            "the registration life ends and answering the registrar's keep-alives) until SIGINT or "
            "SIGTERM, then deregisters (section 3.2) and exits 0.",
            "For failover drills, --fail-after N makes it exit abruptly after N echoes, without "
            "deregistering or closing its associations, like a crash; --delay makes it slow. With "
            "--cookie it sends an ASAP COOKIE (section 3.9) after every reply, which a pool user "
            "replays to the next pool element after a failover (logged with -v).",
            "Exit status 75 with --timeout: not registered in time; 76: the registrar rejected the "
            "registration.",
        ],
        examples=[
            ("Two echo PEs, weighted 1:3:",
             "rsp-echo-pe EchoPool --policy wrr:1 &\nrsp-echo-pe EchoPool --policy wrr:3 &"),
            ("A PE that dies after 10 messages:", "rsp-echo-pe EchoPool --fail-after 10 --prefix 'pe1: ' -v"),
        ]),
    "rsp-resolve": dict(
        exits=["0", "64", "68", "69", "74", "75", "124"],
        description=[
            "asks a registrar for the pool elements of POOL (handle resolution, RFC 5352 section 3.3) "
            "and prints them: a table by default (id, protocol, address, policy and values, home "
            "registrar, registration life), a JSON array with --json, or one line per element from "
            "the --format template. --count N asks for at most N elements, --all for every element "
            "(up to the registrar's per-response limit).",
            "--watch re-resolves every --interval and prints what changed: lines starting with + "
            "(added), - (removed) or ~ (changed), or with --json one object per line "
            '{"event": "added|removed|changed", "time_ms": ..., "element": {...}}.',
            "--dump prints the registrar's whole handlespace from its status socket instead (the "
            "registrar's text or, with --json, JSON).",
            "The exit status says whether the pool exists and has elements: 0 yes, 68 unknown pool, "
            "69 no element; 75 no registrar answered; 124 the --timeout (default 10s) or the "
            "--wait-count wait expired.",
        ],
        examples=[
            ("The pool as a table, and as JSON for jq:",
             "rsp-resolve EchoPool --all\nrsp-resolve EchoPool --all --json | jq '.[].transport'"),
            ("Wait until three PEs are up, then watch the pool:",
             "rsp-resolve EchoPool --wait-count 3 --timeout 30s\nrsp-resolve EchoPool --watch"),
            ("Addresses only:", "rsp-resolve EchoPool --all --format '{address}:{port}'"),
        ]),
    "rsp-send": dict(
        exits=["0", "64", "65", "68", "69", "74", "75", "79", "80", "124"],
        description=[
            "sends standard input (or --message) as one message to one pool element of POOL, chosen "
            "by the pool's policy, and prints the reply on standard output exactly as received. "
            "When the pool element does not answer within --reply-timeout, or its association "
            "fails, rsp-send reports it unreachable to the registrar (RFC 5352 section 3.5) and "
            "resends the message to another element, up to --attempts elements.",
            "Exit status 79 when no element answered (\"no pool element answered for 'POOL' (N "
            "tried)\"), 80 when --no-failover forbade resending a message that was lost, 124 when "
            "--timeout (default 10s) expired.",
        ],
        examples=[
            ("Ask an echo pool:", "echo hi | rsp-send EchoPool"),
            ("The reply as JSON:", "rsp-send EchoPool -m ping --json"),
        ]),
    "rsp-cat": dict(
        exits=["0", "64", "68", "69", "71", "74", "75", "76", "79", "80", "124", "130, 143"],
        description=[
            "is netcat for pools. As a pool user (rsp-cat POOL) it opens one session with the pool "
            "(RFC 5352 section 3.8), sends standard input as messages (one per line, the newline "
            "included, or with --raw one per read) and writes every reply to standard output, bytes "
            "unchanged. After end of input it waits until every message was answered (or --quit-after-eof "
            "or --idle-timeout ends the wait). When the pool element fails, the session fails over "
            "to another one transparently; stderr says so, with exactly the messages that may not "
            "have been delivered: message N is the Nth line (or chunk) sent. Messages the old "
            "element's transport never acknowledged are resent; messages it acknowledged but never "
            "answered are not (that could duplicate work) and are listed. At the end, the exit "
            "status is 80 if any message may not have been delivered, 79 if no element was left.",
            "As a pool element (rsp-cat -l POOL) it registers and connects the most recent session "
            "to standard input and output, until end of input; with --exec CMD each session gets "
            "its own /bin/sh -c CMD, its messages on the command's standard input and the command's "
            "output sent back, like ncat --exec. RSP_POOL, RSP_SESSION and RSP_PEER are set for "
            "the command.",
            "Flow control: the pool user keeps at most --window messages awaiting a reply; use "
            "--window 0 with elements that never answer.",
        ],
        examples=[
            ("Talk to a pool interactively:", "rsp-cat EchoPool -v"),
            ("A file through the pool and back:", "rsp-cat EchoPool --raw <in.bin >out.bin && cmp in.bin out.bin"),
            ("A pool element that runs a command per session:", "rsp-cat -l UpperPool --exec 'tr a-z A-Z'"),
        ]),
    "rsp-register": dict(
        exits=["0", "64", "65", "70", "71", "75", "76", "127", "130, 143"],
        description=[
            "keeps a service that does not speak RSerPool registered in POOL (a sidecar): one pool "
            "element per --address, with the given --protocol, policy and load, registered by "
            "rsp-register on the service's behalf (RFC 5352 section 3.1) and re-registered in time. "
            "With --load-from FILE the load (0..1 or N%) is read from FILE at start, whenever its "
            "modification time changes (checked every --poll-interval) and on SIGHUP or SIGUSR1; a "
            "changed load re-registers at once (RFC 5356 least-used policies rely on it).",
            "SIGINT or SIGTERM deregister every element (section 3.2) and end rsp-register. With "
            "-- COMMAND ARGS the command is started and the signal forwarded to it; when it exits "
            "the elements are deregistered and its exit status becomes rsp-register's (127 when it "
            "cannot be run).",
        ],
        examples=[
            ("Register a web server while it runs:",
             "rsp-register WebPool --address 10.0.0.5:8080 --protocol tcp --policy lu \\\n"
             "    --load-from /run/web.load -- nginx -g 'daemon off;'"),
        ]),
}


def roff(text):
    return text.replace("\\", "\\\\").replace("-", "\\-").replace("'", "\\(aq")


def man_page(tool, extra):
    date = datetime.date.today().strftime("%Y-%m-%d")
    out = [f'.TH {tool.name.upper()} 1 "{date}" "rsptools" "User Commands"',
           ".SH NAME", f"{roff(tool.name)} \\- {roff(tool.summary)}",
           ".SH SYNOPSIS", f".B {roff(tool.name)}", roff(tool.usage.split(" ", 1)[1] if " " in tool.usage else ""),
           ".SH DESCRIPTION"]
    for i, p in enumerate(extra["description"]):
        out += [".PP", (f"\\fB{roff(tool.name)}\\fR " if i == 0 else "") + roff(p)]
    if tool.positionals:
        out.append(".SH ARGUMENTS")
        for p in tool.positionals:
            out += [".TP", f"\\fI{roff(p.name)}\\fR", roff(p.help)]
    out.append(".SH OPTIONS")
    for o in tool.options:
        names = ", ".join(f"\\fB{roff(n)}\\fR" for n in o.shorts + o.longs)
        if o.arg:
            names += f" \\fI{roff(o.arg)}\\fR"
        help_text = o.help + (f" One of: {', '.join(o.choices)}." if o.choices else "")
        out += [".TP", names, roff(help_text)]
    out += [".PP", roff("Durations take a unit: 250ms, 5s, 2m, 1h. Policies: RSPLIB's names or short forms, "
                        "case-insensitive, with an optional value: RoundRobin (rr), WeightedRoundRobin:3 (wrr:3), "
                        "Random (rand), WeightedRandom:2 (wrand:2), Priority:1 (prio:1), LeastUsed:0.2 (lu:0.2, "
                        "or lu:20%), LeastUsedDegradation (lud), PriorityLeastUsed (plu), RandomizedLeastUsed (rlu).")]
    out.append(".SH EXIT STATUS")
    table = dict(COMMON_EXIT)
    table["127"] = "The COMMAND after -- could not be run (rsp-register)."
    for code in extra["exits"]:
        out += [".TP", f"\\fB{code}\\fR", roff(table[code])]
    out.append(".SH ENVIRONMENT")
    for k, v in ENV:
        out += [".TP", f"\\fB{k}\\fR", roff(v)]
    if tool.name == "rsp-resolve":
        out += [".TP", "\\fBRSP_STATUS_SOCKET\\fR", roff("The registrar status socket for --dump.")]
    out.append(".SH EXAMPLES")
    for title, cmd in extra["examples"]:
        out += [".PP", roff(title), ".PP", ".nf", ".RS", roff(cmd), ".RE", ".fi"]
    others = [t for t in ["rsp-registrar"] + sorted(TOOLS) if t != tool.name]
    out += [".SH SEE ALSO", ", ".join(f"\\fB{roff(t)}\\fR(1)" for t in others) +
            roff(". docs/tools.md: output formats and JSON schemas. RFC 5351-5356.")]
    return "\n".join(out) + "\n"


def value_hint(o):
    a = o.arg.upper()
    if o.choices:
        return "choices"
    if "ADDR" in a:
        return "hosts"
    if "FILE" in a or "PATH" in a:
        return "files"
    if "CMD" in a:
        return "commands"
    if "POLICY" in o.help.upper() and "NAME[:VALUE]" in o.help:
        return "policy"
    return "value" if o.arg else None


def bash_completion(tool):
    with_arg = [n for o in tool.options if o.arg for n in o.shorts + o.longs]
    flags = [n for o in tool.options for n in o.longs + o.shorts]
    cases = []
    for o in tool.options:
        if not o.arg:
            continue
        pat = "|".join(o.shorts + o.longs)
        hint = value_hint(o)
        if hint == "choices":
            cases.append(f"    {pat}) COMPREPLY=($(compgen -W '{' '.join(o.choices)}' -- \"$cur\")); return ;;")
        elif hint == "files":
            cases.append(f"    {pat}) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;")
        elif hint == "commands":
            cases.append(f"    {pat}) COMPREPLY=($(compgen -c -- \"$cur\")); return ;;")
        elif hint == "policy":
            cases.append(f"    {pat}) COMPREPLY=($(compgen -W '{' '.join(POLICIES)}' -- \"$cur\")); return ;;")
        else:
            cases.append(f"    {pat}) return ;;")
    fn = "_" + tool.name.replace("-", "_")
    return f"""# bash completion for {tool.name} (generated by tests/tools/gen_docs.py from --help)
{fn}() {{
  local cur prev
  cur=${{COMP_WORDS[COMP_CWORD]}}
  prev=${{COMP_WORDS[COMP_CWORD-1]}}
  case "$prev" in
{chr(10).join(cases)}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W '{' '.join(flags)}' -- "$cur"))
  fi
}}
complete -F {fn} {tool.name}
# options taking a value: {' '.join(with_arg)}
"""


def zsh_escape(s):
    return s.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def zsh_completion(tool):
    specs = []
    for o in tool.options:
        names = o.shorts + o.longs
        desc = zsh_escape(o.help[:100])
        hint = value_hint(o)
        action = ""
        if o.arg:
            if hint == "choices":
                action = f":{zsh_escape(o.arg)}:({' '.join(o.choices)})"
            elif hint == "files":
                action = f":{zsh_escape(o.arg)}:_files"
            elif hint == "commands":
                action = f":{zsh_escape(o.arg)}:_command_names"
            elif hint == "hosts":
                action = f":{zsh_escape(o.arg)}:_hosts"
            elif hint == "policy":
                action = f":policy:({' '.join(POLICIES)})"
            else:
                action = f":{zsh_escape(o.arg)}:"
        repeat = "*" if "repeatable" in o.help else ""
        if len(names) > 1:
            excl = "(" + " ".join(names) + ")" if not repeat else ""
            specs.append(f"  '{excl}'{{{','.join(repeat + n for n in names)}}}'[{desc}]{action}'")
        else:
            specs.append(f"  '{repeat}{names[0]}[{desc}]{action}'")
    for p in tool.positionals:
        specs.append(f"  '{'1' if p.required else '*'}:{zsh_escape(p.name.lower())}:'")
    body = " \\\n".join(specs)
    return f"""#compdef {tool.name}
# zsh completion for {tool.name} (generated by tests/tools/gen_docs.py from --help)
_arguments -s \\
{body}
"""


def fish_completion(tool):
    lines = [f"# fish completion for {tool.name} (generated by tests/tools/gen_docs.py from --help)"]
    for o in tool.options:
        parts = [f"complete -c {tool.name}"]
        parts += [f"-s {n[1:]}" for n in o.shorts] + [f"-l {n[2:]}" for n in o.longs]
        hint = value_hint(o)
        if o.arg:
            parts.append("-r")
            if hint == "choices":
                parts.append(f"-f -a '{' '.join(o.choices)}'")
            elif hint == "policy":
                parts.append(f"-f -a '{' '.join(POLICIES)}'")
            elif hint == "commands":
                parts.append("-f -a '(__fish_complete_command)'")
            elif hint not in ("files",):
                parts.append("-f")
        desc = o.help.replace("'", "\\'")[:90]
        parts.append(f"-d '{desc}'")
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("tools", nargs="*", default=sorted(TOOLS))
    args = ap.parse_args()
    for name in args.tools:
        tool = read_help(os.path.join(args.bin, name, name), name)
        outputs = {
            os.path.join("man", name + ".1"): man_page(tool, TOOLS[name]),
            os.path.join("completions", "bash", name): bash_completion(tool),
            os.path.join("completions", "zsh", "_" + name): zsh_completion(tool),
            os.path.join("completions", "fish", name + ".fish"): fish_completion(tool),
        }
        for rel, text in outputs.items():
            path = os.path.join(args.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote " + rel, file=sys.stderr)


if __name__ == "__main__":
    main()
