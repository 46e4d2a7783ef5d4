"""xmppbin-link under faults, without Prosody: the gateway in front of a small
stand-in XMPP server on 127.0.0.1 that answers a stream header with its own and
echoes every element. Each fault hits one connection: that one closes with a
stream error (or a log line when its peer is gone), a second connection keeps
working, and nothing leaks (connections, tasks and file descriptors counted
before and after)."""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import socket
import ssl
import subprocess
import sys

import pytest
from conftest import BACKENDS, with_backend

import xmppbin
from xmppbin import errors as E
from xmppbin import link as L
from xmppbin.stream import SECRET_ELEMENTS, StreamDecoder, StreamEncoder, StreamEvent, XmlSplitter

SINGLE_BACKEND = True  # the link is tested here; the coders are tested by the stream tests

CLIENT_HEADER = (b"<stream:stream to='localhost' xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
SERVER_HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>")
STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"


def _splitter():
    try:
        from xmppbin._cstream import CXmlSplitter
    except ImportError:
        return XmlSplitter()
    return CXmlSplitter(make=StreamEvent)


class EchoServer:
    """Answers a stream header with SERVER_HEADER, echoes every element and
    whitespace, answers </stream:stream> with its own and closes."""

    def __init__(self) -> None:
        self.received: list[bytes] = []  # XML per connection, in order of accept
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None
        self.sockbuf = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader, writer) -> None:
        k = len(self.received)
        self.received.append(b"")
        self.writers.append(writer)
        sp = _splitter()
        if self.sockbuf:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sockbuf)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.sockbuf)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self.received[k] += data
                for ev in sp.feed(data):
                    if ev.kind == "open":
                        writer.write(SERVER_HEADER)
                    elif ev.kind in ("element", "text"):
                        writer.write(ev.xml)
                    elif ev.kind == "close":
                        writer.write(b"</stream:stream>")
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await self.server.wait_closed()


class BinClient:
    """A client speaking frames to the gateway."""

    def __init__(self, reader, writer) -> None:
        self.r, self.w = reader, writer
        self.enc = StreamEncoder(exact=True)
        self.dec = StreamDecoder()
        self.events: list = []

    @classmethod
    async def connect(cls, port: int, **kw) -> BinClient:
        c = cls(*await asyncio.open_connection("127.0.0.1", port, **kw))
        c.send(CLIENT_HEADER)
        assert (await c.next_event()).xml == SERVER_HEADER
        return c

    def send(self, xml: bytes) -> None:
        self.w.write(self.enc.feed(xml))

    async def next_event(self, timeout: float = 5):
        while not self.events:
            data = await asyncio.wait_for(self.r.read(65536), timeout)
            if not data:
                self.dec.close()
                raise EOFError
            self.events += self.dec.feed(data)
        return self.events.pop(0)

    async def rest(self, timeout: float = 5) -> bytes:
        """All XML until the gateway closes the connection."""
        out = b"".join(ev.xml for ev in self.events)
        self.events = []
        while True:
            data = await asyncio.wait_for(self.r.read(65536), timeout)
            if not data:
                return out
            out += b"".join(ev.xml for ev in self.dec.feed(data))

    async def echo(self, xml: bytes) -> None:
        self.send(xml)
        assert (await self.next_event()).xml == xml

    async def close(self) -> None:
        self.w.close()
        try:
            await self.w.wait_closed()
        except (ConnectionError, OSError):
            pass


