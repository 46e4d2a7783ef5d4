"""Stream mode from asyncio: a real TCP connection on 127.0.0.1 carries the
frames of a recorded session; the receiving side decodes them with
stream.read_events as they arrive, in whatever pieces TCP delivers."""
from __future__ import annotations

import asyncio
import random

import pytest
from conftest import BACKENDS
from test_stream import STREAMS

import xmppbin
from xmppbin import stream

SINGLE_BACKEND = True  # the transport is what is tested here, not the codec


async def relay(chunks: list[bytes], exact: bool, seed: int) -> tuple[bytes, list[str]]:
    received: list[bytes] = []
    kinds: list[str] = []
    done = asyncio.Event()

    async def serve(reader, writer):
        async for ev in stream.read_events(reader, chunk=97):
            received.append(ev.xml)
            kinds.append(ev.kind)
        writer.close()
        done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        enc = stream.StreamEncoder(exact=exact)
        rnd = random.Random(seed)
        for c in chunks:  # the recorded TCP reads of the XML side
            frames = enc.feed(c)
            while frames:  # sent in random pieces
                n = rnd.randint(1, 64)
                writer.write(frames[:n])
                frames = frames[n:]
                await writer.drain()
        writer.write(enc.flush())
        writer.write_eof()
        await asyncio.wait_for(done.wait(), 30)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    return b"".join(received), kinds


@pytest.mark.parametrize("key", sorted(STREAMS)[:4], ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_session_over_a_real_socket(key):
    chunks = STREAMS[key]
    out, kinds = asyncio.run(relay(chunks, True, 2 * key[0] + (key[1] == "s2c")))
    assert out == b"".join(chunks)
    assert kinds[0] == "open" and "element" in kinds


def test_truncated_socket_stream_raises():
    async def run():
        frames = stream.encode_stream([(b"<stream:stream xmlns='jabber:client' "
                                        b"xmlns:stream='http://etherx.jabber.org/streams'>"
                                        b"<message><body>hi</body></message>")])
        reader = asyncio.StreamReader()
        reader.feed_data(frames[:-1])
        reader.feed_eof()
        return [ev async for ev in stream.read_events(reader)]

    with pytest.raises(xmppbin.TruncatedError):
        asyncio.run(run())


class _Reader:
    """An asyncio-reader stand-in that returns fixed pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)

    async def read(self, n: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_events_yields_the_events_before_an_error(backend):
    previous = xmppbin.backend
    xmppbin._use_backend(backend)
    try:
        enc = stream.StreamEncoder(exact=True)
        raw = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
               b"<presence/><message><body>x</body></message>")
        frames = enc.feed(raw) + b"\x06\xff\xff\xff"  # an element frame that does not decode

        async def collect():
            got = []
            with pytest.raises(xmppbin.DecodeError) as ei:
                async for ev in stream.read_events(_Reader([frames])):
                    got.append(ev)
            return got, ei.value

        got, err = asyncio.run(collect())
        assert b"".join(ev.xml for ev in got) == raw and err.events == []
        assert err.offset >= len(frames) - 4
    finally:
        xmppbin._use_backend(previous)
