"""The speed section of the benchmark report (benchmarks/report.py runs it in one pytest run).

    XMPPBIN_REPORT_SAMPLE=2000 XMPPBIN_BENCH_ROUNDS=15 \\
        python -m pytest benchmarks/test_bench_report.py -p no:cacheprovider --benchmark-only

Dataset: the top-level elements of the held-out generated capture
tests/data/traffic-seed9001.jsonl (no stream headers, no records needing prefixes
from the stream), every k-th, $XMPPBIN_REPORT_SAMPLE of them (default 2000). One
round is one pass over them. Rows: lxml parse+serialize (the baseline the report
divides by), xmppbin encode/decode with the C and the Python backends one call per
stanza and as one encode_many/decode_many call, stream mode (one StreamEncoder fed
every stanza after a header; one StreamDecoder fed the frames), zstd-19 with the
16 KiB training-split dictionary and zlib-6, compress and decompress, per stanza.
"""
from __future__ import annotations

import os
import zlib

import _corpus as C
import pytest
import zstandard
from lxml import etree

import xmppbin
from xmppbin import stream as S

ROUNDS = int(os.environ.get("XMPPBIN_BENCH_ROUNDS", "15"))
SAMPLE = int(os.environ.get("XMPPBIN_REPORT_SAMPLE", "2000"))
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          b"to='example.org' version='1.0'>")


def load_stanzas(n: int) -> list[bytes]:
    recs = [r.xml for r in C.load_capture_records(C.TRAFFIC_FIXTURE)
            if r.kind != "stream-header" and not r.assumed_prefixes and b"<!--" not in r.xml]
    if len(recs) <= n:
        return recs
    step = len(recs) / n
    return [recs[int(i * step)] for i in range(n)]


STANZAS = load_stanzas(SAMPLE)
XML_BYTES = sum(map(len, STANZAS))


def _zstd_dict():
    corpus = C.corpus_file(os.environ.get(C.CORPUS_ENV) or None)
    if corpus.is_file():
        training = [r.xml for r in C.load_records(corpus) if not r.heldout]
    else:  # no XEP corpus: a dictionary from the committed sample's training records
        training = [r.xml for r in C.load_records(C.REPO / "tests" / "data" / "xep-sample.jsonl") if not r.heldout]
    return C.train_zstd_dict(training)


def _run(benchmark, fn, **extra):
    benchmark.extra_info.update(stanzas=len(STANZAS), xml_bytes=XML_BYTES, **extra)
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.fixture(params=["c", "python"])
def backend(request):
    before = xmppbin.backend
    try:
        xmppbin._use_backend(request.param)
    except ImportError:
        pytest.skip("the C backend is not built")
    yield request.param
    xmppbin._use_backend(before)


def test_lxml(benchmark):
    benchmark.name = "lxml parse+serialize"

    def run():
        for x in STANZAS:
            etree.tostring(etree.fromstring(x))
    _run(benchmark, run)


def test_encode(benchmark, backend):
    benchmark.name = f"xmppbin encode ({backend})"
    codec = xmppbin.Codec()

    def run():
        for x in STANZAS:
            codec.encode(x)
    _run(benchmark, run, backend=backend)


def test_encode_many(benchmark, backend):
    benchmark.name = f"xmppbin encode_many ({backend})"
    codec = xmppbin.Codec()
    _run(benchmark, lambda: codec.encode_many(STANZAS), backend=backend)


def test_decode(benchmark, backend):
    benchmark.name = f"xmppbin decode ({backend})"
    codec = xmppbin.Codec()
    msgs = codec.encode_many(STANZAS)

    def run():
        for m in msgs:
            codec.decode(m)
    _run(benchmark, run, backend=backend)


def test_decode_many(benchmark, backend):
    benchmark.name = f"xmppbin decode_many ({backend})"
    codec = xmppbin.Codec()
    msgs = codec.encode_many(STANZAS)
    _run(benchmark, lambda: codec.decode_many(msgs), backend=backend)


def test_stream_encode(benchmark):
    benchmark.name = f"xmppbin stream encode ({xmppbin.backend})"

    def run():
        enc = S.StreamEncoder(exact=True)
        enc.feed(HEADER)
        for x in STANZAS:
            enc.feed(x)
    _run(benchmark, run, backend=xmppbin.backend)


def test_stream_decode(benchmark):
    benchmark.name = f"xmppbin stream decode ({xmppbin.backend})"
    enc = S.StreamEncoder(exact=True)
    head = enc.feed(HEADER)
    frames = [enc.feed(x) for x in STANZAS]

    def run():
        dec = S.StreamDecoder()
        dec.feed(head)
        for f in frames:
            dec.feed(f)
    _run(benchmark, run, backend=xmppbin.backend)


def test_zstd_compress(benchmark):
    benchmark.name = "zstd-19 + 16 KiB dict compress"
    c = zstandard.ZstdCompressor(level=19, dict_data=_zstd_dict())

    def run():
        for x in STANZAS:
            c.compress(x)
    _run(benchmark, run)


def test_zstd_decompress(benchmark):
    benchmark.name = "zstd-19 + 16 KiB dict decompress"
    d = _zstd_dict()
    frames = [zstandard.ZstdCompressor(level=19, dict_data=d).compress(x) for x in STANZAS]
    dec = zstandard.ZstdDecompressor(dict_data=d)

    def run():
        for f in frames:
            dec.decompress(f)
    _run(benchmark, run)


def test_zlib_compress(benchmark):
    benchmark.name = "zlib-6 compress"

    def run():
        for x in STANZAS:
            zlib.compress(x, 6)
    _run(benchmark, run)


def test_zlib_decompress(benchmark):
    benchmark.name = "zlib-6 decompress"
    frames = [zlib.compress(x, 6) for x in STANZAS]

    def run():
        for f in frames:
            zlib.decompress(f)
    _run(benchmark, run)
