#!/usr/bin/env python3
"""Size of a whole XMPP session in stream mode, against stateless xmppbin and a
XEP-0138 zlib stream, measured in one run on the same bytes.

Input: captures in the JSONL format of tools/traffic (one line per TCP read);
by default both committed fixtures: the short recorded session
tests/data/capture-session.jsonl and the held-out generated capture
tests/data/traffic-seed9001.jsonl (tools/traffic, 2.4 MB, 27 connections).
Each direction of each connection is one stream. Methods, per stream:

  stream exact      xmppbin.stream.StreamEncoder(exact=True) fed the recorded
                    TCP reads; decoded again, it gives the XML bytes exactly
  stream default    the same with exact=False (infoset-equal)
  stateless exact   every unit on its own: a frame (14.2) holding a complete
  stateless default stateless message (xmppbin.encode, the stream header with
                    open_root=True, elements in the header's namespace context);
                    whitespace and the closing tag as TEXT/CLOSE frames
  zlib-6 / zlib-9   one zlib stream per direction (zlib.compressobj(level)),
                    Z_SYNC_FLUSH after every unit, as XEP-0138 compression does
                    after each stanza

Every stream-mode output is decoded again (exact: byte-identical; default:
the same units' infoset); any mismatch exits with status 1.

    python benchmarks/stream_report.py [--session FILE ...] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _corpus as C  # noqa: E402

import xmppbin  # noqa: E402
from xmppbin import stream as S  # noqa: E402

DEFAULT_SESSIONS = [C.SESSION_FIXTURE, C.TRAFFIC_FIXTURE]
TARGET = 0.6  # stream mode / zlib sync-flush stream (issue 5)

METHODS = ("stream-exact", "stream-default", "stateless-exact", "stateless-default", "zlib-6", "zlib-9")


def stream_size(chunks: list[bytes], exact: bool) -> tuple[int, bool]:
    """Bytes of the stream-mode encoding, and whether it decoded back."""
    enc = S.StreamEncoder(exact=exact)
    data = b"".join(enc.feed(c) for c in chunks) + enc.flush()
    dec = S.StreamDecoder()
    back = dec.feed(data)
    dec.close()
    xml = b"".join(chunks)
    if exact:
        ok = b"".join(e.xml for e in back) == xml
    else:
        want = C.stream_units(chunks)
        ok = [e.kind for e in back] == [e.kind for e in want] and all(
            _same(a, b) for a, b in zip(back, want))
    return len(data), ok


def _same(a: S.StreamEvent, b: S.StreamEvent) -> bool:
    if a.kind != "element":
        return a.kind in ("text", "close") and a.xml == b.xml or a.kind == "open"
    return xmppbin.encode(a.xml) == xmppbin.encode(b.xml)  # default mode: canonical, infoset-equal


def stateless_size(evs: list[S.StreamEvent], exact: bool) -> int:
    total = 0
    enc = S.StreamEncoder(exact=exact)  # only to track the header's namespace context
    for ev in evs:
        if ev.kind == "open":
            enc.open(ev.xml)
            msg = xmppbin.encode(ev.xml, exact=exact, open_root=True)
            total += len(S.frame(S.FRAME_OPEN, S.put_varint(0) + msg))
        elif ev.kind == "element":
            msg = xmppbin.encode(ev.xml, exact=exact, context=enc._s.context)
            total += len(S.frame(S.FRAME_ELEMENT, msg))
        else:
            total += len(enc.encode(ev))
    return total


def zlib_size(evs: list[S.StreamEvent], level: int) -> int:
    z = zlib.compressobj(level)
    return sum(len(z.compress(ev.xml)) + len(z.flush(zlib.Z_SYNC_FLUSH)) for ev in evs)


def measure(path: Path, max_streams: int | None = None) -> dict:
    """Every stream of a capture (or its first max_streams, in (connection, direction) order)."""
    streams = C.capture_streams(path)
    rows = []
    ok = True
    for (conn, direction), chunks in sorted(streams.items())[:max_streams]:
        evs = C.stream_units(chunks)
        row = {"conn": conn, "dir": direction, "units": len(evs), "xml": sum(map(len, chunks))}
        for exact, name in ((True, "stream-exact"), (False, "stream-default")):
            row[name], good = stream_size(chunks, exact)
            if not good:
                print(f"ROUND TRIP FAILED: conn {conn} {direction} {name}", file=sys.stderr)
                ok = False
        row["stateless-exact"] = stateless_size(evs, True)
        row["stateless-default"] = stateless_size(evs, False)
        row["zlib-6"] = zlib_size(evs, 6)
        row["zlib-9"] = zlib_size(evs, 9)
        rows.append(row)
    total = {k: sum(r[k] for r in rows) for k in ("units", "xml") + METHODS}
    return {"session": str(path), "rows": rows, "total": total, "round_trips_ok": ok}


def report(res: dict) -> None:
    t = res["total"]
    print(f"session: {res['session']}")
    print(f"{len(res['rows'])} streams, {t['units']} units, {t['xml']:,} XML bytes (both directions)\n")
    hdr = f"{'conn dir':<10}{'units':>6}{'XML':>11}" + "".join(f"{m:>18}" for m in METHODS)
    print(hdr)
    for r in res["rows"]:
        print(f"{r['conn']:<4} {r['dir']:<5}{r['units']:>6}{r['xml']:>11,}" + "".join(f"{r[m]:>18,}" for m in METHODS))
    print(f"{'total':<10}{t['units']:>6}{t['xml']:>11,}" + "".join(f"{t[m]:>18,}" for m in METHODS))
    print()
    print(f"{'method':<20}{'bytes':>10}{'of XML':>9}{'/ zlib-6':>10}{'/ zlib-9':>10}")
    for m in METHODS:
        print(f"{m:<20}{t[m]:>10,}{t[m] / t['xml']:>9.3f}{t[m] / t['zlib-6']:>10.3f}{t[m] / t['zlib-9']:>10.3f}")
    print()
    for m in ("stream-exact", "stream-default"):
        r6 = t[m] / t["zlib-6"]
        stateless = t["stateless-" + m.split("-")[1]]
        print(f"headline {m}: {r6:.3f} of zlib-6 sync-flush (target <= {TARGET}: "
              f"{'met' if r6 <= TARGET else 'NOT met'}); {t[m] / stateless:.3f} of stateless")
    print(f"round trips: {'ok' if res['round_trips_ok'] else 'FAILED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--session", type=Path, action="append",
                    help="a capture (repeatable; default: the two committed fixtures)")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    results = []
    for path in args.session or DEFAULT_SESSIONS:
        res = measure(path)
        report(res)
        print()
        results.append(res)
    if args.json:
        out = results[0] if len(results) == 1 else {"sessions": results}
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["round_trips_ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
