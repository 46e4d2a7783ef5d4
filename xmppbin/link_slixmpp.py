"""slixmpp clients that speak xmppbin frames to an xmppbin-link gateway.

    from xmppbin.link_slixmpp import ClientXMPP      # instead of slixmpp.ClientXMPP

    c = ClientXMPP("juliet@example.com/balcony", password)
    c.enable_starttls = False          # the link replaces TLS (the gateway refuses STARTTLS)
    c.xmppbin_direct_tls = True        # gateway started with --cert/--key (False: plain TCP)
    c.connect("gateway.example.com", 5223)

slixmpp's XmlStream is itself the asyncio Protocol of its connection: it
writes every unit it produces with send_raw() and parses whatever
data_received() is given. XmppbinStream wraps exactly these two methods: what
slixmpp writes is fed to a StreamEncoder (exact mode, so the server receives
the XML slixmpp wrote, byte for byte) and the frames go to the transport; the
frames received are decoded by a StreamDecoder and the XML handed to slixmpp's
parser. Both coders are new for every TCP connection (connection_made), as the
XML parser is, so reconnection and XEP-0198 resumption work unchanged. A
whitespace keepalive (send_raw(" ")) is sent at once as a TEXT frame.

Direct TLS to the gateway: slixmpp 1.17 uses direct TLS only for the SRV
service names in ``tls_services``, never for an address given to connect()
(its record has the service name ""); ``xmppbin_direct_tls = True`` adds ""
to them, so slixmpp's own TLS path runs (its ``ssl_context``, ``ca_certs``,
the certificate checked for the JID's domain, or ``default_domain``).

A decode error (bad frames from the gateway) is logged and the connection
aborted, as slixmpp does with XML it cannot parse.

Set ``xmppbin_record`` to a list to have (direction, bytes) appended for every
piece of XML sent ("out") and received ("in"): the tests compare it with what
the server saw.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import slixmpp
from slixmpp.xmlstream.xmlstream import NotConnectedError

from .errors import XmppbinError
from .stream import StreamDecoder, StreamEncoder

log = logging.getLogger("xmppbin.link")

_WS = re.compile(rb"[ \t\r\n]+")


class XmppbinStream:
    """Mixin for a slixmpp XmlStream subclass (before it in the bases)."""

    #: options of the StreamEncoder and StreamDecoder of each connection
    xmppbin_encoder_options: dict[str, Any] = {}
    xmppbin_decoder_options: dict[str, Any] = {}
    xmppbin_record: list[tuple[str, bytes]] | None = None
    #: direct TLS to the gateway at the address given to connect()
    xmppbin_direct_tls = False
    transport: Any
    tls_services: set[str]

    def connect(self, host: str | None = None, port: int | None = None) -> Any:
        if self.xmppbin_direct_tls:
            self.tls_services = set(self.tls_services) | {""}
        return super().connect(host, port)  # type: ignore[misc]

    def connection_made(self, transport: Any, send_event: bool = True) -> None:
        self._xb_enc = StreamEncoder(exact=True, **self.xmppbin_encoder_options)
        self._xb_dec = StreamDecoder(**self.xmppbin_decoder_options)
        self.xmppbin_bytes = [0, 0]  # frames sent, received on this connection
        super().connection_made(transport, send_event)  # type: ignore[misc]  # sends the stream header

    def data_received(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.xmppbin_bytes[1] += len(data)
        err: XmppbinError | None = None
        try:
            evs = self._xb_dec.feed(data)
        except XmppbinError as e:
            evs, err = getattr(e, "events", []), e
        xml = b"".join(ev.xml for ev in evs)
        if xml:
            if self.xmppbin_record is not None:
                self.xmppbin_record.append(("in", xml))
            super().data_received(xml)  # type: ignore[misc]
        if err is not None:
            log.error("xmppbin: bad frames from the gateway: %s: %s", type(err).__name__, err)
            self.abort()  # type: ignore[attr-defined]

    def send_raw(self, data: bytes | str) -> None:
        if not self.transport:
            raise NotConnectedError()
        if isinstance(data, str):
            data = data.encode("utf-8")
        log.debug("SEND (xmppbin): %s", data)
        if self.xmppbin_record is not None:
            self.xmppbin_record.append(("out", data))
        # slixmpp writes whole units (header, stanza, end tag) or a keepalive: a
        # keepalive is framed at once rather than kept by the splitter until the
        # next unit (its whitespace run might go on)
        if _WS.fullmatch(data):
            frames = self._xb_enc.text(data)
        else:
            frames = self._xb_enc.feed(data)
        if frames:
            self.xmppbin_bytes[0] += len(frames)
            self.transport.write(frames)


class ClientXMPP(XmppbinStream, slixmpp.ClientXMPP):
    """slixmpp.ClientXMPP over an xmppbin link."""


__all__ = ["ClientXMPP", "XmppbinStream"]
