"""Per-stanza speed of the active backend against lxml, in the same run.

    python -m pytest benchmarks/test_bench_speed.py -p no:cacheprovider --benchmark-only

Two datasets of complete elements in the default stream context:
  xep      the XEP example corpus (../shared/corpus; skipped without it), minus
           stream headers, records needing extra prefixes and records with comments
  capture  the real Prosody/slixmpp session in tests/data/capture-stanzas.jsonl
  traffic  the held-out generated capture tests/data/traffic-seed9001.jsonl
           (tools/traffic: 27 connections, 2.4 MB of real Prosody/slixmpp traffic)
For each: lxml etree.fromstring + etree.tostring (the baseline), xmppbin encode and
decode one call per stanza, as Codec methods ("xmppbin encode") and as the
module-level functions with default options ("module encode": xmppbin.encode(x),
which should cost what the method costs), and encode_many / decode_many (one call
per pass).
The summary prints stanzas/s, MB/s and the speed-up over lxml of every xmppbin row,
computed from the minimum time of a pass over the rounds ($XMPPBIN_BENCH_ROUNDS,
default 50; a run takes about 10 s with the C backend).
"""
from __future__ import annotations

import json
import os

import _corpus as C
import pytest
from lxml import etree

import xmppbin

ROUNDS = int(os.environ.get("XMPPBIN_BENCH_ROUNDS", "50"))
HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE = os.path.join(HERE, "..", "tests", "data", "capture-stanzas.jsonl")


def load(name: str) -> list[bytes]:
    if name == "xep":
        path = C.corpus_file(os.environ.get(C.CORPUS_ENV) or None)
        if not path.is_file():
            pytest.skip(f"XEP corpus not found at {path}")
        with open(path, encoding="utf-8") as f:
            recs = [json.loads(line) for line in f]
    elif name == "traffic":
        recs = [{"xml": r.xml.decode("utf-8"), "kind": r.kind, "assumed_prefixes": r.assumed_prefixes}
                for r in C.load_capture_records(C.TRAFFIC_FIXTURE)]
    else:
        with open(CAPTURE, encoding="utf-8") as f:
            recs = [json.loads(line) for line in f]
    return [r["xml"].encode() for r in recs
            if r["kind"] != "stream-header" and not r.get("assumed_prefixes") and "<!--" not in r["xml"]]


class Dataset:
    def __init__(self, name: str) -> None:
        self.name = name
        self.xml = load(name)
        self.codec = xmppbin.Codec()
        self.encoded = self.codec.encode_many(self.xml)
        self.count = len(self.xml)
        self.xml_bytes = sum(map(len, self.xml))


@pytest.fixture(scope="module", params=["xep", "capture", "traffic"])
def data(request):
    return Dataset(request.param)


def run(benchmark, record_throughput, data, what, fn):
    benchmark.group = f"speed {data.name}"
    benchmark.extra_info.update(stanzas=data.count, xml_bytes=data.xml_bytes, dataset=data.name,
                                backend="-" if what.startswith("lxml") else xmppbin.backend)
    out = benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    record_throughput(f"{data.name}: {what}")
    return out


def test_lxml_fromstring_tostring(benchmark, record_throughput, data):
    fromstring, tostring, xml = etree.fromstring, etree.tostring, data.xml
    out = run(benchmark, record_throughput, data, "lxml fromstring+tostring",
              lambda: [tostring(fromstring(x)) for x in xml])
    assert len(out) == data.count


def test_encode_single(benchmark, record_throughput, data):
    enc, xml = data.codec.encode, data.xml
    assert run(benchmark, record_throughput, data, "xmppbin encode", lambda: [enc(x) for x in xml]) == data.encoded


def test_encode_many(benchmark, record_throughput, data):
    out = run(benchmark, record_throughput, data, "xmppbin encode_many", lambda: data.codec.encode_many(data.xml))
    assert out == data.encoded


def test_decode_single(benchmark, record_throughput, data):
    dec, msgs = data.codec.decode, data.encoded
    out = run(benchmark, record_throughput, data, "xmppbin decode", lambda: [dec(m) for m in msgs])
    assert out == data.codec.decode_many(msgs)


def test_decode_many(benchmark, record_throughput, data):
    out = run(benchmark, record_throughput, data, "xmppbin decode_many", lambda: data.codec.decode_many(data.encoded))
    assert len(out) == data.count


def test_module_encode_single(benchmark, record_throughput, data):
    enc, xml = xmppbin.encode, data.xml
    assert run(benchmark, record_throughput, data, "module encode", lambda: [enc(x) for x in xml]) == data.encoded


def test_module_decode_single(benchmark, record_throughput, data):
    dec, msgs = xmppbin.decode, data.encoded
    out = run(benchmark, record_throughput, data, "module decode", lambda: [dec(m) for m in msgs])
    assert out == data.codec.decode_many(msgs)
