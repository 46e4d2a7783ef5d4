"""xmppbin command line: convert, check and measure XMPP captures.

    xmppbin encode INPUT [-o OUT]      capture -> .xmb file (stream mode, checksummed);
                                       JSONL records -> JSONL with the binary per record;
                                       one element -> one binary message
    xmppbin decode INPUT [-o OUT]      .xmb -> XML stream(s); one message -> XML
    xmppbin verify INPUT               round trip of every unit (a capture), or the
                                       integrity and decoding of an .xmb file
    xmppbin stats INPUT                sizes: XML, stateless, stream, zlib stream, zstd+dict
    xmppbin dump INPUT                 the frames of an .xmb file or a binary message

INPUT is a file or - (stdin). Its format is detected (--from overrides): pcap,
pcapng (plaintext XMPP over TCP, ports 5222 and 5269 or --port), session
(JSON Lines of recorded reads), records (JSON Lines, "xml" per line), stream
(a raw XML stream dump: one direction of a session) or element.

Exit codes: 0 success; 1 input rejected (XML the codec cannot encode, data
that does not decode, an unreadable capture); 2 usage error or file not
found; 3 capture incomplete (gaps, bytes skipped at a mid-connection start,
a truncated last unit: the output is written, each problem listed); 4
damaged .xmb file, or verify found a difference; 70 internal error (a bug:
rerun with --debug for the traceback).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO, Any

import xmppbin

from . import capture as C
from . import stream as S
from . import xmb as X

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_DAMAGED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70
CHUNK = 1 << 20


class CliError(Exception):
    """One line for the user, and the exit code."""

    def __init__(self, message: str, code: int = EXIT_REJECTED) -> None:
        super().__init__(message)
        self.code = code


def _warn(msg: str) -> None:
    print(f"xmppbin: {msg}", file=sys.stderr)


def _context(pairs: list[str] | None, base: dict | None = None) -> dict:
    ctx = dict(xmppbin.DEFAULT_CONTEXT if base is None else base)
    for p in pairs or []:
        if "=" not in p:
            raise CliError(f"--context takes PREFIX=URI (empty prefix for the default namespace), not {p!r}",
                           EXIT_USAGE)
        k, v = p.split("=", 1)
        ctx[k] = v
    return ctx


# ---------------------------------------------------------------------------
# input and output
# ---------------------------------------------------------------------------

class Input:
    """An input file (or stdin, spooled to a temporary file when it is not seekable
    and the format needs the whole file)."""

    def __init__(self, path: str, fmt: str | None, detect: bool = True) -> None:
        self.path = path
        self.label = "<stdin>" if path == "-" else path
        self._tmp: str | None = None
        if path == "-":
            self.f: IO[bytes] = sys.stdin.buffer
            self.head = self._peek_stdin()
        else:
            self.f = open(path, "rb")
            self.head = self.f.read(1 << 16)
            self.f.seek(0)
        if fmt is None and X.is_xmb(self.head):
            fmt = "xmb"
        if fmt is None and not detect:
            fmt = "message"
        if fmt is None:
            try:
                fmt = C.detect(self.head)
            except C.CaptureError as e:
                raise CliError(f"{self.label}: {e}") from None
        self.fmt = fmt

    def _peek_stdin(self) -> bytes:
        head = sys.stdin.buffer.read(1 << 16)
        self._stdin_head = head
        return head

    def chunks(self) -> Iterator[bytes]:
        if self.path == "-":
            if self._stdin_head:
                yield self._stdin_head
            while True:
                b = sys.stdin.buffer.read(CHUNK)
                if not b:
                    return
                yield b
        else:
            while True:
                b = self.f.read(CHUNK)
                if not b:
                    return
                yield b

    def reader(self) -> IO[bytes]:
        """A binary file object from the start of the input."""
        if self.path == "-":
            import io

            class _Cat(io.RawIOBase):
                def __init__(s, it: Iterator[bytes]) -> None:
                    s.it, s.buf = it, b""

                def readable(s) -> bool:
                    return True

                def readinto(s, b) -> int:
                    while not s.buf:
                        try:
                            s.buf = next(s.it)
                        except StopIteration:
                            return 0
                    n = min(len(b), len(s.buf))
                    b[:n] = s.buf[:n]
                    s.buf = s.buf[n:]
                    return n

            return io.BufferedReader(_Cat(self.chunks()), CHUNK)
        return self.f

    def file_path(self) -> str:
        """A path to the whole input (stdin copied into a temporary file)."""
        if self.path != "-":
            return self.path
        if self._tmp is None:
            fd, tmp = tempfile.mkstemp(prefix="xmppbin-stdin-")
            with os.fdopen(fd, "wb") as out:
                for b in self.chunks():
                    out.write(b)
            self._tmp = tmp
        return self._tmp

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        if self.path != "-":
            self.f.close()
        if self._tmp is not None:
            os.unlink(self._tmp)


@contextlib.contextmanager
def _output(path: str | None, binary_ok_on_tty: bool = True) -> Iterator[IO[bytes]]:
    """The output file, written to a temporary file beside it and renamed at the end
    (removed on error), or stdout for None or -."""
    if path in (None, "-"):
        if not binary_ok_on_tty and sys.stdout.isatty():
            raise CliError("refusing to write binary data to a terminal: give -o FILE or pipe it", EXIT_USAGE)
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".xmppbin-", suffix=".part", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _progress(total: int, what: str) -> Iterator[Any]:
    """advance(n) of a rich progress bar on stderr when stderr is a terminal and the
    input is long; a no-op otherwise (never when piped)."""
    if total < (8 << 20) or not sys.stderr.isatty():
        yield lambda n: None
        return
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:
        yield lambda n: None
        return
    with Progress(console=Console(stderr=True), transient=True) as p:
        task = p.add_task(what, total=total)
        yield lambda n: p.advance(task, n)


def _ports(args) -> tuple[int, ...]:
    return tuple(args.port) if args.port else C.XMPP_PORTS


def _directions(inp: Input, args) -> list[C.Direction]:
    try:
        if inp.fmt == "stream":
            data = inp.read_all()
            return [C.Direction("1", "in", data, in_stream=C.is_headerless(data))]
        if inp.fmt == "element":
            return [C.Direction("1", "in", inp.read_all(), in_stream=True)]
        return C.directions(inp.file_path(), inp.fmt, _ports(args))
    except C.CaptureError as e:
        raise CliError(f"{inp.label}: {e}") from None


def _report_problems(label: str, dirs: Iterable[C.Direction]) -> int:
    n = 0
    for d in dirs:
        for p in d.problems:
            _warn(f"{label}: {_where(d.conn, d.dir)}{p.text}")
            n += 1
    return n


def _options(args) -> dict[str, Any]:
    return {"exact": getattr(args, "exact", False), "context": _context(args.context),
            "allow_comments": args.allow_comments}


def _where(conn: Any, di: Any) -> str:
    """ "connection C DIR: " for the streams of a capture; nothing for a raw dump."""
    return "" if di == "in" else f"connection {conn} {di}: "


def _codec_error(label: str, d: C.Direction | dict, unit: int | None, e: xmppbin.XmppbinError) -> str:
    conn, di = (d.conn, d.dir) if isinstance(d, C.Direction) else (d.get("conn"), d.get("dir"))
    start = d.start if isinstance(d, C.Direction) else int(d.get("start", 0))
    where = _where(conn, di) + (f"unit {unit}" if unit is not None else "")
    return f"{label}: {where.rstrip(': ')}: {type(e).__name__}: {e.reason} (stream byte {e.offset + start})"


# ---------------------------------------------------------------------------
# encode
# ---------------------------------------------------------------------------

def cmd_encode(args) -> int:
    inp = Input(args.input, args.from_)
    try:
        if inp.fmt == "element":
            return _encode_element(inp, args)
        if inp.fmt == "records":
            return _encode_records(inp, args)
        if inp.fmt == "xmb":
            raise CliError(f"{inp.label} is already an .xmb file (decode it, or verify it)", EXIT_USAGE)
        if inp.fmt == "stream" and args.jobs <= 1 and args.to == "xmb":
            return _encode_stream_file(inp, args)
        return _encode_capture(inp, args)
    finally:
        inp.close()


def _encode_element(inp: Input, args) -> int:
    data = xmppbin.encode(
        inp.read_all(), exact=args.exact, context=_context(args.context), allow_comments=args.allow_comments,
        open_root=True if args.open_root else None,
    )
    with _output(args.output) as f:
        f.write(data.hex().encode() + b"\n" if args.hex else data)
    return EXIT_OK


def _encode_stream_file(inp: Input, args) -> int:
    """A raw dump, in chunks: memory is one chunk plus the encoder's state."""
    head = inp.head
    meta = {"conn": "1", "dir": "in", "in_stream": C.is_headerless(head), "start": 0, "problems": [],
            "source": os.path.basename(inp.label)}
    opts = _options(args)
    size = os.path.getsize(inp.path) if inp.path != "-" else 0
    with _output(args.output, binary_ok_on_tty=False) as f, _progress(size, "encode") as advance:
        f.write(X.file_head())
        w = X.StreamWriter(0, meta, lambda b: None if f.write(b) else None, **opts)
        for b in inp.chunks():
            w.feed(b)
            advance(len(b))
        err = w.close()
        f.write(X.file_end(1))
    if err is not None:
        _warn(_codec_error(inp.label, meta, w.units, err))
        return EXIT_REJECTED
    return EXIT_OK