def _fds() -> int:
    """Open file descriptors of this process (garbage of earlier tests collected first)."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


async def _setup(**opts):
    srv = EchoServer()
    sport = await srv.start()
    gw = L.Link("127.0.0.1", sport, options=L.LinkOptions(**opts))
    port = await gw.start()
    return srv, gw, port


async def _teardown(srv, gw, base_tasks: int, base_fds: int) -> None:
    await gw.close()
    await srv.close()
    await asyncio.sleep(0.05)
    assert gw.conns == {}
    assert len(asyncio.all_tasks()) == base_tasks
    assert _fds() == base_fds


async def _quiet(gw, n: int) -> None:
    """Wait until the gateway has finished n connections."""
    for _ in range(200):
        if len(gw.finished) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(gw.finished)} of {n} connections finished")


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


STANZAS = [
    b"<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    b"<message to='juliet@localhost' type='chat' id='m1'><body>Tom &amp; Jerry \xf0\x9f\x8c\xb9</body></message>",
    b"<presence><show>away</show></presence>",
    b"<r xmlns='urn:xmpp:sm:3'/>",
]


def test_echo_session_counts_and_clean_close(caplog):
    caplog.set_level(logging.INFO, logger="xmppbin.link")

    async def run():
        base_tasks, base_fds = len(asyncio.all_tasks()), _fds()
        srv, gw, port = await _setup()
        c = await BinClient.connect(port)
        for s in STANZAS:
            await c.echo(s)
        c.send(b"\n ")  # whitespace: a unit once the next one starts
        c.send(STANZAS[0])
        assert [(await c.next_event()) for _ in range(2)] == [("text", b"\n "), ("element", STANZAS[0])]
        c.send(b"</stream:stream>")
        assert await c.rest() == b"</stream:stream>"
        await c.close()
        await _quiet(gw, 1)
        st = gw.finished[0]
        sent = CLIENT_HEADER + b"".join(STANZAS) + b"\n " + STANZAS[0] + b"</stream:stream>"
        assert srv.received == [sent]  # byte for byte
        assert st.xml_out == len(sent) and st.xml_in == len(SERVER_HEADER) + len(sent) - len(CLIENT_HEADER)
        assert 0 < st.bin_in < st.xml_out and 0 < st.bin_out < st.xml_in
        assert st.outcome == "stream closed"
        await _teardown(srv, gw, base_tasks, base_fds)
        return st

    st = _run(run())
    msgs = [r.getMessage() for r in caplog.records]
    assert any(f"binary in {st.bin_in} out {st.bin_out}, XML in {st.xml_in} out {st.xml_out}" in m for m in msgs)


def test_secrets_never_indexed_on_the_link():
    """The gateway's encoder (server to client) keeps SASL payloads out of its table:
    the frame of a later message quoting the secret does not depend on it."""
    assert ("urn:ietf:params:xml:ns:xmpp-sasl", "success") in SECRET_ELEMENTS

    async def frames_of(secret: bytes) -> list[int]:
        srv, gw, port = await _setup()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        enc = StreamEncoder(exact=True)
        w.write(enc.feed(CLIENT_HEADER))
        w.write(enc.feed(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + secret + b"</success>"))
        w.write(enc.feed(b"<message><body>dGhlIHNlY3JldCBpcyBzd29yZGZpc2g=</body></message>"))
        w.write(enc.feed(b"</stream:stream>"))
        data = b""
        while chunk := await r.read(65536):
            data += chunk
        w.close()
        await gw.close()
        await srv.close()
        # frame sizes: header varint and payload length of each frame
        sizes, pos = [], 0
        while pos < len(data):
            v, p = xmppbin.stream.get_varint(data, pos, 4)
            _kind, n = xmppbin.stream.frame_header(v)
            sizes.append(p + n - pos)
            pos = p + n
        return sizes

    same = _run(frames_of(b"dGhlIHNlY3JldCBpcyBzd29yZGZpc2g="))
    other = _run(frames_of(b"c29tZXRoaW5nIGVsc2UgZW50aXJlbHk="))
    assert len(same) == len(other) == 4  # open, success, message, close
    assert same == other


async def _fault(make_fault, **opts):
    """One connection gets the fault, another one works before and after."""
    base_tasks, base_fds = len(asyncio.all_tasks()), _fds()
    srv, gw, port = await _setup(**opts)
    good = await BinClient.connect(port)
    await good.echo(STANZAS[0])
    result = await make_fault(srv, gw, port)
    await _quiet(gw, 1)
    assert len(gw.conns) == 1  # the faulty connection is gone, the good one stays
    for s in STANZAS:
        await good.echo(s)
    good.send(b"</stream:stream>")
    assert await good.rest() == b"</stream:stream>"
    await good.close()
    await _quiet(gw, 2)
    assert gw.finished[1].outcome == "stream closed"
    await _teardown(srv, gw, base_tasks, base_fds)
    return gw.finished[0], srv, result


def _error(xml: bytes, condition: str) -> None:
    assert xml.startswith(b"<stream:error><" + condition.encode() + b" xmlns='" + STREAMS.encode() + b"'/><text")
    assert xml.endswith(b"</stream:error></stream:stream>")


def test_client_drops_mid_frame(caplog):
    async def fault(srv, gw, port):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        enc = StreamEncoder(exact=True)
        w.write(enc.feed(CLIENT_HEADER))
        frames = enc.feed(STANZAS[1])
        w.write(frames[: len(frames) // 2])
        await w.drain()
        await asyncio.sleep(0.1)
        w.close()

    st, srv, _ = _run(_fault(fault))
    assert "the client went away inside a frame" in st.outcome and "TruncatedError" in st.outcome
    # the server got the header and no stream end (the session may be resumed)
    assert srv.received[1] == CLIENT_HEADER


def test_corrupted_frame():
    async def fault(srv, gw, port):
        c = await BinClient.connect(port)
        await c.echo(STANZAS[2])
        c.w.write(b"\x06\xff\xff\xff")  # an element frame that does not decode
        got = await c.rest()
        await c.close()
        return got

    st, srv, got = _run(_fault(fault))
    _error(got, "not-well-formed")
    # the <text> names the decoder's error (which DecodeError depends on the code tables)
    decode_errors = [c.__name__.encode() for c in vars(E).values()
                     if isinstance(c, type) and issubclass(c, E.DecodeError)]
    assert any(b"<text" in got and name in got for name in decode_errors), got
    assert "bad frames from the client" in st.outcome
    assert srv.received[1] == CLIENT_HEADER + STANZAS[2] + L.stream_error(
        "undefined-condition", "xmppbin-link: the client's link failed") + b"</stream:stream>"


def test_frame_over_the_limit():
    async def fault(srv, gw, port):
        c = await BinClient.connect(port)
        ok = b"<message><body>" + b"a" * 900 + b"</body></message>"  # a frame under the limit
        await c.echo(ok)
        # letters in no order that copies (spec 8.11) could shorten: well over 1024 bytes coded
        rnd = random.Random(5)
        body = bytes(rnd.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(2400))
        big = c.enc.feed(b"<message><body>" + body + b"</body></message>")
        assert len(big) > 1027
        c.w.write(big[:3])  # the header alone is refused: the payload is never buffered
        got = await c.rest()
        await c.close()
        return got

    st, _srv, got = _run(_fault(fault, max_frame=1024))
    _error(got, "policy-violation")
    assert b"max_frame=1024" in got
    assert "DecodeLimitError" in st.outcome


def test_client_that_stops_reading_is_bounded():
    """A client that sends and never reads: what the server echoes piles up only to
    the gateway's bounds (its write buffer stops its reads from the server, and
    then its reads from the client), while another connection goes on."""
    chunk, buffer, sockbuf = 16384, 32768, 16384

    async def fault(srv, gw, port):
        srv.sockbuf = sockbuf
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sockbuf)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sockbuf)
        sock.connect(("127.0.0.1", port))
        r, w = await asyncio.open_connection(sock=sock)
        enc = StreamEncoder(exact=True)
        w.write(enc.feed(CLIENT_HEADER))
        rnd = random.Random(13)
        sent = peak = 0
        try:
            for i in range(3000):  # about 1 KB of frames each: they do not compress
                body = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(1000))
                w.write(enc.feed(b"<message to='x@localhost' id='%d'><body>%s</body></message>" % (i, body)))
                sent += 1
                await asyncio.wait_for(w.drain(), 0.5)
                if i % 20 == 0:
                    peak = max(peak, _held(gw))
        except asyncio.TimeoutError:
            pass  # the gateway stopped reading from us: backpressure all the way
        await asyncio.sleep(0.3)
        peak = max(peak, _held(gw))
        w.transport.abort()
        return peak, sent

    st, _srv, (peak, sent) = _run(_fault(fault, chunk=chunk, buffer=buffer, sockbuf=sockbuf))
    assert sent < 3000  # it stalled
    # per connection: two reader buffers (at most 2 * chunk each before asyncio pauses
    # reading, plus one read), two write buffers (buffer plus what one read makes)
    assert 0 < peak <= 2 * (3 * chunk) + 2 * (buffer + 4 * chunk)
    assert sent * 1000 > 2 * peak  # and more than that went in


def _held(gw) -> int:
    """Bytes held in the gateway's socket buffers, over its connections."""
    n = 0
    for c in gw.conns.values():
        for pair in (c.down, c.up):
            if pair is None:
                continue
            r, w = pair
            n += len(r._buffer) + w.transport.get_write_buffer_size()
    return n


