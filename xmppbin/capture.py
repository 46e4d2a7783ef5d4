"""Capture inputs of the command line: what a file holds, and its XML streams.

Formats (``detect`` looks at the first bytes; the CLI's ``--from`` overrides it):

``pcap`` / ``pcapng``
    Plaintext XMPP over TCP (IPv4 or IPv6 on Ethernet, Linux cooked, raw IP
    or BSD loopback links), read with dpkt. Each TCP connection to one of the
    XMPP ports (5222 c2s, 5269 s2s, or the ports given) is reassembled per
    direction in sequence-number order: retransmitted bytes are taken once
    (a retransmission whose bytes differ is reported), out-of-order segments
    are put in place, and a missing segment is a *gap*: the stream is cut
    there and the gap reported (connection, direction, stream offset and
    length), never glued over. A connection already open when the capture
    started (no SYN seen) starts at its first captured byte; the bytes before
    the first top-level unit that can be parsed are skipped and reported.
``session``
    JSON Lines of recorded reads (``tools/traffic`` / ``record_session.py``:
    a header line with "capture", then ``{"conn", "dir", "t", "data" | "data_b64"}``).
``records``
    JSON Lines corpus records, one element per line in "xml".
``stream``
    A raw XML stream dump: one direction of a session (XML declaration, stream
    header, restarts, stanzas, whitespace), or top-level elements without a header.
``element``
    One XML element (or a stream header with ``--open-root``).
"""
from __future__ import annotations

import base64
import ipaddress
import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import XmppbinError
from .stream import XmlSplitter

FORMATS = ("pcap", "pcapng", "session", "records", "stream", "element")
XMPP_PORTS = (5222, 5269)
_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_HEADER = re.compile(rb"\s*(<\?xml[^>]*\?>\s*)?<([A-Za-z_][\w.-]*:)?stream[\s>]")


