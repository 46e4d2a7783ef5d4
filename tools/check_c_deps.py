#!/usr/bin/env python3
"""Check the layering of the C sources: no file depends on itself through others.

    python tools/check_c_deps.py [DIR]        # default: csrc/ of this checkout

Builds the graph "file A uses file B" over the .c files of DIR, where A uses B
when A's object file has an undefined symbol that B's object file defines (each
.c is compiled on its own with gcc -c, the symbols read with nm: calls and data
references between files count, includes alone do not). Fails (exit status 1)
  - on any cycle in that graph (printed as a path), and
  - on a fragment: a local header ("x.h") included below the first line of C
    code of a .c file (after a function or declaration), the pattern of a
    header that is really a piece of that file, using its static functions.
On success it prints the files in a dependency order (each after all it uses).

Used by tests/test_c_layout.py; csrc/README.md describes the intended order.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(os.path.dirname(HERE), "csrc")

LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# a line of C code at file level: not blank, not a preprocessor line, not a comment
CODE_START = re.compile(r"^[A-Za-z_{}]")


@dataclass
class Graph:
    files: list[str]
    uses: dict[str, set[str]] = field(default_factory=dict)  # file -> files it uses
    why: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (a, b) -> symbols


def _nm(obj: str) -> tuple[set[str], set[str]]:
    """(defined global symbols, undefined symbols) of an object file."""
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCGSV":  # upper case: global
            defined.add(name)
    return defined, undefined


def symbol_graph(csrc: str, cc: str = "gcc") -> Graph:
    """Compile every .c of csrc (alone) and link the files by their symbols."""
    files = sorted(f for f in os.listdir(csrc) if f.endswith(".c"))
    incs = ["-I" + csrc, "-I" + sysconfig.get_paths()["include"]]
    defs: dict[str, set[str]] = {}
    undefs: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            obj = os.path.join(tmp, f[:-2] + ".o")
            subprocess.run([cc, "-std=c11", "-O0", "-c", *incs, os.path.join(csrc, f), "-o", obj],
                           check=True, capture_output=True, text=True)
            defs[f], undefs[f] = _nm(obj)
    owner: dict[str, str] = {}
    for f in files:
        for s in defs[f]:
            owner.setdefault(s, f)
    g = Graph(files, {f: set() for f in files})
    for f in files:
        for s in sorted(undefs[f]):
            o = owner.get(s)
            if o is not None and o != f:
                g.uses[f].add(o)
                g.why.setdefault((f, o), []).append(s)
    return g


def find_cycle(uses: dict[str, set[str]]) -> list[str] | None:
    """A cycle [a, b, ..., a] of the graph, or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(uses.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        path.pop()
        state[n] = 2
        return None

    for n in sorted(uses):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def topo_order(uses: dict[str, set[str]]) -> list[str]:
    """The files, each after all the files it uses (the graph has no cycle)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(n: str) -> None:
        if n in done:
            return
        done.add(n)
        for m in sorted(uses.get(n, ())):
            visit(m)
        order.append(n)

    for n in sorted(uses):
        visit(n)
    return order


def fragments(csrc: str) -> list[str]:
    """Local includes below the first line of code of a .c file ("file:line: header")."""
    found = []
    for f in sorted(os.listdir(csrc)):
        if not f.endswith(".c"):
            continue
        code_seen = False
        in_comment = False
        with open(os.path.join(csrc, f), encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                stripped = line.strip()
                if in_comment:
                    if "*/" in stripped:
                        in_comment = False
                    continue
                if stripped.startswith("/*") and "*/" not in stripped:
                    in_comment = True
                    continue
                m = LOCAL_INCLUDE.match(line)
                if m and code_seen:
                    found.append(f"{f}:{i}: {m.group(1)}")
                elif CODE_START.match(line):
                    code_seen = True
    return found


def check(csrc: str, out=sys.stdout) -> int:
    errors = 0
    for frag in fragments(csrc):
        print(f"fragment: {frag} is included below code (make it a module with a real header)", file=out)
        errors += 1
    g = symbol_graph(csrc)
    cycle = find_cycle(g.uses)
    if cycle:
        steps = []
        for a, b in zip(cycle, cycle[1:]):
            syms = g.why.get((a, b), [])
            steps.append(f"  {a} -> {b} ({', '.join(syms[:4])}{', ...' if len(syms) > 4 else ''})")
        print("cycle: " + " -> ".join(cycle), file=out)
        print("\n".join(steps), file=out)
        errors += 1
    if errors:
        return 1
    order = topo_order(g.uses)
    print("no cycles; dependency order:", file=out)
    for f in order:
        used = ", ".join(sorted(g.uses[f])) or "-"
        print(f"  {f:12} uses {used}", file=out)
    return 0


def main(argv: list[str]) -> int:
    csrc = argv[1] if len(argv) > 1 else DEFAULT_DIR
    for tool in ("gcc", "nm"):
        if shutil.which(tool) is None:
            print(f"{tool} is required", file=sys.stderr)
            return 2
    return check(csrc)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
