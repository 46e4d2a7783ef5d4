"""xmppbin-link end to end: a real Prosody (throwaway, 127.0.0.1, tools/traffic's
launcher) behind the gateway, real slixmpp clients speaking xmppbin frames to it
(xmppbin.link_slixmpp), the scripted session of tools/traffic/record_session.py
plus XEP-0198 resumption; and the same through the client-side proxy
(xmppbin-link --client) for an unchanged slixmpp client.

What the server received is recorded by tools/traffic's recording proxy between
the gateway and Prosody; what the clients sent and received by the clients
themselves (before encoding, after decoding): both directions must be equal
byte for byte. Under CI (env CI) a missing Prosody or slixmpp fails; elsewhere
these tests skip."""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest
from conftest import require_live_xmpp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SINGLE_BACKEND = True  # the link is tested; the codec's backends by the stream tests

@pytest.fixture  # one server per session: the scripted session creates a persistent room
def prosody():
    require_live_xmpp("run the link end to end")
    from tools.traffic import record_session as rs

    tmp = Path(tempfile.mkdtemp(prefix="xmppbin-link-"))
    p = None
    try:
        p = rs.Prosody(tmp, rs.free_port(), "info")
        p.write_config()
        for user, pw in rs.ACCOUNTS.items():
            p.register(user, pw)
        p.start()
        yield p
    finally:
        rs.cleanup(p, tmp, False)


def _recording_class(base):
    """base with every connection's XML recorded: records[i] = [(dir, bytes), ...]."""

    class Recording(base):
        test_ca: Path | None = None  # the CA of the gateway's certificate

        def connect(self, host=None, port=None):
            if self.test_ca is not None:
                self.ca_certs = self.test_ca  # (slixmpp sets ca_certs on the instance)
            return super().connect(host, port)

        def connection_made(self, transport, send_event=True):
            if not hasattr(self, "records"):
                self.records = []
            self.records.append([])
            self.xmppbin_record = self.records[-1]
            self.xmppbin_tls = transport.get_extra_info("ssl_object") is not None
            super().connection_made(transport, send_event)

        def data_received(self, data):
            if not issubclass(base, _xb_stream()):  # a plain client: record the XML here
                self.xmppbin_record.append(("in", bytes(data)))
            super().data_received(data)

        def send_raw(self, data):
            if not issubclass(base, _xb_stream()):
                self.xmppbin_record.append(("out", data.encode() if isinstance(data, str) else bytes(data)))
            super().send_raw(data)

    return Recording


def _xb_stream():
    from xmppbin.link_slixmpp import XmppbinStream

    return XmppbinStream


async def _session(prosody, client_mode: bool, tls: Path | None = None):
    """The scripted session through the gateway (and the client proxy if client_mode);
    tls: a directory with cert.pem and key.pem for direct TLS to the gateway."""
    import ssl

    import slixmpp

    from tools.traffic import record_session as rs
    from xmppbin.link import Link
    from xmppbin.link_slixmpp import ClientXMPP

    rec = rs.Recorder()
    proxy = await rs.start_proxy(rec, prosody.port)  # gateway -> recorder -> Prosody
    gw = Link(rs.LOOPBACK, proxy.sockets[0].getsockname()[1])
    sctx = None
    if tls is not None:
        sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sctx.load_cert_chain(tls / "cert.pem", tls / "key.pem")
    gw_port = await gw.start(ssl=sctx)
    front = None
    port = gw_port
    if client_mode:
        front = Link(rs.LOOPBACK, gw_port, mode="client")
        port = await front.start()
    clients = []

    class Session(rs.Scenario):
        client_class = _recording_class(slixmpp.ClientXMPP if client_mode else ClientXMPP)

        async def connect(self, label, jid, keepalive=None):
            if tls is not None:
                self.client_class.xmppbin_direct_tls = True
                self.client_class.test_ca = tls / "cert.pem"
            c = await super().connect(label, jid, keepalive)
            clients.append(c)
            return c

        async def run(self):
            await super().run()
            await self.step("sm resumption", self.resume)

        async def resume(self):
            c = await self.connect("resume", f"nurse@{rs.DOMAIN}/resume")
            sm = c.plugin["xep_0198"]
            await self.until(lambda: sm.enabled_in and sm.sm_id is not None)
            await c.plugin["xep_0199"].ping(jid=rs.DOMAIN, timeout=rs.STEP_TIMEOUT)
            resumed = self.waiter(c, "session_resumed")
            c.abort()  # as if the network dropped: no </stream:stream>
            await asyncio.sleep(0.3)
            c.connect(rs.LOOPBACK, self.port)
            await asyncio.wait_for(resumed, rs.STEP_TIMEOUT)
            await c.plugin["xep_0199"].ping(jid=rs.DOMAIN, timeout=rs.STEP_TIMEOUT)
            await self.disconnect(c)

    sc = Session(port, rec)
    try:
        await rs.play(sc, rec, proxy, 50)
    finally:
        if front is not None:
            await front.close()
        await gw.close()
    return sc, rec, gw, clients


