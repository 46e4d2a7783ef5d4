"""Speed of xmppbin over the whole XEP example corpus, with baselines in the same run.

    python -m pytest benchmarks -p no:cacheprovider --benchmark-only

One benchmark round is one pass over every record of the corpus (records that
xmppbin rejects as restricted XML, i.e. the ones with comments, are left out for
every method so all methods see the same set). extra_info holds `stanzas`
(records in the pass) and `xml_bytes` (their XML size): stanzas/s = stanzas /
mean, MB/s = xml_bytes / mean / 1e6; both are also stored as `stanzas_per_s`
and `MB_per_s` and printed in a summary after the benchmark table.

The corpus is <repo>/../shared/corpus/xep-examples.jsonl, or the directory or
file named by $XMPPBIN_CORPUS; without it the module is skipped.
"""
from __future__ import annotations

import os

import _corpus as C
import pytest

CORPUS = C.corpus_file(os.environ.get(C.CORPUS_ENV) or None)
if not CORPUS.is_file():
    pytest.skip(f"benchmark corpus not found at {CORPUS} (set ${C.CORPUS_ENV} to the corpus directory "
                f"or to {C.CORPUS_FILE})", allow_module_level=True)

import zstandard  # noqa: E402
from lxml import etree  # noqa: E402

import xmppbin  # noqa: E402

ROUNDS = int(os.environ.get("XMPPBIN_BENCH_ROUNDS", "3"))
GROUP = "corpus pass"


class Corpus:
    """Everything each benchmark needs, prepared outside the timed code."""

    def __init__(self, path):
        records = C.load_records(path, dict(xmppbin.DEFAULT_CONTEXT))
        codecs = {}

        def codec(rec, exact):
            key = (rec.context_key, exact)
            if key not in codecs:
                codecs[key] = xmppbin.Codec(exact=exact, context=rec.context)
            return codecs[key]

        self.records, self.rejected = [], 0
        self.encoded, self.encoded_exact = [], []
        for rec in records:
            try:
                enc = codec(rec, False).encode(rec.xml, open_root=rec.open_root)
            except xmppbin.RestrictedXMLError:
                self.rejected += 1
                continue
            self.records.append(rec)
            self.encoded.append(enc)
            self.encoded_exact.append(codec(rec, True).encode(rec.xml, open_root=rec.open_root))
        self.default_jobs = [(codec(r, False), r.xml, r.open_root) for r in self.records]
        self.exact_jobs = [(codec(r, True), r.xml, r.open_root) for r in self.records]
        self.default_codecs = [codec(r, False) for r in self.records]
        self.exact_codecs = [codec(r, True) for r in self.records]
        self.xml = [r.xml for r in self.records]
        self.count = len(self.records)
        self.xml_bytes = sum(map(len, self.xml))

        # lxml: records that use prefixes of the stream header, and stream headers
        # (left open), are parsed inside a wrapper declaring the context; the rest as is.
        self.lxml_jobs = []
        for r in self.records:
            if r.assumed_prefixes or r.open_root:
                self.lxml_jobs.append((C.wrap(r.xml, r.context, r.open_root), True))
            else:
                self.lxml_jobs.append((r.xml, False))
        self.lxml_wrapped = sum(1 for _, w in self.lxml_jobs if w)

        # zstd-19 with a 16 KiB dictionary trained on the training split (XEP % 5 != 0)
        zdict = C.train_zstd_dict([r.xml for r in records if not r.heldout])
        self.zc = zstandard.ZstdCompressor(level=C.ZSTD_LEVEL, dict_data=zdict)
        self.zd = zstandard.ZstdDecompressor(dict_data=zdict)
        self.zstd_frames = [self.zc.compress(x) for x in self.xml]

    def info(self, **extra):
        return {"stanzas": self.count, "xml_bytes": self.xml_bytes, "rejected_restricted": self.rejected, **extra}


@pytest.fixture(scope="module")
def corpus():
    return Corpus(CORPUS)


def run(benchmark, record_throughput, corpus, name, fn, **extra):
    benchmark.group = GROUP
    benchmark.extra_info.update(corpus.info(**extra))
    result = benchmark.pedantic(fn, rounds=ROUNDS, iterations=1)
    record_throughput(name)
    return result


def test_xmppbin_encode_default(benchmark, record_throughput, corpus):
    jobs = corpus.default_jobs

    def encode_all():
        return [c.encode(x, open_root=o) for c, x, o in jobs]

    out = run(benchmark, record_throughput, corpus, "xmppbin encode (default)", encode_all,
              output_bytes=sum(map(len, corpus.encoded)))
    assert out == corpus.encoded


def test_xmppbin_encode_exact(benchmark, record_throughput, corpus):
    jobs = corpus.exact_jobs

    def encode_all():
        return [c.encode(x, open_root=o) for c, x, o in jobs]

    out = run(benchmark, record_throughput, corpus, "xmppbin encode (exact)", encode_all,
              output_bytes=sum(map(len, corpus.encoded_exact)))
    assert out == corpus.encoded_exact


def test_xmppbin_decode_default(benchmark, record_throughput, corpus):
    pairs = list(zip(corpus.default_codecs, corpus.encoded))

    def decode_all():
        return [c.decode(d) for c, d in pairs]

    out = run(benchmark, record_throughput, corpus, "xmppbin decode (default)", decode_all,
              input_bytes=sum(map(len, corpus.encoded)))
    assert len(out) == corpus.count


def test_xmppbin_decode_exact(benchmark, record_throughput, corpus):
    pairs = list(zip(corpus.exact_codecs, corpus.encoded_exact))

    def decode_all():
        return [c.decode(d) for c, d in pairs]

    out = run(benchmark, record_throughput, corpus, "xmppbin decode (exact)", decode_all,
              input_bytes=sum(map(len, corpus.encoded_exact)))
    assert out == corpus.xml


def test_lxml_parse_serialize(benchmark, record_throughput, corpus):
    """Baseline: etree.fromstring + etree.tostring of the same records."""
    jobs = corpus.lxml_jobs
    fromstring, tostring = etree.fromstring, etree.tostring

    def roundtrip_all():
        out = []
        for data, wrapped in jobs:
            root = fromstring(data)
            out.append(tostring(root[0] if wrapped else root))
        return out

    out = run(benchmark, record_throughput, corpus, "lxml fromstring+tostring", roundtrip_all,
              wrapped_records=corpus.lxml_wrapped)
    assert len(out) == corpus.count


def test_zstd19_dict_compress(benchmark, record_throughput, corpus):
    """Baseline: zstd level 19 with a 16 KiB dictionary, one frame per record."""
    compress, xml = corpus.zc.compress, corpus.xml

    def compress_all():
        return [compress(x) for x in xml]

    out = run(benchmark, record_throughput, corpus, "zstd-19+dict compress", compress_all,
              output_bytes=sum(map(len, corpus.zstd_frames)))
    assert out == corpus.zstd_frames


def test_zstd19_dict_decompress(benchmark, record_throughput, corpus):
    decompress, frames = corpus.zd.decompress, corpus.zstd_frames

    def decompress_all():
        return [decompress(f) for f in frames]

    out = run(benchmark, record_throughput, corpus, "zstd-19+dict decompress", decompress_all,
              input_bytes=sum(map(len, frames)))
    assert out == corpus.xml
