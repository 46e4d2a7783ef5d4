#!/usr/bin/env python3
"""The benchmark report: one command writes benchmarks/results/report.md, report.json
(every figure, with its corpus, method, command, machine, date and versions) and PNG plots.

    python benchmarks/report.py            # full run (minutes; see README "Results")
    python benchmarks/report.py --quick    # small sample of every corpus (seconds; the test suite runs it)
    python benchmarks/report.py --out DIR --no-speed --no-peers --no-scaling

Corpora (how each was made: CORPORA below, repeated in the report):
  xep-heldout       records of ../shared/corpus/xep-examples.jsonl whose XEP number is divisible by 5
  capture-session   tests/data/capture-session.jsonl, a real Prosody/slixmpp session
  traffic-seed9001  tests/data/traffic-seed9001.jsonl, held-out generated traffic (tools/traffic)
Every dictionary (xmppbin's token dictionary, the zstd and deflate dictionaries) is built
from the XEP training split (XEP number not divisible by 5) only: none has seen a test set.

Sizes: every record coded on its own (per stanza) and every direction of every captured
connection as one stream (per stream). Each output is decoded again and checked (xmppbin
default: same infoset; exact and the compressors: same bytes; WhatsApp: same node); a
failure is counted in the report and makes the exit status 1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _corpus as C  # noqa: E402
import _peers as P  # noqa: E402
import stream_report  # noqa: E402
import zstandard  # noqa: E402

import xmppbin  # noqa: E402
from xmppbin import stream as S  # noqa: E402

RESULTS = HERE / "results"

BUCKETS = ((0, 128, "< 128 B"), (128, 512, "128-512 B"), (512, 2048, "512 B-2 KiB"), (2048, None, "> 2 KiB"))
ZSTD_DICT_SIZES = (4096, 16384, 65536)

CORPORA = {
    "xep-heldout": "../shared/corpus/xep-examples.jsonl, records whose XEP number is divisible by 5 "
                   "(examples extracted from the XEP texts; see ../shared/corpus/README.md). Held out: "
                   "no dictionary was built from these XEPs.",
    "capture-session": "tests/data/capture-session.jsonl: a real session recorded on loopback by "
                       "tools/traffic/record_session.py (Prosody 0.12.3, slixmpp 1.17.0 clients through a "
                       "recording TCP proxy), both directions, split into stream headers and top-level "
                       "elements by tools/traffic/split.py.",
    "traffic-seed9001": "tests/data/traffic-seed9001.jsonl: `python -m tools.traffic --seed 9001 --size 2.2MB "
                        "--clients 21` (real Prosody 0.12.3 and 27 slixmpp connections on loopback; seed 9001 "
                        "is reserved for this held-out test capture), split the same way.",
}

# method key -> (label, how it is computed)
METHODS = {
    "xmppbin-default": ("xmppbin default", "xmppbin.Codec(context=C).encode(x): infoset-lossless"),
    "xmppbin-exact": ("xmppbin exact", "xmppbin.Codec(exact=True, context=C).encode(x): byte-lossless"),
    "deflate-9": ("deflate-9", "raw deflate, zlib.compressobj(9, DEFLATED, -15): no header, no trailer"),
    "deflate-9-dict32k": ("deflate-9 + 32 KiB preset dict",
                          "zlib.compressobj(9, DEFLATED, -15, zdict=D), D = _corpus.build_deflate_dict(training)"),
    **{f"zstd-19-dict{s // 1024}k": (f"zstd-19 + {s // 1024} KiB dict",
                                     f"zstandard.ZstdCompressor(level=19, dict_data=train_dictionary({s}, "
                                     "training)).compress(x): standard frame (magic, header with dict id and "
                                     "content size, checksum off by default)")
       for s in ZSTD_DICT_SIZES},
    **{f"zstd-19-dict{s // 1024}k-lean": (f"zstd-19 + {s // 1024} KiB dict, lean frame",
                                          "the same with write_checksum=False, write_content_size=False, "
                                          "write_dict_id=False, minus the 4-byte magic number: "
                                          "len(frame) - 4 (decoded with the magic put back)")
       for s in ZSTD_DICT_SIZES},
    "brotli-11": ("brotli-11", "brotli.compress(x, quality=11) (brotli's built-in static dictionary, no custom one)"),
    "whatsapp": ("WhatsApp binary (Baileys WABinary)",
                 "encodeBinaryNode(node) of baileys (npm), node form of the XML (benchmarks/_peers.xml_to_node), "
                 "leading flag byte included; token dictionary made for WhatsApp's tags, not XMPP's"),
}
STREAM_METHODS = {
    "stream-exact": "xmppbin.stream.StreamEncoder(exact=True) fed the recorded TCP reads (byte-lossless)",
    "stream-default": "StreamEncoder(exact=False) (infoset-lossless)",
    "stateless-exact": "every unit its own framed xmppbin exact message",
    "stateless-default": "every unit its own framed xmppbin default message",
    "zlib-6": "XEP-0138: one zlib stream per direction, compressobj(6), Z_SYNC_FLUSH after every unit",
    "zlib-9": "the same with compressobj(9)",
    "deflate-9-dict32k": "one raw deflate-9 stream per direction with the 32 KiB preset dictionary, "
                         "Z_SYNC_FLUSH after every unit",
    "zstd-19-dict16k": "one zstd-19 stream per direction with the 16 KiB dictionary "
                       "(ZstdCompressor(level=19, dict_data=d).compressobj()), a block flush "
                       "(COMPRESSOBJ_FLUSH_BLOCK) after every unit; frame header and end counted",
    "brotli-11": "one brotli-11 stream per direction (brotli.Compressor(quality=11)), flush() after every unit",
}


# --------------------------------------------------------------------------- environment

def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "note": "shared machine: other jobs ran at the same time; speed figures are ratios within one run",
    }


def versions() -> dict:
    import brotli
    import lxml.etree

    out = {
        "python": platform.python_version(), "xmppbin": xmppbin.__version__, "xmppbin_backend": xmppbin.backend,
        "lxml": ".".join(map(str, lxml.etree.LXML_VERSION)), "libxml2": ".".join(map(str, lxml.etree.LIBXML_VERSION)),
        "zstandard": zstandard.__version__, "libzstd": ".".join(map(str, zstandard.ZSTD_VERSION)),
        "zlib": zlib.ZLIB_RUNTIME_VERSION, "brotli": brotli.__version__,
        "git_commit": _run(["git", "-C", str(HERE), "rev-parse", "HEAD"]),
        # the results directory itself (rewritten by this run) does not count
        "git_dirty": bool(_run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!benchmarks/results"])),
        "node": P.node_version(), "baileys": P.baileys_version(),
    }
    try:
        import matplotlib
        out["matplotlib"] = matplotlib.__version__
    except ImportError:
        out["matplotlib"] = None
    return out


# --------------------------------------------------------------------------- corpora

def sample(items: list, n: int | None) -> list:
    """Every k-th item, n of them (deterministic), or all when n is None."""
    if n is None or len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def load_corpora(corpus: Path, quick: bool) -> tuple[dict, list[bytes], dict]:
    """name -> records (the sample), the training split, and notes."""
    notes = {}
    recs = C.load_records(corpus, dict(xmppbin.DEFAULT_CONTEXT))
    training = [r.xml for r in recs if not r.heldout]
    n = 150 if quick else None
    out = {
        "xep-heldout": sample([r for r in recs if r.heldout], n),
        "capture-session": sample(C.load_capture_records(C.SESSION_FIXTURE, dict(xmppbin.DEFAULT_CONTEXT)), n),
        "traffic-seed9001": sample(C.load_capture_records(C.TRAFFIC_FIXTURE, dict(xmppbin.DEFAULT_CONTEXT)), n),
    }
    notes["training"] = {"records": len(training), "xml_bytes": sum(map(len, training)),
                         "source": f"{os.path.relpath(corpus, C.REPO)}, XEP number not divisible by 5"}
    return out, training, notes


# --------------------------------------------------------------------------- per-record sizes

class Compressors:
    """The per-message baselines, dictionaries from the training split only; every output
    is decompressed again and compared with the input."""

    def __init__(self, training: list[bytes]):
        import brotli

        self.brotli = brotli
        self.deflate_dict = C.build_deflate_dict(training)
        self.zstd = {}
        for s in ZSTD_DICT_SIZES:
            d = C.train_zstd_dict(training, s)
            self.zstd[s] = (
                zstandard.ZstdCompressor(level=C.ZSTD_LEVEL, dict_data=d),
                zstandard.ZstdCompressor(level=C.ZSTD_LEVEL, dict_data=d, write_checksum=False,
                                         write_content_size=False, write_dict_id=False),
                zstandard.ZstdDecompressor(dict_data=d),
                len(d.as_bytes()),
            )

    def sizes(self, xml: bytes) -> tuple[dict, list[str]]:
        out: dict[str, int] = {}
        bad: list[str] = []

        def put(key: str, size: int, back: bytes) -> None:
            out[key] = size
            if back != xml:
                bad.append(key)

        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        d = c.compress(xml) + c.flush()
        put("deflate-9", len(d), zlib.decompress(d, -15))
        d = C.deflate_raw(xml, self.deflate_dict)
        put("deflate-9-dict32k", len(d), C.inflate_raw(d, self.deflate_dict))
        for s, (std, lean, dec, _) in self.zstd.items():
            k = f"zstd-19-dict{s // 1024}k"
            d = std.compress(xml)
            put(k, len(d), dec.decompress(d))
            d = lean.compress(xml)
            assert d[:4] == b"\x28\xb5\x2f\xfd"
            put(k + "-lean", len(d) - 4, dec.decompress(d, max_output_size=len(xml)))
        d = self.brotli.compress(xml, quality=11)
        put("brotli-11", len(d), self.brotli.decompress(d))
        return out, bad


def measure_records(name: str, recs: list, comp: Compressors, peers: dict) -> dict:
    sizer = C.XmppbinSizer()
    rows = []  # per record: {"xml": n, method: size}
    rejected = []
    failures: list[str] = []
    nodes: list[dict] = []
    labels: list[str] = []
    lost: dict[str, int] = defaultdict(int)
    for rec in recs:
        xb, bad_xb, why_rejected = sizer.sizes(rec)
        if xb is None:
            rejected.append({"record": rec.label, "error": why_rejected})
            continue
        failures += bad_xb
        row = {"xml": len(rec.xml), "xmppbin-default": xb["default"], "xmppbin-exact": xb["exact"],
               "class": C.message_class(rec.xml)}
        s, bad = comp.sizes(rec.xml)
        row.update(s)
        failures += [f"{rec.label}: {k}: decompressed bytes differ" for k in bad]
        if "whatsapp" in peers:
            node, why = P.xml_to_node(C.wrap(rec.xml, rec.context, rec.open_root))
            nodes.append(node)
            labels.append(rec.label)
            for w in why:
                lost[w] += 1
            if not why and (C.infoset(P.node_to_xml(node), rec.context)
                            != C.infoset(rec.xml, rec.context, rec.open_root)):
                lost["other"] += 1
            lost["records-with-loss"] += bool(why)
        rows.append(row)
    res: dict = {"corpus": name, "records": len(rows), "rejected": rejected, "failures": failures}
    if "whatsapp" in peers and nodes:
        out, summary = P.run_baileys(nodes, rounds=1)
        wa_fail = 0
        failed = []
        for row, o, label in zip(rows, out, labels):
            row["whatsapp"] = o["size"]
            if not o["ok"]:
                wa_fail += 1
                failed.append(label)
        res["whatsapp"] = {"conversion_loss": dict(lost), "decode_not_equal_or_error": wa_fail,
                           "failed_records": failed[:20],
                           "errors": sorted({o["error"] for o in out if o["error"]})[:10]}
    res["methods"] = summarize(rows)
    res["classes"] = by_class(rows)
    res["_rows"] = rows
    return res


def summarize(rows: list[dict]) -> dict:
    methods = [m for m in METHODS if rows and all(m in r for r in rows)]
    xml = sum(r["xml"] for r in rows)
    out = {}
    for m in methods:
        total = sum(r[m] for r in rows)
        per = {"bytes": total, "xml_bytes": xml, "pct_of_xml": 100 * total / xml if xml else None,
               "median_pct_of_xml": 100 * statistics.median(r[m] / r["xml"] for r in rows),
               "median_bytes": statistics.median(r[m] for r in rows), "buckets": {}}
        for lo, hi, label in BUCKETS:
            b = [r for r in rows if r["xml"] >= lo and (hi is None or r["xml"] < hi)]
            bx = sum(r["xml"] for r in b)
            per["buckets"][label] = {"records": len(b), "xml_bytes": bx, "bytes": sum(r[m] for r in b),
                                     "pct_of_xml": 100 * sum(r[m] for r in b) / bx if bx else None,
                                     "median_pct_of_xml": 100 * statistics.median(r[m] / r["xml"] for r in b)
                                     if b else None}
        out[m] = per
    return out


#: the methods of the per-class table: xmppbin against the smallest per-message zstd
CLASS_METHODS = ("xmppbin-default", "zstd-19-dict64k-lean")


def by_class(rows: list[dict]) -> dict:
    """Per message class (_corpus.message_class): records, XML bytes and the bytes of
    CLASS_METHODS, largest XML first."""
    out: dict = {}
    for r in rows:
        c = out.setdefault(r["class"], {"records": 0, "xml_bytes": 0, **{m: 0 for m in CLASS_METHODS}})
        c["records"] += 1
        c["xml_bytes"] += r["xml"]
        for m in CLASS_METHODS:
            c[m] += r.get(m, 0)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["xml_bytes"]))


def stateful_sizes(evs: list, comp: Compressors) -> tuple[dict, list[str]]:
    """The stream's units through one compressor state per method, flushed after every unit
    (what a server must do to send each stanza at once); each decompressed again."""
    import brotli

    xml = b"".join(ev.xml for ev in evs)
    out: dict[str, int] = {}
    bad: list[str] = []
    c = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=comp.deflate_dict)
    d = b"".join(c.compress(ev.xml) + c.flush(zlib.Z_SYNC_FLUSH) for ev in evs)
    out["deflate-9-dict32k"] = len(d)
    if C.inflate_raw(d, comp.deflate_dict) != xml:
        bad.append("deflate-9-dict32k")
    std, _, dec, _ = comp.zstd[16384]
    z = std.compressobj()
    d = b"".join(z.compress(ev.xml) + z.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK) for ev in evs) + z.flush()
    out["zstd-19-dict16k"] = len(d)
    if dec.decompressobj().decompress(d) != xml:
        bad.append("zstd-19-dict16k")
    b = brotli.Compressor(quality=11)
    d = b"".join(b.process(ev.xml) + b.flush() for ev in evs) + b.finish()
    out["brotli-11"] = len(d)
    if brotli.decompress(d) != xml:
        bad.append("brotli-11")
    return out, bad


def measure_streams(path: Path, max_streams: int | None, comp: Compressors) -> dict:
    res = stream_report.measure(path, max_streams=max_streams)
    rows = res["rows"]
    streams = C.capture_streams(path)
    ok = res["round_trips_ok"]
    for row in rows:
        extra, bad = stateful_sizes(C.stream_units(streams[(row["conn"], row["dir"])]), comp)
        row.update(extra)
        ok = ok and not bad
    total_xml = res["total"]["xml"]
    out = {"capture": path.name, "streams": len(rows), "units": res["total"]["units"],
           "xml_bytes": total_xml, "round_trips_ok": ok, "methods": {}}
    zlib6 = res["total"]["zlib-6"]
    for m in STREAM_METHODS:
        tot = sum(r[m] for r in rows)
        out["methods"][m] = {"bytes": tot, "pct_of_xml": 100 * tot / total_xml,
                             "median_pct_of_xml": 100 * statistics.median(r[m] / r["xml"] for r in rows),
                             "vs_zlib6": tot / zlib6}
    return out


# --------------------------------------------------------------------------- speed

def run_speed(out: Path, quick: bool) -> dict:
    """benchmarks/test_bench_report.py under pytest-benchmark, in one run; ratios to lxml."""
    js = out / "speed-benchmark.json"
    env = dict(os.environ, XMPPBIN_REPORT_SAMPLE="200" if quick else "2000",
               XMPPBIN_BENCH_ROUNDS="3" if quick else "15")
    cmd = [sys.executable, "-m", "pytest", str(HERE / "test_bench_report.py"), "-p", "no:cacheprovider",
           "--benchmark-only", f"--benchmark-json={js}", "-q", "--benchmark-disable-gc"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parent)
    if r.returncode != 0:
        raise RuntimeError(f"speed benchmarks failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    data = json.loads(js.read_text())
    rows = {}
    for b in data["benchmarks"]:
        rows[b["name"].split("[", 1)[-1].rstrip("]") if "[" in b["name"] else b["name"]] = {
            "min_s": b["stats"]["min"], "median_s": b["stats"]["median"], "rounds": b["stats"]["rounds"],
            **b["extra_info"]}
    base = rows["lxml parse+serialize"]["min_s"]
    for v in rows.values():
        v["speed_vs_lxml"] = base / v["min_s"]
        v["us_per_stanza"] = 1e6 * v["min_s"] / v["stanzas"]
    res = {"command": " ".join(["XMPPBIN_REPORT_SAMPLE=" + env["XMPPBIN_REPORT_SAMPLE"],
                                "XMPPBIN_BENCH_ROUNDS=" + env["XMPPBIN_BENCH_ROUNDS"], "python", "-m", "pytest",
                                "benchmarks/test_bench_report.py", "--benchmark-only"]),
           "corpus": "traffic-seed9001 top-level elements (no stream headers), every k-th, "
                     f"{env['XMPPBIN_REPORT_SAMPLE']} of them", "rows": rows,
           "speed_vs_lxml": "lxml min time / row min time (above 1: faster than lxml parse+serialize)"}
    js.unlink()
    return res


def baileys_speed(quick: bool) -> dict:
    """Baileys' encode/decode timed inside node on the same stanzas as the speed benchmarks."""
    import test_bench_report as T

    stanzas = T.load_stanzas(200 if quick else 2000)
    nodes = [P.xml_to_node(C.wrap(x, xmppbin.DEFAULT_CONTEXT))[0] for x in stanzas]
    _, s = P.run_baileys(nodes, rounds=5 if quick else 30)
    n = s["nodes"]
    return {"stanzas": n, "rounds": len(s["encode_ns"]), "node": s["node"],
            "encode_us_per_stanza": min(s["encode_ns"]) / 1e3 / n,
            "decode_us_per_stanza": min(s["decode_ns"]) / 1e3 / n,
            "caveat": "timed inside node (process.hrtime.bigint, minimum over rounds of one pass, JIT warm), "
                      "a different runtime from the Python rows; decode is decodeDecompressedBinaryNode"}


