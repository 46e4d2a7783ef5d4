"""Shared helpers for the benchmarks: corpus loading, the train/held-out split,
per-record namespace context, an lxml-based infoset for round-trip checks, and
the dictionaries of the baseline compressors.

Not a test module; imported by size_report.py and test_bench_codec.py.
"""
from __future__ import annotations

import heapq
import json
import os
import re
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: <repo>/../shared/corpus
DEFAULT_CORPUS_DIR = REPO.parent / "shared" / "corpus"
CORPUS_FILE = "xep-examples.jsonl"
#: environment variable that overrides the corpus location for the pytest benchmarks
CORPUS_ENV = "XMPPBIN_CORPUS"

ZSTD_LEVEL = 19
ZSTD_DICT_SIZE = 16 * 1024
DEFLATE_DICT_SIZE = 32 * 1024

_DEFAULT_CONTEXT = {"": "jabber:client", "stream": "http://etherx.jabber.org/streams"}


def corpus_file(path: str | os.PathLike | None = None) -> Path:
    """The JSONL file for a corpus directory or file (default: <repo>/../shared/corpus)."""
    p = Path(path) if path is not None else DEFAULT_CORPUS_DIR
    return p / CORPUS_FILE if p.is_dir() else p


@dataclass
class Record:
    xep: str
    kind: str  # "stanza", "other-element", "stream-header"
    example: int
    n: int
    assumed_prefixes: dict
    xml: bytes
    context: dict = field(default_factory=dict)

    @property
    def heldout(self) -> bool:
        """Held-out split: XEP number divisible by 5 (never seen by any dictionary)."""
        return int(self.xep) % 5 == 0

    @property
    def open_root(self) -> bool | None:
        return True if self.kind == "stream-header" else None

    @property
    def label(self) -> str:
        return f"XEP-{self.xep} ex.{self.example}.{self.n}"

    @property
    def context_key(self) -> tuple:
        return tuple(sorted(self.context.items()))