def _streams_by_conn(rec) -> list[tuple[bytes, bytes]]:
    by: dict[int, list[bytes]] = {}
    for conn, d, _t, data in rec.chunks:
        by.setdefault(conn, [b"", b""])
        by[conn][d == "s2c"] += data
    return [tuple(v) for _k, v in sorted(by.items())]  # type: ignore[misc]


def _client_streams(clients) -> list[tuple[bytes, bytes]]:
    out = []
    for c in clients:
        for r in c.records:
            out.append((b"".join(d for k, d in r if k == "out"), b"".join(d for k, d in r if k == "in")))
    return out


EXPECTED_STEPS = {
    "roster-get romeo", "subscription romeo<->juliet", "roster-set romeo", "carbons juliet", "carbons phone",
    "chat", "muc", "pep mood", "pep avatar data", "pep avatar fetch", "mam query juliet", "mam query room",
    "ping server", "ping romeo full", "ping absent resource (error)", "blocklist", "vcard fetch romeo",
    "csi phone", "sm explicit <r/>", "disco#info server", "version romeo", "sm resumption",
}


@pytest.mark.parametrize("client_mode,tls", [(False, False), (True, False), (False, True)],
                         ids=["slixmpp-xmppbin", "client-proxy", "slixmpp-xmppbin-tls"])
def test_session_through_the_gateway(prosody, client_mode, tls, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="xmppbin.link")
    if tls:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True, timeout=60)
    sc, rec, gw, clients = asyncio.run(_session(prosody, client_mode, tmp_path if tls else None))
    if tls:  # every client connection was TLS
        assert all(c.xmppbin_tls for c in clients) and len(clients) == 5
    failed = {k: v for k, v in sc.results.items() if v != "ok"}
    assert failed == {}
    assert EXPECTED_STEPS <= set(sc.results)
    server = _streams_by_conn(rec)
    mine = _client_streams(clients)
    assert len(server) == len(mine) == 6  # romeo, juliet, phone, nurse, resume (twice)
    # the XML the server received is what the clients wrote, byte for byte, and the
    # clients got what the server wrote; the resumed client's first connection was
    # dropped: the server may have written after the drop
    assert sorted(s[0] for s in server) == sorted(m[0] for m in mine)
    for s_c2s, s_s2c in server:
        m = next(m for m in mine if m[0] == s_c2s)
        assert s_s2c == m[1] or s_s2c.startswith(m[1]) and b"</stream:stream>" not in s_c2s
    assert sum(s[1] == m[1] for s in server for m in mine) >= 5
    # SCRAM over the link, the resumption was a real <resume/>
    c2s = b"".join(s[0] for s in server)
    assert b"mechanism=\"SCRAM-SHA-1\"" in c2s and b"<resume " in c2s
    # every connection logged its byte counts; the gateway's count the frames
    stats = gw.finished
    assert len(stats) == 6 and all(s.bin_in > 0 and s.bin_out > 0 for s in stats)
    assert sum(s.xml_out for s in stats) == sum(len(s[0]) for s in server)
    # what the gateway read from the server: all the server wrote, but for what the server wrote to
    # the dropped connection after the client got its last bytes (an SM <r/>, say), which the gateway
    # may or may not have read before it closed that connection
    late = sum(len(s_s2c) - len(next(m for m in mine if m[0] == s_c2s)[1]) for s_c2s, s_s2c in server)
    total = sum(len(s[1]) for s in server)
    assert total - late <= sum(s.xml_in for s in stats) <= total
    assert sum("binary in" in r.getMessage() for r in caplog.records) == (12 if client_mode else 6)
    if not client_mode and not tls:
        r = report(rec, stats)
        assert r["binary"]["c2s"] < r["zlib"]["c2s"] and r["binary"]["s2c"] < r["zlib"]["s2c"]


