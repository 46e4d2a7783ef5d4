#!/usr/bin/env python3
"""Bytes per stream state (issue 9, acceptance 7): what one direction of a
connection costs a server in memory, measured on real captures.

For each capture (default: both committed fixtures; --session adds more), each
direction of each connection is one stream, coded unit by unit with
xmppbin.stream.StreamEncoder (exact=True) and decoded again by a
StreamDecoder, at table budgets 4, 16, 32 and 64 KiB. After every unit the
C state's bytes are read (StreamEncoder/StreamDecoder.footprint(), i.e.
xb_stream_footprint: capacities of the dynamic table, recent values, shape
cache, prediction slots and the coder's/decoder's buffers kept between
messages; not the feed loops' frame and unit buffers, bounded by max_frame and
max_size, and not transient memory inside one call).

  after handshake  the footprint after the first element that follows the last
                   stream header of the direction (after resource binding, in
                   a c2s session: the state an idle connection keeps)
  peak             the largest footprint after any unit of the direction

Reported per budget: mean and max over directions, for the encoder and the
decoder, and the totals over all directions. Also, once: the Python objects'
own overhead (tracemalloc) of one StreamEncoder + StreamDecoder pair.

With --adversarial: the footprints after a peer sends, in each of the 47
attribute value contexts, 8 rounds of long values, distinct, or one per round
shared by every context (spec 14.3: recent values leave their lists when the
table evicts them, and the C core holds a listed string once).

    python benchmarks/stream_memory.py [--session FILE ...] [--json OUT] [--adversarial]
"""
from __future__ import annotations

import argparse
import json
import sys
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _corpus as C  # noqa: E402

import xmppbin  # noqa: E402
from xmppbin import stream as S  # noqa: E402

DATA = HERE.parent / "tests" / "data"
DEFAULT_SESSIONS = [DATA / "capture-session.jsonl", DATA / "traffic-seed9001.jsonl"]
BUDGETS = (4096, 16384, 32768, 65536)


def measure_direction(evs: list[S.StreamEvent], budget: int) -> dict:
    """Footprints of one direction: after the handshake and the peak."""
    enc = S.StreamEncoder(table_size=budget, exact=True)
    dec = S.StreamDecoder()
    last_open = max((i for i, ev in enumerate(evs) if ev.kind == "open"), default=-1)
    mark = next((i for i, ev in enumerate(evs) if i > last_open and ev.kind == "element"), len(evs) - 1)
    res = {"enc_handshake": 0, "dec_handshake": 0, "enc_peak": 0, "dec_peak": 0, "units": len(evs)}
    for i, ev in enumerate(evs):
        dec.feed(enc.encode(ev))
        fe, fd = enc.footprint(), dec.footprint()
        assert fe is not None and fd is not None
        res["enc_peak"] = max(res["enc_peak"], fe)
        res["dec_peak"] = max(res["dec_peak"], fd)
        if i == mark:
            res["enc_handshake"], res["dec_handshake"] = fe, fd
    return res


def python_overhead(evs: list[S.StreamEvent]) -> int:
    """Python heap bytes (tracemalloc) one StreamEncoder + StreamDecoder pair holds
    after coding a direction (the C state's malloc is not traced). A first pair,
    not traced, fills the module-level caches (option structs, compiled
    patterns) that every later pair shares."""
    enc = S.StreamEncoder(exact=True)
    dec = S.StreamDecoder()
    for ev in evs:
        dec.feed(enc.encode(ev))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    enc = S.StreamEncoder(exact=True)
    dec = S.StreamDecoder()
    for ev in evs:
        dec.feed(enc.encode(ev))
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del enc, dec
    return held


HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          b"to='example.org' version='1.0'>")
FILLER = b"<message to='a@example.org' type='chat'><body>hi</body></message>"