def _encode_one(job: tuple[int, dict, bytes, dict]) -> tuple[bytes, xmppbin.XmppbinError | None]:
    sid, meta, data, opts = job
    return X.encode_stream_blocks(sid, meta, data, **opts)


def _map(fn, jobs: list, n: int) -> Iterator:
    """fn over jobs, in order, with n processes (n <= 1: in this process)."""
    if n <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=n) as ex:
        yield from ex.map(fn, jobs)


def _jsonl_direction(job: tuple[dict, bytes, dict]) -> tuple[list[str], str | None]:
    """JSONL records of one direction: every stream header and top-level element with its
    own (stateless) binary, the context of its stream header, and where it is."""
    meta, data, opts = job
    out: list[str] = []
    ctx_enc = S.StreamEncoder(**opts, in_stream=meta["in_stream"])
    pos = meta["start"]
    for i, ev in enumerate(C.split_units(data, meta["in_stream"])):
        try:
            if ev.kind == "open":
                ctx_enc.open(ev.xml)
                msg = xmppbin.encode(ev.xml, exact=opts["exact"], open_root=True, context=opts["context"],
                                     allow_comments=opts["allow_comments"])
            elif ev.kind == "element":
                msg = xmppbin.encode(ev.xml, exact=opts["exact"], context=ctx_enc._s.context,
                                     allow_comments=opts["allow_comments"])
            else:
                ctx_enc.encode(ev)
                pos += len(ev.xml)
                continue
        except xmppbin.XmppbinError as e:
            return out, f"unit {i}: {type(e).__name__}: {e.reason} (stream byte {pos + e.offset})"
        rec = {"conn": meta["conn"], "dir": meta["dir"], "unit": i, "offset": pos,
               "kind": "stream-header" if ev.kind == "open" else "element", "xml": ev.xml.decode("utf-8"),
               "xmppbin": base64.b64encode(msg).decode("ascii")}
        if ev.kind == "element":
            ctx = ctx_enc._s.context
            rec["context"] = {k: v for k, v in ctx.items() if xmppbin.DEFAULT_CONTEXT.get(k) != v}
        out.append(json.dumps(rec, ensure_ascii=False))
        pos += len(ev.xml)
    return out, None