def report(rec, stats) -> dict:
    """Bytes on the link vs XML vs a XEP-0138 zlib stream (zlib level 6, one
    stream per connection and direction, a sync flush after each TCP read of the
    recorded session), both directions; printed with pytest -s."""
    xml = {"c2s": 0, "s2c": 0}
    z = {"c2s": 0, "s2c": 0}
    comp: dict = {}
    for conn, d, _t, data in rec.chunks:
        co = comp.setdefault((conn, d), zlib.compressobj(6))
        xml[d] += len(data)
        z[d] += len(co.compress(data)) + len(co.flush(zlib.Z_SYNC_FLUSH))
    binary = {"c2s": sum(s.bin_in for s in stats), "s2c": sum(s.bin_out for s in stats)}
    print()
    for d in ("c2s", "s2c"):
        print(f"link bytes {d}: XML {xml[d]}, zlib stream {z[d]} ({z[d] / xml[d]:.3f}), "
              f"xmppbin frames {binary[d]} ({binary[d] / xml[d]:.3f} of XML, {binary[d] / z[d]:.3f} of zlib)")
    return {"xml": xml, "zlib": z, "binary": binary}


class _Transport:
    """What slixmpp's XmlStream uses of an asyncio transport, keeping what is written."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def get_extra_info(self, name, default=None):
        return default


def test_slixmpp_frames_and_secrets():
    """link_slixmpp without a network: what slixmpp writes goes out as frames (a
    keepalive at once), what comes in as frames reaches slixmpp as the XML; the
    SASL payload is never indexed, so a later frame quoting it has the same size
    whatever the secret."""
    pytest.importorskip("slixmpp")
    from xmppbin.link_slixmpp import ClientXMPP
    from xmppbin.stream import FRAME_TEXT, StreamDecoder, StreamEncoder, frame, frame_header, get_varint

    def frames(data: bytes) -> list[int]:
        sizes, pos = [], 0
        while pos < len(data):
            v, p = get_varint(data, pos, 4)
            sizes.append(p + frame_header(v)[1] - pos)
            pos = p + frame_header(v)[1]
        return sizes

    def run(secret: str):
        # slixmpp schedules its coroutine handlers on the current event loop
        # (ensure_future): a loop of this test's own, whose tasks are cancelled
        # and which is closed after, so no handler outlives the test
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return run_on_loop(secret)
        finally:
            tasks = asyncio.all_tasks(loop)
            for t in tasks:
                t.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            asyncio.set_event_loop(None)
            loop.close()

    def run_on_loop(secret: str):
        c = ClientXMPP("romeo@localhost/orchard", "pw")
        c.xmppbin_record = []
        t = _Transport()
        c.connection_made(t, send_event=False)  # sends the stream header
        c.send_raw(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{secret}</auth>")
        n = len(t.data)
        c.send_raw(" ")
        assert t.data[n:] == frame(FRAME_TEXT, b" ")  # a TEXT frame at once
        c.send_raw("<message><body>AHJvbWVvAHIwbWVvLU1vbnRhZ3Vl</body></message>")
        # frames in: the server's header and features reach slixmpp's parser as XML
        enc = StreamEncoder(exact=True)
        server = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  b"xmlns:stream='http://etherx.jabber.org/streams' id='x' from='localhost' version='1.0'>"
                  b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                  b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
        got = []
        c.add_event_handler("stream_negotiated", lambda e: None)
        c.start_stream_handler = lambda xml: got.append(xml.tag)  # the header reached the parser
        c.data_received(enc.feed(server))
        assert got == ["{http://etherx.jabber.org/streams}stream"]
        assert c.xmppbin_record[-1] == ("in", server)
        out = b"".join(d for k, d in c.xmppbin_record if k == "out")
        assert b"".join(ev.xml for ev in StreamDecoder().feed(t.data)) == out
        return frames(t.data)

    a = run("AHJvbWVvAHIwbWVvLU1vbnRhZ3Vl")
    b = run("AGp1bGlldABjYXB1bGV0ISEhISE=")
    # header, auth (its size is the secret's own), keepalive, and the message quoting
    # the first secret: not a reference to it (that would be a few bytes)
    assert len(a) == len(b) == 4 and a[0] == b[0] and a[2:] == b[2:] and a[3] > 25
