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