def _encode_capture_jsonl(inp: Input, args) -> int:
    dirs = _directions(inp, args)
    opts = _options(args)
    jobs = [(d.meta(), d.data, opts) for d in dirs]
    code = EXIT_OK
    with _output(args.output) as f:
        for d, (lines, err) in zip(dirs, _map(_jsonl_direction, jobs, args.jobs)):
            if lines:
                f.write(("\n".join(lines) + "\n").encode("utf-8"))
            if err is not None:
                _warn(f"{inp.label}: {_where(d.conn, d.dir)}{err}")
                code = EXIT_REJECTED
    if _report_problems(inp.label, dirs) and code == EXIT_OK:
        code = EXIT_INCOMPLETE
    return code


def _encode_capture(inp: Input, args) -> int:
    if args.to == "jsonl":
        return _encode_capture_jsonl(inp, args)
    dirs = _directions(inp, args)
    opts = _options(args)
    source = os.path.basename(inp.label)
    jobs = [(i, dict(d.meta(), source=source), d.data, opts) for i, d in enumerate(dirs)]
    code = EXIT_OK
    with _output(args.output, binary_ok_on_tty=False) as f, \
            _progress(sum(len(d.data) for d in dirs), "encode") as advance:
        f.write(X.file_head())
        for d, (blocks, err) in zip(dirs, _map(_encode_one, jobs, args.jobs)):
            f.write(blocks)
            advance(len(d.data))
            if err is not None:
                _warn(_codec_error(inp.label, d, None, err))
                code = EXIT_REJECTED
        f.write(X.file_end(len(dirs)))
    if _report_problems(inp.label, dirs) and code == EXIT_OK:
        code = EXIT_INCOMPLETE
    return code


def _records(inp: Input) -> Iterator[tuple[int, dict]]:
    import io

    text = io.TextIOWrapper(inp.reader(), encoding="utf-8")
    for lineno, line in enumerate(text, 1):
        if line.strip():
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise CliError(f"{inp.label}:{lineno}: not JSON ({e})") from None
            if not isinstance(rec, dict) or "xml" not in rec:
                raise CliError(f"{inp.label}:{lineno}: record has no 'xml' field")
            yield lineno, rec


def _encode_record(rec: dict, args, exact: bool) -> tuple[bytes, bytes, dict]:
    ctx = _context(args.context, {**xmppbin.DEFAULT_CONTEXT, **(rec.get("assumed_prefixes") or {})})
    xml = rec["xml"].encode("utf-8")
    data = xmppbin.encode(
        xml, exact=exact, context=ctx, allow_comments=args.allow_comments,
        open_root=True if rec.get("kind") == "stream-header" else None,
    )
    return xml, data, ctx


def _encode_records(inp: Input, args) -> int:
    n = bad = 0
    with _output(args.output) as out:
        for lineno, rec in _records(inp):
            try:
                xml, data, ctx = _encode_record(rec, args, args.exact)
                back = xmppbin.decode(data, context=ctx, allow_comments=args.allow_comments)
                if args.exact and back != xml:
                    raise CliError(f"{inp.label}:{lineno}: exact round trip failed (a bug: please report)",
                                   EXIT_INTERNAL)
                rec = dict(rec, xmppbin=base64.b64encode(data).decode("ascii"), xmppbin_bytes=len(data))
            except xmppbin.XmppbinError as e:
                bad += 1
                rec = dict(rec, xmppbin_error=f"{type(e).__name__}: {e}")
            out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
            n += 1
    if bad:
        _warn(f"{inp.label}: {n} records, {bad} not encoded (their xmppbin_error field says why)")
    return EXIT_OK


# ---------------------------------------------------------------------------
# decode
# ---------------------------------------------------------------------------

def _stream_name(meta: dict) -> str:
    at = f"@{meta['start']}" if meta.get("start") else ""
    return f"{meta.get('conn')}-{meta.get('dir')}{at}".replace("/", "_").replace(":", "_")