def load_records(path: str | os.PathLike | None = None, default_context: dict | None = None) -> list[Record]:
    base = dict(_DEFAULT_CONTEXT if default_context is None else default_context)
    out = []
    with open(corpus_file(path), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            prefixes = dict(r.get("assumed_prefixes") or {})
            ctx = dict(base)
            ctx.update(prefixes)
            out.append(Record(
                xep=r["xep"], kind=r["kind"], example=int(r.get("example", 0)), n=int(r.get("n", 0)),
                assumed_prefixes=prefixes, xml=r["xml"].encode("utf-8"), context=ctx,
            ))
    return out


# --------------------------------------------------------------------------- captures

#: the held-out generated capture (tools/traffic, seed 9001; see tests/data/README.md)
TRAFFIC_FIXTURE = REPO / "tests" / "data" / "traffic-seed9001.jsonl"
#: the short recorded session (tools/traffic/record_session.py)
SESSION_FIXTURE = REPO / "tests" / "data" / "capture-session.jsonl"


@dataclass
class CaptureRecord(Record):
    """A top-level element (or stream header) of a captured session. Never seen by any
    dictionary (they are built from XEP examples), so always held out."""

    source: str = ""

    @property
    def heldout(self) -> bool:
        return True

    @property
    def label(self) -> str:
        return f"{self.source} conn {self.example} #{self.n}"


def load_capture_records(path: str | os.PathLike = TRAFFIC_FIXTURE,
                         default_context: dict | None = None) -> list[CaptureRecord]:
    """Stream headers and top-level elements of a capture (JSONL of TCP reads), in the
    order they completed on the wire, as corpus records (tools/traffic/split.py)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tools.traffic import split

    base = dict(_DEFAULT_CONTEXT if default_context is None else default_context)
    _, chunks = split.read_capture(path)
    out = []
    for i, r in enumerate(split.corpus_records(chunks)):
        prefixes = dict(r["assumed_prefixes"])
        out.append(CaptureRecord(xep="capture", kind=r["kind"], example=r["conn"], n=i, assumed_prefixes=prefixes,
                                 xml=r["xml"].encode("utf-8"), context={**base, **prefixes},
                                 source=Path(path).name))
    return out


def capture_streams(path: str | os.PathLike) -> dict[tuple[int, str], list[bytes]]:
    """(connection, direction) -> that direction's TCP reads, in order."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tools.traffic import split

    _, chunks = split.read_capture(path)
    out: dict[tuple[int, str], list[bytes]] = {}
    for c in chunks:
        out.setdefault((c["conn"], c["dir"]), []).append(c["bytes"])
    return out


def stream_units(chunks: list[bytes]) -> list:
    """The units (xmppbin.stream.StreamEvent) of one direction's reads, by the reference splitter."""
    from xmppbin import stream

    sp = stream.XmlSplitter()
    out = []
    for c in chunks:
        out += sp.feed(c)
    sp.close()
    return out


# --------------------------------------------------------------------------- infoset

# one infoset oracle for tests and benchmarks: tests/infoset.py
sys.path.insert(0, str(REPO / "tests"))
from infoset import infoset, wrap  # noqa: E402,F401

# --------------------------------------------------------------------------- xmppbin sizes

class XmppbinSizer:
    """xmppbin default- and exact-mode sizes of corpus records, one message each, every
    output decoded again: default mode must give the input's infoset, exact mode its bytes.
    One Codec per (namespace context, mode), reused. Used by size_report.py and report.py."""

    def __init__(self) -> None:
        self.codecs: dict = {}

    def codec(self, rec: Record, exact: bool):
        import xmppbin

        key = (rec.context_key, exact)
        if key not in self.codecs:
            self.codecs[key] = xmppbin.Codec(exact=exact, context=rec.context)
        return self.codecs[key]

    def sizes(self, rec: Record) -> tuple[dict | None, list[str], str | None]:
        """({"default": bytes, "exact": bytes}, round-trip failures, None), or
        (None, [], the error) when xmppbin rejects the record as restricted XML."""
        import xmppbin

        try:
            default = self.codec(rec, False).encode(rec.xml, open_root=rec.open_root)
        except xmppbin.RestrictedXMLError as e:
            return None, [], f"{type(e).__name__}: {e}"
        out = {"default": len(default)}
        failures = []
        try:
            back = self.codec(rec, False).decode(default)
            if infoset(back, rec.context, rec.open_root) != infoset(rec.xml, rec.context, rec.open_root):
                failures.append(f"{rec.label}: default mode: decoded infoset differs from the input")
        except Exception as e:  # noqa: BLE001 - any failure to round-trip is reported
            failures.append(f"{rec.label}: default mode: {type(e).__name__}: {e}")
        try:
            exact = self.codec(rec, True).encode(rec.xml, open_root=rec.open_root)
            out["exact"] = len(exact)
            if self.codec(rec, True).decode(exact) != rec.xml:
                failures.append(f"{rec.label}: exact mode: decoded bytes differ from the input")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{rec.label}: exact mode: {type(e).__name__}: {e}")
            out["exact"] = 0
        return out, failures, None


# --------------------------------------------------------------------------- baseline dictionaries

def train_zstd_dict(samples: list[bytes], size: int = ZSTD_DICT_SIZE):
    """zstandard.train_dictionary(size, samples): deterministic for a given sample list."""
    import zstandard

    return zstandard.train_dictionary(size, samples)


def build_deflate_dict(samples: list[bytes], size: int = DEFLATE_DICT_SIZE, shingle: int = 8) -> bytes:
    """A preset dictionary for raw deflate from whole training records.

    Records are chosen greedily by coverage: each step takes the record whose
    not-yet-covered 8-byte shingles are most frequent across the training
    records (duplicates counted), per byte of record. The first chosen (most
    valuable) records are placed at the END, where deflate distances are
    shortest, and the result is cut to the last `size` bytes. This is the
    "most frequent/representative training records concatenated" recipe, done
    with a coverage criterion so that near-duplicate records do not fill it.
    Deterministic (ties broken by first occurrence).
    """
    counts = Counter(samples)
    distinct = list(dict.fromkeys(samples))  # first-occurrence order

    def shingles(x: bytes) -> set:
        return {x[i:i + shingle] for i in range(max(1, len(x) - shingle + 1))}

    sh = [shingles(x) for x in distinct]
    df: Counter = Counter()
    for s, x in zip(sh, distinct):
        c = counts[x]
        for g in s:
            df[g] += c

    covered: set = set()

    def gain(i: int) -> float:
        return sum(df[g] for g in sh[i] if g not in covered) / len(distinct[i])

    heap = [(-gain(i), i) for i in range(len(distinct))]
    heapq.heapify(heap)
    chosen: list[bytes] = []
    total = 0
    while heap and total < size:  # lazy greedy: gains only decrease as coverage grows
        neg, i = heapq.heappop(heap)
        g = gain(i)
        if heap and g < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-g, i))
            continue
        if g <= 0:
            break
        chosen.append(distinct[i])
        covered |= sh[i]
        total += len(distinct[i])
    return b"".join(reversed(chosen))[-size:]


