"""xmppbin-link: carry XMPP sessions as xmppbin stream frames (spec section 14).

Gateway (the default mode)::

    xmppbin-link --listen 0.0.0.0:5223 --server 127.0.0.1:5222 [--cert CERT --key KEY]

accepts xmppbin stream connections (plain TCP, or direct TLS as in XEP-0368
with --cert/--key) and, for each, opens a plain XML c2s connection to the one
configured XMPP server (never anywhere else: no open relay). Frames from the
client are decoded (StreamDecoder, with its limits) and written to the server
as XML; the server's XML is encoded (StreamEncoder, exact mode) and sent to the
client as frames. Exact mode on both sides: the server receives byte for byte
the XML the client's application produced, and the client's application
receives byte for byte the XML the server wrote.

Client-side proxy, for XMPP clients that cannot be changed::

    xmppbin-link --client --listen 127.0.0.1:5222 --server gateway.example:5223 [--tls --cafile CA]

accepts plain XML c2s connections and carries each as frames to a gateway.

Decisions (see README "Binary link"):

* TLS: the link replaces XML-over-TLS. The gateway reaches its server in the
  clear (loopback, or a private network); the binary side is protected by
  direct TLS (--cert/--key). STARTTLS cannot cross the link (TLS records are
  not XML), so a ``<starttls/>`` from a client is answered by the gateway with
  ``<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`` and the stream is
  closed (RFC 6120 5.4.2.2); the server's stream features are forwarded as
  they are (byte-exact), so configure the server not to offer STARTTLS on the
  port the gateway uses, and clients not to ask for it.
* SASL and resource binding pass through unchanged; SASL payloads are never
  indexed (StreamEncoder's SECRET_ELEMENTS, spec 14.4) in both directions.
* A decode error (corrupted frame, frame over max_frame, any limit) fails that
  connection only: the side at fault gets a stream error (``not-well-formed``,
  or ``policy-violation`` for a limit) with the xmppbin error as ``<text>``,
  the other side ``undefined-condition``; both sockets are closed.
* A client whose TCP connection ends without ``</stream:stream>`` (or inside a
  frame) is gone: the server's connection is closed without a stream end tag,
  so the server keeps the session for XEP-0198 resumption. A server that goes
  away without ``</stream:stream>`` gives the client ``remote-connection-failed``.
* Every connection's byte counts (binary in/out, XML in/out) are logged when it
  closes (logger ``xmppbin.link``, level INFO).
* Whitespace keepalives read from an XML side (a server's, or an unchanged
  client's through --client) become a TEXT frame only when the next unit starts:
  the encoder's splitter cannot tell a finished whitespace run from one still
  arriving. Frames are decoded and written at once, so keepalives sent as frames
  (xmppbin.link_slixmpp frames them at once) reach the XML side at once.

Memory per connection is bounded: each socket's reader buffers at most
2 * ``chunk`` bytes (asyncio pauses reading above that), each writer waits
(``drain()``) above ``buffer`` bytes, so a peer that stops reading stops the
reads from the other side; the decoder holds at most one frame (``max_frame``),
the encoder one unit (``max_size``), plus the two stream states.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import logging
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import LimitExceededError, TruncatedError, XmppbinError
from .limits import Limits
from .stream import DEFAULT_MAX_FRAME, DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE, StreamDecoder, StreamEncoder

log = logging.getLogger("xmppbin.link")

STREAMS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
TLS_NS = b"urn:ietf:params:xml:ns:xmpp-tls"
#: the stream header sent to a client that gets an error before the server's header
DEFAULT_HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
STREAM_END = b"</stream:stream>"
_STARTTLS = re.compile(rb"<(?:[^\s/>:]+:)?starttls[\s/>]")

BIN = "binary"
XML = "xml"


@dataclass
class LinkOptions:
    """Options of a link (both modes)."""

    table_size: int = DEFAULT_TABLE_SIZE  # encoder table budget (bytes)
    max_table_size: int = MAX_TABLE_SIZE  # largest budget the decoder accepts
    max_frame: int = DEFAULT_MAX_FRAME  # largest frame payload, both directions
    limits: dict[str, Any] = field(default_factory=dict)  # Limits of both coders (max_size, max_depth, ...)
    chunk: int = 65536  # bytes per read (the reader buffers at most twice this)
    buffer: int = 65536  # write buffer high-water mark per socket: drain() waits above it
    sockbuf: int = 0  # SO_SNDBUF and SO_RCVBUF of both sockets (kernel memory per connection); 0: the kernel's
    connect_timeout: float = 10.0  # reaching the upstream
    close_timeout: float = 5.0  # after one side ended its stream, how long the other may take

    def __post_init__(self) -> None:
        Limits(**self.limits)  # ValueError on a bad limit, at construction
        StreamEncoder(table_size=self.table_size, max_frame=min(self.max_frame, (1 << 25) - 1), **self.limits)
        StreamDecoder(max_table_size=self.max_table_size, max_frame=self.max_frame, **self.limits)


@dataclass
class ConnStats:
    """Byte counts of one connection through the link."""

    cid: int
    peer: str
    bin_in: int = 0  # frames read from the binary side
    bin_out: int = 0  # frames written to the binary side
    xml_in: int = 0  # XML read from the XML side
    xml_out: int = 0  # XML written to the XML side
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    outcome: str = ""  # why it closed


class _Fault(Exception):
    """Ends a connection: what to log, and the stream errors (or other element) to send."""

    def __init__(self, reason: str, to_down: bytes | None = None, to_up: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.to_down = to_down
        self.to_up = to_up


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stream_error(condition: str, text: str = "") -> bytes:
    """A <stream:error> element (RFC 6120 4.9) with an optional <text>."""
    t = f"<text xmlns='{STREAMS_NS}'>{_esc(text)}</text>" if text else ""
    return f"<stream:error><{condition} xmlns='{STREAMS_NS}'/>{t}</stream:error>".encode()


def _condition(e: XmppbinError) -> str:
    return "policy-violation" if isinstance(e, LimitExceededError) else "not-well-formed"


class _Conn:
    """One session through the link: the accepted (downstream) socket and the one
    dialed (upstream); one side carries frames, the other XML."""

    def __init__(self, link: Link, cid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.link = link
        o = link.options
        peer = writer.get_extra_info("peername")
        self.stats = ConnStats(cid, f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer))
        self.down = (reader, writer)
        self.up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.enc = StreamEncoder(exact=True, table_size=o.table_size, max_frame=min(o.max_frame, (1 << 25) - 1),
                                 **o.limits)
        self.dec = StreamDecoder(max_table_size=o.max_table_size, max_frame=o.max_frame, **o.limits)
        self.gateway = link.mode == "gateway"
        self.xml_opened = False  # a stream header was written to the XML side
        self.ended = {BIN: False, XML: False}  # a stream end tag came from that side

    # -- sides ------------------------------------------------------------------------
    def _side(self, kind: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        down_kind = BIN if self.gateway else XML
        if kind == down_kind:
            return self.down
        assert self.up is not None
        return self.up

    def _is_down(self, kind: str) -> bool:
        return kind == (BIN if self.gateway else XML)

    def _send_error(self, kind: str, element: bytes) -> None:
        """Write element and the stream end tag to one side, best effort. A side
        without a stream header yet gets one first if it is downstream."""
        pair = self.down if self._is_down(kind) else self.up
        if pair is None:  # the upstream was never reached
            return
        w = pair[1]
        if w.is_closing():
            return
        try:
            if kind == XML:
                data = b""
                if not self.xml_opened:
                    if not self._is_down(XML):
                        return  # the server never saw a header: just close
                    data = DEFAULT_HEADER
                data += element + STREAM_END
                self.stats.xml_out += len(data)
            else:
                head = b"" if self.enc.opened else self.enc.open(DEFAULT_HEADER)
                data = head + self.enc.element(element) + self.enc.close(STREAM_END)
                self.stats.bin_out += len(data)
            w.write(data)
        except (XmppbinError, OSError, RuntimeError) as e:  # a failed encoder: nothing more to say
            log.debug("conn %d: no stream error sent to the %s side: %s", self.stats.cid, kind, e)

    # -- pumps --------------------------------------------------------------------------
    async def _bin_to_xml(self) -> None:
        r, _ = self._side(BIN)
        w = self._side(XML)[1]
        c2s = self.gateway
        while True:
            data = await r.read(self.link.options.chunk)
            if not data:
                try:
                    self.dec.close()
                except TruncatedError as e:
                    who = "client" if self.gateway else "gateway"
                    raise _Fault(f"the {who} went away inside a frame ({type(e).__name__}: {e})") from None
                return
            self.stats.bin_in += len(data)
            err: XmppbinError | None = None
            try:
                evs = self.dec.feed(data)
            except XmppbinError as e:
                evs, err = getattr(e, "events", []), e
            out = bytearray()
            refused = False
            for ev in evs:
                if ev.kind == "open":
                    self.xml_opened = True
                elif ev.kind == "close":
                    self.ended[BIN] = True
                elif c2s and ev.kind == "element" and _STARTTLS.match(ev.xml) and TLS_NS in ev.xml:
                    refused = True
                    break
                out += ev.xml
            if out:
                w.write(out)
                self.stats.xml_out += len(out)
            if refused:
                raise _Fault("STARTTLS refused (the link replaces TLS)",
                             to_down=f"<failure xmlns='{TLS_NS.decode()}'/>".encode())
            if err is not None:
                msg = f"xmppbin-link: {type(err).__name__}: {err}"
                if self.gateway:  # the client sent bad frames
                    raise _Fault(f"bad frames from the client: {type(err).__name__}: {err}",
                                 to_down=stream_error(_condition(err), msg),
                                 to_up=stream_error("undefined-condition", "xmppbin-link: the client's link failed"))
                raise _Fault(f"bad frames from the gateway: {type(err).__name__}: {err}",
                             to_down=stream_error("undefined-condition", msg), to_up=None)
            await w.drain()

    async def _xml_to_bin(self) -> None:
        r, _ = self._side(XML)
        w = self._side(BIN)[1]
        enc = self.enc
        while True:
            data = await r.read(self.link.options.chunk)
            if not data:
                try:
                    frames = enc.flush()
                except XmppbinError as e:
                    who = "server" if self.gateway else "XML client"
                    raise _Fault(f"the {who} went away inside a unit ({type(e).__name__}: {e})") from None
                if frames:
                    w.write(frames)
                    self.stats.bin_out += len(frames)
                return
            self.stats.xml_in += len(data)
            err: XmppbinError | None = None
            try:
                frames = enc.feed(data)
            except XmppbinError as e:
                frames, err = getattr(e, "frames", b""), e
            if frames:
                w.write(frames)
                self.stats.bin_out += len(frames)
            if err is not None:
                msg = f"xmppbin-link: {type(err).__name__}: {err}"
                if self.gateway:  # the server's XML cannot be encoded
                    raise _Fault(f"the server's XML cannot be encoded: {type(err).__name__}: {err}",
                                 to_down=stream_error("undefined-condition",
                                                      "xmppbin-link: the server's stream failed"),
                                 to_up=stream_error(_condition(err), msg))
                raise _Fault(f"the client's XML cannot be encoded: {type(err).__name__}: {err}",
                             to_down=stream_error(_condition(err), msg), to_up=None)
            if enc.ended:
                self.ended[XML] = True
            await w.drain()

    # -- the connection's life ------------------------------------------------------------
    async def run(self) -> None:
        link = self.link
        o = link.options
        st = self.stats
        try:
            try:
                self.up = await asyncio.wait_for(
                    asyncio.open_connection(link.host, link.port, ssl=link.up_ssl, limit=o.chunk,
                                            server_hostname=link.server_hostname if link.up_ssl else None),
                    o.connect_timeout)
            except (OSError, asyncio.TimeoutError) as e:
                raise _Fault(f"cannot reach {link.host}:{link.port}: {e!r}",
                             to_down=stream_error("remote-connection-failed",
                                                  "xmppbin-link: the upstream server cannot be reached")) from None
            for _r, w in (self.down, self.up):
                w.transport.set_write_buffer_limits(high=o.buffer)
                sock = w.get_extra_info("socket")
                if o.sockbuf and sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, o.sockbuf)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, o.sockbuf)
            await self._pump()
        except _Fault as f:
            st.outcome = f.reason
            if f.to_down is not None:
                self._send_error(BIN if self.gateway else XML, f.to_down)
            if f.to_up is not None:
                self._send_error(XML if self.gateway else BIN, f.to_up)
            log.warning("conn %d %s: %s", st.cid, st.peer, f.reason)
        except (ConnectionError, OSError) as e:  # a reset: that peer is gone
            st.outcome = f"connection lost: {e!r}"
            log.warning("conn %d %s: %s", st.cid, st.peer, st.outcome)
        except asyncio.CancelledError:
            st.outcome = st.outcome or "cancelled (link closing)"
            raise
        except Exception as e:  # noqa: BLE001 - one connection must never take the link down
            st.outcome = f"internal error: {e!r}"
            log.exception("conn %d %s: internal error", st.cid, st.peer)
        finally:
            await self._close_all()
            st.ended = time.monotonic()
            log.info("conn %d %s: closed (%s) after %.1f s; binary in %d out %d, XML in %d out %d",
                     st.cid, st.peer, st.outcome, st.ended - st.started, st.bin_in, st.bin_out, st.xml_in, st.xml_out)

    async def _pump(self) -> None:
        st = self.stats
        tasks = {asyncio.ensure_future(self._bin_to_xml()): BIN, asyncio.ensure_future(self._xml_to_bin()): XML}
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            first = done.pop()
            side = tasks[first]  # the side whose input ended (or failed) first
            exc = first.exception()
            if exc is not None:
                raise exc
            other = (XML if side == BIN else BIN)
            if self.ended[side]:
                # a clean end of that stream: pass the end of input on, let the other finish
                w = self._side(other)[1]
                if w.can_write_eof() and not w.is_closing():
                    w.write_eof()
                if pending:
                    done2, _ = await asyncio.wait(pending, timeout=self.link.options.close_timeout)
                    for t in done2:
                        e2 = t.exception()
                        if e2 is not None:
                            raise e2
                    st.outcome = "stream closed" if done2 else "stream closed, the other side timed out"
                else:
                    st.outcome = "stream closed"
            elif self._is_down(side):
                st.outcome = f"the {'client' if self.gateway else 'XML client'} went away without a stream end tag"
            else:
                raise _Fault(f"the {'server' if self.gateway else 'gateway'} went away without a stream end tag",
                             to_down=stream_error("remote-connection-failed",
                                                  "xmppbin-link: the server closed the connection"))
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
            for t in tasks:
                try:
                    await t
                except BaseException:  # noqa: BLE001,S110 - their outcome was taken above
                    pass

    async def _close_all(self) -> None:
        writers = [self.down[1]] + ([self.up[1]] if self.up is not None else [])
        for w in writers:
            try:
                w.close()
            except Exception:  # noqa: BLE001,S110
                pass
        for w in writers:
            try:
                await asyncio.wait_for(w.wait_closed(), 2)
            except Exception:  # noqa: BLE001 - reset, timeout: the socket is closed either way
                w.transport.abort()


class Link:
    """An xmppbin link: a listening socket whose every connection is carried to
    the one upstream (host, port). mode "gateway": frames in, XML upstream;
    mode "client": XML in, frames upstream (to a gateway)."""

    def __init__(self, host: str, port: int, *, mode: str = "gateway", options: LinkOptions | None = None,
                 up_ssl: ssl.SSLContext | None = None, server_hostname: str | None = None) -> None:
        if mode not in ("gateway", "client"):
            raise ValueError(f"mode must be 'gateway' or 'client', not {mode!r}")
        self.host = host
        self.port = port
        self.mode = mode
        self.options = options or LinkOptions()
        self.up_ssl = up_ssl
        self.server_hostname = server_hostname or host
        self.conns: dict[int, _Conn] = {}
        #: the byte counts of the last 1,024 connections that closed
        self.finished: collections.deque[ConnStats] = collections.deque(maxlen=1024)
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl: ssl.SSLContext | None = None) -> int:
        """Listen; returns the port."""
        self.server = await asyncio.start_server(self._accept, host, port, ssl=ssl, limit=self.options.chunk)
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cid = next(self._ids)
        conn = _Conn(self, cid, reader, writer)
        self.conns[cid] = conn
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        log.info("conn %d %s: accepted", cid, conn.stats.peer)
        try:
            await conn.run()
        finally:
            del self.conns[cid]
            self.finished.append(conn.stats)
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self.server is not None:
            self.server.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            try:
                await t
            except BaseException:  # noqa: BLE001,S110
                pass
        if self.server is not None:
            await self.server.wait_closed()


# ---- command line ---------------------------------------------------------------------------
def _hostport(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {s!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="xmppbin-link", description=__doc__.split("\n\n")[0])
    ap.add_argument("--client", action="store_true",
                    help="client-side proxy: accept plain XML c2s, carry it as frames to the gateway --server")
    ap.add_argument("--listen", type=_hostport, required=True, help="HOST:PORT to accept connections on")
    ap.add_argument("--server", type=_hostport, required=True,
                    help="HOST:PORT of the XMPP server (gateway) or of the gateway (--client); the only destination")
    ap.add_argument("--cert", help="gateway: certificate chain (PEM) for direct TLS on the binary side")
    ap.add_argument("--key", help="gateway: private key (PEM) of --cert")
    ap.add_argument("--tls", action="store_true", help="--client: reach the gateway with direct TLS")
    ap.add_argument("--cafile", help="--client: CA certificates (PEM) to verify the gateway with")
    ap.add_argument("--server-name", help="--client: the name to verify the gateway's certificate for")
    ap.add_argument("--table-size", type=int, default=DEFAULT_TABLE_SIZE, help="encoder table budget (bytes)")
    ap.add_argument("--max-table-size", type=int, default=MAX_TABLE_SIZE, help="largest budget the decoder accepts")
    ap.add_argument("--max-frame", type=int, default=DEFAULT_MAX_FRAME, help="largest frame payload (bytes)")
    ap.add_argument("--max-size", type=int, default=Limits().max_size, help="largest stream unit (XML bytes)")
    ap.add_argument("--buffer", type=int, default=65536, help="write buffer per socket before reads pause (bytes)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every connection at DEBUG level")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        opts = LinkOptions(table_size=args.table_size, max_table_size=args.max_table_size, max_frame=args.max_frame,
                           limits={"max_size": args.max_size}, buffer=args.buffer)
    except ValueError as e:
        ap.error(str(e))
    listen_ssl = up_ssl = None
    if args.cert or args.key:
        if args.client or not (args.cert and args.key):
            ap.error("--cert and --key go together, in gateway mode")
        listen_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        listen_ssl.load_cert_chain(args.cert, args.key)
    if args.tls or args.cafile:
        if not args.client:
            ap.error("--tls/--cafile are options of --client")
        up_ssl = ssl.create_default_context(cafile=args.cafile)
    link = Link(args.server[0], args.server[1], mode="client" if args.client else "gateway", options=opts,
                up_ssl=up_ssl, server_hostname=args.server_name)

    async def serve() -> None:
        port = await link.start(args.listen[0], args.listen[1], ssl=listen_ssl)
        log.info("%s listening on %s:%d, carrying to %s:%d", link.mode, args.listen[0], port, *args.server)
        try:
            await asyncio.Event().wait()
        finally:
            await link.close()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
