"""Reads a tool's option table from its CLI11 --help output: the one source the man pages and
completions are generated from (gen_docs.py) and checked against (check_docs.py)."""
import re
import subprocess
from dataclasses import dataclass, field


@dataclass
class Opt:
    shorts: list            # ["-r"]
    longs: list             # ["--registrar"]
    arg: str                # "ADDR:PORT" ("" for flags)
    help: str
    choices: list = field(default_factory=list)


@dataclass
class Positional:
    name: str
    help: str
    required: bool


@dataclass
class Tool:
    name: str
    summary: str
    usage: str
    options: list
    positionals: list
    subcommands: list


_OPT = re.compile(r"^  (-\S+)(?: (\S.*?))?(?:\s{2,}(\S.*))?$")


def read_help(binary, name):
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
    return parse_help(text, name)


def parse_help(text, name):
    lines = text.splitlines()
    summary = lines[0].split(": ", 1)[-1].strip() if lines else ""
    usage = next((l.split("Usage: ", 1)[1] for l in lines if l.startswith("Usage: ")), name)
    section = None
    options, positionals, subcommands = [], [], []
    current = None
    for line in lines[1:]:
        if re.match(r"^[A-Z][A-Za-z ]*:$", line):
            section = line[:-1]
            current = None
            continue
        if not line.strip():
            current = None
            continue
        if section == "Options":
            m = _OPT.match(line)
            if m:
                names = m.group(1).split(",")
                arg = (m.group(2) or "").strip()
                choices = []
                cm = re.search(r":\{([^}]*)\}", arg)
                if cm:
                    choices = cm.group(1).split(",")
                arg = re.sub(r":\{[^}]*\}", "", arg)
                arg = re.sub(r":(DURATION|UINT|POSITIVE|NUMBER)\b.*$", "", arg)
                arg = re.sub(r"^(TEXT|UINT|INT|FLOAT):", "", arg)
                arg = arg.replace(" ...", "").replace(" REQUIRED", "").strip()
                current = Opt([n for n in names if not n.startswith("--")],
                              [n for n in names if n.startswith("--")], arg, (m.group(3) or "").strip(), choices)
                options.append(current)
            elif current is not None:
                current.help = (current.help + " " + line.strip()).strip()
        elif section == "Positionals":
            m = re.match(r"^  (\S+)(?: (\S.*?))?(?:\s{2,}(\S.*))?$", line)
            if m and not line.startswith("   "):
                current = Positional(m.group(1), (m.group(3) or "").strip(), "REQUIRED" in (m.group(2) or ""))
                positionals.append(current)
            elif current is not None:
                current.help = (current.help + " " + line.strip()).strip()
        elif section == "Subcommands":
            m = re.match(r"^  (\S+)\s+(.*)$", line)
            if m:
                subcommands.append((m.group(1), m.group(2).strip()))
    return Tool(name, summary, usage, options, positionals, subcommands)