def deflate_raw(data: bytes, zdict: bytes, level: int = 9) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=zdict)
    return c.compress(data) + c.flush()


def inflate_raw(data: bytes, zdict: bytes) -> bytes:
    d = zlib.decompressobj(-15, zdict=zdict)
    return d.decompress(data) + d.flush()


# --------------------------------------------------------------------------- message classes
#: the script of a chat body: its most frequent kind of letter (Unicode ranges, in order)
_SCRIPTS = (
    ("Cyrillic", 0x0400, 0x052F), ("Greek", 0x0370, 0x03FF), ("Hebrew", 0x0590, 0x05FF),
    ("Arabic", 0x0600, 0x06FF), ("Indic", 0x0900, 0x0DFF), ("Thai", 0x0E00, 0x0E7F),
    ("CJK", 0x3040, 0x9FFF), ("Hangul", 0xAC00, 0xD7AF), ("emoji", 0x1F000, 0x1FAFF),
)
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=\s]{1024,}")
_BODY = re.compile(r"<body\b[^>]*>(.*?)</body>", re.S)
_TOP = re.compile(rb"<([A-Za-z_][\w.:-]*)")
#: (class, byte strings any of which puts a message in it), tested in this order
_NS_CLASSES = (
    ("data form", (b"jabber:x:data",)),
    ("roster", (b"jabber:iq:roster",)),
    ("disco", (b"http://jabber.org/protocol/disco#",)),
)
_NS_CLASSES_AFTER_BODY = (
    ("pubsub / PEP", (b"http://jabber.org/protocol/pubsub",)),
    ("MUC", (b"http://jabber.org/protocol/muc",)),
)


def body_script(text: str) -> str:
    """The script most of a body's letters are in ('Latin' for ASCII and Latin letters)."""
    counts: Counter = Counter()
    for ch in text:
        o = ord(ch)
        if o < 0x250:
            if ch.isalpha():
                counts["Latin"] += 1
            continue
        for name, lo, hi in _SCRIPTS:
            if lo <= o <= hi:
                counts[name] += 1
                break
    return counts.most_common(1)[0][0] if counts else "Latin"


def message_class(xml: bytes) -> str:
    """One class per message, for the report's per-class sizes (issue 11: chat bodies per
    script, payloads, disco, forms, rosters): the first that applies of a base64 run of
    1 KiB or more (an avatar, a file), a data form, a roster, disco, a
    message with a body (chat or groupchat, by the body's script), pubsub/PEP, MUC; else
    the top element's name."""
    if _BASE64_RUN.search(xml):
        return "payload (base64)"
    for name, needles in _NS_CLASSES:
        if any(n in xml for n in needles):
            return name
    top = _TOP.search(xml)
    el = top.group(1).decode("ascii", "replace") if top else "?"
    if el.endswith("message"):
        m = _BODY.search(xml.decode("utf-8", "replace"))
        if m:
            return f"chat ({body_script(m.group(1))})"
    for name, needles in _NS_CLASSES_AFTER_BODY:
        if any(n in xml for n in needles):
            return name
    if el in ("iq", "presence", "message"):
        return el
    return "stream:stream" if el == "stream:stream" else "other"
