#!/usr/bin/env python3
"""atheris target: the C backend and the pure-Python reference agree on every input.

Input: one options byte, then the payload. Bit 7 of the options byte chooses the
direction:
- decode: C and Python give the same XML, or the same error class and offset;
- encode: C and Python give the same bytes (default and exact mode), or the same
  error class and offset; and, for the restricted subset, the encoder accepts
  exactly what lxml accepts (inputs with a DTD, a non-UTF-8 encoding declaration
  or an invalid namespace URI excepted: see spec section 4).
With bit 7 clear and bit 6 set, stream mode: the payload is the body of an
ELEMENT frame after the OPEN frame and the first k = bits 2..4 element frames of
a recorded stream (exact mode if bit 5), and the C and Python StreamDecoders give
the same units or the same error class and offset.
Run it through fuzz/run.py.
"""
from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports():
    import xmppbin
    from xmppbin import _cdecoder, _cencoder, decoder, encoder
    from xmppbin import stream as xstream
    from xmppbin.dictionary import get_dictionary
    from xmppbin.limits import Limits

from lxml import etree

D = get_dictionary(1)
SMALL = Limits(max_size=2048, max_depth=4, max_attributes=3, max_string=24, max_elements=6)
DEFAULT = Limits()
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
# Not compared with lxml: DTDs, encoding declarations, and a version that is
# not XML 1.0's VersionNum ('1.' [0-9]+, section 2.8): libxml2 takes "1." too
_SKIP = re.compile(rb"<!DOCTYPE|encoding\s*=|version\s*=\s*(['\"])1\.\1")


def outcome(fn):
    try:
        return ("ok", fn())
    except xmppbin.XmppbinError as e:
        return (type(e).__name__, e.offset, getattr(e, "limit", None))


def check_decode(data: bytes, limits: Limits, allow: bool) -> None:
    kw = dict(limits=limits, context=xmppbin.DEFAULT_CONTEXT, allow_comments=allow)
    c = outcome(lambda: _cdecoder.decode(data, **kw))
    p = outcome(lambda: decoder.decode(data, **kw))
    if c != p:
        raise AssertionError(f"decode differs: C {c!r} Python {p!r}")


def check_encode(xml: bytes, limits: Limits, allow: bool) -> None:
    for exact in (False, True):
        kw = dict(exact=exact, limits=limits, context={}, allow_comments=allow, open_root=False)
        c = outcome(lambda: _cencoder.encode(xml, D, **kw))
        p = outcome(lambda: encoder.encode(xml, D, **kw))
        if c != p:
            raise AssertionError(f"encode (exact={exact}) differs: C {c!r} Python {p!r}")
    if limits is not DEFAULT or not allow or _SKIP.search(xml):
        return
    try:
        etree.fromstring(xml, PARSER)
        # libxml2 reports some namespace errors (an undefined prefix deep in a
        # document) in the error log and still returns a tree: those are rejections
        errors = [e for e in PARSER.error_log if e.level >= etree.ErrorLevels.ERROR]
        if any("is not a valid URI" in e.message for e in errors):
            return
        lx = not errors
    except etree.XMLSyntaxError as e:
        if "is not a valid URI" in str(e):
            return
        lx = False
    ours = c[0] == "ok"
    if lx != ours:
        raise AssertionError(f"lxml {'accepts' if lx else 'rejects'}, xmppbin {c!r}")


def stream_prefixes() -> dict:
    """exact -> the frames of one recorded c2s stream (tests/data/capture-session.jsonl)."""
    import base64
    import json
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data",
                        "capture-session.jsonl")
    with open(path, encoding="utf-8") as f:
        next(f)
        recs = [json.loads(line) for line in f]
    key = min((r["conn"], r["dir"]) for r in recs)
    chunks = [r["data"].encode() if "data" in r else base64.b64decode(r["data_b64"])
              for r in recs if (r["conn"], r["dir"]) == key]
    out = {}
    for exact in (False, True):
        xmppbin._use_backend("python")
        data = xstream.encode_stream(chunks, exact=exact)
        frames, pos = [], 0
        while pos < len(data):
            v, p = xstream.get_varint(data, pos, xstream.MAX_FRAME_HEADER)
            kind, n = xstream.frame_header(v)
            frames.append((kind, data[pos : p + n]))
            pos = p + n
        out[exact] = [fr for kind, fr in frames if kind in (xstream.FRAME_OPEN, xstream.FRAME_ELEMENT)]
    return out


STREAM_PREFIX = stream_prefixes()


def check_stream(body: bytes, f: int) -> None:
    frames = STREAM_PREFIX[bool(f & 0x20)]
    data = b"".join(frames[: 1 + ((f >> 2) & 7)]) + xstream.frame(xstream.FRAME_ELEMENT, body)
    outs = []
    for name in ("c", "python"):
        xmppbin._use_backend(name)
        dec = xstream.StreamDecoder()
        outs.append(outcome(lambda: (dec.feed(data), dec.close())[0]))
    if outs[0] != outs[1]:
        raise AssertionError(f"stream decode differs: C {outs[0]!r} Python {outs[1]!r}")


def test_one(buf: bytes) -> None:
    if not buf:
        return
    f = buf[0]
    limits = SMALL if f & 1 else DEFAULT
    allow = bool(f & 2)
    if f & 0x80:
        check_encode(buf[1:], limits, allow)
    elif f & 0x40:
        check_stream(buf[1:], f)
    else:
        check_decode(buf[1:], limits, allow)


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
