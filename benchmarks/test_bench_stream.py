"""Stream mode speed on recorded sessions, against the stateless batch calls on
the same units. Datasets (all in the JSONL capture format of tools/capture and
tools/traffic: one line per TCP read):

    capture           tests/data/capture-session.jsonl (real Prosody + slixmpp session, 475 KB)
    traffic-seed9001  tests/data/traffic-seed9001.jsonl (tools/traffic, seed 9001, 2.6 MB)
    session           the capture.jsonl named by XMPPBIN_BENCH_SESSION, when set (e.g. one of
                      >= 5 MB made by `python -m tools.traffic --seed 2 --size 5MB --out DIR`)

Every direction of every connection is one stream. Rows:

    stream encode   one StreamEncoder per direction fed the recorded TCP reads, flushed
    encode_many     Codec().encode_many of the element units of every direction
    stream decode   one StreamDecoder per direction fed its frames whole
    decode_many     Codec().decode_many of encode_many's messages
    decode 1 byte   one StreamDecoder per direction fed its frames one byte at a time

MB/s count XML bytes (the whole stream for the stream rows, the element units for
the batch rows). Targets (issue 9): stream encode >= 0.5x encode_many, stream
decode >= 0.5x decode_many, one byte at a time >= 0.1x decode_many (ratios of MB/s
from the MIN times of one run), printed per dataset after the table.

    XMPPBIN_BENCH_ROUNDS=30 XMPPBIN_BENCH_SESSION=/path/capture.jsonl \
        python -m pytest benchmarks/test_bench_stream.py --benchmark-only -q
"""
from __future__ import annotations

import base64
import json
import os

import pytest

import xmppbin
from xmppbin import stream

ROUNDS = int(os.environ.get("XMPPBIN_BENCH_ROUNDS", "30"))
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")
DATASETS = {
    "capture": os.path.join(DATA, "capture-session.jsonl"),
    "traffic-seed9001": os.path.join(DATA, "traffic-seed9001.jsonl"),
}
if os.environ.get("XMPPBIN_BENCH_SESSION"):
    DATASETS["session"] = os.environ["XMPPBIN_BENCH_SESSION"]


def directions(path: str) -> list[list[bytes]]:
    """The TCP reads of each (connection, direction) of a JSONL capture."""
    dirs: dict = {}
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            r = json.loads(line)
            data = r["data"].encode() if "data" in r else base64.b64decode(r["data_b64"])
            dirs.setdefault((r["conn"], r["dir"]), []).append(data)
    return [dirs[k] for k in sorted(dirs)]


class Session:
    """The directions of a session: chunks as read, element units, frames."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks = directions(DATASETS[name])
        self.xml_bytes = sum(len(c) for chs in self.chunks for c in chs)
        self.units = []
        for chs in self.chunks:
            sp = stream.XmlSplitter()
            self.units += [ev.xml for c in chs for ev in sp.feed(c) if ev.kind == "element"]
        self.unit_bytes = sum(map(len, self.units))
        self.codec = xmppbin.Codec()
        self.encoded = self.codec.encode_many(self.units)
        self.frames = [stream.encode_stream(chs) for chs in self.chunks]
        self.decoded = [b"".join(ev.xml for ev in stream.StreamDecoder().feed(f)) for f in self.frames]


_SESSIONS: dict = {}


def get_session(name: str) -> Session:
    if name not in _SESSIONS:
        _SESSIONS[name] = Session(name)
    return _SESSIONS[name]


@pytest.fixture(scope="module", params=list(DATASETS))
def session(request):
    return get_session(request.param)


def run(benchmark, record_throughput, session, what, fn, count, nbytes, rounds=ROUNDS):
    if session.name != "capture":
        rounds = max(3, rounds // 6)
    benchmark.group = f"stream {session.name}"
    benchmark.extra_info.update(stanzas=count, xml_bytes=nbytes, dataset=session.name, backend=xmppbin.backend)
    out = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    record_throughput(f"{session.name}: {what}")
    return out


def _encode_streams(chunks):
    out = []
    for chs in chunks:
        enc = stream.StreamEncoder()
        out.append(b"".join([enc.feed(c) for c in chs]) + enc.flush())
    return out


def test_stream_encode_recorded_chunks(benchmark, record_throughput, session):
    out = run(benchmark, record_throughput, session, "stream encode (TCP reads)",
              lambda: _encode_streams(session.chunks), len(session.units), session.xml_bytes)
    assert out == session.frames


def test_encode_many_units(benchmark, record_throughput, session):
    out = run(benchmark, record_throughput, session, "encode_many (units)",
              lambda: session.codec.encode_many(session.units), len(session.units), session.unit_bytes)
    assert out == session.encoded


def _decode_streams(frames):
    out = []
    for f in frames:
        dec = stream.StreamDecoder()
        evs = dec.feed(f)
        dec.close()
        out.append(evs)
    return out


def test_stream_decode_whole(benchmark, record_throughput, session):
    out = run(benchmark, record_throughput, session, "stream decode (whole)",
              lambda: _decode_streams(session.frames), len(session.units), session.xml_bytes)
    assert [b"".join(ev.xml for ev in evs) for evs in out] == session.decoded


def test_decode_many_units(benchmark, record_throughput, session):
    out = run(benchmark, record_throughput, session, "decode_many (units)",
              lambda: session.codec.decode_many(session.encoded), len(session.units), session.unit_bytes)
    assert len(out) == len(session.units)


def _decode_bytewise(frames):
    out = []
    for f in frames:
        dec = stream.StreamDecoder()
        feed = dec.feed
        evs = []
        for i in range(len(f)):
            evs += feed(f[i : i + 1])
        dec.close()
        out.append(evs)
    return out


def test_stream_decode_one_byte_at_a_time(benchmark, record_throughput, session):
    out = run(benchmark, record_throughput, session, "stream decode (1 byte/feed)",
              lambda: _decode_bytewise(session.frames), len(session.units), session.xml_bytes,
              rounds=max(3, ROUNDS // 6))
    assert [b"".join(ev.xml for ev in evs) for evs in out] == session.decoded