def cmd_decode(args) -> int:
    inp = Input(args.input, None, detect=False)
    try:
        if inp.fmt != "xmb":
            raw = inp.read_all()
            if args.hex:
                try:
                    raw = bytes.fromhex(raw.decode("ascii").strip())
                except ValueError as e:
                    raise CliError(f"{inp.label}: not hex ({e})") from None
            data = xmppbin.decode(raw, context=_context(args.context), allow_comments=args.allow_comments)
            with _output(args.output) as f:
                f.write(data)
            return EXIT_OK
        return _decode_xmb(inp, args)
    finally:
        inp.close()


def _decode_xmb(inp: Input, args) -> int:
    opts = {"context": _context(args.context), "allow_comments": args.allow_comments}
    out_dir = args.output if args.output and (os.path.isdir(args.output) or args.output.endswith(os.sep)) else None
    streams: dict[int, dict] = {}
    written: list[str] = []
    errors: list[str] = []
    if out_dir is None and args.stream is None and inp.path != "-":
        n = X.count_streams(inp.f)
        if n > 1:
            raise CliError(f"{inp.label} holds {n} streams: choose one with --stream (ID or CONN/DIR, see "
                           f"`xmppbin dump`) or give -o DIRECTORY/", EXIT_USAGE)
    with contextlib.ExitStack() as stack:
        single = None if out_dir else stack.enter_context(_output(args.output))

        def want(sid: int, meta: dict) -> bool:
            if args.stream is None:
                return True
            name = f"{meta.get('conn')}/{meta.get('dir')}"
            return args.stream in (str(sid), name, f"{name}@{meta.get('start', 0)}")

        def on_open(sid: int, meta: dict) -> None:
            st = streams[sid] = {"meta": meta, "want": want(sid, meta), "f": None}
            if not st["want"]:
                return
            if out_dir:
                os.makedirs(out_dir, exist_ok=True)
                path = os.path.join(out_dir, _stream_name(meta) + ".xml")
                st["f"] = stack.enter_context(_output(path))
                written.append(path)
            else:
                if sum(1 for s in streams.values() if s["want"]) > 1:
                    raise CliError(f"{inp.label} holds several streams: choose one with --stream "
                                   f"(ID or CONN/DIR, see `xmppbin dump`) or give -o DIRECTORY/", EXIT_USAGE)
                st["f"] = single

        def on_events(sid: int, evs: list) -> None:
            f = streams[sid]["f"]
            if f is not None:
                f.write(b"".join(ev.xml for ev in evs))

        def on_end(sid: int, end: dict) -> None:
            if "error" in end:
                m = streams[sid]["meta"]
                errors.append(f"{inp.label}: {_where(m.get('conn'), m.get('dir'))}the input was encoded "
                              f"up to unit {end.get('units')} only ({end['error']})")

        try:
            X.read_streams(inp.reader(), on_open, on_events, on_end, **opts)
        except X.ArchiveError as e:
            raise CliError(f"{inp.label}: {e}", EXIT_DAMAGED) from None
        except X.StreamError as e:
            raise CliError(f"{inp.label}: {e}", EXIT_REJECTED) from None
    for msg in errors:
        _warn(msg)
    if args.stream is not None and not any(s["want"] for s in streams.values()):
        raise CliError(f"{inp.label}: no stream {args.stream!r}", EXIT_USAGE)
    return EXIT_INCOMPLETE if errors else EXIT_OK


# ---------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------

