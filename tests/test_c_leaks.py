"""The C core leaks nothing and touches no invalid memory: tests/c/leakcheck.c, built
with gcc -fsanitize=address,undefined (LeakSanitizer included), runs every sample
record and its encodings, truncations and corruptions through the C API, and the
recorded session's units through stream states (encode, decode, corrupted bodies)."""
from __future__ import annotations

import os
import random
import struct
import subprocess

import pytest

import xmppbin

SINGLE_BACKEND = True  # drives the C API directly

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCES = ["tests/c/leakcheck.c", "csrc/dict.c", "csrc/util.c", "csrc/dec_out.c", "csrc/scan.c", "csrc/sstate.c",
           "csrc/encode.c", "csrc/serialize.c", "csrc/decode.c", "csrc/stream.c"]


def inputs(sample_records) -> bytes:
    rnd = random.Random(3)
    out = bytearray()

    def add(tag: bytes, data: bytes) -> None:
        out.extend(tag + struct.pack("<I", len(data)) + data)

    for rec in sample_records[:400]:
        xml = rec["xml"].encode()
        add(b"E", xml)
        add(b"E", xml[: rnd.randrange(len(xml) + 1)])
        try:
            msg = xmppbin.encode(xml, allow_comments=True, exact=rnd.random() < 0.5,
                                 context=dict(xmppbin.DEFAULT_CONTEXT, **rec["assumed_prefixes"]),
                                 open_root=rec["kind"] == "stream-header")
        except xmppbin.XmppbinError:
            continue
        add(b"D", msg)
        add(b"D", msg[: rnd.randrange(len(msg) + 1)])
        b = bytearray(msg)
        b[rnd.randrange(2, len(b))] ^= 1 << rnd.randrange(8)
        add(b"D", bytes(b))
    # stream mode: the units of the recorded session (tests/data/capture-session.jsonl)
    from test_stream import STREAMS

    from xmppbin.stream import XmlSplitter

    for key in sorted(STREAMS):
        sp = XmlSplitter()
        for chunk in STREAMS[key]:
            for ev in sp.feed(chunk):
                if ev.kind in ("open", "element"):
                    add(b"O" if ev.kind == "open" else b"U", ev.xml)
    return bytes(out)


def test_no_leaks_or_memory_errors(sample_records, tmp_path):
    exe = tmp_path / "leakcheck"
    cmd = ["gcc", "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
           "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "csrc"),
           *[os.path.join(ROOT, s) for s in SOURCES], "-o", str(exe), "-lpthread"]
    built = subprocess.run(cmd, capture_output=True, text=True)
    if built.returncode != 0 and "sanitize" in built.stderr and os.environ.get("CI") is None:
        pytest.skip(f"no sanitizer runtime for gcc here: {built.stderr[:200]}")
    assert built.returncode == 0, built.stderr
    r = subprocess.run([str(exe)], input=inputs(sample_records), capture_output=True,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                                UBSAN_OPTIONS="print_stacktrace=1"))
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    ok, errors = (int(x.split()[0]) for x in r.stdout.decode().split(", "))
    assert ok > 1000 and errors > 1000  # both success and error paths were exercised