def test_server_going_away():
    async def fault(srv, gw, port):
        c = await BinClient.connect(port)
        await c.echo(STANZAS[1])
        srv.writers[1].transport.abort()
        got = await c.rest()
        await c.close()
        return got

    st, _srv, got = _run(_fault(fault))
    _error(got, "remote-connection-failed")
    assert "went away" in st.outcome


def test_starttls_is_refused():
    async def fault(srv, gw, port):
        c = await BinClient.connect(port)
        c.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        got = await c.rest()
        await c.close()
        return got

    st, srv, got = _run(_fault(fault))
    assert got == b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert srv.received[1] == CLIENT_HEADER  # never forwarded
    assert "STARTTLS refused" in st.outcome


def test_server_unreachable():
    async def run():
        srv = EchoServer()
        sport = await srv.start()
        await srv.close()  # nothing listens there any more
        gw = L.Link("127.0.0.1", sport)
        port = await gw.start()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        got = b""
        dec = StreamDecoder()
        while data := await r.read(65536):
            got += b"".join(ev.xml for ev in dec.feed(data))
        w.close()
        await gw.close()
        return got

    got = _run(run())
    assert got.startswith(L.DEFAULT_HEADER)
    _error(got[len(L.DEFAULT_HEADER):], "remote-connection-failed")