def _first_difference(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    lo = 0
    # compare in blocks, then bytes
    step = 4096
    while lo < n and a[lo:lo + step] == b[lo:lo + step]:
        lo += step
    while lo < n and a[lo] == b[lo]:
        lo += 1
    return lo


def _verify_direction(job: tuple[dict, bytes, dict]) -> str | None:
    meta, data, opts = job
    blocks, err = X.encode_stream_blocks(0, meta, data, **opts)
    if err is not None:
        return f"{type(err).__name__}: {err.reason} (stream byte {err.offset + meta['start']})"
    import io

    units: list[int] = []  # end offset of each decoded unit
    parts: list[bytes] = []
    total = 0

    def on_events(sid: int, evs: list) -> None:
        nonlocal total
        for ev in evs:
            parts.append(ev.xml)
            total += len(ev.xml)
            units.append(total)

    X.read_streams(io.BytesIO(X.file_head() + blocks + X.file_end(1)), lambda s, m: None, on_events,
                   lambda s, e: None, context=opts["context"], allow_comments=opts["allow_comments"])
    return _difference(data, b"".join(parts), units, meta["start"])


def _difference(data: bytes, back: bytes, units: list[int], start: int) -> str | None:
    """None if back == data, else where they first differ: unit, stream byte, a short diff."""
    if back == data:
        return None
    off = _first_difference(back, data)
    unit = next((i for i, e in enumerate(units) if e > off), len(units))
    lo = max(0, off - 20)
    return (f"unit {unit}: first difference at stream byte {off + start}: "
            f"expected {data[lo:off + 40]!r}, decoded {back[lo:off + 40]!r}")


def _verify_against(inp: Input, args, dirs: list[C.Direction]) -> int:
    """The capture against an .xmb file made from it: every stream decoded and compared."""
    arch = Input(args.against, None, detect=False)
    try:
        if arch.fmt != "xmb":
            raise CliError(f"{arch.label}: --against takes an .xmb file", EXIT_USAGE)
        metas: dict[int, dict] = {}
        parts: dict[int, list[bytes]] = defaultdict(list)
        ends: dict[int, list[int]] = defaultdict(list)
        sizes: dict[int, int] = defaultdict(int)

        def on_events(sid: int, evs: list) -> None:
            for ev in evs:
                parts[sid].append(ev.xml)
                sizes[sid] += len(ev.xml)
                ends[sid].append(sizes[sid])

        try:
            X.read_streams(arch.reader(), metas.__setitem__, on_events, lambda s, e: None,
                           context=_context(args.context), allow_comments=args.allow_comments)
        except X.ArchiveError as e:
            raise CliError(f"{arch.label}: {e}", EXIT_DAMAGED) from None
        except X.StreamError as e:
            raise CliError(f"{arch.label}: {e}", EXIT_DAMAGED) from None
    finally:
        arch.close()
    by_key = {(m.get("conn"), m.get("dir"), m.get("start", 0)): sid for sid, m in metas.items()}
    losses = 0
    for d in dirs:
        sid = by_key.pop((d.conn, d.dir, d.start), None)
        if sid is None:
            _warn(f"{inp.label}: {_where(d.conn, d.dir)}not in {arch.label}")
            losses += 1
            continue
        res = _difference(d.data, b"".join(parts[sid]), ends[sid], d.start)
        if res is not None:
            _warn(f"{inp.label}: {_where(d.conn, d.dir)}{res}")
            losses += 1
    for (conn, di, _start), _sid in by_key.items():
        _warn(f"{arch.label}: {_where(conn, di)}not in {inp.label}")
        losses += 1
    incomplete = _report_problems(inp.label, dirs)
    if losses:
        return EXIT_DAMAGED
    if not args.quiet:
        print(f"{inp.label}: {len(dirs)} streams, {sum(len(d.data) for d in dirs):,} bytes of XML: "
              f"0 losses in {arch.label}")
    return EXIT_INCOMPLETE if incomplete else EXIT_OK


def cmd_verify(args) -> int:
    inp = Input(args.input, args.from_)
    try:
        if inp.fmt == "xmb":
            return _verify_xmb(inp, args)
        if inp.fmt in ("records", "element"):
            raise CliError(f"{inp.label}: verify takes a capture (pcap, pcapng, session, stream) or an .xmb file",
                           EXIT_USAGE)
        dirs = _directions(inp, args)
        if args.against:
            return _verify_against(inp, args, dirs)
        opts = _options(args)
        opts["exact"] = True
        jobs = [(d.meta(), d.data, opts) for d in dirs]
        losses = 0
        units = 0
        for d, res in zip(dirs, _map(_verify_direction, jobs, args.jobs)):
            if res is not None:
                _warn(f"{inp.label}: {_where(d.conn, d.dir)}{res}")
                losses += 1
        incomplete = _report_problems(inp.label, dirs)
        if losses:
            return EXIT_DAMAGED
        if not args.quiet:
            units = len(dirs)
            print(f"{inp.label}: {units} streams, {sum(len(d.data) for d in dirs):,} bytes of XML: "
                  f"0 losses (exact round trip)")
        return EXIT_INCOMPLETE if incomplete else EXIT_OK
    finally:
        inp.close()


def _verify_xmb(inp: Input, args) -> int:
    counts = {"streams": 0, "units": 0, "bytes": 0}

    def on_events(sid: int, evs: list) -> None:
        counts["units"] += len(evs)
        counts["bytes"] += sum(len(e.xml) for e in evs)

    incomplete: list[str] = []

    def on_end(sid: int, end: dict) -> None:
        counts["streams"] += 1
        if "error" in end:
            incomplete.append(end["error"])

    try:
        X.read_streams(inp.reader(), lambda s, m: None, on_events, on_end,
                       context=_context(args.context), allow_comments=args.allow_comments)
    except X.ArchiveError as e:
        raise CliError(f"{inp.label}: {e}", EXIT_DAMAGED) from None
    except X.StreamError as e:
        raise CliError(f"{inp.label}: {e}", EXIT_DAMAGED) from None
    for msg in incomplete:
        _warn(f"{inp.label}: a stream was encoded only up to an error: {msg}")
    if not args.quiet:
        print(f"{inp.label}: {counts['streams']} streams, {counts['units']} units, {counts['bytes']:,} bytes of "
              f"XML: checksums and decoding OK")
    return EXIT_INCOMPLETE if incomplete else EXIT_OK


# ---------------------------------------------------------------------------
# stats
# ---------------------------------------------------------------------------

COLUMNS = ("xml", "stateless", "stream", "zlib", "zstd")
HEADS = {"xml": "XML", "stateless": "xmppbin", "stream": "stream", "zlib": "zlib stream", "zstd": "zstd+dict"}


def _zstd(dict_path: str | None, samples: list[bytes]):
    """A zstd compressor with a dictionary (given, or trained on the input: optimistic)."""
    try:
        import zstandard
    except ImportError:
        return None, "zstandard is not installed"
    try:
        if dict_path:
            with open(dict_path, "rb") as f:
                d = zstandard.ZstdCompressionDict(f.read())
            note = f"dictionary {os.path.basename(dict_path)}"
        else:
            d = zstandard.train_dictionary(16384, list[Any](samples))
            note = "16 KiB dictionary trained on this input (optimistic)"
    except zstandard.ZstdError as e:
        return None, f"no dictionary ({e})"
    return zstandard.ZstdCompressor(level=19, dict_data=d), note


def _stats_direction(job: tuple[dict, bytes, dict]) -> dict:
    meta, data, opts = job
    exact = opts["exact"]
    evs = C.split_units(data, meta["in_stream"])
    enc = S.StreamEncoder(**opts, in_stream=meta["in_stream"])
    ctx_enc = S.StreamEncoder(**opts, in_stream=meta["in_stream"])
    z = zlib.compressobj(9)
    row: dict[str, Any] = {c: 0 for c in COLUMNS}
    row.update(units=0)
    elements: dict[str, dict[str, int]] = defaultdict(lambda: {c: 0 for c in ("units", "xml", "stateless")})
    elem_xml: list[bytes] = []
    for ev in evs:
        row["units"] += 1
        row["xml"] += len(ev.xml)
        row["stream"] += len(enc.feed(ev.xml))
        row["zlib"] += len(z.compress(ev.xml)) + len(z.flush(zlib.Z_SYNC_FLUSH))
        if ev.kind == "open":
            ctx_enc.open(ev.xml)
            msg = xmppbin.encode(ev.xml, exact=exact, open_root=True, allow_comments=opts["allow_comments"],
                                 context=opts["context"])
            n = len(S.frame(S.FRAME_OPEN, S.put_varint(0) + msg))
            name = "stream header"
        elif ev.kind == "element":
            msg = xmppbin.encode(ev.xml, exact=exact, context=ctx_enc._s.context,
                                 allow_comments=opts["allow_comments"])
            n = len(S.frame(S.FRAME_ELEMENT, msg))
            name = _element_name(ev.xml)
            elem_xml.append(ev.xml)
        else:
            n = len(ctx_enc.encode(ev))
            name = "whitespace" if ev.kind == "text" else "stream end"
        row["stateless"] += n
        e = elements[name]
        e["units"] += 1
        e["xml"] += len(ev.xml)
        e["stateless"] += n
    row["stream"] += len(enc.flush())
    return {"row": row, "elements": dict(elements), "samples": elem_xml}


def _element_name(xml: bytes) -> str:
    import re

    m = re.match(rb"<([^\s/>]+)", xml)
    return m.group(1).decode("utf-8", "replace") if m else "?"


def cmd_stats(args) -> int:
    inp = Input(args.input, args.from_)
    try:
        if inp.fmt == "records":
            return _stats_records(inp, args)
        if inp.fmt == "xmb":
            raise CliError(f"{inp.label}: stats takes a capture, not an .xmb file (decode it first)", EXIT_USAGE)
        dirs = _directions(inp, args)
        opts = _options(args)
        jobs = [(d.meta(), d.data, opts) for d in dirs]
        try:
            results = list(_map(_stats_direction, jobs, args.jobs))
        except xmppbin.XmppbinError as e:
            raise CliError(f"{inp.label}: {type(e).__name__}: {e}") from None
        samples = [s for r in results for s in r["samples"]]
        zc, znote = _zstd(args.zstd_dict, samples)
        rows: dict[str, dict[str, Any]] = {}
        total: dict[str, Any] = {c: 0 for c in COLUMNS}
        total["units"] = 0
        by_el: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "xml": 0, "stateless": 0})
        for d, r in zip(dirs, results):
            row = r["row"]
            if zc is not None:
                other = row["xml"] - sum(map(len, r["samples"]))
                row["zstd"] = sum(len(zc.compress(s)) for s in r["samples"]) + other
            else:
                row["zstd"] = None
            rows[d.name] = row
            for k in total:
                total[k] = None if row.get(k) is None or total[k] is None else total[k] + row[k]
            for name, counts in r["elements"].items():
                for k, v in counts.items():
                    by_el[name][k] += v
        rows["total"] = total
        problems = _report_problems(inp.label, dirs)
        notes = [f"zstd+dict: {znote}" if zc is not None else f"zstd+dict: not measured ({znote})",
                 "xmppbin = every unit coded on its own; stream = stream mode (spec 14); "
                 "zlib stream = XEP-0138, one zlib stream per direction, level 9, sync flush per unit; "
                 "zstd+dict = every element compressed on its own at level 19 (other units as raw bytes)"]
        _print_stats(args, rows, dict(by_el) if args.by_element else None, notes)
        return EXIT_INCOMPLETE if problems else EXIT_OK
    finally:
        inp.close()


