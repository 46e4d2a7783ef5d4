"""xmppbin against the floor of ../shared/tools/floor.py on the XEP held-out split,
counting what floor.py counts as raw separately.

`floor.py --xmppbin --xep-split` calls `xmppbin.encode` with no options and counts a
record it rejects as sent raw: the held-out examples with comments (restricted XML,
RFC 6120 11.1) then weigh their whole XML size. This script primes the same model
(floor.Primed, PPMd order 16 on the training split) and reports the ratio over the
records xmppbin accepts, over the rejected ones coded with allow_comments=True, and
over all of them. Needs `pip install pyppmd` and ../shared beside the checkout.

    python benchmarks/floor_split.py [--floor ../shared/tools/floor.py]
"""
from __future__ import annotations

import argparse
import importlib.util
import os

import xmppbin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floor", default=os.path.join(ROOT, "..", "shared", "tools", "floor.py"))
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("floor", a.floor)
    F = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(F)
    train = "\n".join(r["xml"] for r in F.load(F.DEFAULT_TRAIN, lambda r: int(r.get("xep", 1)) % 5 != 0)).encode()
    model = F.Primed(train)
    totals = {"accepted": [0, 0, 0], "rejected (allow_comments)": [0, 0, 0], "all": [0, 0, 0]}
    for r in F.load(F.DEFAULT_TRAIN, lambda r: int(r.get("xep", 1)) % 5 == 0):
        x = r["xml"].encode()
        ctx = dict(xmppbin.DEFAULT_CONTEXT)  # as floor.py gives it
        ctx.update(r.get("assumed_prefixes") or {})
        ctx.update({p: F.KNOWN_PREFIXES[p] for p in r.get("prefixes") or () if p in F.KNOWN_PREFIXES})
        try:
            n, k = len(xmppbin.encode(x, context=ctx)), "accepted"
        except xmppbin.RestrictedXMLError:
            n, k = len(xmppbin.encode(x, context=ctx, allow_comments=True)), "rejected (allow_comments)"
        fl = model.cost(x)
        for key in (k, "all"):
            t = totals[key]
            t[0] += 1
            t[1] += n
            t[2] += fl
    for k, (c, n, fl) in totals.items():
        print(f"{k:28} {c:5} records  xmppbin {n:8,} B  floor {fl:8,} B  = {n / max(fl, 1):.3f}x")


if __name__ == "__main__":
    main()
