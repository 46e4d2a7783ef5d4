"""xmppbin against the floor of ../shared/tools/floor.py, per stanza: on the XEP held-out
split (counting what floor.py counts as raw separately) and on a traffic capture, with
issue 11's size buckets and the classes where xmppbin loses most.

`floor.py --xmppbin --xep-split` calls `xmppbin.encode` with no options and counts a
record it rejects as sent raw: the held-out examples with comments (restricted XML,
RFC 6120 11.1) then weigh their whole XML size. This script primes the same model
(floor.Primed, PPMd order 16 on the training split) and reports the ratio over the
records xmppbin accepts, over the rejected ones coded with allow_comments=True, and
over all of them, then per size bucket (floor.bucket) and per class (floor.klass) over
all. With --capture it also measures the top-level elements of a tools/traffic capture
(default: the held-out tests/data/traffic-seed9001.jsonl, stream headers left out as
floor.py leaves them out), each coded in its stream's namespace context, against the
model primed on the whole corpus as `floor.py --xmppbin` primes it. Needs
`pip install pyppmd` and ../shared beside the checkout.

    python benchmarks/floor_split.py [--floor ../shared/tools/floor.py] [--capture [FILE]]
                                     [--classes N] [--json OUT]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections import defaultdict

import xmppbin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import _corpus as C  # noqa: E402

BUCKETS = ("<128", "128-512", "512-2K", ">2K")


def load_floor(path: str):
    spec = importlib.util.spec_from_file_location("floor", path)
    F = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(F)
    return F


def summary(rows: list[dict], ncls: int) -> dict:
    """Totals over rows ({"xml", "bucket", "class", "xmppbin", "floor"}) per bucket and
    per class, the classes by bytes lost to the floor, largest first."""
    def tot(sel):
        xb, fl = sum(r["xmppbin"] for r in sel), sum(r["floor"] for r in sel)
        return {"records": len(sel), "xml": sum(r["xml"] for r in sel), "xmppbin": xb, "floor": fl,
                "ratio": round(xb / max(fl, 1), 3)}
    by_class = defaultdict(list)
    for r in rows:
        by_class[r["class"]].append(r)
    classes = sorted(((k, tot(v)) for k, v in by_class.items()),
                     key=lambda kv: (kv[1]["floor"] - kv[1]["xmppbin"], kv[0]))
    return {"all": tot(rows),
            "buckets": {b: tot([r for r in rows if r["bucket"] == b]) for b in BUCKETS},
            "classes": dict(classes[:ncls])}


def show(title: str, s: dict) -> None:
    a = s["all"]
    print(f"{title}: {a['records']} records, xmppbin {a['xmppbin']:,} B, floor {a['floor']:,} B = {a['ratio']:.3f}x")
    print("  by size: " + "  ".join(f"{b} {t['ratio']:.3f}x ({t['records']})" for b, t in s["buckets"].items()
                                      if t["records"]))
    for k, t in s["classes"].items():
        print(f"  {t['xmppbin'] - t['floor']:+7,} B  {k[:60]:60} n={t['records']:<5} floor {t['floor']:7,}"
              f"  xmppbin {t['xmppbin']:7,} ({t['ratio']:.2f}x)")


def context_of(r: dict, F) -> dict:
    ctx = dict(xmppbin.DEFAULT_CONTEXT)  # as floor.py gives it
    ctx.update(r.get("assumed_prefixes") or {})
    ctx.update({p: F.KNOWN_PREFIXES[p] for p in r.get("prefixes") or () if p in F.KNOWN_PREFIXES})
    return ctx


def xep_split(F, ncls: int) -> dict:
    train = "\n".join(r["xml"] for r in F.load(F.DEFAULT_TRAIN, lambda r: int(r.get("xep", 1)) % 5 != 0)).encode()
    model = F.Primed(train)
    totals = {"accepted": [0, 0, 0], "rejected (allow_comments)": [0, 0, 0], "all": [0, 0, 0]}
    rows = []
    for r in F.load(F.DEFAULT_TRAIN, lambda r: int(r.get("xep", 1)) % 5 == 0):
        x = r["xml"].encode()
        ctx = context_of(r, F)
        try:
            n, k = len(xmppbin.encode(x, context=ctx)), "accepted"
        except xmppbin.RestrictedXMLError:
            n, k = len(xmppbin.encode(x, context=ctx, allow_comments=True)), "rejected (allow_comments)"
        fl = model.cost(x)
        rows.append({"xml": len(x), "bucket": F.bucket(len(x)), "class": F.klass(r["xml"]), "xmppbin": n, "floor": fl})
        for key in (k, "all"):
            t = totals[key]
            t[0] += 1
            t[1] += n
            t[2] += fl
    for k, (c, n, fl) in totals.items():
        print(f"{k:28} {c:5} records  xmppbin {n:8,} B  floor {fl:8,} B  = {n / max(fl, 1):.3f}x")
    s = summary(rows, ncls)
    show("XEP held-out split, all", s)
    s["accepted"] = dict(zip(("records", "xmppbin", "floor"), totals["accepted"]))
    return s


def capture(F, path: str, ncls: int) -> dict:
    train = "\n".join(r["xml"] for r in F.load(F.DEFAULT_TRAIN)).encode()
    model = F.Primed(train)
    rows = []
    for r in C.load_capture_records(path):
        if r.kind == "stream-header":
            continue
        ctx = dict(xmppbin.DEFAULT_CONTEXT)
        ctx.update(r.assumed_prefixes or {})
        text = r.xml.decode("utf-8")
        rows.append({"xml": len(r.xml), "bucket": F.bucket(len(r.xml)), "class": F.klass(text),
                     "xmppbin": len(xmppbin.encode(r.xml, context=ctx)), "floor": model.cost(r.xml)})
    s = summary(rows, ncls)
    show(f"{os.path.basename(path)}, per stanza", s)
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floor", default=os.path.join(ROOT, "..", "shared", "tools", "floor.py"))
    ap.add_argument("--capture", nargs="?", const=str(C.TRAFFIC_FIXTURE), default=None,
                    help="also a traffic capture per stanza (default: the held-out test capture)")
    ap.add_argument("--classes", type=int, default=8, help="classes listed, largest loss first")
    ap.add_argument("--json", help="write the figures as JSON")
    a = ap.parse_args(argv)
    F = load_floor(a.floor)
    out = {"xep_split": xep_split(F, a.classes)}
    if a.capture:
        out["capture"] = capture(F, a.capture, a.classes)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