def _fmt_ratio(v: int | None, x: int) -> str:
    return "-" if v is None else f"{v / (x or 1):.3f}"


def _print_stats(args, rows: dict, by_el: dict | None, notes: list[str]) -> None:
    if args.json:
        out: dict[str, Any] = {"directions": {k: v for k, v in rows.items() if k != "total"},
                               "total": rows["total"], "notes": notes}
        if by_el is not None:
            out["by_element"] = by_el
        print(json.dumps(out, indent=1, sort_keys=True))
        return
    head = ["direction", "units"] + [HEADS[c] for c in COLUMNS] + [f"{HEADS[c]} ratio" for c in COLUMNS[1:]]
    body = []
    for name, r in rows.items():
        body.append([name, f"{r['units']:,}"] + ["-" if r[c] is None else f"{r[c]:,}" for c in COLUMNS]
                    + [_fmt_ratio(r[c], r["xml"]) for c in COLUMNS[1:]])
    _table("Bytes per direction (ratio = bytes / XML bytes)", head, body)
    if by_el is not None:
        head2 = ["element", "units", "XML", "xmppbin", "ratio"]
        body2 = [[k, f"{v['units']:,}", f"{v['xml']:,}", f"{v['stateless']:,}", _fmt_ratio(v["stateless"], v["xml"])]
                 for k, v in sorted(by_el.items(), key=lambda kv: -kv[1]["xml"])]
        _table("Bytes per element name (stateless)", head2, body2)
    for n in notes:
        print(n)


