"""The C encoder's copy search (spec 8.11) stays linear on crafted input.

A copy candidate is a window anchor whose 4-byte key equals the searched one,
and at most 16 (COPY_CANDIDATES) are examined. The C encoder finds them through
an index; entries of that index with another key (hash collisions) must not be
walked over, or a literal made of many distinct keys of one hash bucket makes
the search quadratic (each anchor walks past every earlier colliding one).

Checked with the encoder's chain-step counter (xb_encoder_copy_steps, no
timing): on literals built from many distinct keys that all share one bucket of
the index's original hash (the multiplicative hash below, 14 bits), and on a
copy-rich one, the chain entries visited per literal byte stay bounded, and the
output is the reference's, byte for byte.
"""
from __future__ import annotations

import random

import pytest
from conftest import require, with_backend

import xmppbin
from xmppbin.limits import Limits

_c = require("_xmppbin_c")
_cenc = require("_cencoder")
ffi, lib = _c.ffi, _c.lib

MULT = 2654435761  # the index hash of the C encoder before this test: (key * MULT mod 2**32) >> 18
BITS = 14
# bytes of a key: the first three anything printable but markup; the last one no
# ASCII letter or digit, so the next key starts at an anchor (8.11)
FIRST = [b for b in range(0x21, 0x7F) if b not in b"<>&"]
LAST = [b for b in FIRST if not chr(b).isalnum()]


def colliding_keys(bucket: int) -> list[bytes]:
    """Every 4-byte key (little-endian load) of FIRST^3 x LAST whose hash is `bucket`."""
    inv = pow(MULT, -1, 1 << 32)
    first, last = set(FIRST), set(LAST)
    keys = []
    for v in range(bucket << (32 - BITS), (bucket + 1) << (32 - BITS)):
        k = (v * inv) & 0xFFFFFFFF
        b = k.to_bytes(4, "little")
        if b[0] in first and b[1] in first and b[2] in first and b[3] in last:
            keys.append(b)
    return keys


def encode_counted(xml: bytes) -> tuple[bytes, int]:
    """(C encoding of xml, chain steps its copy search took) with a fresh encoder."""
    enc = ffi.gc(lib.xb_encoder_new(), lib.xb_encoder_free)
    o = _cenc._options(Limits(), {}, False, False, None)[0]
    res = ffi.new("xb_encode_result *")
    assert lib.xb_encode(enc, xml, len(xml), o, res) == 0, ffi.string(res.message)
    return ffi.unpack(res.data, res.size), lib.xb_encoder_copy_steps(enc)


def reference(xml: bytes) -> bytes:
    return with_backend("python", lambda: xmppbin.encode(xml))


def _escape(b: bytes) -> bytes:
    return b.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


def test_colliding_keys_exist():
    keys = colliding_keys(1234)
    assert len(keys) > 1000
    assert all(((int.from_bytes(k, "little") * MULT) & 0xFFFFFFFF) >> (32 - BITS) == 1234 for k in keys)


@pytest.mark.parametrize("bucket, repeat", [(1234, 1), (77, 3)])
def test_colliding_literal_is_searched_in_linear_work(bucket, repeat):
    keys = colliding_keys(bucket)
    rnd = random.Random(bucket)
    body = b""
    for _ in range(repeat):  # repeats give equal keys too (real candidates)
        rnd.shuffle(keys)
        body += b"".join(keys)
    xml = b"<message><body>" + _escape(body) + b"</body></message>"
    out, steps = encode_counted(xml)
    assert out == reference(xml)
    assert xmppbin.decode(out).decode() == xml.decode()
    # at most COPY_CANDIDATES (16) equal keys and 3 not coded yet per anchor,
    # and fewer anchors than bytes: 19 per byte bounds it; the quadratic walk
    # took about len(keys) / 2 per anchor
    assert steps <= 19 * len(body), (steps, len(body))


def test_copy_rich_literal_is_bounded_and_exact():
    rnd = random.Random(5)
    words = [bytes(rnd.choice(b"abcdefgh") for _ in range(rnd.randint(2, 7))) for _ in range(300)]
    body = b" ".join(rnd.choice(words) for _ in range(3000))
    xml = b"<message><body>" + body + b"</body></message>"
    out, steps = encode_counted(xml)
    assert out == reference(xml)
    assert 0 < steps <= 19 * len(body)


def test_key_table_growth_and_reuse_across_messages():
    """More distinct keys than the key table's first 16,384 slots hold at half
    load (it grows), then messages on the same encoder: anchors of earlier
    messages are never candidates, keys of the message are all found again."""
    rnd = random.Random(11)
    alpha = [bytes([b]) for b in FIRST]
    keys = list({b"".join(rnd.choice(alpha) for _ in range(3)) + bytes([rnd.choice(LAST)]) for _ in range(24000)})
    rnd.shuffle(keys)
    big = _escape(b"".join(keys))
    again = _escape(b"".join(keys[::997]) * 2)  # the keys again: copies within this message only
    msgs = [b"<message><body>" + big + b"</body></message>",
            b"<message><body>" + again + b"</body></message>",
            b"<message><body>" + big[: len(big) // 2] + b"</body><subject>" + big[len(big) // 3:]
            + b"</subject></message>"]
    enc = ffi.gc(lib.xb_encoder_new(), lib.xb_encoder_free)
    o = _cenc._options(Limits(), {}, False, False, None)[0]
    res = ffi.new("xb_encode_result *")
    before = 0
    for xml in msgs:
        assert lib.xb_encode(enc, xml, len(xml), o, res) == 0, ffi.string(res.message)
        out = ffi.unpack(res.data, res.size)
        assert out == reference(xml)
        steps = lib.xb_encoder_copy_steps(enc) - before
        before += steps
        assert steps <= 19 * len(xml), (steps, len(xml))
