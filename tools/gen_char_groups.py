#!/usr/bin/env python3
"""Choose the ASCII groups of the literal char contexts (spec 8.1, model.ASCII_GROUPS).

The context of a literal byte after an ASCII byte is that byte's group. This script
chooses the groups from what literals hold: the literal values (LIT, not
never-indexed) that the XEP training split codes with the committed dictionary and no
copies, and the same for generated traffic (never seed 9001, the held-out capture).
For every ASCII byte it counts the bytes that follow it in those values (the
terminator 0 after the last), the traffic's counts scaled to weigh as much in all as
the XEP ones (--traffic-share), then merges, from one group per byte, the two groups
whose merge raises the empirical entropy of the next byte the least, until
model.ASCII_GROUP_COUNT are left (ties: the pair with the smaller bytes first). ASCII
bytes that no value holds (the controls XML does not allow, 0x7F) join the group with
the most bytes. Groups are printed in the order of their smallest byte, as model.py
spells them:

    python -m tools.traffic --seed 2 --size 5MB --out /tmp/traffic-2
    python -m tools.traffic --seed 3 --size 5MB --out /tmp/traffic-3
    python tools/gen_char_groups.py --traffic /tmp/traffic-2/stanzas.jsonl --traffic /tmp/traffic-3/stanzas.jsonl

Then tools/gen_dictionary.py trains the code lengths of the new contexts. Deterministic:
the same corpus and traffic give the same groups.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.gen_dictionary import literal_values, load_traffic, load_training, scan_all  # noqa: E402
from xmppbin import model as M  # noqa: E402
from xmppbin.dictionary import get_dictionary  # noqa: E402


def flat(per_message: list[list[bytes]]) -> list[bytes]:
    return [v for values in per_message for v in values]


def successors(values: list[bytes]) -> dict[int, Counter]:
    out: dict[int, Counter] = {b: Counter() for b in range(128)}
    for v in values:
        for i, b in enumerate(v):
            if b < 0x80:
                out[b][v[i + 1] if i + 1 < len(v) else 0] += 1
    return out


def entropy(c: Counter) -> float:
    n = sum(c.values())
    return -sum(k * math.log2(k / n) for k in c.values() if k > 0) if n else 0.0


def cluster(succ: dict[int, Counter], k: int) -> list[list[int]]:
    groups = [[b] for b in range(128) if succ[b]]
    counts = [Counter(succ[g[0]]) for g in groups]
    hs = [entropy(c) for c in counts]
    while len(groups) > k:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                m = counts[i] + counts[j]
                cost = entropy(m) - hs[i] - hs[j]
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, i, j, m)
        _, i, j, m = best
        groups[i] += groups[j]
        counts[i], hs[i] = m, entropy(m)
        del groups[j], counts[j], hs[j]
    unseen = [b for b in range(128) if not succ[b]]
    max(groups, key=len).extend(unseen)
    return sorted(sorted(g) for g in groups)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--traffic", action="append", default=[], help="generated traffic records (never seed 9001)")
    ap.add_argument("--traffic-share", type=float, default=1.0,
                    help="the traffic's successor counts in all, against the XEP ones")
    ap.add_argument("--groups", type=int, default=M.ASCII_GROUP_COUNT)
    a = ap.parse_args()
    d = get_dictionary(1)
    scans, _ = scan_all(load_training(a.corpus))
    succ = successors(flat(literal_values(d, scans, exact=True)))
    if a.traffic:
        tscans = []
        for path in a.traffic:
            tscans += scan_all(load_traffic(path), lambda r: None)[0]
        tsucc = successors(flat(literal_values(d, tscans, exact=True)))
        xn = sum(sum(c.values()) for c in succ.values())
        tn = sum(sum(c.values()) for c in tsucc.values())
        w = a.traffic_share * xn / tn if tn else 0.0
        for b in range(128):
            for s, n in tsucc[b].items():
                succ[b][s] += n * w
    groups = cluster(succ, a.groups)
    print("ASCII_GROUPS = (")
    for g in groups:
        print(f"    {bytes(g)!r},")
    print(")")


if __name__ == "__main__":
    main()