def _table(title: str, head: list[str], body: list[list[str]]) -> None:
    """A rich table on a terminal; plain aligned columns when piped (never squeezed)."""
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            t = Table(title=title)
            for i, h in enumerate(head):
                t.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
            for row in body:
                t.add_row(*row)
            Console().print(t)
            return
    print(title)
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    for row in [head] + body:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())


def _stats_records(inp: Input, args) -> int:
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    skipped: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    for lineno, rec in _records(inp):
        kind = rec.get("kind", "element")
        try:
            xml, data, ctx = _encode_record(rec, args, False)
            _, exact, _ = _encode_record(rec, args, True)
        except xmppbin.RestrictedXMLEncodeError as e:
            why = e.reason.lower()
            skipped["XML comments" if "comment" in why else "processing instructions" if "processing" in why
                    else e.reason] += 1
            continue
        except xmppbin.XmppbinError as e:
            errors[type(e).__name__] += 1
            continue
        if xmppbin.decode(exact, context=ctx, allow_comments=args.allow_comments) != xml:
            raise CliError(f"{inp.label}:{lineno}: exact round trip failed (a bug: please report)", EXIT_INTERNAL)
        for key in (kind, "all"):
            r = rows[key]
            r["records"] += 1
            r["xml"] += len(xml)
            r["xmppbin"] += len(data)
            r["exact"] += len(exact)
            r["zlib"] += len(zlib.compress(xml, 9))
    notes = []
    n_skip = sum(skipped.values())
    if n_skip:
        notes.append("not counted: " + ", ".join(f"{v} records with {k}" for k, v in sorted(skipped.items()))
                     + " (not restricted XML, RFC 6120 11.1: XMPP streams cannot carry them; "
                     "--allow-comments counts them)")
    for name, count in sorted(errors.items()):
        notes.append(f"rejected: {count} records ({name})")
    if args.json:
        print(json.dumps({"kinds": rows, "skipped": dict(skipped), "rejected": dict(errors)}, indent=1,
                         sort_keys=True))
        return EXIT_REJECTED if errors else EXIT_OK
    head = ["kind", "records", "XML bytes", "xmppbin", "ratio", "exact", "ratio", "zlib-9", "ratio"]
    body = []
    for kind in sorted(rows, key=lambda k: (k == "all", k)):
        r = rows[kind]
        x = r["xml"] or 1
        body.append([kind, str(r["records"]), f"{r['xml']:,}", f"{r['xmppbin']:,}", f"{r['xmppbin'] / x:.3f}",
                     f"{r['exact']:,}", f"{r['exact'] / x:.3f}", f"{r['zlib']:,}", f"{r['zlib'] / x:.3f}"])
    _table("Encoded size per message (ratio = bytes / XML bytes; zlib-9 = each message on its own)", head, body)
    for n in notes:
        print(n)
    return EXIT_REJECTED if errors else EXIT_OK


# ---------------------------------------------------------------------------
# dump
# ---------------------------------------------------------------------------

