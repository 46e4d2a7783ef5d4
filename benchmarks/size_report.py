#!/usr/bin/env python3
"""Compactness of xmppbin against general-purpose compressors, per message.

Measured on the held-out split of the XEP example corpus: records whose XEP
number is divisible by 5 (xmppbin's token dictionary, and the dictionaries of
the zstd and deflate baselines, are built from the other XEPs only). Every
record is compressed on its own, as a server would compress each stanza;
the figure is aggregate output bytes over aggregate XML bytes.

While measuring, every xmppbin output is decoded again: default mode must give
the input's XML infoset (compared with lxml), exact mode the input byte for
byte; the baselines must decompress to the input. Any failure: exit status 1.

Beside it, the same per-message measure on the held-out generated capture
tests/data/traffic-seed9001.jsonl (tools/traffic: real Prosody + slixmpp traffic,
every stream header and top-level element of every connection direction, in the
header's namespace context; no dictionary has seen any of it).

    python benchmarks/size_report.py [--corpus ../shared/corpus] [--capture FILE | --no-capture] [--json OUT] [--all]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _corpus as C  # noqa: E402
import zstandard  # noqa: E402

import xmppbin  # noqa: E402

TARGET = 0.8
KINDS = ("stanza", "other-element", "stream-header")

# method key -> label
METHODS = {
    "xmppbin": "xmppbin default",
    "xmppbin-exact": "xmppbin exact",
    "zstd19-dict": "zstd-19 + 16 KiB dict (default frame)",
    "zstd19-dict-bare": "zstd-19 + 16 KiB dict (no checksum/size/dict-id)",
    "zstd19": "zstd-19, no dict",
    "zlib9": "zlib-9 (zlib.compress)",
    "deflate9-dict": "raw deflate-9 + 32 KiB preset dict",
}
HEADLINE = ("zstd19-dict", "zstd19-dict-bare")


class Baselines:
    """Per-message compressors, dictionaries built from the training split."""

    def __init__(self, training: list[bytes]):
        self.zdict = C.train_zstd_dict(training)
        self.deflate_dict = C.build_deflate_dict(training)
        self.zstd_dict = zstandard.ZstdCompressor(level=C.ZSTD_LEVEL, dict_data=self.zdict)
        self.zstd_dict_bare = zstandard.ZstdCompressor(
            level=C.ZSTD_LEVEL, dict_data=self.zdict,
            write_checksum=False, write_content_size=False, write_dict_id=False)
        self.zstd = zstandard.ZstdCompressor(level=C.ZSTD_LEVEL)
        self.unzstd_dict = zstandard.ZstdDecompressor(dict_data=self.zdict)
        self.unzstd = zstandard.ZstdDecompressor()

    def sizes(self, xml: bytes) -> tuple[dict, list[str]]:
        out, errors = {}, []

        def check(key, data, back):
            out[key] = len(data)
            if back != xml:
                errors.append(f"{key}: decompressed output differs from the input")

        d = self.zstd_dict.compress(xml)
        check("zstd19-dict", d, self.unzstd_dict.decompress(d))
        d = self.zstd_dict_bare.compress(xml)
        # no content size in the frame: the decompressor needs an output bound
        check("zstd19-dict-bare", d, self.unzstd_dict.decompress(d, max_output_size=len(xml)))
        d = self.zstd.compress(xml)
        check("zstd19", d, self.unzstd.decompress(d))
        d = zlib.compress(xml, 9)
        check("zlib9", d, zlib.decompress(d))
        d = C.deflate_raw(xml, self.deflate_dict)
        check("deflate9-dict", d, C.inflate_raw(d, self.deflate_dict))
        return out, errors


class Measure:
    def __init__(self, records, baselines: Baselines):
        self.baselines = baselines
        self.xmppbin = C.XmppbinSizer()
        self.totals = defaultdict(int)                       # method -> bytes; "xml" -> bytes
        self.by_kind = defaultdict(lambda: defaultdict(int))  # kind -> method -> bytes
        self.count = 0
        self.count_by_kind = defaultdict(int)
        self.rejected: list[dict] = []
        self.failures: list[str] = []
        for rec in records:
            self.add(rec)

    def add(self, rec):
        xb, failures, rejected = self.xmppbin.sizes(rec)
        if xb is None:
            self.rejected.append({"record": rec.label, "kind": rec.kind, "xml_bytes": len(rec.xml),
                                  "error": rejected})
            return
        self.failures.extend(failures)
        sizes = {"xmppbin": xb["default"], "xmppbin-exact": xb["exact"]}
        base, errors = self.baselines.sizes(rec.xml)
        sizes.update(base)
        self.failures.extend(f"{rec.label}: {e}" for e in errors)

        self.count += 1
        self.count_by_kind[rec.kind] += 1
        self.totals["xml"] += len(rec.xml)
        self.by_kind[rec.kind]["xml"] += len(rec.xml)
        for k, v in sizes.items():
            self.totals[k] += v
            self.by_kind[rec.kind][k] += v

    def result(self) -> dict:
        xml = self.totals["xml"]
        methods = {k: {"label": METHODS[k], "bytes": self.totals[k], "ratio_to_xml": _ratio(self.totals[k], xml)}
                   for k in METHODS}
        per_kind = {}
        for kind in KINDS:
            t = self.by_kind.get(kind)
            if not t:
                continue
            per_kind[kind] = {
                "records": self.count_by_kind[kind],
                "xml_bytes": t["xml"],
                **{k: {"bytes": t[k], "ratio_to_xml": _ratio(t[k], t["xml"])}
                   for k in ("xmppbin", "xmppbin-exact", *HEADLINE)},
                **{f"xmppbin/{h}": _ratio(t["xmppbin"], t[h]) for h in HEADLINE},
            }
        headline = {h: {"ratio": _ratio(self.totals["xmppbin"], self.totals[h]), "target": TARGET,
                        "meets_target": _ratio(self.totals["xmppbin"], self.totals[h]) <= TARGET}
                    for h in HEADLINE}
        best = min((k for k in METHODS if not k.startswith("xmppbin")), key=lambda k: self.totals[k])
        return {
            "records": self.count,
            "xml_bytes": xml,
            "rejected": self.rejected,
            "methods": methods,
            "per_kind": per_kind,
            "headline": headline,
            "best_baseline": {"method": best, "xmppbin/best": _ratio(self.totals["xmppbin"], self.totals[best])},
            "verification": {"ok": not self.failures, "failures": self.failures},
        }


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


# --------------------------------------------------------------------------- output

class Out:
    """rich tables when rich is importable, aligned plain text otherwise."""

    def __init__(self):
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            self.console = None
        else:
            self.console, self.Table = Console(), Table

    def line(self, text=""):
        if self.console:
            self.console.print(text, highlight=False, markup=False)
        else:
            print(text)

    def table(self, title, headers, rows, right=()):
        if self.console:
            t = self.Table(title=title, title_justify="left")
            for i, h in enumerate(headers):
                t.add_column(h, justify="right" if i in right else "left")
            for r in rows:
                t.add_row(*r)
            self.console.print(t)
            return
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

        def fmt(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        print(title)
        print(fmt(headers))
        print("  ".join("-" * w for w in widths))
        for r in rows:
            print(fmt(r))
        print()


def report(out: Out, name: str, res: dict) -> None:
    xml = res["xml_bytes"]
    n = res["records"]
    rows = [["XML (input)", f"{xml:,}", f"{xml / n:,.1f}" if n else "-", "1.000", ""]]
    for k, m in res["methods"].items():
        vs = "" if k == "xmppbin" else f"{_ratio(res['methods']['xmppbin']['bytes'], m['bytes']):.3f}"
        rows.append([m["label"], f"{m['bytes']:,}", f"{m['bytes'] / n:,.1f}" if n else "-",
                     f"{m['ratio_to_xml']:.3f}", vs])
    out.table(f"{name}: {n:,} records, {xml:,} XML bytes (each record compressed on its own)",
              ["method", "bytes", "B/record", "ratio to XML", "xmppbin default / method"], rows,
              right={1, 2, 3, 4})

    rows = []
    for kind, t in res["per_kind"].items():
        rows.append([kind, f"{t['records']:,}", f"{t['xml_bytes']:,}",
                     f"{t['xmppbin']['bytes']:,} ({t['xmppbin']['ratio_to_xml']:.3f})",
                     f"{t['zstd19-dict']['bytes']:,} ({t['zstd19-dict']['ratio_to_xml']:.3f})",
                     f"{t['zstd19-dict-bare']['bytes']:,} ({t['zstd19-dict-bare']['ratio_to_xml']:.3f})",
                     f"{t['xmppbin/zstd19-dict']:.3f}", f"{t['xmppbin/zstd19-dict-bare']:.3f}"])
    out.table(f"{name}: per kind, bytes (ratio to XML)",
              ["kind", "records", "XML bytes", "xmppbin default", "zstd-19+dict", "zstd-19+dict bare",
               "xmppbin/zstd", "xmppbin/zstd bare"], rows, right={1, 2, 3, 4, 5, 6, 7})

    for h, v in res["headline"].items():
        verdict = "MEETS" if v["meets_target"] else "DOES NOT MEET"
        out.line(f"{name}: headline  xmppbin default / {METHODS[h]} = {v['ratio']:.3f}"
                 f"  -> {verdict} the target <= {TARGET}")
    b = res["best_baseline"]
    out.line(f"{name}: smallest baseline is {METHODS[b['method']]}; xmppbin default / it = {b['xmppbin/best']:.3f}")
    ver = res["verification"]
    if ver["ok"]:
        out.line(f"{name}: round trips verified for all {n:,} records (default: same infoset; exact: same bytes;"
                 " baselines: same bytes)")
    else:
        out.line(f"{name}: ROUND-TRIP FAILURES: {len(ver['failures'])}")
        for f in ver["failures"][:20]:
            out.line(f"  {f}")
        if len(ver["failures"]) > 20:
            out.line(f"  ... {len(ver['failures']) - 20} more")
    out.line()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(C.DEFAULT_CORPUS_DIR),
                    help=f"corpus directory holding {C.CORPUS_FILE}, or the file itself (default: %(default)s)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    ap.add_argument("--all", action="store_true",
                    help="also report all records (training split included: not a fair measure, "
                         "the dictionaries have seen those)")
    ap.add_argument("--capture", default=str(C.TRAFFIC_FIXTURE),
                    help="a capture (tools/traffic JSONL) measured beside the corpus (default: %(default)s)")
    ap.add_argument("--no-capture", action="store_true", help="measure the XEP corpus only")
    args = ap.parse_args(argv)

    path = C.corpus_file(args.corpus)
    if not path.is_file():
        print(f"size_report: corpus not found: {path}", file=sys.stderr)
        return 2
    records = C.load_records(path, dict(xmppbin.DEFAULT_CONTEXT))
    training = [r.xml for r in records if not r.heldout]
    heldout = [r for r in records if r.heldout]
    baselines = Baselines(training)

    out = Out()
    out.line(f"corpus: {path}")
    out.line(f"xmppbin {xmppbin.__version__} (backend {xmppbin.backend}), zstandard {zstandard.__version__} "
             f"(libzstd {zstandard.ZSTD_VERSION[0]}.{zstandard.ZSTD_VERSION[1]}.{zstandard.ZSTD_VERSION[2]}), "
             f"zlib {zlib.ZLIB_RUNTIME_VERSION}")
    out.line(f"training split (XEP % 5 != 0): {len(training):,} records, {sum(map(len, training)):,} bytes -> "
             f"zstd dictionary {len(baselines.zdict.as_bytes()):,} B, deflate preset dictionary "
             f"{len(baselines.deflate_dict):,} B")
    out.line(f"held-out split (XEP % 5 == 0): {len(heldout):,} records, {sum(len(r.xml) for r in heldout):,} bytes")
    out.line()

    results = {"corpus": str(path), "target": TARGET,
               "training": {"records": len(training), "xml_bytes": sum(map(len, training)),
                            "zstd_dict_bytes": len(baselines.zdict.as_bytes()),
                            "deflate_dict_bytes": len(baselines.deflate_dict)}}
    sets = [("held-out", heldout)] + ([("all records", records)] if args.all else [])
    if not args.no_capture:
        capture = C.load_capture_records(args.capture, dict(xmppbin.DEFAULT_CONTEXT))
        out.line(f"capture: {args.capture}: {len(capture):,} records, {sum(len(r.xml) for r in capture):,} bytes "
                 "(held out: no dictionary has seen it)")
        out.line()
        sets.append(("capture", capture))
    ok = True
    for name, recs in sets:
        res = Measure(recs, baselines).result()
        rej = res["rejected"]
        reasons = Counter(re.sub(r" \(at byte \d+\)$", "", r["error"]) for r in rej)
        out.line(f"{name}: {len(recs):,} records, {len(rej)} rejected as restricted XML, not measured by any method"
                 + "".join(f"\n  {n} x {why}" for why, n in reasons.most_common())
                 + ("\n  rejected: " + ", ".join(r["record"] for r in rej) if rej else ""))
        report(out, name, res)
        results[{"held-out": "held_out", "capture": "capture"}.get(name, "all")] = res
        ok = ok and res["verification"]["ok"]

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        out.line(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
