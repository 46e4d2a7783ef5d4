"""The command line on real captures, run as a user would (the installed console script
in subprocesses): raw stream dumps, pcap and pcapng made here from the committed real
session (with a retransmitted and an out-of-order segment, a gap, a capture that starts
mid-connection), .xmb files, verify, stats, dump, pipes, and every error path with its
exit code."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import zlib

import dpkt
import pytest

import xmppbin
from xmppbin import capture as C
from xmppbin import xmb as X

SINGLE_BACKEND = True  # the subprocesses use the default backend
HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "data", "capture-session.jsonl")
SCRIPT = shutil.which("xmppbin", path=os.path.dirname(sys.executable)) or shutil.which("xmppbin")
CMD = [SCRIPT] if SCRIPT else [sys.executable, "-m", "xmppbin.cli"]


def run(*args, stdin=b"", cwd=None):
    return subprocess.run(CMD + [str(a) for a in args], input=stdin, capture_output=True, cwd=cwd)


def err_line(r) -> str:
    text = r.stderr.decode()
    assert "Traceback" not in text
    return text.strip()


# ---------------------------------------------------------------------------
# pcap building (TCP/IPv4 on Ethernet), from the recorded reads
# ---------------------------------------------------------------------------

SEG = 1400


def _pkt(cport: int, d: str, seq: int, flags: int, payload: bytes = b"") -> bytes:
    sport, dport = (cport, 5222) if d == "c2s" else (5222, cport)
    src, dst = (b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01") if d == "c2s" else (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq & 0xFFFFFFFF, flags=flags, win=65535, data=payload)
    ip = dpkt.ip.IP(src=src, dst=dst, p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def packets(chunks) -> list[dict]:
    """One dict per packet: ts, buf, and for data segments conn, dir, off (stream offset), n."""
    out = []
    seqs: dict[tuple, int] = {}
    for i, c in enumerate(chunks):
        conn, d, data = c["conn"], c["dir"], c["bytes"]
        cport = 41000 + conn
        if (conn, "c2s") not in seqs:
            for dd, isn in (("c2s", 1000 * conn + 0xFFFFF000), ("s2c", 7000 * conn)):  # c2s wraps 2**32
                out.append({"ts": i, "buf": _pkt(cport, dd, isn, dpkt.tcp.TH_SYN)})
                seqs[(conn, dd)] = isn + 1
        for k in range(0, len(data), SEG):
            part = data[k:k + SEG]
            seq = seqs[(conn, d)]
            out.append({"ts": i, "buf": _pkt(cport, d, seq, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, part),
                        "conn": conn, "dir": d, "seq": seq, "n": len(part)})
            seqs[(conn, d)] = seq + len(part)
    return out


def write_pcap(path, pkts, ng=False, raw_ip=False) -> None:
    """raw_ip: link type 101 (IP packets without a link header), read through dpkt
    rather than the Ethernet/IPv4 fast path."""
    with open(path, "wb") as f:
        w = dpkt.pcapng.Writer(f) if ng else dpkt.pcap.Writer(f, linktype=101 if raw_ip else 1)
        for p in pkts:
            w.writepkt(p["buf"][14:] if raw_ip else p["buf"], ts=1_700_000_000 + p["ts"] * 0.001)


@pytest.fixture(scope="module")
def session():
    _, chunks = C.read_capture(SESSION)
    return chunks, C.reassemble(chunks)


def label(conn: int) -> str:
    return f"10.0.0.2:{41000 + conn}-10.0.0.1:5222"


def out_name(conn: int, d: str) -> str:
    return f"{label(conn)}-{d}".replace(":", "_") + ".xml"


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------

def test_raw_dumps_round_trip_exact(tmp_path, session):
    """Every direction of the real session as a raw dump: encode | decode gives it back byte
    for byte (the pipelines run at once)."""
    _, streams = session
    procs = []
    for (conn, d), data in streams.items():
        src = tmp_path / f"{conn}-{d}.xml"
        src.write_bytes(data)
        enc = subprocess.Popen(CMD + ["encode", "--exact", str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dec = subprocess.Popen(CMD + ["decode", "-"], stdin=enc.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        assert enc.stdout is not None
        enc.stdout.close()
        procs.append((data, enc, dec))
    assert len(procs) == 8
    for data, enc, dec in procs:
        out, err = dec.communicate()
        assert enc.wait() == 0 and dec.returncode == 0, err
        assert out == data


def test_pcap_round_trip_verify_and_jobs(tmp_path, session):
    chunks, streams = session
    pcap, raw = tmp_path / "s.pcap", tmp_path / "raw.pcap"
    write_pcap(pcap, packets(chunks))
    write_pcap(raw, packets(chunks), raw_ip=True)
    assert run("verify", raw).stdout.decode() == (
        f"{raw}: 8 streams, {sum(map(len, streams.values())):,} bytes of XML: 0 losses (exact round trip)\n")
    r1 = run("encode", "--exact", pcap, "-o", tmp_path / "a.xmb")
    r2 = run("encode", "--exact", "-j", "2", pcap, "-o", tmp_path / "b.xmb")
    assert r1.returncode == r2.returncode == 0 and r1.stderr == r2.stderr == b""
    assert (tmp_path / "a.xmb").read_bytes() == (tmp_path / "b.xmb").read_bytes()
    r = run("verify", tmp_path / "a.xmb")
    assert r.returncode == 0 and b"8 streams, 767 units" in r.stdout
    r = run("decode", tmp_path / "a.xmb", "-o", f"{tmp_path / 'out'}{os.sep}")
    assert r.returncode == 0, r.stderr
    for (conn, d), data in streams.items():
        assert (tmp_path / "out" / out_name(conn, d)).read_bytes() == data
    # one stream to stdout, chosen by CONN/DIR or id
    r = run("decode", tmp_path / "a.xmb", "--stream", f"{label(2)}/s2c")
    assert r.returncode == 0 and r.stdout == streams[(2, "s2c")]


def test_pcapng_retransmission_and_out_of_order(tmp_path, session):
    chunks, streams = session
    pkts = packets(chunks)
    data_idx = [i for i, p in enumerate(pkts) if p.get("conn") == 2 and p["dir"] == "s2c"]
    a, b = data_idx[3], data_idx[4]
    pkts[a], pkts[b] = pkts[b], pkts[a]                 # out of order
    pkts.insert(data_idx[8] + 2, dict(pkts[data_idx[6]]))  # retransmitted later
    ng = tmp_path / "s.pcapng"
    write_pcap(ng, pkts, ng=True)
    r = run("verify", ng)
    assert r.returncode == 0 and r.stderr == b"" and b"0 losses" in r.stdout
    r = run("encode", "--exact", ng, "-o", tmp_path / "n.xmb")
    assert r.returncode == 0 and r.stderr == b""
    back = run("decode", tmp_path / "n.xmb", "--stream", f"{label(2)}/s2c")
    assert back.stdout == streams[(2, "s2c")]
    # a retransmission with other bytes is reported, the first copy kept
    bad = dict(pkts[data_idx[6]])
    seq, n = bad["seq"], bad["n"]
    bad["buf"] = _pkt(41002, "s2c", seq, dpkt.tcp.TH_ACK, b"X" * n)
    write_pcap(ng, pkts + [bad], ng=True)
    r = run("encode", "--exact", ng, "-o", tmp_path / "n.xmb")
    off = seq - (7000 * 2 + 1)
    assert r.returncode == 3
    assert err_line(r) == (f"xmppbin: {ng}: connection {label(2)} s2c: a retransmitted segment at stream offset "
                           f"{off} differs from the first copy (the first is kept)")
    assert run("decode", tmp_path / "n.xmb", "--stream", f"{label(2)}/s2c").stdout == streams[(2, "s2c")]


def test_gap_is_reported_never_glued(tmp_path, session):
    chunks, streams = session
    pkts = packets(chunks)
    idx = [i for i, p in enumerate(pkts) if p.get("conn") == 1 and p["dir"] == "s2c"]
    lost = pkts.pop(idx[5])
    off = lost["seq"] - (7000 + 1)
    pcap = tmp_path / "g.pcap"
    write_pcap(pcap, pkts)
    r = run("encode", "--exact", pcap, "-o", tmp_path / "g.xmb")
    assert r.returncode == 3
    lines = err_line(r).splitlines()
    assert lines[0] == (f"xmppbin: {pcap}: connection {label(1)} s2c: {lost['n']} bytes missing at stream offset "
                        f"{off} (segments not captured): the stream is cut there")
    data = streams[(1, "s2c")]
    # the part before the gap ends at its last whole unit, the part after starts at its first
    r = run("dump", tmp_path / "g.xmb")
    metas = [json.loads(line.split(": ", 1)[1]) for line in r.stdout.decode().splitlines() if " STREAM " in line]
    parts = [m for m in metas if m["conn"] == label(1) and m["dir"] == "s2c"]
    assert len(parts) == 2 and parts[1]["start"] > off + lost["n"] - 1 and parts[1]["in_stream"]
    out = tmp_path / "parts"
    assert run("decode", tmp_path / "g.xmb", "-o", f"{out}{os.sep}").returncode == 0
    first = (out / out_name(1, "s2c")).read_bytes()
    second = (out / out_name(1, "s2c").replace(".xml", f"@{parts[1]['start']}.xml")).read_bytes()
    assert data.startswith(first) and 0 < len(first) <= off
    assert data[parts[1]["start"]:] == second
    assert data[parts[1]["start"]] == ord("<")
    # every other direction is whole
    assert (out / out_name(1, "c2s")).read_bytes() == streams[(1, "c2s")]
    assert (out / out_name(4, "s2c")).read_bytes() == streams[(4, "s2c")]


def test_capture_starting_mid_connection(tmp_path, session):
    chunks, streams = session
    pkts = packets(chunks)
    # the capture starts inside connection 2: its SYNs and first 7 data packets per direction are not in it
    seen = {"c2s": 0, "s2c": 0}
    kept = []
    for p in pkts:
        conn = p.get("conn")
        if conn is None and _is_conn(p, 2):
            continue
        if conn == 2 and seen[p["dir"]] < 7:
            seen[p["dir"]] += 1
            continue
        if conn == 2 and seen[p["dir"]] == 7:  # the first segment captured starts inside a tag
            seen[p["dir"]] += 1
            payload = dpkt.ethernet.Ethernet(p["buf"]).data.data.data
            p = dict(p, buf=_pkt(41002, p["dir"], p["seq"] + 5, dpkt.tcp.TH_ACK, payload[5:]))
        kept.append(p)
    pcap = tmp_path / "m.pcap"
    write_pcap(pcap, kept)
    r = run("encode", "--exact", pcap, "-o", tmp_path / "m.xmb")
    assert r.returncode == 3
    text = err_line(r)
    assert f"xmppbin: {pcap}: connection {label(2)} c2s: capture starts mid-connection: " in text
    assert f"xmppbin: {pcap}: connection {label(2)} s2c: capture starts mid-connection: " in text
    out = tmp_path / "out"
    assert run("decode", tmp_path / "m.xmb", "-o", f"{out}{os.sep}").returncode == 0
    for d in ("c2s", "s2c"):
        (got,) = [f.read_bytes() for f in out.iterdir() if f.name.startswith(out_name(2, d)[:-4] + "@")]
        data = streams[(2, d)]
        assert len(got) > len(data) // 2 and data.endswith(got) and got.startswith(b"<")
    assert (out / out_name(3, "s2c")).read_bytes() == streams[(3, "s2c")]


def _is_conn(p, conn: int) -> bool:
    tcp = dpkt.ethernet.Ethernet(p["buf"]).data.data
    return 41000 + conn in (tcp.sport, tcp.dport)


def test_session_records_and_element_inputs(tmp_path, session):
    _, streams = session
    # recorded session JSONL, via stdin
    with open(SESSION, "rb") as f:
        r = run("encode", "--exact", "-", stdin=f.read())
    assert r.returncode == 0 and r.stdout.startswith(X.MAGIC)
    r2 = run("decode", "--stream", "1/s2c", stdin=r.stdout)
    assert r2.returncode == 0 and r2.stdout == streams[(1, "s2c")]
    # JSON Lines out: every header and element with its own binary, where it is, its context
    r = run("encode", "--to", "jsonl", "--exact", SESSION)
    assert r.returncode == 0 and r.stderr == b""
    recs = [json.loads(line) for line in r.stdout.decode().splitlines()]
    n = 0
    for (conn, d), data in streams.items():
        units = C.XmlSplitter().feed(data)
        mine = [x for x in recs if x["conn"] == str(conn) and x["dir"] == d]
        assert [x["xml"].encode() for x in mine] == [u.xml for u in units if u.kind in ("open", "element")]
        for x in mine:
            assert data[x["offset"]:].startswith(x["xml"].encode())
            ctx = dict(xmppbin.DEFAULT_CONTEXT, **x.get("context", {}))
            assert xmppbin.decode(base64.b64decode(x["xmppbin"]), context=ctx) == x["xml"].encode()
        n += len(mine)
    assert n == len(recs) == 758
    # a dump without its stream header (stanzas only)
    body = streams[(1, "c2s")]
    start = body.index(b"<iq ")
    end = body.rindex(b"</stream:stream>")
    dump = body[start:end]
    p = tmp_path / "stanzas.xml"
    p.write_bytes(dump)
    r = run("encode", "--exact", p)
    assert r.returncode == 0
    assert run("decode", stdin=r.stdout).stdout == dump
    # --from overrides detection: one element taken as a stream
    one = b"<message to='a@b'><body>x</body></message>"
    r = run("encode", "--from", "stream", "--exact", stdin=one)
    assert r.stdout.startswith(X.MAGIC) and run("decode", stdin=r.stdout).stdout == one
    r = run("encode", stdin=one)
    assert not r.stdout.startswith(X.MAGIC) and run("decode", stdin=r.stdout).stdout == one


# ---------------------------------------------------------------------------
# damage, errors, exit codes
# ---------------------------------------------------------------------------

def _blocks(data: bytes) -> list[tuple[int, bytes, int]]:
    pos, out = len(X.MAGIC) + 2, []
    while pos < len(data):
        kind, n = data[pos:pos + 1], int.from_bytes(data[pos + 1:pos + 5], "little")
        out.append((pos, kind, n))
        pos += 5 + n + 4
    return out


def test_corrupted_file_is_reported_with_its_offset(tmp_path, session):
    _, streams = session
    src = tmp_path / "d.xml"
    src.write_bytes(streams[(2, "s2c")])
    good = run("encode", "--exact", src).stdout
    frames = [b for b in _blocks(good) if b[1] == X.FRAMES]
    assert frames
    pos, _, n = frames[0]
    for flip in (pos + 9 + n // 2, pos + 2):  # inside frames; in the length field
        bad = bytearray(good)
        bad[flip] ^= 0x10
        (tmp_path / "bad.xmb").write_bytes(bad)
        r = run("verify", tmp_path / "bad.xmb")
        assert r.returncode == 4 and r.stdout == b""
        line = err_line(r)
        assert line.startswith(f"xmppbin: {tmp_path / 'bad.xmb'}: ") and line.endswith(f"(at byte {pos})"), line
        out = tmp_path / "never.xml"
        r = run("decode", tmp_path / "bad.xmb", "-o", out)
        assert r.returncode == 4 and not out.exists()
        assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]
    r = run("verify", "-", stdin=good[:-3])
    assert r.returncode == 4 and "file truncated inside a block" in err_line(r)
    r = run("verify", "-", stdin=good[:len(good) - 13])
    assert r.returncode == 4
    assert err_line(r).endswith(f"file truncated: no end-of-file block (at byte {len(good) - 13})")
    r = run("decode", stdin=b"\x89XMB\r\n\x1a\n\x07\x00")
    assert r.returncode == 4 and ".xmb version 7 is not supported" in err_line(r)


def test_damage_never_counts_as_streams():
    """decode's pre-scan (xmb.count_streams) walks block headers: a damaged length
    that lands on bytes looking like a STREAM block header must not count as a
    second stream (that would be a usage error, exit 2, instead of damage, exit 4)."""
    fake = b"S" + (8).to_bytes(4, "little") + b"\x00" * 12  # a STREAM header, 8 bytes and a wrong CRC
    stream = X.block(X.STREAM, b"{}")
    frames = X.block(X.FRAMES, b"\x00" * 40 + fake + b"\x00" * 20)
    head = X.MAGIC + bytes((X.VERSION, 0))
    good = head + stream + frames + X.block(X.END_FILE, b"")
    assert X.count_streams(io.BytesIO(good)) == 1
    # the FRAMES length now ends 40 bytes into its payload, at the fake header
    at = len(head) + len(stream) + 1
    bad = bytearray(good)
    bad[at : at + 4] = (40 - 4).to_bytes(4, "little")  # header, then 36 bytes and the 4 read as a CRC
    assert X.count_streams(io.BytesIO(bytes(bad))) == 1
    # with the fake block's checksum right it is a stream: only intact blocks count
    body = b"\x00" * 8
    ok_fake = b"S" + (8).to_bytes(4, "little") + body + zlib.crc32(body, zlib.crc32(fake[:5])).to_bytes(4, "little")
    bad[len(head) + len(stream) + 5 + 40 : len(head) + len(stream) + 5 + 40 + len(ok_fake)] = ok_fake
    assert X.count_streams(io.BytesIO(bytes(bad))) == 2


def test_decoding_checks_the_xml_end_to_end(tmp_path, session):
    """A file whose blocks are intact but whose frames decode to other XML (here: the
    frames of another stream under a recomputed checksum) fails on the END record."""
    _, streams = session
    a = run("encode", "--exact", "--from", "stream", stdin=streams[(3, "c2s")]).stdout
    b = run("encode", "--exact", "--from", "stream", stdin=streams[(4, "c2s")]).stdout
    fa = next(x for x in _blocks(a) if x[1] == X.FRAMES)
    fb = next(x for x in _blocks(b) if x[1] == X.FRAMES)
    payload = b[fb[0] + 5:fb[0] + 5 + fb[2]]
    blk = X.block(X.FRAMES, payload)
    forged = a[:fa[0]] + blk + a[fa[0] + 5 + fa[2] + 4:]
    r = run("verify", "-", stdin=forged)
    assert r.returncode == 4
    end = next(x for x in _blocks(forged) if x[1] == X.END)
    assert err_line(r) == (f"xmppbin: <stdin>: stream 0: the decoded XML does not match its recorded length and "
                           f"CRC (at byte {end[0]})")
    assert zlib.crc32(streams[(3, "c2s")]) != zlib.crc32(streams[(4, "c2s")])


def test_error_paths_and_exit_codes(tmp_path, session):
    _, streams = session
    r = run("encode", tmp_path / "missing.pcap")
    assert r.returncode == 2 and "No such file or directory" in err_line(r)
    r = run("encode", stdin=b"\x00\x01garbage")
    assert r.returncode == 1 and err_line(r) == (
        "xmppbin: <stdin>: not a capture: neither pcap, pcapng, JSON Lines nor XML (at byte 0)")
    r = run("encode", "--from", "pcap", stdin=b"<a/>")
    assert r.returncode == 1 and err_line(r).startswith("xmppbin: <stdin>: not a pcap file")
    # malformed XML in a dump: connection, unit and stream offset
    data = streams[(1, "c2s")]
    k = data.index(b"<presence")
    bad = data[:k] + b"<presence <" + data[k + 10:]
    p = tmp_path / "bad.xml"
    p.write_bytes(bad)
    r = run("encode", "--exact", p, "-o", tmp_path / "bad.xmb")
    assert r.returncode == 1
    units = sum(1 for _ in C.XmlSplitter().feed(data[:k]))
    line = err_line(r)
    assert line.startswith(f"xmppbin: {p}: unit {units}: MalformedXMLError: "), line
    assert line.endswith(f"(stream byte {k + 10})"), line
    # the units before the error are kept and the file says where it stopped
    r = run("decode", tmp_path / "bad.xmb")
    assert r.returncode == 3 and r.stdout == data[:k]
    assert err_line(r).startswith(f"xmppbin: {tmp_path / 'bad.xmb'}: the input was encoded up to unit {units} only "
                                  "(MalformedXMLError: ")
    # several streams and no choice
    pcap = tmp_path / "s.pcap"
    write_pcap(pcap, packets(C.read_capture(SESSION)[1][:30]))
    r = run("encode", pcap, "-o", tmp_path / "s.xmb")
    assert r.returncode == 0
    r = run("decode", tmp_path / "s.xmb")
    assert r.returncode == 2 and r.stdout == b"" and "holds 4 streams: choose one with --stream" in err_line(r)
    r = run("decode", tmp_path / "s.xmb", "--stream", "9/c2s")
    assert r.returncode == 2 and err_line(r).endswith("no stream '9/c2s'")
    r = run("stats", tmp_path / "s.xmb")
    assert r.returncode == 2 and "stats takes a capture, not an .xmb file" in err_line(r)
    r = run("decode", stdin=b"\x20")
    assert r.returncode == 1 and "TruncatedError" in err_line(r)
    r = run("encode", pcap)  # binary to a pipe is fine
    assert r.returncode == 0 and r.stdout.startswith(X.MAGIC)


# ---------------------------------------------------------------------------
# stats and dump
# ---------------------------------------------------------------------------

def test_stats_json_and_plain(tmp_path, session):
    chunks, streams = session
    pcap = tmp_path / "s.pcap"
    write_pcap(pcap, packets(chunks))
    r = run("stats", "--json", "--by-element", pcap)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    dirs = st["directions"]
    assert len(dirs) == 8
    assert dirs[f"{label(1)}/c2s"]["xml"] == len(streams[(1, "c2s")])
    for col in ("xml", "stateless", "stream", "zlib", "units"):
        assert st["total"][col] == sum(d[col] for d in dirs.values())
    t = st["total"]
    assert t["stream"] < t["zlib"] < t["xml"] and t["stream"] < t["stateless"]
    assert st["by_element"]["message"]["units"] == sum(
        1 for data in streams.values() for ev in C.XmlSplitter().feed(data) if ev.xml.startswith(b"<message"))
    assert sum(e["xml"] for e in st["by_element"].values()) == t["xml"]
    # piped: plain columns, whole names, no box drawing
    r = run("stats", pcap)
    out = r.stdout.decode()
    assert r.returncode == 0 and "\u2503" not in out and "\u2502" not in out
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["direction", "units", "XML"]
    assert lines[2].split()[0] == f"{label(1)}/c2s" and lines[10].split()[0] == "total"
    assert lines[10].split()[2] == f"{t['xml']:,}" and lines[10].split()[4] == f"{t['stream']:,}"


def test_dump_lists_every_frame(tmp_path, session):
    _, streams = session
    r = run("encode", "--exact", "--from", "stream", stdin=streams[(4, "s2c")])
    (tmp_path / "x.xmb").write_bytes(r.stdout)
    d = run("dump", tmp_path / "x.xmb")
    assert d.returncode == 0
    lines = d.stdout.decode().splitlines()
    frames = [line for line in lines if " unit " in line]
    units = len(C.XmlSplitter().feed(streams[(4, "s2c")]))
    assert len(frames) == units
    assert frames[0].split()[1:4] == ["unit", "0", "open"]
    assert frames[-1].split()[1:4] == ["unit", str(units - 1), "close"]
    fb = [b for b in _blocks(r.stdout) if b[1] == X.FRAMES]
    assert sum(int(f.split()[4]) for f in frames) == sum(n - 4 for _, _, n in fb)
    assert int(frames[0].split()[0]) == fb[0][0] + 9
    assert lines[-1].split()[1:] == ["END_FILE", "streams=1"]
    end = json.loads(next(line for line in lines if " END " in line).split(": ", 1)[1])
    assert end == {"units": units, "exact": True, "xml_bytes": len(streams[(4, "s2c")]),
                   "crc32": zlib.crc32(streams[(4, "s2c")])}
    # one message
    msg = run("encode", "--hex", stdin=b"<presence/>").stdout
    d = run("dump", "--hex", stdin=msg)
    n = len(bytes.fromhex(msg.decode().strip()))
    assert d.returncode == 0 and d.stdout.decode().startswith(f"message: {n} bytes, {n * 8} bits for ")


def test_dump_items_traces_the_reference_decoder(tmp_path, session):
    # a generic start tag (no static shape has these four attributes, in any order): its element
    # name is traced too (an unprefixed attribute name from the dictionary is one aitem symbol, not traced)
    xml = (b"<message to='romeo@montague.lit' type='chat' id='5e0e3b8c-1d2a-4bb1-a8de-3f5a2f5d9f4a' version='1'>"
           b"<body>Hi</body></message>")
    msg = run("encode", stdin=xml).stdout
    d = run("dump", "--items", stdin=msg)
    assert d.returncode == 0, d.stderr
    lines = d.stdout.decode().splitlines()
    items = [line.split(None, 4) for line in lines[2:-1]]
    assert [(i[2], i[3]) for i in items] == [("prefix", "token"), ("name", "token"), ("value", "token"),
                                            ("value", "token"), ("value", "uuid"), ("value", "integer"),
                                            ("value", "literal")]
    assert items[1][4].strip() == "'message'" and items[4][4].strip() == "'5e0e3b8c-1d2a-4bb1-a8de-3f5a2f5d9f4a'"
    # a UUID is its value symbol (1..24 bits, spec 6.1) and the 128 bits of the UUID, as the reader counted them
    assert 128 < int(items[4][0]) <= 128 + 24
    assert sum(int(i[0]) for i in items) <= len(msg) * 8 - 16
    assert lines[-1].encode() == xmppbin.decode(msg)
    # frames of a stream: one line per unit with its bits per XML byte, the items under it
    _, streams = session
    enc = run("encode", "--from", "stream", stdin=streams[(3, "c2s")]).stdout
    d = run("dump", "--items", "-", stdin=enc)
    assert d.returncode == 0, d.stderr
    units = [line for line in d.stdout.decode().splitlines() if " unit " in line]
    assert len(units) == len(C.XmlSplitter().feed(streams[(3, "c2s")])) and all("bits/XML byte" in u for u in units)


def test_verify_against_names_the_first_difference(tmp_path, session):
    """A capture against an .xmb made from it in default mode (canonical XML, not byte-exact):
    verify --against reports, per direction, the unit and stream byte of the first
    difference and a short diff; against the exact-mode file, 0 losses."""
    from xmppbin import stream as S

    _, streams = session
    assert run("encode", SESSION, "-o", tmp_path / "d.xmb").returncode == 0
    assert run("encode", "--exact", SESSION, "-o", tmp_path / "e.xmb").returncode == 0
    r = run("verify", SESSION, "--against", tmp_path / "e.xmb")
    assert r.returncode == 0 and r.stdout.decode() == (
        f"{SESSION}: 8 streams, {sum(map(len, streams.values())):,} bytes of XML: 0 losses in {tmp_path / 'e.xmb'}\n")
    r = run("verify", SESSION, "--against", tmp_path / "d.xmb")
    assert r.returncode == 4 and r.stdout == b""
    lines = err_line(r).splitlines()
    assert len(lines) == 8
    data = streams[(1, "c2s")]
    evs = S.StreamDecoder().feed(S.encode_stream([data]))
    back = b"".join(ev.xml for ev in evs)
    off = next(i for i, (a, b) in enumerate(zip(back, data)) if a != b)
    ends = [sum(len(ev.xml) for ev in evs[:k + 1]) for k in range(len(evs))]
    unit = next(i for i, e in enumerate(ends) if e > off)
    assert unit == 1 and off > len(evs[0].xml)
    assert lines[0] == (f"xmppbin: {SESSION}: connection 1 c2s: unit {unit}: first difference at stream byte {off}: "
                        f"expected {data[off - 20:off + 40]!r}, decoded {back[off - 20:off + 40]!r}")
    r = run("verify", SESSION, "--against", SESSION)
    assert r.returncode == 2 and err_line(r) == f"xmppbin: {SESSION}: --against takes an .xmb file"
