"""Command line: encode/decode single messages, convert and measure stanza captures.

    xmppbin stats CAPTURE.jsonl            size table: XML vs xmppbin vs zlib, per kind
    xmppbin convert CAPTURE.jsonl -o OUT   add the encoded message to every record (verified)
    xmppbin encode [FILE] [-o OUT]         one XML element -> binary
    xmppbin decode [FILE] [-o OUT]         binary -> XML

A capture is JSON Lines, one record a line with the element's text in "xml";
optional "assumed_prefixes" (prefix -> URI inherited from the stream header)
and "kind" ("stream-header" for a stream open tag), as in the XEP corpus.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import zlib
from collections import defaultdict
from collections.abc import Iterable

import xmppbin


def _context(pairs: list[str] | None, base: dict | None = None) -> dict:
    ctx = dict(xmppbin.DEFAULT_CONTEXT if base is None else base)
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"--context takes PREFIX=URI (empty prefix for the default namespace), not {p!r}")
        k, v = p.split("=", 1)
        ctx[k] = v
    return ctx


def _read(path: str | None) -> bytes:
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _write(path: str | None, data: bytes) -> None:
    if path in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb") as f:
            f.write(data)


def _records(path: str) -> Iterable[tuple[int, dict]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                rec = json.loads(line)
                if "xml" not in rec:
                    raise SystemExit(f"{path}:{lineno}: record has no 'xml' field")
                yield lineno, rec


def _encode_record(rec: dict, args, exact: bool) -> tuple[bytes, bytes, dict]:
    ctx = _context(args.context, {**xmppbin.DEFAULT_CONTEXT, **(rec.get("assumed_prefixes") or {})})
    xml = rec["xml"].encode("utf-8")
    data = xmppbin.encode(
        xml, exact=exact, context=ctx, allow_comments=args.allow_comments,
        open_root=True if rec.get("kind") == "stream-header" else None,
    )
    return xml, data, ctx


def cmd_encode(args) -> int:
    data = xmppbin.encode(
        _read(args.file), exact=args.exact, context=_context(args.context), allow_comments=args.allow_comments,
        open_root=True if args.open_root else None,
    )
    _write(args.output, data.hex().encode() + b"\n" if args.hex else data)
    return 0


def cmd_decode(args) -> int:
    raw = _read(args.file)
    if args.hex:
        raw = bytes.fromhex(raw.decode("ascii").strip())
    _write(args.output, xmppbin.decode(raw, context=_context(args.context), allow_comments=args.allow_comments))
    return 0


def cmd_convert(args) -> int:
    out = open(args.output, "w", encoding="utf-8") if args.output not in (None, "-") else sys.stdout
    n = bad = 0
    try:
        for lineno, rec in _records(args.capture):
            try:
                xml, data, ctx = _encode_record(rec, args, args.exact)
                back = xmppbin.decode(data, context=ctx, allow_comments=args.allow_comments)
                if args.exact and back != xml:
                    raise SystemExit(f"{args.capture}:{lineno}: exact round trip failed (a bug: please report)")
                rec = dict(rec, xmppbin=base64.b64encode(data).decode("ascii"), xmppbin_bytes=len(data))
            except xmppbin.XmppbinError as e:
                bad += 1
                rec = dict(rec, xmppbin_error=f"{type(e).__name__}: {e}")
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{n} records converted, {bad} rejected", file=sys.stderr)
    return 0


def cmd_stats(args) -> int:
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: dict[str, int] = defaultdict(int)
    for lineno, rec in _records(args.capture):
        kind = rec.get("kind", "element")
        try:
            xml, data, ctx = _encode_record(rec, args, False)
            _, exact, _ = _encode_record(rec, args, True)
        except xmppbin.XmppbinError as e:
            errors[type(e).__name__] += 1
            continue
        if xmppbin.decode(exact, context=ctx, allow_comments=args.allow_comments) != xml:
            raise SystemExit(f"{args.capture}:{lineno}: exact round trip failed (a bug: please report)")
        for key in (kind, "all"):
            r = rows[key]
            r["records"] += 1
            r["xml"] += len(xml)
            r["xmppbin"] += len(data)
            r["exact"] += len(exact)
            r["zlib"] += len(zlib.compress(xml, 9))
    _print_table(rows, errors)
    return 0


def _print_table(rows, errors) -> None:
    head = ["kind", "records", "XML bytes", "xmppbin", "ratio", "exact", "ratio", "zlib-9", "ratio"]
    body = []
    for kind in sorted(rows, key=lambda k: (k == "all", k)):
        r = rows[kind]
        x = r["xml"] or 1
        body.append([kind, str(r["records"]), f"{r['xml']:,}", f"{r['xmppbin']:,}", f"{r['xmppbin'] / x:.3f}",
                     f"{r['exact']:,}", f"{r['exact'] / x:.3f}", f"{r['zlib']:,}", f"{r['zlib'] / x:.3f}"])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
        for row in [head] + body:
            print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    else:
        t = Table(title="Encoded size per message (ratio = bytes / XML bytes)")
        for i, h in enumerate(head):
            t.add_column(h, justify="left" if i == 0 else "right")
        for row in body:
            t.add_row(*row)
        Console(width=max(100, Console().width)).print(t)
    for name, count in sorted(errors.items()):
        print(f"rejected: {count} records ({name})")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xmppbin", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"xmppbin {xmppbin.__version__} ({xmppbin.backend})")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, exact=True):
        p.add_argument("--context", action="append", metavar="PREFIX=URI",
                       help="namespace binding inherited from the stream header (repeatable; default "
                            "=jabber:client and stream=http://etherx.jabber.org/streams)")
        p.add_argument("--allow-comments", action="store_true", help="keep comments and processing instructions")
        if exact:
            p.add_argument("--exact", action="store_true", help="keep the input byte for byte")

    p = sub.add_parser("encode", help="encode one XML element")
    p.add_argument("file", nargs="?", help="XML input (default: stdin)")
    p.add_argument("-o", "--output", help="binary output (default: stdout)")
    p.add_argument("--hex", action="store_true", help="write hex instead of binary")
    p.add_argument("--open-root", action="store_true", help="the input is a stream header left open")
    common(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decode one message to XML")
    p.add_argument("file", nargs="?", help="binary input (default: stdin)")
    p.add_argument("-o", "--output", help="XML output (default: stdout)")
    p.add_argument("--hex", action="store_true", help="the input is hex")
    common(p, exact=False)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("convert", help="encode every record of a JSONL capture")
    p.add_argument("capture")
    p.add_argument("-o", "--output", help="JSONL output (default: stdout)")
    common(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("stats", help="size table of a JSONL capture")
    p.add_argument("capture")
    common(p, exact=False)
    p.set_defaults(func=cmd_stats)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except xmppbin.XmppbinError as e:
        print(f"xmppbin: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"xmppbin: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