# --------------------------------------------------------------------------- scaling

def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _heap_peak(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


BIG_LIMITS = {"max_size": 1 << 24, "max_string": 1 << 24, "max_depth": 1 << 20, "max_elements": 1 << 20}


def stanza_series(quick: bool) -> dict:
    """name -> [(n, make)], in growing order, make() giving the XML: a body of n bytes,
    n nested elements, a roster result with n items. Made one at a time, so that a
    process measuring its peak RSS holds only the stanza it codes."""
    body = [2 ** k for k in range(4, 21 if not quick else 15, 2)]
    depth = [1, 4, 16, 64, 256, 1024] + ([4096] if not quick else [])
    width = [1, 16, 256, 4096] + ([32768] if not quick else [])

    def message(n: int) -> bytes:
        return b"<message to='a@example.org' type='chat'><body>" + b"x" * n + b"</body></message>"

    def nested(d: int) -> bytes:
        return b"<message>" + b"<x xmlns='urn:a'>" * d + b"t" + b"</x>" * d + b"</message>"

    def roster(w: int) -> bytes:
        return (b"<iq type='result'><query xmlns='jabber:iq:roster'>"
                + b"".join(b"<item jid='u%d@example.org' subscription='both'/>" % i for i in range(w))
                + b"</query></iq>")

    return {"body": [(n, lambda n=n: message(n)) for n in body],
            "depth": [(d, lambda d=d: nested(d)) for d in depth],
            "width": [(w, lambda w=w: roster(w)) for w in width]}


def rss_series(name: str, quick: bool) -> list:
    """Run in a fresh process (see scaling_stanza): per point of the series, in growing order,
    what one encode and one decode call add to the process's peak RSS (VmHWM, reset before
    each call where the kernel allows, against the larger of the current RSS and that peak),
    C allocations included."""
    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def peak() -> int:
        # VmHWM: this process image's peak RSS (ru_maxrss would carry the peak of the
        # process that forked us across exec)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise OSError("no VmHWM in /proc/self/status")

    def reset_peak() -> None:
        try:  # Linux >= 4.0: "5" resets the peak RSS to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass

    codec = xmppbin.Codec(**BIG_LIMITS)
    codec.decode(codec.encode(b"<message/>"))
    out = []
    for _, make in stanza_series(quick)[name]:
        xml = make()
        reset_peak()
        before = max(rss(), peak())
        enc = codec.encode(xml)
        e = max(0, peak() - before)
        reset_peak()
        before = max(rss(), peak())
        codec.decode(enc)
        out.append((e, max(0, peak() - before)))
    return out


def scaling_stanza(quick: bool) -> dict:
    """Time and memory of encode/decode (C backend) as one stanza grows."""
    from lxml import etree

    codec = xmppbin.Codec(**BIG_LIMITS)  # default mode is timed; exact mode checks the round trip
    exact = xmppbin.Codec(exact=True, **BIG_LIMITS)
    parser = etree.XMLParser(huge_tree=True)

    def lxml_time(xml: bytes, rep: int) -> float | None:
        try:
            return _best(lambda: etree.tostring(etree.fromstring(xml, parser)), rep)
        except etree.XMLSyntaxError:  # libxml2's nesting limit (2048 with huge_tree)
            return None

    out: dict = {"backend": xmppbin.backend, "series": {},
                 "memory": "heap peak: tracemalloc peak of the call (the Python heap: input/output bytes objects "
                 "and Python-side objects; the C core's malloc is not traced); RSS peak: what one call adds "
                 "to the peak RSS (VmHWM) of a fresh process coding the series in growing order (C "
                 "allocations included; page granularity; 0 when the call fits in memory the process "
                 "already had)"}
    have_proc = Path("/proc/self/statm").is_file()
    for name, items in stanza_series(quick).items():
        rss: list = [(None, None)] * len(items)
        if have_proc:
            r = subprocess.run([sys.executable, "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); "
                                "import report; print(json.dumps(report.rss_series(sys.argv[2], sys.argv[3] == '1')))",
                                str(HERE), name, "1" if quick else "0"],
                               capture_output=True, text=True, timeout=600, check=True)
            rss = json.loads(r.stdout)
        pts = []
        for (n, make), (rss_e, rss_d) in zip(items, rss):
            xml = make()
            enc = codec.encode(xml)
            if exact.decode(exact.encode(xml)) != xml:
                raise AssertionError(f"scaling {name} {n}: the exact round trip failed")
            rep = 3 if len(xml) > 100_000 else 20
            pts.append({
                "n": n, "xml_bytes": len(xml), "encoded_bytes": len(enc),
                "encode_s": _best(lambda x=xml: codec.encode(x), rep),
                "decode_s": _best(lambda e=enc: codec.decode(e), rep),
                "lxml_s": lxml_time(xml, rep),
                "encode_heap_peak": _heap_peak(lambda x=xml: codec.encode(x)),
                "decode_heap_peak": _heap_peak(lambda e=enc: codec.decode(e)),
                "encode_rss_peak_delta": rss_e,
                "decode_rss_peak_delta": rss_d,
            })
        out["series"][name] = pts
    return out


def scaling_session(records: list, n: int) -> dict:
    """Stream mode over n stanzas (the traffic capture's elements, cycled) on one stream:
    the C state's footprint() and the process RSS as the session grows."""
    elems = [r.xml for r in records if r.kind != "stream-header" and not r.assumed_prefixes]
    header = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
              b"to='example.org' version='1.0'>")
    enc, dec = S.StreamEncoder(exact=True), S.StreamDecoder()
    dec.feed(enc.feed(header))
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def rss() -> int:
        try:
            return int(Path("/proc/self/statm").read_text().split()[1]) * page
        except OSError:
            return 0

    step = max(1, n // 50)
    pts = []
    xml_total = enc_total = 0
    t0 = time.perf_counter()
    for i in range(n):
        x = elems[i % len(elems)]
        data = enc.feed(x)
        got = dec.feed(data)
        if len(got) != 1 or got[0].xml != x:
            raise AssertionError(f"session scaling: stanza {i} did not round-trip")
        xml_total += len(x)
        enc_total += len(data)
        if (i + 1) % step == 0:
            pts.append({"stanzas": i + 1, "xml_bytes": xml_total, "encoded_bytes": enc_total,
                        "enc_footprint": enc.footprint(), "dec_footprint": dec.footprint(), "rss": rss(),
                        "elapsed_s": time.perf_counter() - t0})
    return {"stanzas": n, "distinct_stanzas": len(elems), "points": pts,
            "corpus": "traffic-seed9001 top-level elements, cycled, on one stream (exact mode, C backend)"}


# --------------------------------------------------------------------------- plots

def plots(rep: dict, out: Path) -> list[str]:
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    cmd = rep["command"]

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)

    # size per bucket, one panel per corpus
    sizes = rep["sizes"]
    show = [m for m in ("xmppbin-default", "xmppbin-exact", "deflate-9", "deflate-9-dict32k", "zstd-19-dict16k",
                        "zstd-19-dict16k-lean", "brotli-11", "whatsapp")
            if any(m in s["methods"] for s in sizes.values())]
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.8), sharey=True)
    for ax, (name, s) in zip(axes, sizes.items()):
        labels = [b[2] for b in BUCKETS] + ["all"]
        w = 0.8 / len(show)
        for i, m in enumerate(show):
            if m not in s["methods"]:
                continue
            vals = [s["methods"][m]["buckets"][b]["pct_of_xml"] or 0 for b in labels[:-1]]
            vals.append(s["methods"][m]["pct_of_xml"])
            ax.bar([j + i * w for j in range(len(labels))], vals, w, label=METHODS[m][0])
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(labels))])
        ax.set_xticklabels([f"{lb}\n({s['methods']['xmppbin-default']['buckets'][lb]['records']})"
                            if lb != "all" else f"all\n({s['records']})" for lb in labels], fontsize=8)
        ax.set_title(f"{name}: per stanza", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("% of XML bytes (aggregate; lower is better)")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"Size per message by XML size bucket (records per bucket in brackets)\n{cmd}", fontsize=9)
    save(fig, "size-buckets.png")

    if rep.get("streams"):
        fig, ax = plt.subplots(figsize=(8, 4))
        names = list(rep["streams"])
        ms = list(STREAM_METHODS)
        w = 0.8 / len(names)
        for i, n in enumerate(names):
            ax.bar([j + i * w for j in range(len(ms))], [rep["streams"][n]["methods"][m]["pct_of_xml"] for m in ms],
                   w, label=n)
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(ms))])
        ax.set_xticklabels(ms, fontsize=8)
        ax.set_ylabel("% of XML bytes (aggregate over streams)")
        ax.set_title(f"Per stream (each direction of each connection)\n{cmd}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        save(fig, "size-streams.png")

    if rep.get("speed", {}).get("rows"):
        rows = rep["speed"]["rows"]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
        names = list(rows)
        ax.barh(names, [rows[n]["speed_vs_lxml"] for n in names])
        ax.axvline(1, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("speed relative to lxml parse+serialize (min time, same run; log scale)")
        ax.set_title(f"Speed, {rep['speed']['corpus']}", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        save(fig, "speed.png")

    sc = rep.get("scaling", {})
    if sc.get("stanza"):
        series = sc["stanza"]["series"]
        fig, axes = plt.subplots(2, len(series), figsize=(5 * len(series), 7))
        for j, (name, pts) in enumerate(series.items()):
            xs = [p["xml_bytes"] for p in pts]
            ax = axes[0][j]
            for k, lab in (("encode_s", "xmppbin encode"), ("decode_s", "xmppbin decode"),
                           ("lxml_s", "lxml parse+serialize")):
                have = [(x, p[k]) for x, p in zip(xs, pts) if p[k] is not None]
                ax.loglog([h[0] for h in have], [h[1] for h in have], "o-", label=lab, ms=3)
            ax.set_title(f"one stanza grows: {name}", fontsize=9)
            ax.set_xlabel("XML bytes")
            ax.set_ylabel("seconds (best of repeats)")
            ax.legend(fontsize=7)
            ax = axes[1][j]
            ax.loglog(xs, [p["encode_heap_peak"] for p in pts], "o-", label="encode", ms=3)
            ax.loglog(xs, [p["decode_heap_peak"] for p in pts], "o-", label="decode", ms=3)
            for k, lab in (("encode_rss_peak_delta", "encode, RSS"), ("decode_rss_peak_delta", "decode, RSS")):
                have = [(x, p[k]) for x, p in zip(xs, pts) if p.get(k)]
                if have:
                    ax.loglog([h[0] for h in have], [h[1] for h in have], "s--", label=lab, ms=3)
            ax.set_xlabel("XML bytes")
            ax.set_ylabel("peak bytes: heap (tracemalloc), RSS added")
            ax.legend(fontsize=7)
        fig.suptitle(f"Scaling of one stanza (C backend)\n{cmd}", fontsize=9)
        save(fig, "scaling-stanza.png")
    if sc.get("session"):
        pts = sc["session"]["points"]
        fig, ax = plt.subplots(figsize=(8, 4))
        xs = [p["stanzas"] for p in pts]
        ax.plot(xs, [p["enc_footprint"] / 1024 for p in pts], label="StreamEncoder.footprint()")
        ax.plot(xs, [p["dec_footprint"] / 1024 for p in pts], label="StreamDecoder.footprint()")
        ax.set_xlabel("stanzas on one stream")
        ax.set_ylabel("footprint, KiB")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(xs, [p["rss"] / 2**20 for p in pts], color="C2", label="process RSS")
        ax2.set_ylabel("process RSS, MiB")
        ax2.set_ylim(bottom=0)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower right")
        ax.set_title(f"Stream mode as a session grows: {sc['session']['corpus']}\n{cmd}", fontsize=8)
        save(fig, "scaling-session.png")
    return made


# --------------------------------------------------------------------------- markdown

def _bytes(v) -> str:
    return "-" if v is None else f"{v:,}"


def _us(v) -> str:
    return "fails (libxml2 depth limit)" if v is None else f"{v * 1e6:,.1f} µs"


def _pct(v) -> str:
    return "-" if v is None else f"{v:.1f}%"


HEADLINE_METHODS = ("xmppbin-default", "xmppbin-exact", "zstd-19-dict16k", "zstd-19-dict64k-lean",
                    "deflate-9-dict32k", "brotli-11", "whatsapp")


def headline(rep: dict) -> list[str]:
    """The headline table: aggregate % of XML per corpus, per stanza and per stream."""
    names = list(rep["sizes"])
    L = ["## Headline", "", f"Aggregate size in % of the XML bytes (lower is better); `{rep['command']}`, "
         f"{rep['date']}.", "",
         "| per stanza | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for m in HEADLINE_METHODS:
        if all(m in rep["sizes"][n]["methods"] for n in names):
            L.append(f"| {METHODS[m][0]} | " + " | ".join(
                _pct(rep["sizes"][n]["methods"][m]["pct_of_xml"]) for n in names) + " |")
    L.append("| records | " + " | ".join(f"{rep['sizes'][n]['records']:,}" for n in names) + " |")
    if rep.get("streams"):
        sn = list(rep["streams"])
        L += ["", "| per stream | " + " | ".join(sn) + " |", "|---|" + "---:|" * len(sn)]
        for m in ("stream-exact", "stream-default", "stateless-exact", "zlib-6", "deflate-9-dict32k",
                  "zstd-19-dict16k", "brotli-11"):
            L.append(f"| {m} | " + " | ".join(_pct(rep["streams"][n]["methods"][m]["pct_of_xml"]) for n in sn)
                     + " |")
        L.append("| streams | " + " | ".join(str(rep["streams"][n]["streams"]) for n in sn) + " |")
    L += ["", "WhatsApp: Baileys' WABinary codec on the node form of the same stanzas (its token dictionary is "
          "made for WhatsApp, not XMPP; what the conversion loses is counted below). EXI: not measured, see "
          "Peers.", ""]
    return L


def markdown(rep: dict) -> str:
    L = []
    m = rep["machine"]
    v = rep["versions"]
    L += ["# xmppbin benchmark report", "",
          f"Made by `{rep['command']}` on {rep['date']} in {rep['elapsed_s']:.0f} s. "
          "Every number below comes from that run (report.json beside this file holds them all); none is "
          "edited by hand.", "",
          f"Machine: {m['cpu']}, {m['cpus_usable']} usable CPUs, {m['platform']}; load average at start "
          f"{m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f} ({m['note']}).", "",
          "Time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in rep.get("stages_s", {}).items()) + ".", "",
          "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val not in (None, "")), ""]
    if rep["quick"]:
        L += ["**Quick mode**: a sample of every corpus (every k-th record, at most 150; the first streams "
              "of each capture). Not the figures to quote.", ""]
    L += headline(rep) + ["## Corpora", ""]
    for k, d in CORPORA.items():
        L.append(f"* **{k}**: {d}")
    t = rep["training"]
    L += ["", f"Dictionaries (zstd 4/16/64 KiB, deflate 32 KiB) are trained on the XEP training split only "
          f"({t['records']:,} records, {t['xml_bytes']:,} bytes, {t['source']}); xmppbin's token dictionary "
          "was built from the same split. No test corpus above was seen by any of them.", ""]
    L += ["## Peers", ""]
    for k, p in rep["peers"].items():
        L.append(f"* **{k}**: {p['status']}. {p.get('detail', '')}")
    L += ["", "## Size per stanza", "",
          "Each record coded on its own. % of XML = output bytes / XML bytes: *aggregate* is the sum over "
          "the records, *median* the median of the per-record percentages. Lower is better.", ""]
    for name, s in rep["sizes"].items():
        rej = f", {len(s['rejected'])} rejected as restricted XML, left out for every method" if s["rejected"] else ""
        L += [f"### {name} ({s['records']:,} records, {s['methods']['xmppbin-default']['xml_bytes']:,} XML bytes"
              f"{rej})",
              "", "| method | bytes | aggregate | median | " + " | ".join(b[2] for b in BUCKETS) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(BUCKETS)]
        for k, r in s["methods"].items():
            L.append(f"| {METHODS[k][0]} | {r['bytes']:,} | {_pct(r['pct_of_xml'])} | {_pct(r['median_pct_of_xml'])} | "
                     + " | ".join(_pct(r["buckets"][b[2]]["pct_of_xml"]) for b in BUCKETS) + " |")
        L.append("| records per bucket | | | | " + " | ".join(
            f"{s['methods']['xmppbin-default']['buckets'][b[2]]['records']:,}" for b in BUCKETS) + " |")
        L.append("")
        if "whatsapp" in s:
            w = s["whatsapp"]
            cl = w["conversion_loss"]
            L += [f"WhatsApp row: of {s['records']:,} records, the XML -> node conversion lost something in "
                  f"{cl.get('records-with-loss', 0):,} (mixed text: {cl.get('mixed-text', 0):,}, whitespace-only "
                  f"text between children: {cl.get('whitespace', 0):,}, comments/PIs: {cl.get('comment-pi', 0):,}); "
                  f"Baileys' decode did not give the node back (or failed) for "
                  f"{w['decode_not_equal_or_error']:,}. Its token dictionary is made for WhatsApp's tags, "
                  "not XMPP's.", ""]
        if s.get("classes"):
            a, b = CLASS_METHODS
            L += [f"Per message class (`_corpus.message_class`), {METHODS[a][0]} against {METHODS[b][0]}:", "",
                  "| class | records | XML bytes | xmppbin | zstd lean | xmppbin / zstd |",
                  "|---|---:|---:|---:|---:|---:|"]
            for k, c in s["classes"].items():
                ratio = c[a] / c[b] if c[b] else float("inf")
                mark = " **larger**" if ratio > 1 else ""
                L.append(f"| {k} | {c['records']:,} | {c['xml_bytes']:,} | {_pct(100 * c[a] / c['xml_bytes'])} | "
                         f"{_pct(100 * c[b] / c['xml_bytes'])} | {ratio:.3f}{mark} |")
            L.append("")
        if s["failures"]:
            L += [f"**Round-trip failures: {len(s['failures'])}** (first: {s['failures'][0]})", ""]
    L += ["Methods:", ""]
    for label, how in METHODS.values():
        L.append(f"* **{label}**: {how}")
    if rep.get("streams"):
        L += ["", "## Size per stream", "",
              "Each direction of each captured connection is one stream. Aggregate and median % of XML over "
              "streams; */ zlib-6* is the method's bytes over the XEP-0138 zlib-6 stream's.", ""]
        for name, s in rep["streams"].items():
            L += [f"### {name} ({s['streams']} streams, {s['units']:,} units, {s['xml_bytes']:,} XML bytes; "
                  f"round trips {'ok' if s['round_trips_ok'] else 'FAILED'})", "",
                  "| method | bytes | aggregate | median | / zlib-6 |", "|---|---:|---:|---:|---:|"]
            for k, r in s["methods"].items():
                L.append(f"| {k} | {r['bytes']:,} | {_pct(r['pct_of_xml'])} | {_pct(r['median_pct_of_xml'])} | "
                         f"{r['vs_zlib6']:.3f} |")
            L.append("")
        for k, how in STREAM_METHODS.items():
            L.append(f"* **{k}**: {how}")
    sp = rep.get("speed")
    if sp and sp.get("rows"):
        L += ["", "## Speed", "", f"pytest-benchmark, one run: `{sp['command']}`. Corpus: {sp['corpus']}. "
              f"{sp['speed_vs_lxml']}.", "",
              "| benchmark | min per pass | µs per stanza | MB/s (XML) | vs lxml |", "|---|---:|---:|---:|---:|"]
        for k, r in sp["rows"].items():
            L.append(f"| {k} | {r['min_s'] * 1e3:.2f} ms | {r['us_per_stanza']:.2f} | "
                     f"{r['xml_bytes'] / r['min_s'] / 1e6:.1f} | {r['speed_vs_lxml']:.2f}x |")
        b = sp.get("baileys")
        if b:
            L += ["", f"Beside it, not comparable one to one: Baileys WABinary in node {b['node']} on the same "
                  f"{b['stanzas']:,} stanzas: encode {b['encode_us_per_stanza']:.2f} µs, decode "
                  f"{b['decode_us_per_stanza']:.2f} µs per stanza ({b['caveat']})."]
    sc = rep.get("scaling", {})
    if sc.get("stanza"):
        L += ["", "## Scaling", "", "One stanza grows (C backend; best of repeats; "
              f"{sc['stanza']['memory']}):", "",
              "| series | n | XML bytes | encoded | encode | decode | lxml | encode heap peak | encode RSS peak "
              "| decode RSS peak |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, pts in sc["stanza"]["series"].items():
            for p in pts:
                L.append(f"| {name} | {p['n']:,} | {p['xml_bytes']:,} | {p['encoded_bytes']:,} | "
                         f"{p['encode_s'] * 1e6:,.1f} µs | {p['decode_s'] * 1e6:,.1f} µs | {_us(p['lxml_s'])}"
                         f" | {p['encode_heap_peak']:,} | {_bytes(p['encode_rss_peak_delta'])} | "
                         f"{_bytes(p['decode_rss_peak_delta'])} |")
        L += ["", "*body*: one message with a body of n bytes; *depth*: n nested elements; *width*: a roster "
              "result with n items."]
    if sc.get("session"):
        s = sc["session"]
        p0, p1 = s["points"][0], s["points"][-1]
        L += ["", f"A session grows: {s['corpus']}, {s['stanzas']:,} stanzas ({s['distinct_stanzas']:,} distinct). "
              f"After {p0['stanzas']:,} stanzas: encoder footprint {p0['enc_footprint']:,} B, decoder "
              f"{p0['dec_footprint']:,} B, RSS {p0['rss'] / 2**20:.1f} MiB; after {p1['stanzas']:,}: encoder "
              f"{p1['enc_footprint']:,} B, decoder {p1['dec_footprint']:,} B, RSS {p1['rss'] / 2**20:.1f} MiB; "
              f"max encoder footprint {max(p['enc_footprint'] for p in s['points']):,} B, max decoder "
              f"{max(p['dec_footprint'] for p in s['points']):,} B. {p1['xml_bytes']:,} XML bytes coded to "
              f"{p1['encoded_bytes']:,} in {p1['elapsed_s']:.2f} s (encode + decode + checks)."]
    if rep["plots"]:
        L += ["", "## Plots", ""] + [f"![{p}]({p})" for p in rep["plots"]]
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small sample of every corpus (the test suite runs it)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output directory (default: %(default)s)")
    ap.add_argument("--corpus", type=Path, default=C.DEFAULT_CORPUS_DIR,
                    help="XEP corpus directory or file (default: %(default)s)")
    ap.add_argument("--no-speed", action="store_true", help="skip the pytest-benchmark speed run")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling measurements")
    ap.add_argument("--no-peers", action="store_true", help="do not run node/java peers (marked as skipped)")
    ap.add_argument("--session-stanzas", type=int, default=None,
                    help="stanzas in the session scaling run (default 100000, quick 5000)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    corpus = C.corpus_file(args.corpus)
    if not corpus.is_file():
        print(f"report: XEP corpus not found: {corpus}", file=sys.stderr)
        return 2
    given = list(argv if argv is not None else sys.argv[1:])
    shown = ["python", "benchmarks/report.py"]
    skip = False
    for a in given:  # the command as run, less the output directory
        if skip or a.startswith("--out"):
            skip = a == "--out"
            continue
        shown.append(a)
    rep: dict = {"command": " ".join(shown), "quick": args.quick,
                 "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": machine(), "versions": versions()}

    peers: dict = {}
    rep["peers"] = {}
    if args.no_peers:
        rep["peers"]["whatsapp"] = {"status": "skipped (--no-peers)"}
    else:
        try:
            wab = P.ensure_wabinary()
            peers["whatsapp"] = wab
            rep["peers"]["whatsapp"] = {
                "status": f"ran: baileys {P.baileys_version()} lib/WABinary (encodeBinaryNode, decodeBinaryNode) "
                          f"in node {P.node_version()}",
                "detail": "Fetched by `npm pack` (benchmarks/_peers.ensure_wabinary): `npm install baileys` fails "
                          "here because baileys depends on git-hosted packages; only lib/WABinary is loaded. "
                          "Lossless for WhatsApp means: the decoded node equals the node given (tag, attributes in "
                          "order, string or child-list content). The XML -> node conversion loses mixed text, "
                          "whitespace between children, comments and PIs (counted per corpus below) and, like "
                          "xmppbin default mode, the lexical form (quotes, references, spacing in tags)."}
        except P.PeerMissing as e:
            rep["peers"]["whatsapp"] = {"status": f"missing: {e}"}
    rep["peers"]["exi"] = {"status": "missing (no working EXI implementation installs here)", "detail": EXI_NOTE}

    stages: dict[str, float] = {}
    mark = [time.perf_counter()]

    def stage(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - mark[0], 2)
        mark[0] = now
        print(f"{name}: {stages[name]:.1f} s", flush=True)

    stage("setup and peers")
    corpora, training, notes = load_corpora(corpus, args.quick)
    rep["training"] = notes["training"]
    comp = Compressors(training)
    stage("corpora and dictionaries")
    rep["dictionaries"] = {"deflate_bytes": len(comp.deflate_dict),
                           "zstd_bytes": {str(s): v[3] for s, v in comp.zstd.items()}}
    rep["sizes"] = {}
    ok = True
    for name, recs in corpora.items():
        res = measure_records(name, recs, comp, peers)
        res.pop("_rows")
        rep["sizes"][name] = res
        ok = ok and not res["failures"]
        stage(f"sizes {name} ({res['records']} records)")
    rep["streams"] = {}
    for path in (C.SESSION_FIXTURE, C.TRAFFIC_FIXTURE):
        s = measure_streams(path, 4 if args.quick else None, comp)
        rep["streams"][path.stem] = s
        ok = ok and s["round_trips_ok"]
        stage(f"streams {path.stem} ({s['streams']} streams)")
    if not args.no_speed:
        rep["speed"] = run_speed(out, args.quick)
        if "whatsapp" in peers:
            rep["speed"]["baileys"] = baileys_speed(args.quick)
        stage("speed")
    rep["scaling"] = {}
    if not args.no_scaling:
        rep["scaling"]["stanza"] = scaling_stanza(args.quick)
        traffic = C.load_capture_records(C.TRAFFIC_FIXTURE, dict(xmppbin.DEFAULT_CONTEXT))
        n = args.session_stanzas or (5000 if args.quick else 100_000)
        rep["scaling"]["session"] = scaling_session(traffic, n)
        stage("scaling")
    rep["machine"]["loadavg_end"] = list(os.getloadavg())
    rep["elapsed_s"] = time.perf_counter() - t0  # the plots need it; set again after them
    rep["plots"] = plots(rep, out)
    stage("plots")
    rep["stages_s"] = stages
    rep["elapsed_s"] = time.perf_counter() - t0
    rep["methods"] = {k: {"label": a, "how": b} for k, (a, b) in METHODS.items()}
    rep["stream_methods"] = STREAM_METHODS
    rep["corpora"] = CORPORA
    (out / "report.json").write_text(json.dumps(rep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(rep), encoding="utf-8")
    print(f"wrote {out / 'report.md'}, {out / 'report.json'} and {len(rep['plots'])} plots "
          f"in {rep['elapsed_s']:.0f} s", flush=True)
    return 0 if ok else 1


EXI_NOTE = (
    "No EXI row: no maintained EXI implementation that installs here could code these stanzas. Tried "
    "(2026-12-04): npm `exificient.js@0.0.5` (the JavaScript port of EXIficient, its latest version) installs, "
    "but it cannot code schema-less EXI: its encoder throws 'TODO StartElement Generic not implemented yet' "
    "for SE(*), which every built-in (schema-less) grammar needs, and it always runs in strict mode; schema-"
    "informed use needs grammars as JSON generated from the XSDs by the Java tool exificient-grammars "
    "(Grammars2JSON), which comes from Maven Central, not reachable from these machines (Java 17 is "
    "installed, no EXIficient jar is); it also sorts attributes by local name, does not keep namespace "
    "prefixes, and needs a DOM parser that node lacks. PyPI and Debian: no EXI implementation found in the "
    "package lists (`apt-cache search` for exi, exificient, 'efficient xml interchange': none; no OpenEXI "
    "or EXIficient package). See benchmarks/README.md."
)

if __name__ == "__main__":
    sys.exit(main())
