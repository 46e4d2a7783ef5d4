#!/usr/bin/env python3
"""Load through xmppbin-link: many clients, one gateway, a throwaway Prosody on 127.0.0.1.

    python benchmarks/link_load.py --clients 200 --seconds 60 [--rate 2]

Not part of the test run (it takes about 2 * --seconds plus the logins). Prosody
(tools/traffic's launcher, accounts written into its storage) and the gateway
(`python -m xmppbin.link`, its own process, so that its CPU time and memory can
be read from /proc) run on this machine; so do the clients, in this process:
small raw XMPP clients (SASL PLAIN, bind, no roster or presence), which log in
and then each send --rate chat messages a second to a partner's full JID, with
ids `c<sender>-<seq>` and the send time in the body. Two phases of --seconds
each, with the same clients and pacing: direct to Prosody (XML), then through
the gateway (frames, encoded and decoded in this process with the stream
coders). Printed per phase: messages/s delivered, latency p50/p99/max (send to
receive, one clock), lost and reordered stanzas (by id, per sender; must be 0);
for the gateway: its CPU seconds per relayed message (each message crosses it
twice: in from the sender, out to the receiver), its memory per connection
(RSS with every client connected, after the logins and at the end of the
traffic, minus RSS before the first connection, over --clients).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.traffic import generate as gen  # noqa: E402
from tools.traffic import record_session as rs  # noqa: E402
from xmppbin.stream import StreamDecoder, StreamEncoder, StreamEvent, XmlSplitter  # noqa: E402

DOMAIN = rs.DOMAIN
HEADER = (f"<stream:stream to='{DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          "version='1.0' xml:lang='en'>").encode()
_ID = re.compile(rb"<message[^>]* id='c(\d+)-(\d+)'")
_T = re.compile(rb"t=([0-9.]+)")
MODULES = ["roster", "saslauth", "disco", "ping", "posix"]


def _splitter():
    try:
        from xmppbin._cstream import CXmlSplitter
    except ImportError:
        return XmlSplitter()
    return CXmlSplitter(make=StreamEvent)


class Client:
    """A raw c2s client: XML, or frames when binary."""

    def __init__(self, idx: int, binary: bool, stats: Stats) -> None:
        self.idx = idx
        self.binary = binary
        self.stats = stats
        self.enc = StreamEncoder(exact=True) if binary else None
        self.dec = StreamDecoder() if binary else None
        self.split = None if binary else _splitter()
        self.units: list[StreamEvent] = []
        self.seq = 0

    def send(self, xml: bytes) -> None:
        self.w.write(self.enc.feed(xml) if self.enc is not None else xml)

    async def unit(self) -> StreamEvent:
        while not self.units:
            data = await self.r.read(65536)
            if not data:
                raise EOFError(f"client {self.idx}: connection closed")
            self.units += self.dec.feed(data) if self.dec is not None else self.split.feed(data)
        return self.units.pop(0)

    async def until(self, pred) -> StreamEvent:
        while True:
            u = await self.unit()
            if pred(u.xml):
                return u

    async def login(self, port: int) -> None:
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        user = f"u{self.idx}"
        self.send(HEADER)
        await self.until(lambda x: b"<stream:features" in x)
        auth = base64.b64encode(f"\0{user}\0pw-{user}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>".encode())
        u = await self.until(lambda x: b"<success" in x or b"<failure" in x)
        if b"<success" not in u.xml:
            raise RuntimeError(f"{user}: authentication failed: {u.xml!r}")
        self.send(HEADER)
        await self.until(lambda x: b"<stream:features" in x)
        self.send(b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  b"<resource>load</resource></bind></iq>")
        await self.until(lambda x: b"id='b1'" in x)

    async def sender(self, to: int, rate: float, end: float, rnd: random.Random) -> None:
        await asyncio.sleep(rnd.random() / rate)
        while time.monotonic() < end:
            self.seq += 1
            body = f"load {self.seq} t={time.monotonic():.6f} — how is it going over there? 🙂"
            self.send(f"<message to='u{to}@{DOMAIN}/load' id='c{self.idx}-{self.seq}' type='chat'>"
                      f"<body>{body}</body></message>".encode())
            self.stats.sent += 1
            await self.w.drain()
            await asyncio.sleep(rnd.expovariate(rate))

    async def receiver(self) -> None:
        last: dict[int, int] = {}
        try:
            while True:
                u = await self.unit()
                m = _ID.match(u.xml)
                if m is None:
                    continue
                now = time.monotonic()
                src, seq = int(m.group(1)), int(m.group(2))
                if seq != last.get(src, 0) + 1:
                    self.stats.reordered += 1
                last[src] = seq
                t = _T.search(u.xml)
                if t is not None:
                    self.stats.latencies.append(now - float(t.group(1)))
                self.stats.received += 1
        except (EOFError, ConnectionError, asyncio.CancelledError):
            pass


class Stats:
    def __init__(self) -> None:
        self.sent = self.received = self.reordered = 0
        self.latencies: list[float] = []


def _proc(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024
    return cpu, rss


async def phase(port: int, n: int, rate: float, seconds: float, binary: bool, gw_pid: int | None) -> dict:
    stats = Stats()
    clients = [Client(i, binary, stats) for i in range(n)]
    before = _proc(gw_pid) if gw_pid else None
    t0 = time.monotonic()
    for k in range(0, n, 20):  # logins, 20 at a time
        await asyncio.gather(*(c.login(port) for c in clients[k:k + 20]))
    login_s = time.monotonic() - t0
    connected = _proc(gw_pid) if gw_pid else None
    recv = [asyncio.ensure_future(c.receiver()) for c in clients]
    rnd = random.Random(7)
    end = time.monotonic() + seconds
    cpu0 = _proc(gw_pid)[0] if gw_pid else 0.0
    t1 = time.monotonic()
    await asyncio.gather(*(c.sender(c.idx ^ 1, rate, end, random.Random(rnd.random())) for c in clients))
    for _ in range(100):  # in flight: at most 5 s more
        if stats.received >= stats.sent:
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t1
    cpu1, rss_end = _proc(gw_pid) if gw_pid else (0.0, 0)
    for t in recv:
        t.cancel()
    await asyncio.gather(*recv, return_exceptions=True)
    for c in clients:
        c.send(b"</stream:stream>")
    await asyncio.sleep(0.5)
    for c in clients:
        c.w.close()
    lat = sorted(stats.latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    out = {
        "mode": "gateway" if binary else "direct", "clients": n, "seconds": round(elapsed, 1),
        "login_s": round(login_s, 1), "sent": stats.sent, "received": stats.received,
        "lost": stats.sent - stats.received, "reordered": stats.reordered,
        "msg_per_s": round(stats.received / seconds, 1),  # sent within the phase's seconds
        "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2), "max_ms": round(lat[-1] * 1000, 2),
    }
    if gw_pid and before and connected:
        out["gw_cpu_us_per_msg"] = round((cpu1 - cpu0) / max(stats.received, 1) * 1e6, 1)
        out["gw_cpu_share"] = round((cpu1 - cpu0) / elapsed, 3)
        out["gw_rss_per_conn_kb"] = round((connected[1] - before[1]) / n / 1024, 1)  # after the logins
        out["gw_rss_per_conn_kb_end"] = round((rss_end - before[1]) / n / 1024, 1)  # after the traffic
    return out


def write_accounts(data: Path, n: int) -> None:
    host = data / gen.storage_name(DOMAIN) / "accounts"
    host.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (host / f"u{i}.dat").write_text("return " + gen.lua({"password": f"pw-u{i}"}) + ";\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    ap.add_argument("--rate", type=float, default=2.0, help="messages a second per client")
    args = ap.parse_args(argv)
    if args.clients % 2:
        ap.error("--clients must be even (clients are paired)")
    tmp = Path(tempfile.mkdtemp(prefix="xmppbin-link-load-"))
    prosody = None
    gw = None
    try:
        prosody = rs.Prosody(tmp, rs.free_port(), "info", modules=MODULES, muc_modules=[],
                             authentication="internal_plain")
        prosody.write_config()
        write_accounts(tmp / "data", args.clients)
        prosody._chown()
        prosody.start()
        gw_port = rs.free_port()
        gw_log = tmp / "gateway.log"
        with open(gw_log, "wb") as logf:
            gw = subprocess.Popen([sys.executable, "-m", "xmppbin.link", "--listen", f"127.0.0.1:{gw_port}",
                                   "--server", f"127.0.0.1:{prosody.port}"], stderr=logf, stdout=subprocess.DEVNULL)
        for _ in range(200):
            if b"listening" in gw_log.read_bytes():
                break
            time.sleep(0.05)
        print(f"Prosody on {prosody.port}, gateway pid {gw.pid} on {gw_port}; {args.clients} clients, "
              f"{args.rate}/s each, {args.seconds:.0f} s a phase", flush=True)
        results = []
        for binary in (False, True):
            r = asyncio.run(phase(gw_port if binary else prosody.port, args.clients, args.rate, args.seconds,
                                  binary, gw.pid if binary else None))
            print(r, flush=True)
            results.append(r)
        d, g = results
        print(f"added latency through the gateway: p50 {g['p50_ms'] - d['p50_ms']:+.2f} ms, "
              f"p99 {g['p99_ms'] - d['p99_ms']:+.2f} ms")
        ok = all(r["lost"] == 0 and r["reordered"] == 0 for r in results)
        print("no lost or reordered stanzas" if ok else "LOST OR REORDERED STANZAS")
        return 0 if ok else 1
    finally:
        if gw is not None:
            gw.terminate()
            try:
                gw.wait(5)
            except subprocess.TimeoutExpired:
                gw.kill()
        rs.cleanup(prosody, tmp, False)


if __name__ == "__main__":
    sys.exit(main())