def _frames(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, kind, length with header) of each whole frame of a run of frames."""
    pos = 0
    while pos < len(data):
        r = S.get_varint(data, pos, len(data))
        if r is None:
            return
        v, body = r
        kind, length = S.frame_header(v)
        yield pos, kind, body - pos + length
        pos = body + length


def _short(xml: bytes, n: int = 70) -> str:
    t = xml.decode("utf-8", "replace")
    return repr(t if len(t) <= n else t[:n - 3] + "...")


def cmd_dump(args) -> int:
    inp = Input(args.input, None, detect=False)
    out = sys.stdout
    try:
        if args.items:
            xmppbin._use_backend("python")  # the reference decoder, traced
        from .trace import format_items, tracing

        with tracing() as items:
            if inp.fmt != "xmb":
                raw = inp.read_all()
                if args.hex:
                    raw = bytes.fromhex(raw.decode("ascii").strip())
                xml = xmppbin.decode(raw, context=_context(args.context), allow_comments=args.allow_comments)
                out.write(f"message: {len(raw)} bytes, {len(raw) * 8} bits for {len(xml)} bytes of XML "
                          f"({len(raw) * 8 / max(1, len(xml)):.2f} bits per XML byte)\n  {raw.hex()}\n")
                if args.items:
                    out.write(format_items(items, "  ") + "\n")
                out.write(xml.decode("utf-8", "replace") + "\n")
                return EXIT_OK
            _dump_xmb(inp, args, out, items, format_items)
        return EXIT_OK
    finally:
        inp.close()


def _dump_xmb(inp: Input, args, out: IO[str], items: list, format_items) -> None:
    units: dict[int, int] = defaultdict(int)
    decs: dict[int, S.StreamDecoder] = {}
    opts = {"context": _context(args.context), "allow_comments": args.allow_comments}
    try:
        for pos, kind, payload in X.read_blocks(inp.reader()):
            name = X._NAMES[kind]
            if kind == X.END_FILE:
                out.write(f"{pos:>10}  {name} streams={int.from_bytes(payload, 'little')}\n")
                continue
            sid = int.from_bytes(payload[:4], "little")
            body = payload[4:]
            if kind == X.STREAM:
                decs[sid] = S.StreamDecoder(**opts)
            if kind != X.FRAMES:
                out.write(f"{pos:>10}  {name} stream {sid}: {body.decode('utf-8', 'replace')}\n")
                continue
            out.write(f"{pos:>10}  {name} stream {sid}: {len(body)} bytes\n")
            for off, fkind, n in _frames(body):
                frame = body[off:off + n]
                line = (f"  {pos + 9 + off:>10}  unit {units[sid]:<6} {S.FRAME_KINDS[fkind]:<8} {n:>7} B")
                if args.items:
                    del items[:]
                    try:
                        evs = decs[sid].feed(frame)
                    except xmppbin.XmppbinError as e:
                        raise CliError(f"{inp.label}: stream {sid} unit {units[sid]} (file byte {pos + 9 + off}): "
                                       f"{type(e).__name__}: {e.reason}") from None
                    xml = b"".join(ev.xml for ev in evs)
                    out.write(f"{line}  {n * 8 / max(1, len(xml)):.2f} bits/XML byte  {_short(xml)}\n")
                    if items:
                        out.write(format_items(items, "                ") + "\n")
                else:
                    out.write(f"{line}  {frame[:24].hex()}{'...' if n > 24 else ''}\n")
                units[sid] += 1
    except X.ArchiveError as e:
        out.flush()
        raise CliError(f"{inp.label}: {e}", EXIT_DAMAGED) from None


# ---------------------------------------------------------------------------
# parser and main
# ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xmppbin", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"xmppbin {xmppbin.__version__} ({xmppbin.backend})")
    ap.add_argument("--debug", action="store_true", help="show the traceback of internal errors")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, exact=True):
        p.add_argument("--context", action="append", metavar="PREFIX=URI",
                       help="namespace binding inherited from the stream header (repeatable; default "
                            "=jabber:client and stream=http://etherx.jabber.org/streams)")
        p.add_argument("--allow-comments", action="store_true", help="keep comments and processing instructions")
        if exact:
            p.add_argument("--exact", action="store_true", help="keep the input byte for byte")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def capture(p):
        p.add_argument("--from", dest="from_", choices=C.FORMATS, help="input format (default: detected)")
        p.add_argument("--port", type=int, action="append",
                       help="TCP port of the XMPP server in a pcap (repeatable; default 5222 and 5269)")
        p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                       help="processes, one connection direction each (output identical to -j 1)")

    p = sub.add_parser("encode", aliases=["convert"], help="capture -> .xmb; records -> JSONL; element -> message")
    p.add_argument("input", nargs="?", default="-", help="input file (default: - for stdin)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--hex", action="store_true", help="one element: write hex instead of binary")
    p.add_argument("--to", choices=("xmb", "jsonl"), default="xmb",
                   help="captures: an .xmb file (default), or JSON Lines with every stream header and element, "
                        "its stateless binary in base64 (\"xmppbin\"), the namespaces it inherits (\"context\"), "
                        "connection, direction, unit index and stream offset")
    p.add_argument("--open-root", action="store_true", help="one element: the input is a stream header left open")
    capture(p)
    common(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help=".xmb -> XML stream; message -> XML")
    p.add_argument("input", nargs="?", default="-", help="input file (default: - for stdin)")
    p.add_argument("-o", "--output", help="XML output (default: stdout); a DIRECTORY/ gets one file per stream")
    p.add_argument("--stream", help="the stream to decode: its id or CONN/DIR")
    p.add_argument("--hex", action="store_true", help="the input is one message in hex")
    common(p, exact=False)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("verify", help="round trip of a capture, or check an .xmb file")
    p.add_argument("input", nargs="?", default="-")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line on success")
    p.add_argument("--against", metavar="FILE.xmb", help="compare the capture with this .xmb file made from it "
                   "(default: an exact round trip in memory)")
    capture(p)
    common(p, exact=False)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("stats", help="size table of a capture or JSONL records")
    p.add_argument("input", nargs="?", default="-")
    p.add_argument("--by-element", action="store_true", help="also a table per element name")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--zstd-dict", metavar="FILE", help="zstd dictionary (default: one trained on the input)")
    capture(p)
    common(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("dump", help="list the blocks and frames of an .xmb file, or one message")
    p.add_argument("input", nargs="?", default="-")
    p.add_argument("--hex", action="store_true", help="the input is one message in hex")
    p.add_argument("--items", action="store_true", help="decode every frame with the reference decoder and list "
                   "what it reads: names, namespaces, values (token, literal, table hit...) with their bits")
    common(p, exact=False)
    p.set_defaults(func=cmd_dump)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as e:
        print(f"xmppbin: {e}", file=sys.stderr)
        return e.code
    except xmppbin.XmppbinError as e:
        print(f"xmppbin: {getattr(args, 'input', '-')}: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, as other tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        if getattr(args, "debug", False):
            raise
        print(f"xmppbin: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - one line unless --debug
        if getattr(args, "debug", False):
            raise
        print(f"xmppbin: internal error: {type(e).__name__}: {e} (a bug: rerun with --debug and report it)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
