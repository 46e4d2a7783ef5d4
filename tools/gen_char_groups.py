#!/usr/bin/env python3
"""Choose the ASCII groups, subsets and pairs of the literal char contexts (spec 8.1, model.py).

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

With --splits N it chooses instead, for the committed groups, the subsets of the
classes of the byte before an ASCII byte (model.ASCII_SPLITS: the start of the literal,
each group, any non-ASCII byte): from one context per (group, class) seen, the two
subsets of one group whose merge raises the entropy of the next byte least are
merged until N contexts are left (the committed 64):

    python tools/gen_char_groups.py --traffic /tmp/traffic-2/stanzas.jsonl \
        --traffic /tmp/traffic-3/stanzas.jsonl --splits 64

With --pairs N it chooses instead the tracked bytes and listed pairs (model.CHAR_TRACKED,
CHAR_PAIRS): counting, for every two ASCII bytes a b (neither 0) in those values, the
bytes that follow them, it takes the pairs in decreasing order of that count while the
pair and, the first time, its first byte fit in N contexts (the committed 171, which make
256 contexts in all):

    python tools/gen_char_groups.py --traffic /tmp/traffic-2/stanzas.jsonl \
        --traffic /tmp/traffic-3/stanzas.jsonl --pairs 171

(The committed ones were chosen on 2026-12-07 with the dictionary before them, from traffic
generated at 09:12 UTC; run again with the dictionary trained with them, the same command
swaps one pair of the 141 for another. With --traffic-share 0.25, 13 pairs differ.)

Then tools/gen_dictionary.py trains the code lengths of the new contexts. Deterministic:
the same corpus and traffic give the same groups and subsets.
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


def pair_successors(values: list[bytes]) -> dict[tuple[int, int], Counter]:
    """For each ASCII group g and class p of the byte before (spec 8.1: 0 none,
    1 + group of an ASCII byte, 17 any other byte), the bytes that follow a byte of
    group g there (0 after the last)."""
    grp = M.ASCII_GROUP
    out: dict[tuple[int, int], Counter] = {(g, p): Counter() for g in range(M.ASCII_GROUP_COUNT)
                                           for p in range(M.PAIR_CLASSES)}
    for v in values:
        for i, b in enumerate(v):
            if b < 0x80:
                p = 0 if i == 0 else (1 + grp[v[i - 1]] if v[i - 1] < 0x80 else M.PAIR_CLASSES - 1)
                out[(grp[b], p)][v[i + 1] if i + 1 < len(v) else 0] += 1
    return out


def split_pairs(succ: dict[tuple[int, int], Counter], total: int) -> list[bytes]:
    """Per group, the classes before it in subsets: from one subset per (group,
    class), the two subsets of one group whose merge raises the empirical entropy
    of the next byte least are merged until `total` are left (ties: the group and
    then the subsets with the smaller classes first); classes never seen join
    the group's subset with the most bytes. Returns per group the subset index
    of each class (subsets numbered in the order of their smallest class)."""
    groups = {g: [[p] for p in range(M.PAIR_CLASSES) if succ[(g, p)]] for g in range(M.ASCII_GROUP_COUNT)}
    counts = {g: [Counter(succ[(g, s[0])]) for s in groups[g]] for g in groups}
    hs = {g: [entropy(c) for c in counts[g]] for g in groups}
    cost: dict[tuple[int, int, int], float] = {}

    def pair_cost(g: int, i: int, j: int) -> float:
        return entropy(counts[g][i] + counts[g][j]) - hs[g][i] - hs[g][j]

    for g in groups:
        for i in range(len(groups[g])):
            for j in range(i + 1, len(groups[g])):
                cost[(g, i, j)] = pair_cost(g, i, j)
    n = sum(len(v) for v in groups.values())
    while n > total:
        (g, i, j) = min(cost, key=lambda k: (round(cost[k], 9), k))
        groups[g][i] += groups[g][j]
        counts[g][i] += counts[g][j]
        hs[g][i] = entropy(counts[g][i])
        del groups[g][j], counts[g][j], hs[g][j]
        cost = {k: v for k, v in cost.items() if k[0] != g}
        for a in range(len(groups[g])):
            for b in range(a + 1, len(groups[g])):
                cost[(g, a, b)] = pair_cost(g, a, b)
        n -= 1
    out = []
    for g in range(M.ASCII_GROUP_COUNT):
        subs = [sorted(s) for s in groups[g]] or [[]]
        big = max(range(len(subs)), key=lambda k: sum(counts[g][k].values()) if counts[g] else 0)
        subs[big] += [p for p in range(M.PAIR_CLASSES) if not succ[(g, p)]]
        subs.sort(key=min)
        idx = [0] * M.PAIR_CLASSES
        for k, s in enumerate(subs):
            for p in s:
                idx[p] = k
        out.append(bytes(idx))
    return out


def byte_pairs(values: list[bytes]) -> dict[tuple[int, int], Counter]:
    """For each two ASCII bytes a b (neither 0) in a literal value, the bytes
    that follow them there (0 after the last)."""
    out: dict[tuple[int, int], Counter] = {}
    for v in values:
        for i in range(1, len(v)):
            a, b = v[i - 1], v[i]
            if 0 < a < 0x80 and 0 < b < 0x80:
                out.setdefault((a, b), Counter())[v[i + 1] if i + 1 < len(v) else 0] += 1
    return out


def choose_pairs(succ: dict[tuple[int, int], Counter], total: int) -> tuple[bytes, list[bytes]]:
    """The tracked bytes and the listed pairs of spec 8.1 (model.CHAR_TRACKED,
    CHAR_PAIRS): the pairs a b in decreasing order of the bytes that follow them
    (ties: the smaller pair first), each taken while it and, if a is not tracked
    yet, a fit in `total` contexts; a byte is tracked from the first pair it
    starts on. Returns the tracked bytes in the order they were taken and the
    pairs in that order."""
    tracked: list[int] = []
    pairs: list[bytes] = []
    for (a, b), _ in sorted(succ.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        need = 1 + (a not in tracked)
        if len(tracked) + len(pairs) + need > total:
            continue
        if a not in tracked:
            tracked.append(a)
        pairs.append(bytes((a, b)))
        if len(tracked) + len(pairs) == total:
            break
    return bytes(tracked), pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--traffic", action="append", default=[], help="generated traffic records (never seed 9001)")
    ap.add_argument("--traffic-share", type=float, default=1.0,
                    help="the traffic's successor counts in all, against the XEP ones")
    ap.add_argument("--groups", type=int, default=M.ASCII_GROUP_COUNT)
    ap.add_argument("--splits", type=int, default=0,
                    help="instead of the groups: the ASCII contexts in all (ASCII_SPLITS)")
    ap.add_argument("--pairs", type=int, default=0,
                    help="instead of the groups: the tracked bytes and listed pairs in all (CHAR_TRACKED, CHAR_PAIRS)")
    a = ap.parse_args()
    d = get_dictionary(1)
    scans, _ = scan_all(load_training(a.corpus))
    count = byte_pairs if a.pairs else pair_successors if a.splits else successors
    succ = count(flat(literal_values(d, scans, exact=True)))
    if a.traffic:
        tscans = []
        for path in a.traffic:
            tscans += scan_all(load_traffic(path), lambda r: None)[0]
        tsucc = count(flat(literal_values(d, tscans, exact=True)))
        xn = sum(sum(c.values()) for c in succ.values())
        tn = sum(sum(c.values()) for c in tsucc.values())
        w = a.traffic_share * xn / tn if tn else 0.0
        for k in succ:
            for s, n in tsucc.get(k, Counter()).items():
                succ[k][s] += n * w
        for k in tsucc.keys() - succ.keys():
            succ[k] = Counter({s: n * w for s, n in tsucc[k].items()})
    if a.pairs:
        tracked, pairs = choose_pairs(succ, a.pairs)
        print(f"CHAR_TRACKED = {tracked!r}")
        print("CHAR_PAIRS = (")
        for i in range(0, len(pairs), 12):
            print("    " + " ".join(f"{p!r}," for p in pairs[i : i + 12]))
        print(")")
        return
    if a.splits:
        print("ASCII_SPLITS = (")
        for row in split_pairs(succ, a.splits):
            print(f"    {tuple(row)!r},")
        print(")")
        return
    groups = cluster(succ, a.groups)
    print("ASCII_GROUPS = (")
    for g in groups:
        print(f"    {bytes(g)!r},")
    print(")")


if __name__ == "__main__":
    main()
