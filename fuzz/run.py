#!/usr/bin/env python3
"""Build and run the fuzz targets.

    python fuzz/run.py --seconds 60            # every target for 60 s each
    python fuzz/run.py --seconds 3600 decode   # one target, the long run

libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined; Debian packages clang
and libclang-rt-dev): decode and encode drive the C core directly. The atheris target
"diff" (PyPI atheris) compares the C backend with the pure-Python reference on every
input. Seeds come from spec/vectors and tests/data; new inputs are kept in
build/fuzz/<target>/corpus, crashes in build/fuzz/<target>/ (crash-*). Exit status is
non-zero if any target found a problem. Prints the CPU seconds fuzzed per target.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "fuzz")
sys.path.insert(0, ROOT)

C_TARGETS = {
    # each harness links the csrc/ files below its entry point (csrc/README.md)
    "decode": (["fuzz/fuzz_decode.c", "csrc/decode.c", "csrc/serialize.c", "csrc/dec_out.c", "csrc/sstate.c",
                "csrc/dict.c"], "decode"),
    "encode": (["fuzz/fuzz_encode.c", "csrc/encode.c", "csrc/scan.c", "csrc/sstate.c", "csrc/util.c", "csrc/decode.c",
                "csrc/serialize.c", "csrc/dec_out.c", "csrc/dict.c"], "encode"),  # it decodes what it encoded
    # the stream I/O path: splitter, framing and both feed loops, whole vs chunked
    "stream": (["fuzz/fuzz_stream.c", "csrc/split.c", "csrc/frame.c", "csrc/stream.c", "csrc/encode.c", "csrc/scan.c",
                "csrc/sstate.c", "csrc/util.c", "csrc/decode.c", "csrc/serialize.c", "csrc/dec_out.c", "csrc/dict.c"],
               "stream"),
}


def seeds(kind: str) -> list[bytes]:
    """Seed inputs with the options byte their harness expects first: 0 for the C
    targets (default options); for "diff", 0x00 + a message (decode) or 0x82 + XML
    (encode, default limits, comments allowed: the lxml comparison applies)."""
    import xmppbin

    vec = os.path.join(ROOT, "spec", "vectors")
    with open(os.path.join(vec, "valid.json"), encoding="utf-8") as f:
        valid = json.load(f)["vectors"]
    with open(os.path.join(vec, "invalid-binary.json"), encoding="utf-8") as f:
        invalid = json.load(f)["vectors"]
    with open(os.path.join(ROOT, "tests", "data", "xep-sample.jsonl"), encoding="utf-8") as f:
        sample = [json.loads(line) for line in f][:300]
    messages = [bytes.fromhex(v["binary"]) for v in valid + invalid]
    for r in sample:
        for exact in (False, True):
            try:
                messages.append(xmppbin.encode(r["xml"], exact=exact, allow_comments=True,
                                               open_root=r["kind"] == "stream-header",
                                               context=dict(xmppbin.DEFAULT_CONTEXT, **r["assumed_prefixes"])))
            except xmppbin.XmppbinError:
                pass
    xmls = [v["xml"].encode() for v in valid] + [r["xml"].encode() for r in sample]
    if kind == "decode":
        return [b"\0" + m for m in messages]
    if kind == "encode":
        return [b"\0" + x for x in xmls]
    if kind == "stream":  # fuzz_stream: options byte, then frames or raw XML (both loops get both)
        return stream_seeds()
    # stream mode (fuzz_diff: options 0x40 | exact << 5 | k << 2): element frame k + 1's body
    from xmppbin import stream

    with open(os.path.join(ROOT, "tests", "data", "capture-session.jsonl"), encoding="utf-8") as f:
        next(f)
        recs = [json.loads(line) for line in f]
    key = min((r["conn"], r["dir"]) for r in recs)
    chunks = [r["data"].encode() if "data" in r else __import__("base64").b64decode(r["data_b64"])
              for r in recs if (r["conn"], r["dir"]) == key]
    bodies = []
    for exact in (False, True):
        data = stream.encode_stream(chunks, exact=exact)
        pos, k = 0, -1
        while pos < len(data) and k < 8:
            v, p = stream.get_varint(data, pos, stream.MAX_FRAME_HEADER)
            kind, n = stream.frame_header(v)
            if kind == stream.FRAME_ELEMENT:
                bodies.append(bytes([0x40 | exact << 5 | max(k, 0) << 2]) + data[p : p + n])
            if kind in (stream.FRAME_OPEN, stream.FRAME_ELEMENT):
                k += 1
            pos = p + n
    return [b"\0" + m for m in messages] + [b"\x82" + x for x in xmls] + bodies


def stream_seeds() -> list[bytes]:
    """Raw XML streams of the capture (first 4 KB of each direction) and their
    frames, with a few option bytes (exact, in_stream, chunk sizes)."""
    import base64

    from xmppbin import stream
    from xmppbin.errors import XmppbinError

    with open(os.path.join(ROOT, "tests", "data", "capture-session.jsonl"), encoding="utf-8") as f:
        next(f)
        recs = [json.loads(line) for line in f]
    raw: dict = {}
    for r in recs:
        data = r["data"].encode() if "data" in r else base64.b64decode(r["data_b64"])
        raw[(r["conn"], r["dir"])] = raw.get((r["conn"], r["dir"]), b"") + data
    out = []
    for i, data in enumerate(raw.values()):
        data = data[:4000]
        out.append(bytes([(i % 4) << 5]) + data)
        for exact in (0, 1):
            try:
                frames = stream.encode_stream([data], exact=bool(exact), table_size=4096)
            except XmppbinError:
                continue
            out.append(bytes([exact | (i % 4) << 5]) + frames[:4000])
    return out


def build_c(name: str) -> str:
    sources, _ = C_TARGETS[name]
    exe = os.path.join(BUILD, name, "fuzz_" + name)
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cmd = ["clang", "-std=c11", "-g", "-O1", "-fno-omit-frame-pointer", "-fsanitize=fuzzer,address,undefined",
           "-fno-sanitize-recover=all", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "csrc"),
           *[os.path.join(ROOT, s) for s in sources], "-o", exe, "-lpthread"]
    subprocess.run(cmd, check=True)
    return exe


def write_seeds(name: str, kind: str) -> str:
    """The working corpus: generated seeds plus the regression inputs of fixed findings."""
    d = os.path.join(BUILD, name, "corpus")
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds(kind)):
        with open(os.path.join(d, f"seed-{i:05d}"), "wb") as f:
            f.write(s)
    reg = os.path.join(ROOT, "fuzz", "regressions", name)
    if os.path.isdir(reg):
        for fn in sorted(os.listdir(reg)):
            shutil.copyfile(os.path.join(reg, fn), os.path.join(d, "regression-" + fn))
    return d


def run_c(name: str, seconds: int) -> tuple[int, float]:
    exe = build_c(name)
    corpus = write_seeds(name, C_TARGETS[name][1])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([exe, corpus, f"-max_total_time={seconds}", "-max_len=4096", "-timeout=10",
                        "-rss_limit_mb=2048", f"-artifact_prefix={os.path.join(BUILD, name)}/", "-print_final_stats=1"],
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
                                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.returncode, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def run_diff(seconds: int) -> tuple[int, float]:
    corpus = write_seeds("diff", "diff")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", "fuzz_diff.py"), corpus,
                        f"-max_total_time={seconds}", "-max_len=4096", "-timeout=20",
                        f"-artifact_prefix={os.path.join(BUILD, 'diff')}/"], env=dict(os.environ, PYTHONPATH=ROOT))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.returncode, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", default=["decode", "encode", "stream", "diff"])
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    if shutil.which("clang") is None and any(t in C_TARGETS for t in args.targets):
        print("clang is required (apt-get install clang)", file=sys.stderr)
        return 2
    failed = 0
    total = 0.0
    for t in args.targets:
        rc, cpu = run_diff(args.seconds) if t == "diff" else run_c(t, args.seconds)
        print(f"fuzz target {t}: exit {rc}, {cpu:.0f} CPU seconds", flush=True)
        failed += rc != 0
        total += cpu
    print(f"fuzzed {total:.0f} CPU seconds in all")
    print(f"fuzz: {len(args.targets) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
