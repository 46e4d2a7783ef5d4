"""Where a stream direction's bytes go, unit by unit, against the floor: for each unit
(stanza, other element, header, text) of each direction, xmppbin stream-exact's bytes
for it and the floor's (PPMd order 16 primed on the XEP corpus, as `floor.py --stream`,
coding the direction's units one after another: a unit's floor is what the model adds
for it after all the units before it). Grouped by class (root tag, first namespace
below it, and for presences their type), the classes where xmppbin loses most first.

    python benchmarks/floor_units.py [--session FILE] [--direction 1-s2c ...] [--top N] [--units]

The per-unit floor costs add up to the direction's floor (to within the model's final
flush, a few bytes); the per-unit xmppbin bytes add up to its stream exactly (the
encoder frames every unit on its own, whatever the TCP reads). Needs pyppmd and
../shared beside the checkout.
"""
from __future__ import annotations

import argparse
import os
import re
import struct
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import _corpus as C  # noqa: E402
from floor_stream import load_floor  # noqa: E402

from xmppbin import stream as S  # noqa: E402


class Incremental:
    """A primed PPMd encoder fed unit after unit; cost(unit) is the flushed size added."""

    def __init__(self, F, train: bytes):
        import pyppmd

        self.enc = pyppmd.Ppmd8Encoder(16, 512 << 20, 1)
        self.out = len(self.enc.encode(train))
        self.last = self._flushed(b"")

    def _flushed(self, x: bytes) -> int:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: code x after the state so far, flush, report, exit
            os.close(r)
            n = self.out + len(self.enc.encode(x) if x else b"") + len(self.enc.flush())
            os.write(w, struct.pack("<Q", n))
            os._exit(0)
        os.close(w)
        data = os.read(r, 8)
        os.close(r)
        os.waitpid(pid, 0)
        return struct.unpack("<Q", data)[0]

    def cost(self, x: bytes) -> int:
        total = self._flushed(x)
        self.out += len(self.enc.encode(x))
        c, self.last = total - self.last, total
        return c


def klass(xml: bytes) -> str:
    xml = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", xml)  # a header's XML declaration
    m = re.match(rb"\s*<([\w:.-]+)", xml)
    if not m:
        return "text" if xml.strip() == b"" or not xml.lstrip().startswith(b"<") else "other"
    root = m.group(1).decode()
    if root == "stream:stream":
        return "stream header"
    ns = [n.decode() for n in re.findall(rb"""xmlns(?::[\w.-]+)?=["']([^"']+)["']""", xml)
          if n not in (b"jabber:client", b"jabber:server")]
    k = f"{root} {ns[0] if ns else ''}".strip()
    if root == "presence":
        t = re.match(rb"<presence[^>]*\btype=['\"](\w+)", xml)
        k += f" [{t.group(1).decode() if t else 'available'}]"
    return k


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--session", default=str(C.TRAFFIC_FIXTURE))
    ap.add_argument("--direction", action="append", help="e.g. 1-s2c (repeatable; default: all)")
    ap.add_argument("--floor", default=str(ROOT / ".." / "shared" / "tools" / "floor.py"))
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--units", action="store_true", help="also list every unit of the chosen directions")
    a = ap.parse_args(argv)
    F = load_floor(a.floor)
    train = "\n".join(r["xml"] for r in F.load(F.DEFAULT_TRAIN)).encode()
    by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (conn, d), reads in C.capture_streams(a.session).items():
        name = f"{conn}-{d}"
        if a.direction and name not in a.direction:
            continue
        model = Incremental(F, train)
        enc = S.StreamEncoder(exact=True)
        xb_total = fl_total = 0
        for ev in C.stream_units(reads):
            xb = len(enc.feed(ev.xml))
            fl = model.cost(ev.xml)
            xb_total += xb
            fl_total += fl
            k = klass(ev.xml)
            row = by_class[k]
            row[0] += 1
            row[1] += len(ev.xml)
            row[2] += xb
            row[3] += fl
            if a.units:
                print(f"{name} {xb:6} {fl:6} {xb - fl:+6}  {ev.xml[:110]!r}")
        xb_total += len(enc.flush())
        print(f"{name}: xmppbin {xb_total:,} B, floor {fl_total:,} B = {xb_total / max(fl_total, 1):.3f}x")
    print(f"\n{'xmppbin - floor':>15} {'class':<58}{'n':>6}{'XML':>10}{'xmppbin':>9}{'floor':>8}{'ratio':>7}")
    for k, (n, x, xb, fl) in sorted(by_class.items(), key=lambda kv: kv[1][3] - kv[1][2])[:a.top]:
        print(f"{xb - fl:>+15,} {k[:57]:<58}{n:>6}{x:>10,}{xb:>9,}{fl:>8,}{xb / max(fl, 1):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
