"""Stream mode, C core vs reference: byte-identical frames and identical
decoding (or identical errors) on the committed real session."""
from __future__ import annotations

import random

import pytest

import xmppbin
from xmppbin import stream
from xmppbin.errors import XmppbinError

from test_stream import STREAMS

SINGLE_BACKEND = True  # both backends are used explicitly

pytest.importorskip("xmppbin._xmppbin_c")

KEYS = sorted(STREAMS)
TABLE_SIZES = (stream.DEFAULT_TABLE_SIZE, 0, 64, 4096)


def _with_backend(name, fn):
    previous = xmppbin.backend
    xmppbin._use_backend(name)
    try:
        return fn()
    finally:
        xmppbin._use_backend(previous)


def encode(name, chunks, **kw) -> bytes:
    def run():
        enc = stream.StreamEncoder(**kw)
        assert (enc._c is not None) == (name == "c")
        return b"".join(enc.feed(c) for c in chunks) + enc.flush()

    return _with_backend(name, run)


def decode(name, frames: bytes):
    """("ok", events) or (exception class, offset, limit)."""

    def run():
        dec = stream.StreamDecoder()
        assert (dec._c is not None) == (name == "c")
        try:
            evs = dec.feed(frames)
            dec.close()
        except XmppbinError as e:
            return (type(e), e.offset, getattr(e, "limit", None))
        return ("ok", evs)

    return _with_backend(name, run)


@pytest.mark.parametrize("table_size", TABLE_SIZES)
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_capture_frames_identical(key, exact, table_size):
    chunks = STREAMS[key]
    py = encode("python", chunks, exact=exact, table_size=table_size)
    c = encode("c", chunks, exact=exact, table_size=table_size)
    assert c == py
    assert decode("c", c) == decode("python", py)
    if exact:
        assert b"".join(ev.xml for ev in decode("c", c)[1]) == b"".join(chunks)


def _frames(exact: bool) -> list[bytes]:
    return [encode("python", STREAMS[k], exact=exact) for k in KEYS]


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_corrupted_frames_same_errors(exact):
    rnd = random.Random(0x5EED + exact)
    frames = _frames(exact)
    for _ in range(150):
        data = bytearray(rnd.choice(frames))
        how = rnd.randrange(4)
        if how == 0:
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(len(data))
                data[i] ^= 1 << rnd.randrange(8)
        elif how == 1:
            del data[rnd.randrange(len(data)) :]
        elif how == 2:
            i = rnd.randrange(len(data))
            data[i] = rnd.randrange(256)
        else:
            i = rnd.randrange(len(data))
            del data[i : i + rnd.randint(1, 4)]
        assert decode("c", bytes(data)) == decode("python", bytes(data))


def _split_frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(data):
        v, p = stream.get_varint(data, pos, stream.MAX_FRAME_HEADER)
        kind, n = stream.frame_header(v)
        out.append((kind, data[p : p + n]))
        pos = p + n
    return out


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_corrupted_message_bodies_same_errors(exact):
    """Corruptions inside OPEN and ELEMENT payloads, framing kept valid: the
    message decoders themselves must agree (error class, offset, limit, or output)."""
    rnd = random.Random(0xB0D1 + exact)
    streams = [_split_frames(f) for f in _frames(exact)]
    outcomes = {"ok": 0, "error": 0}
    for _ in range(200):
        frames = list(rnd.choice(streams))
        coded = [i for i, (k, p) in enumerate(frames) if k in (stream.FRAME_ELEMENT, stream.FRAME_OPEN) and p]
        i = rnd.choice(coded)
        kind, payload = frames[i]
        body = bytearray(payload)
        lo = 0
        if kind == stream.FRAME_OPEN:  # keep the budget and the message header
            lo = len(stream.put_varint(stream.get_varint(payload, 0, 3)[0])) + 2
            if len(body) <= lo:
                continue
        how = rnd.randrange(3)
        j = rnd.randrange(lo, len(body))
        if how == 0:
            body[j] ^= 1 << rnd.randrange(8)
        elif how == 1:
            del body[j:]
        else:
            body[j] = rnd.randrange(256)
        frames[i] = (kind, bytes(body))
        data = b"".join(stream.frame(k, p) for k, p in frames[: i + 1 + rnd.randrange(3)])
        c, py = decode("c", data), decode("python", data)
        assert c == py
        outcomes["ok" if c[0] == "ok" else "error"] += 1
    assert outcomes["error"] > 50


class _NoHit(list):
    """A shape cache in which the reference encoder never finds a shape: it codes
    repeated shapes with SHAPE or GENERIC again, so the cache holds equal shapes
    in several entries (valid, if not what an encoder would send)."""

    def index(self, *args):
        raise ValueError


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_equal_shapes_in_several_cache_entries(exact):
    """Spec 14.3: every cache entry has its own serial and slots, also when two
    hold the same shape; evicting one of them must not disturb the other."""
    mixed = [b"<presence/>", b"<message to='a@b'><body>hi</body></message>", b"<foo xmlns='x:y'><bar/></foo>",
             b"<presence/>", b"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"]
    # a cache full of one shape, then another shape evicting its copies one by one
    units = [b"<presence/>"] * 40 + [b"<foo xmlns='x:y'/>"] * 40 + [mixed[i * 7 % len(mixed)] for i in range(60)]

    def run():
        enc = stream.StreamEncoder(exact=exact)
        head = enc.open(stream_header())
        enc._s.state.cache = _NoHit(enc._s.state.cache)
        return head + b"".join(enc.element(u) for u in units)

    frames = _with_backend("python", run)
    c, py = decode("c", frames), decode("python", frames)
    assert c == py
    assert c[0] == "ok" and [ev.xml for ev in c[1][1:]] == units


def stream_header() -> bytes:
    from test_stream import HEADER

    return HEADER