def test_direct_tls(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)

    async def run():
        srv = EchoServer()
        sport = await srv.start()
        gw = L.Link("127.0.0.1", sport)
        sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sctx.load_cert_chain(cert, key)
        port = await gw.start(ssl=sctx)
        cctx = ssl.create_default_context(cafile=str(cert))
        c = await BinClient.connect(port, ssl=cctx, server_hostname="localhost")
        for s in STANZAS:
            await c.echo(s)
        await c.close()
        await _quiet(gw, 1)
        # a client proxy with --tls in front of it: plain XML in
        front = L.Link("127.0.0.1", port, mode="client", up_ssl=cctx, server_hostname="localhost")
        fport = await front.start()
        r, w = await asyncio.open_connection("127.0.0.1", fport)
        w.write(CLIENT_HEADER + STANZAS[1])
        got = b""
        while len(got) < len(SERVER_HEADER + STANZAS[1]):
            got += await asyncio.wait_for(r.read(65536), 5)
        w.close()
        await front.close()
        await gw.close()
        await srv.close()
        return got, srv.received

    got, received = _run(run())
    assert got == SERVER_HEADER + STANZAS[1]
    assert received[0] == CLIENT_HEADER + b"".join(STANZAS)
    assert received[1] == CLIENT_HEADER + STANZAS[1]


def test_command_line(tmp_path):
    """The console script's module runs a gateway that carries a session."""

    async def run():
        srv = EchoServer()
        sport = await srv.start()
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "xmppbin.link", "--listen", f"127.0.0.1:{port}", "--server", f"127.0.0.1:{sport}",
            "--max-frame", "4096", stderr=asyncio.subprocess.PIPE)
        try:
            assert proc.stderr is not None
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert b"gateway listening on 127.0.0.1:%d" % port in line
            c = await BinClient.connect(port)
            for s in STANZAS:
                await c.echo(s)
            await c.close()
        finally:
            proc.terminate()
            await proc.wait()
            await srv.close()

    _run(run())


@pytest.mark.parametrize("args", [["--listen", "x"], ["--listen", ":1", "--server", ":2", "--max-frame", "0"],
                                  ["--listen", ":1", "--server", ":2", "--cert", "c"]])
def test_command_line_errors(args, capsys):
    with pytest.raises(SystemExit) as ei:
        L.main(args)
    assert ei.value.code == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_encoder_opened_and_ended(backend):
    """What the link reads from its encoder: a header went out; the stream's end tag was encoded."""

    def run():
        enc = StreamEncoder(exact=True)
        assert not enc.opened and not enc.ended
        enc.feed(CLIENT_HEADER[:20])
        assert not enc.opened
        enc.feed(CLIENT_HEADER[20:] + STANZAS[0])
        assert enc.opened and not enc.ended
        enc.feed(b"</stream:stream>")
        assert enc.ended
        enc.feed(CLIENT_HEADER)  # a new stream on the same connection
        assert enc.opened and not enc.ended
        announced = StreamEncoder(in_stream=True)
        announced.feed(STANZAS[0])
        assert announced.opened and not announced.ended  # an announcing open frame
        announced.feed(b"</stream:stream>")
        assert announced.ended

    with_backend(backend, run)


def test_client_proxy_bad_frames_from_the_gateway():
    """--client mode: frames that do not decode come from the gateway side; the XML
    client gets a stream header (none came yet) and a stream error, and the proxy
    goes on serving other connections."""

    async def run():
        base_tasks, base_fds = len(asyncio.all_tasks()), _fds()

        async def bad_gateway(reader, writer):
            await reader.read(65536)
            writer.write(b"\x07garbage")  # a reserved frame type
            await writer.drain()
            await reader.read(65536)
            writer.close()

        bad = await asyncio.start_server(bad_gateway, "127.0.0.1", 0)
        front = L.Link("127.0.0.1", bad.sockets[0].getsockname()[1], mode="client")
        port = await front.start()
        outs = []
        for _ in range(2):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(CLIENT_HEADER)
            got = b""
            while data := await asyncio.wait_for(r.read(65536), 5):
                got += data
            outs.append(got)
            w.close()
            await w.wait_closed()
        await _quiet(front, 2)
        await front.close()
        bad.close()
        await bad.wait_closed()
        await asyncio.sleep(0.05)
        assert len(asyncio.all_tasks()) == base_tasks and _fds() == base_fds
        return outs, list(front.finished)

    outs, stats = _run(run())
    for got, st in zip(outs, stats):
        assert got.startswith(L.DEFAULT_HEADER)
        _error(got[len(L.DEFAULT_HEADER):], "undefined-condition")
        assert b"InvalidDataError" in got and "bad frames from the gateway" in st.outcome
