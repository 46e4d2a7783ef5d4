"""benchmarks/floor_units.py (where a stream direction's bytes go, unit by unit, against
the floor), so that it cannot rot: with a stand-in PPMd whose output is a quarter of its
input, every unit's floor is what a direct computation gives, the per-unit xmppbin bytes
add up to the direction's stream, and units are classed as the report says."""
from __future__ import annotations

import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import _corpus as C  # noqa: E402
import floor_units  # noqa: E402

from xmppbin import stream as S  # noqa: E402

FAKE_FLOOR = '''
DEFAULT_TRAIN = "train.jsonl"
def load(path, keep=None):
    return [{"xml": "<a/>"}]
'''


class FakePpmd:
    """Output: one byte per 4 input bytes as they come, 2 more at the flush."""

    def __init__(self, order, mem, restore):
        self.pending = 0

    def encode(self, x: bytes) -> bytes:
        self.pending += len(x)
        n, self.pending = self.pending // 4, self.pending % 4
        return b"\0" * n

    def flush(self) -> bytes:
        return b"\0" * (2 + (self.pending > 0))


def test_units_add_up(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyppmd", types.SimpleNamespace(Ppmd8Encoder=FakePpmd))
    fake = tmp_path / "floor.py"
    fake.write_text(FAKE_FLOOR)
    assert floor_units.main(["--session", str(C.SESSION_FIXTURE), "--floor", str(fake), "--direction", "3-c2s",
                             "--units", "--top", "50"]) == 0
    out = capsys.readouterr().out.splitlines()
    reads = C.capture_streams(C.SESSION_FIXTURE)[(3, "c2s")]
    units = C.stream_units(reads)
    rows = [line.split(None, 4) for line in out if line.startswith("3-c2s ") and "xmppbin" not in line]
    assert len(rows) == len(units)
    enc = S.StreamEncoder(exact=True)
    total = len(b"".join(enc.feed(r) for r in reads) + enc.flush())
    assert sum(int(r[1]) for r in rows) == total
    # the stand-in's flushed size after the training text "<a/>" and each unit: a
    # unit's floor is the growth of that size
    seen, last, floors = b"<a/>", None, []
    for u in units:
        size = lambda b: len(b) // 4 + 2 + (len(b) % 4 > 0)  # noqa: E731
        last = size(seen) if last is None else last
        seen += u.xml
        floors.append(size(seen) - last)
        last = size(seen)
    assert [int(r[2]) for r in rows] == floors
    summary = [line for line in out if line.startswith("3-c2s: ")]
    assert summary == [f"3-c2s: xmppbin {total:,} B, floor {sum(floors):,} B = {total / sum(floors):.3f}x"]


def test_klass():
    k = floor_units.klass
    assert k(b"<presence from='a@b/c' type='unavailable'/>") == "presence [unavailable]"
    assert k(b"<presence><x xmlns='urn:x'/></presence>") == "presence urn:x [available]"
    assert k(b"<iq type='get'><query xmlns='jabber:iq:roster'/></iq>") == "iq jabber:iq:roster"
    assert k(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>") \
        == "stream header"
    assert k(b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>") \
        == "stream header"
    assert k(b"\n") == "text"
    assert k(b"<r xmlns='urn:xmpp:sm:3'/>") == "r urn:xmpp:sm:3"
