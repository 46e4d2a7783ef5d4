"""Write recorded reads as a pcap of TCP/IPv4 segments on 127.0.0.1 (with dpkt).

Each connection gets a handshake (SYN, SYN-ACK, ACK), one PSH/ACK segment per
recorded read (split at 65,495 bytes, the loopback MSS), the peer's pure ACK,
and a FIN exchange at the end.  Sequence numbers run per direction from a
per-connection initial number, acknowledgements follow what the other side sent,
so tcpdump/tshark/Wireshark reassemble each direction exactly into the recorded
byte stream.  The client port is 40000 + connection number, the server port
5222 (the proxied Prosody's port was random; 5222 lets dissectors recognise
XMPP).  Timestamps: the recording's start (``epoch``) plus each read's ``t``.
Link type: Ethernet with zero MAC addresses, which every tool reads.
"""
from __future__ import annotations

import socket
from pathlib import Path

import dpkt

SERVER_PORT = 5222
CLIENT_PORT_BASE = 40000
MSS = 65495
ADDR = socket.inet_aton("127.0.0.1")


class _Conn:
    def __init__(self, n: int) -> None:
        self.cport = CLIENT_PORT_BASE + n
        # deterministic initial sequence numbers, different per connection and side
        self.seq = {"c2s": (0x10000000 + n * 0x01000193) & 0xFFFFFFFF,
                    "s2c": (0x70000000 + n * 0x00FF2011) & 0xFFFFFFFF}
        self.last_t = 0.0


def _segment(conn: _Conn, d: str, flags: int, payload: bytes = b"") -> bytes:
    other = "s2c" if d == "c2s" else "c2s"
    sport, dport = (conn.cport, SERVER_PORT) if d == "c2s" else (SERVER_PORT, conn.cport)
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=conn.seq[d], ack=conn.seq[other] if flags & dpkt.tcp.TH_ACK else 0,
                       flags=flags, win=65535, data=payload)
    ip = dpkt.ip.IP(src=ADDR, dst=ADDR, p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
    ip.len = len(ip)  # dpkt fills header and TCP checksums in bytes()
    eth = dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    n = len(payload) + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
    conn.seq[d] = (conn.seq[d] + n) & 0xFFFFFFFF
    return bytes(eth)


def write_pcap(path: str | Path, chunks, epoch: float) -> int:
    """chunks: (conn, dir, t, bytes) in recording order.  Returns the packet count."""
    A, S, P, F = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_FIN
    conns: dict[int, _Conn] = {}
    n = 0
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB, nano=False)

        def put(ts: float, pkt: bytes) -> None:
            nonlocal n
            w.writepkt(pkt, ts=epoch + ts)
            n += 1

        for conn_no, d, t, data in chunks:
            c = conns.get(conn_no)
            if c is None:
                c = conns[conn_no] = _Conn(conn_no)
                t0 = max(0.0, t - 0.0002)
                put(t0, _segment(c, "c2s", S))
                put(t0, _segment(c, "s2c", S | A))
                put(t0, _segment(c, "c2s", A))
            other = "s2c" if d == "c2s" else "c2s"
            for i in range(0, len(data), MSS):
                put(t, _segment(c, d, P | A, data[i:i + MSS]))
                put(t, _segment(c, other, A))
            c.last_t = t
        for c in conns.values():
            t = c.last_t + 0.0001
            put(t, _segment(c, "c2s", F | A))
            put(t, _segment(c, "s2c", F | A))
            put(t, _segment(c, "c2s", A))
    return n


def read_pcap_streams(path: str | Path) -> dict[tuple[int, str], bytes]:
    """Reassemble the payload of each (connection, direction) from a pcap written above
    (in sequence-number order; used by the tests to check the file)."""
    segs: dict[tuple[int, str], dict[int, bytes]] = {}
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            tcp = dpkt.ethernet.Ethernet(buf).data.data
            if not tcp.data:
                continue
            if tcp.dport == SERVER_PORT:
                key = (tcp.sport - CLIENT_PORT_BASE, "c2s")
            else:
                key = (tcp.dport - CLIENT_PORT_BASE, "s2c")
            segs.setdefault(key, {})[tcp.seq] = bytes(tcp.data)
    out = {}
    for key, by_seq in segs.items():
        seqs = sorted(by_seq)
        # undo a wrap of the 32-bit sequence space
        if seqs and seqs[-1] - seqs[0] > 1 << 31:
            seqs = sorted(by_seq, key=lambda s: (s + (1 << 32)) if s < (1 << 31) else s)
        out[key] = b"".join(by_seq[s] for s in seqs)
    return out
