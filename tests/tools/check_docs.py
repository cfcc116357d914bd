#!/usr/bin/env python3
"""Fails when a flag that a tool's --help shows is missing from its man page (man/TOOL.1) or from
any of its completions (completions/bash/TOOL, completions/zsh/_TOOL, completions/fish/TOOL.fish).
Checks every tools/rsp-* binary of the build, rsp-registrar included."""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_help import read_help  # noqa: E402


def man_text(path):
    text = open(path, encoding="utf-8").read()
    # roff: \- is a minus, \fB...\fR fonts, \& zero-width.
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\&", "", text)
    return text.replace("\\-", "-")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the build's tools/ directory")
    ap.add_argument("--root", required=True, help="the source tree")
    args = ap.parse_args()
    tools = sorted(d for d in os.listdir(args.bin)
                   if d.startswith("rsp-") and os.access(os.path.join(args.bin, d, d), os.X_OK))
    if not tools:
        print(f"no tools/rsp-* binaries under {args.bin}", file=sys.stderr)
        return 1
    problems = []
    for name in tools:
        tool = read_help(os.path.join(args.bin, name, name), name)
        if not tool.options:
            problems.append(f"{name}: --help shows no options")
            continue
        files = {
            "man page": os.path.join(args.root, "man", name + ".1"),
            "bash completion": os.path.join(args.root, "completions", "bash", name),
            "zsh completion": os.path.join(args.root, "completions", "zsh", "_" + name),
            "fish completion": os.path.join(args.root, "completions", "fish", name + ".fish"),
        }
        texts = {}
        for kind, path in files.items():
            if not os.path.exists(path):
                problems.append(f"{name}: {kind} {os.path.relpath(path, args.root)} is missing")
                continue
            texts[kind] = man_text(path) if kind == "man page" else open(path, encoding="utf-8").read()
        for opt in tool.options:
            for flag in opt.longs + opt.shorts:
                for kind, text in texts.items():
                    if kind == "fish completion":
                        pat = (rf"(-l|--long-option)\s+{re.escape(flag[2:])}\b" if flag.startswith("--")
                               else rf"(-s|--short-option)\s+{re.escape(flag[1:])}\b")
                        found = re.search(pat, text) is not None
                    else:
                        found = re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None
                    if not found:
                        problems.append(f"{name}: {flag} is not in its {kind}")
        print(f"{name}: {sum(len(o.longs) + len(o.shorts) for o in tool.options)} flags checked", file=sys.stderr)
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