def adversarial(budget: int, shared: bool = False) -> dict:
    """What the recent values can be made to hold: 8 rounds of one message per
    known attribute name (one value context each), every value distinct and as
    long as the table takes (budget - 40 bytes), so each is recallable when it
    is remembered and evicted soon after; then one ordinary stanza. shared:
    one value per round, the same in every context (a table reference after
    the first; listed in all 47 contexts at once)."""
    from xmppbin.dictionary import get_dictionary

    names = sorted({a for a in get_dictionary(1).attr_ctx if ":" not in a and " " not in a})
    enc, dec = S.StreamEncoder(table_size=budget), S.StreamDecoder(max_size=1 << 22)
    dec.feed(enc.feed(HEADER + FILLER))
    before = (enc.footprint(), dec.footprint())
    for r in range(8):
        for i, a in enumerate(names):
            v = (b"%d-" % r if shared else b"%d-%d-" % (r, i)) + b"v" * (budget - 50)
            dec.feed(enc.feed(b"<message %s='%s'/>" % (a.encode(), v)))
    dec.feed(enc.feed(FILLER))
    return {"contexts": len(names), "before": before, "after": (enc.footprint(), dec.footprint())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--session", action="append", type=Path, help="a capture (repeatable; added to the fixtures)")
    ap.add_argument("--json", type=Path, help="write the figures as JSON here")
    ap.add_argument("--adversarial", action="store_true",
                    help="also: long distinct values in every attribute context (the recent values' copies)")
    a = ap.parse_args(argv)
    xmppbin._use_backend("c")
    sessions = DEFAULT_SESSIONS + (a.session or [])
    report: dict = {"budgets": list(BUDGETS), "captures": {}}
    first = None
    hdr = (f"{'capture':<24} {'budget':>6} {'dirs':>4}  {'enc idle mean/max':>19}  {'dec idle mean/max':>19}"
           f"  {'enc peak max':>12}  {'dec peak max':>12}  {'sum of peaks':>12}")
    print(hdr)
    print("-" * len(hdr))
    for path in sessions:
        streams = C.capture_streams(path)
        dirs = {k: C.stream_units(v) for k, v in sorted(streams.items())}
        if first is None:
            first = next(iter(dirs.values()))
        rows = {}
        for budget in BUDGETS:
            per = {f"{k[0]}-{k[1]}": measure_direction(evs, budget) for k, evs in dirs.items()}
            n = len(per)

            def col(name: str) -> list[int]:
                return [r[name] for r in per.values()]  # noqa: B023

            row = {
                "directions": n,
                "enc_handshake_mean": sum(col("enc_handshake")) // n,
                "enc_handshake_max": max(col("enc_handshake")),
                "dec_handshake_mean": sum(col("dec_handshake")) // n,
                "dec_handshake_max": max(col("dec_handshake")),
                "enc_peak_max": max(col("enc_peak")),
                "dec_peak_max": max(col("dec_peak")),
                "enc_handshake_total": sum(col("enc_handshake")),
                "dec_handshake_total": sum(col("dec_handshake")),
                "peak_total": sum(col("enc_peak")) + sum(col("dec_peak")),
                "per_direction": per,
            }
            rows[budget] = row
            print(f"{Path(path).name[:24]:<24} {budget:>6} {n:>4}  "
                  f"{row['enc_handshake_mean']:>9,}/{row['enc_handshake_max']:>9,}  "
                  f"{row['dec_handshake_mean']:>9,}/{row['dec_handshake_max']:>9,}  "
                  f"{row['enc_peak_max']:>12,}  {row['dec_peak_max']:>12,}  {row['peak_total']:>12,}")
        report["captures"][str(path)] = rows
    over = python_overhead(first or [])
    report["python_overhead"] = over
    print(f"\nPython objects of one StreamEncoder + StreamDecoder pair (tracemalloc): {over:,} bytes")
    if a.adversarial:
        report["adversarial"] = {}
        for budget in BUDGETS:
            for shared in (False, True):
                r = adversarial(budget, shared)
                report["adversarial"][f"{budget}{'-shared' if shared else ''}"] = r
                print(f"adversarial values ({'shared' if shared else 'distinct'}), {r['contexts']} attribute "
                      f"contexts, budget {budget:>6}: encoder {r['before'][0]:,} -> {r['after'][0]:,} bytes, "
                      f"decoder {r['before'][1]:,} -> {r['after'][1]:,}")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
