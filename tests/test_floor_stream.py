"""benchmarks/floor_stream.py (issue 11's stream targets in one run), so that it cannot rot.
The real floor needs pyppmd and ../shared; here a stand-in floor module (cost = a quarter
of the text, priming recorded) takes its place, and every figure the script prints is
checked against a direct computation on the recorded session."""
from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import _corpus as C  # noqa: E402
import floor_stream  # noqa: E402

from xmppbin import stream as S  # noqa: E402

FAKE_FLOOR = '''
DEFAULT_TRAIN = "train.jsonl"
PRIMED = []
def load(path, keep=None):
    assert path == DEFAULT_TRAIN and keep is None
    return [{"xml": "<a/>"}, {"xml": "<b/>"}]
class Primed:
    def __init__(self, train):
        PRIMED.append(train)
    def cost(self, x):
        return len(x) // 4 + 1
'''


def test_report_matches_direct_computation(tmp_path, capsys):
    fake = tmp_path / "floor.py"
    fake.write_text(FAKE_FLOOR)
    out = tmp_path / "fs.json"
    assert floor_stream.main(["--session", str(C.SESSION_FIXTURE), "--floor", str(fake), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())[Path(C.SESSION_FIXTURE).name]
    streams = C.capture_streams(C.SESSION_FIXTURE)
    assert [r["direction"] for r in rep["rows"]] == [f"{c}-{d}" for c, d in streams]
    for r, reads in zip(rep["rows"], streams.values()):
        xml = b"".join(reads)
        assert r["xml"] == len(xml)
        assert r["floor"] == len(xml) // 4 + 1
        assert r["payload"] == bool(floor_stream.B64_RUN.search(xml))
        z = zlib.compressobj(9)
        assert r["zlib9_read"] == sum(len(z.compress(c)) + len(z.flush(zlib.Z_SYNC_FLUSH)) for c in reads)
        units = C.stream_units(reads)
        assert len(units) > len(reads) // 2
        z = zlib.compressobj(9)
        assert r["zlib9_unit"] == sum(len(z.compress(u.xml)) + len(z.flush(zlib.Z_SYNC_FLUSH)) for u in units)
        enc = S.StreamEncoder(exact=True)
        assert r["xmppbin"] == len(b"".join(enc.feed(c) for c in reads) + enc.flush())
    # the recorded session: two directions carry the PNG avatar in base64
    assert sorted(r["direction"] for r in rep["rows"] if r["payload"]) == ["1-c2s", "2-s2c"]
    s = rep["summary"]
    text = [r for r in rep["rows"] if not r["payload"]]
    assert s["zlib_directions"] == len(text) == 6
    rows = rep["rows"]
    assert abs(s["xmppbin_over_floor"] - sum(r["xmppbin"] for r in rows) / sum(r["floor"] for r in rows)) < 1e-12
    assert s["directions_over_zlib9_read_target"] == [r["direction"] for r in text
                                                      if r["xmppbin"] > 0.5 * r["zlib9_read"]]
    assert s["floor_directions_over_zlib9_unit_target"] == [r["direction"] for r in text
                                                            if r["floor"] > 0.5 * r["zlib9_unit"]]
    printed = capsys.readouterr().out
    assert f"xmppbin / floor, all directions: {s['xmppbin_over_floor']:.3f}" in printed
    assert f"{len(text)} directions without a payload" in printed


def test_round_trip_failure_exits(monkeypatch):
    # a stream that does not decode back to its reads stops the report
    class Broken(S.StreamDecoder):
        def feed(self, data):
            evs = super().feed(data)
            return evs[:-1]

    monkeypatch.setattr(floor_stream.S, "StreamDecoder", Broken)
    reads = C.capture_streams(C.SESSION_FIXTURE)[(3, "c2s")]
    try:
        floor_stream.xmppbin_stream(reads)
    except SystemExit as e:
        assert "round trip failed" in str(e)
    else:
        raise AssertionError("no exit on a failed round trip")