class CaptureError(ValueError):
    """An input that cannot be read as the format it is taken for (not a codec error)."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte {offset})")


@dataclass
class Problem:
    """Something lost or doubtful in the input, reported but not fatal by itself."""

    kind: str       # gap | mid-start | conflict | truncated
    offset: int     # stream offset where it happens
    length: int     # bytes concerned
    text: str


@dataclass
class Direction:
    """One direction of one connection: the XML byte stream and where it comes from."""

    conn: str                   # connection label, e.g. "1" or "10.0.0.1:40001-10.0.0.2:5222"
    dir: str                    # c2s | s2c (or "in" for a raw dump)
    data: bytes
    in_stream: bool = False     # starts after its stream header (captured mid-connection)
    start: int = 0              # stream offset of data[0] (bytes skipped before it)
    problems: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.conn}/{self.dir}" + (f"@{self.start}" if self.start else "")

    def meta(self) -> dict[str, Any]:
        return {"conn": self.conn, "dir": self.dir, "in_stream": self.in_stream, "start": self.start,
                "problems": [p.__dict__ for p in self.problems]}


# ---------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------

def detect(head: bytes) -> str:
    """The format of an input from its first bytes (at least a few KiB when there are)."""
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return "pcapng"
    s = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if s.startswith(b"{"):
        line = s.split(b"\n", 1)[0]
        try:
            obj = json.loads(line)
        except ValueError:
            obj = {}
        if isinstance(obj, dict) and ("capture" in obj or ("conn" in obj and "dir" in obj and "xml" not in obj)):
            return "session"
        return "records"
    if _HEADER.match(s):
        return "stream"
    if s.startswith(b"<"):
        # one element, or several top-level units (a dump without its header)
        sp = XmlSplitter(in_stream=True)
        try:
            evs = sp.feed(s)
        except XmppbinError:
            return "element"
        elements = [e for e in evs if e.kind != "text"]
        if len(elements) > 1 or (len(elements) == 1 and sp.buf.strip()):
            return "stream"
        return "element"
    raise CaptureError("not a capture: neither pcap, pcapng, JSON Lines nor XML", 0)


# ---------------------------------------------------------------------------
# recorded sessions (JSON Lines of reads)
# ---------------------------------------------------------------------------

def read_capture(path: str | Path) -> tuple[dict, list[dict]]:
    """Return (header, chunks) of a recorded session; each chunk dict gets a "bytes"
    key with its raw bytes."""
    header: dict = {}
    chunks: list[dict] = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise CaptureError(f"line {i + 1}: not JSON ({e})") from None
            if i == 0 and "capture" in obj:
                header = obj
                continue
            try:
                if "data" in obj:
                    obj["bytes"] = obj["data"].encode("utf-8")
                else:
                    obj["bytes"] = base64.b64decode(obj["data_b64"])
                obj["conn"], obj["dir"]
            except (KeyError, TypeError, ValueError) as e:
                raise CaptureError(f"line {i + 1}: not a recorded read ({type(e).__name__}: {e})") from None
            chunks.append(obj)
    return header, chunks


def reassemble(chunks: Iterable[dict]) -> dict[tuple[int, str], bytes]:
    """Concatenate the chunks of each (conn, dir), in order of first appearance."""
    parts: dict[tuple[int, str], list[bytes]] = {}
    for c in chunks:
        parts.setdefault((c["conn"], c["dir"]), []).append(c["bytes"])
    return {k: b"".join(v) for k, v in parts.items()}


def session_directions(path: str | Path) -> list[Direction]:
    _, chunks = read_capture(path)
    out = [Direction(str(conn), d, data) for (conn, d), data in reassemble(chunks).items()]
    for d in out:
        trim_tail(d)  # a recording stopped inside a unit
    return out


# ---------------------------------------------------------------------------
# pcap / pcapng
# ---------------------------------------------------------------------------

class _Flow:
    """The segments of one direction of one TCP connection."""

    def __init__(self, isn: int | None) -> None:
        self.isn = isn            # sequence number of the first data byte, when the SYN was seen
        self.first: int | None = None
        self.segs: list[tuple[int, bytes]] = []  # (relative offset, payload)

    def add(self, seq: int, payload: bytes) -> None:
        base = self.isn if self.isn is not None else self.first
        if base is None:
            base = self.first = seq
        rel = (seq - base) & 0xFFFFFFFF
        if rel >= 1 << 31:
            rel -= 1 << 32  # before the base: a retransmission of data before the first byte seen
        self.segs.append((rel, payload))


def _dpkt() -> Any:
    try:
        import dpkt  # type: ignore[import-untyped]
    except ImportError:
        raise CaptureError("reading pcap and pcapng needs dpkt: pip install dpkt") from None
    return dpkt


def _ip_of(buf: bytes, linktype: int):
    dpkt = _dpkt()

    if linktype == dpkt.pcap.DLT_EN10MB:
        eth = dpkt.ethernet.Ethernet(buf)
        return eth.data
    if linktype == dpkt.pcap.DLT_LINUX_SLL:
        return dpkt.sll.SLL(buf).data
    if linktype == 276:  # LINUX_SLL2
        return dpkt.sll2.SLL2(buf).data
    if linktype in (dpkt.pcap.DLT_RAW, 101, 228, 229):  # raw IP, IPv4, IPv6
        v = buf[0] >> 4 if buf else 0
        return dpkt.ip.IP(buf) if v == 4 else dpkt.ip6.IP6(buf)
    if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return dpkt.loopback.Loopback(buf).data
    raise CaptureError(f"link type {linktype} is not supported (Ethernet, Linux cooked, raw IP, loopback are)")


def _packets(path: str | Path, fmt: str):
    """(index, linktype, buf) of every packet."""
    dpkt = _dpkt()

    with open(path, "rb") as f:
        try:
            reader: Any = dpkt.pcapng.Reader(f) if fmt == "pcapng" else dpkt.pcap.Reader(f)
        except (ValueError, dpkt.dpkt.Error) as e:
            raise CaptureError(f"not a {fmt} file ({e})", 0) from None
        lt = reader.datalink()
        i = 0
        try:
            for _ts, buf in reader:
                i += 1
                yield i, lt, buf
        except (ValueError, dpkt.dpkt.Error, EOFError) as e:
            raise CaptureError(f"{fmt} file damaged after packet {i} ({type(e).__name__}: {e})") from None


def _addr(a: bytes) -> str:
    return str(ipaddress.ip_address(a))


_U16 = struct.Struct(">H")
_TCP = struct.Struct(">HHI")


def _tcp_fast(buf: bytes, lt: int) -> tuple[bytes, bytes, int, int, int, int, bytes] | None:
    """(src, dst, sport, dport, seq, flags, payload) of an Ethernet/IPv4/TCP packet without
    options the slow path needs (no VLAN, no fragment), parsed with struct; None for
    anything else (dpkt reads it then)."""
    if lt != 1 or len(buf) < 54 or buf[12:14] != b"\x08\x00":
        return None
    v = buf[14]
    if v >> 4 != 4 or buf[23] != 6 or _U16.unpack_from(buf, 20)[0] & 0x3FFF:  # TCP, not a fragment
        return None
    ihl = (v & 15) * 4
    total = _U16.unpack_from(buf, 16)[0]
    t = 14 + ihl
    if ihl < 20 or total < ihl + 20 or 14 + total > len(buf):
        return None
    sport, dport, seq = _TCP.unpack_from(buf, t)
    thl = (buf[t + 12] >> 4) * 4
    if thl < 20 or ihl + thl > total:
        return None
    return buf[26:30], buf[30:34], sport, dport, seq, buf[t + 13], buf[t + thl:14 + total]


def _segments(path: str | Path, fmt: str):
    """(src, dst, sport, dport, seq, flags, payload) of every TCP segment of a capture."""
    dpkt = _dpkt()
    for _i, lt, buf in _packets(path, fmt):
        r = _tcp_fast(buf, lt)
        if r is not None:
            yield r
            continue
        try:
            ip = _ip_of(buf, lt)
        except (dpkt.dpkt.Error, IndexError, ValueError):
            continue
        tcp = getattr(ip, "data", None)
        if not isinstance(tcp, dpkt.tcp.TCP):
            continue
        yield bytes(ip.src), bytes(ip.dst), tcp.sport, tcp.dport, tcp.seq, tcp.flags, bytes(tcp.data)


def pcap_directions(path: str | Path, fmt: str = "pcap", ports: Iterable[int] = XMPP_PORTS) -> list[Direction]:
    """The XMPP streams of a pcap/pcapng file, one Direction per connection and direction
    that carried data, in order of the connection's first packet."""
    ports = set(ports)
    flows: dict[tuple, _Flow] = {}
    conns: dict[tuple, str] = {}   # (server endpoint, client endpoint) -> label
    for src_ip, dst_ip, sport, dport, seq, flags, payload in _segments(path, fmt):
        if dport in ports:
            ck, d = (dst_ip, dport, src_ip, sport), "c2s"
        elif sport in ports:
            ck, d = (src_ip, sport, dst_ip, dport), "s2c"
        else:
            continue
        if ck not in conns:
            conns[ck] = f"{_addr(ck[2])}:{ck[3]}-{_addr(ck[0])}:{ck[1]}"
        key = (ck, d)
        flow = flows.get(key)
        syn = bool(flags & 0x02)
        if flow is None:
            flow = flows[key] = _Flow(((seq + 1) & 0xFFFFFFFF) if syn else None)
        elif syn and flow.isn is None and not flow.segs:
            flow.isn = (seq + 1) & 0xFFFFFFFF
        if payload:
            flow.add(seq, payload)
    out = []
    order = {ck: n for n, ck in enumerate(conns)}
    for (ck, d), flow in sorted(flows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        if not flow.segs:
            continue
        out.extend(_reassemble_flow(conns[ck], d, flow))
    return out


def _reassemble_flow(conn: str, d: str, flow: _Flow) -> list[Direction]:
    """In-order bytes of a flow; a gap ends a part and the next part starts after it
    (resynchronised at a unit boundary), so nothing is glued across a gap."""
    segs = sorted(flow.segs, key=lambda s: s[0])
    out: list[Direction] = []
    pos = 0 if flow.isn is not None else segs[0][0]
    buf = bytearray()
    cur = Direction(conn, d, b"", start=pos)
    mid = flow.isn is None
    for off, payload in segs:
        end = off + len(payload)
        if end <= pos:
            if off >= cur.start and bytes(buf[off - cur.start:end - cur.start]) != payload:
                cur.problems.append(Problem("conflict", off, len(payload), f"a retransmitted segment at stream "
                                            f"offset {off} differs from the first copy (the first is kept)"))
            continue
        if off > pos:
            cur.problems.append(Problem("gap", pos, off - pos, f"{off - pos} bytes missing at stream offset {pos} "
                                        f"(segments not captured): the stream is cut there"))
            cur.data = bytes(buf)
            out.append(cur)
            if mid:
                _resync(cur)
            buf = bytearray()
            cur = Direction(conn, d, b"", start=off)
            mid = True
            pos = off
        buf += payload[pos - off:]
        pos = end
    cur.data = bytes(buf)
    out.append(cur)
    if mid:
        _resync(cur)
    for part in out:
        trim_tail(part)
    return [p for p in out if p.data or p.problems]


def splitter(in_stream: bool) -> Any:
    """A stream splitter: the C one (csrc/split.c) with the C backend, else XmlSplitter
    (the same units and errors; tests/test_stream_split.py)."""
    from . import backend
    from .stream import StreamEvent

    if backend == "c":
        try:
            from ._cstream import CXmlSplitter
        except ImportError:
            pass
        else:
            return CXmlSplitter(in_stream=in_stream, make=StreamEvent)
    return XmlSplitter(in_stream=in_stream)


def split_units(data: bytes, in_stream: bool) -> list:
    """The whole units of data (StreamEvents); an unfinished last one is not among them."""
    return list(splitter(in_stream).feed(data))


def trim_tail(d: Direction) -> None:
    """Cut an unfinished last unit (a gap or the end of the capture came inside it), reported."""
    try:
        evs = split_units(d.data, d.in_stream)
    except XmppbinError:
        return  # malformed: the encoder reports it with its offset
    rest = d.data[sum(len(ev.xml) for ev in evs):]
    if rest.strip(b" \t\r\n"):
        n = len(d.data) - len(rest)
        d.problems.append(Problem("truncated", d.start + n, len(rest), f"the last {len(rest)} bytes (from stream "
                                  f"offset {d.start + n}) are an unfinished unit: left out"))
        d.data = d.data[:n]


_CLOSE_STREAM = re.compile(rb"</([A-Za-z_][\w.-]*:)?stream\s*>")


def _plausible(evs) -> bool:
    """Units that can be the top level of a stream: a start inside an element shows up as
    an end tag other than the stream's, or an element taken for a stream header."""
    for ev in evs:
        if ev.kind == "close" and not _CLOSE_STREAM.fullmatch(ev.xml):
            return False
        if ev.kind == "open" and not _HEADER.match(ev.xml):
            return False
    return True


def _resync(d: Direction) -> None:
    """A direction captured mid-connection (no SYN seen, or after a gap): start at the
    first top-level unit from which the stream splits cleanly (its stream header, if the
    data starts with one); the bytes before it are skipped. Both are reported."""
    data = d.data
    d.in_stream = True
    first = d.start
    if _HEADER.match(data):
        d.in_stream = False
        d.problems.append(Problem("mid-start", first, 0, f"no connection start captured: the stream is taken "
                                  f"from stream offset {first}, where a stream header begins"))
        return
    for k in re.finditer(rb"<(?![/!?])", data[:1 << 20]):
        c = k.start()
        probe = data[c:c + (1 << 16)]
        sp = XmlSplitter(in_stream=True)
        try:
            evs = sp.feed(probe)
            if len(probe) == len(data) - c:
                sp.close()
        except XmppbinError:
            continue
        if not _plausible(evs) or (not evs and len(probe) == 1 << 16):
            continue
        d.problems.append(Problem("mid-start", first, c, f"capture starts mid-connection: {c} bytes skipped "
                                  f"to the first whole unit, at stream offset {first + c}"))
        d.data = data[c:]
        d.start += c
        return
    d.problems.append(Problem("mid-start", first, len(data), f"capture starts mid-connection: no whole unit "
                              f"found in {len(data)} bytes from stream offset {first}"))
    d.start += len(data)
    d.data = b""


# ---------------------------------------------------------------------------
# any input
# ---------------------------------------------------------------------------

def directions(path: str | Path, fmt: str, ports: Iterable[int] = XMPP_PORTS) -> list[Direction]:
    """The XML streams of a capture file of format fmt (pcap, pcapng, session or stream)."""
    if fmt in ("pcap", "pcapng"):
        return pcap_directions(path, fmt, ports)
    if fmt == "session":
        return session_directions(path)
    if fmt == "stream":
        with open(path, "rb") as f:
            data = f.read()
        return [Direction("1", "in", data, in_stream=not _HEADER.match(data))]
    raise CaptureError(f"{fmt} input holds no XML streams")


def is_headerless(head: bytes) -> bool:
    """A raw dump without its stream header (it starts inside the stream)."""
    return not _HEADER.match(head)
