#!/usr/bin/env python3
"""Split a recorded XMPP session (record_session.py output) into top-level units.

Each (conn, dir) byte stream is reassembled from its chunks and cut, exactly,
into: the XML declaration, stream headers (``<stream:stream ...>`` open tags,
one per stream restart), top-level elements (stanzas and nonzas), whitespace
between them (keepalives), and ``</stream:stream>``.  Concatenating the units
of a stream gives back its bytes.  Each unit carries the namespace context in
scope: the default namespace and prefixes declared on the last stream header
of that direction.

    python tools/traffic/split.py CAPTURE.jsonl --stanzas OUT.jsonl
    python tools/traffic/split.py CAPTURE.jsonl            # summary only

The --stanzas output uses the xmppbin corpus format: one record per stream
header and top-level element, ``{"xml", "kind", "assumed_prefixes", "conn",
"dir", "t"}`` with kind ``stanza`` (message/presence/iq in jabber:client or
jabber:server), ``other-element`` or ``stream-header``.

The scanner is a small hand-written one (not a full XML parser): it knows
start/end/empty tags with quoted attribute values (which may hold ``>``), CDATA
sections, comments and processing instructions, which is all that can occur
in an XMPP stream.  Well-formedness is not checked here (tests do that with
lxml).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xmppbin.capture import read_capture, reassemble

NS_STREAMS = "http://etherx.jabber.org/streams"
STANZA_NAMES = {"message", "presence", "iq"}
STANZA_NAMESPACES = {"jabber:client", "jabber:server", "jabber:component:accept"}
XML_WS = b" \t\r\n"

# attribute inside a tag; consuming the quoted value keeps us from matching inside it
_ATTR = re.compile(rb"""([^\s=/>"']+)\s*=\s*("[^"]*"|'[^']*')""")
_NAME = re.compile(rb"</?\s*([^\s/>]+)")


@dataclass
class Unit:
    """One top-level piece of a stream."""

    kind: str                 # declaration | stream-header | element | whitespace | stream-close
    #                           | text | comment | pi | incomplete
    data: bytes               # exact bytes
    offset: int               # offset in the reassembled stream
    context: dict[str, str]   # namespaces in scope: "" = default, else prefix -> URI
    name: str | None = None   # qualified name (elements, stream headers, end tag)
    namespace: str | None = None  # namespace URI of an element / header
    # prefixes used in the element's tag and attribute names but declared only in `context`
    assumed_prefixes: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.data.decode("utf-8")


# ---------------------------------------------------------------------------
# reading captures
# ---------------------------------------------------------------------------

# read_capture and reassemble live in xmppbin.capture (the command line reads captures too)


# ---------------------------------------------------------------------------
# scanner
# ---------------------------------------------------------------------------

class Incomplete(Exception):
    pass


def _tag_end(data: bytes, i: int) -> int:
    """Index just past the '>' closing the tag that starts at data[i] == '<'."""
    n = len(data)
    j = i + 1
    quote = 0
    while j < n:
        b = data[j]
        if quote:
            if b == quote:
                quote = 0
        elif b == 0x22 or b == 0x27:  # " '
            quote = b
        elif b == 0x3E:  # >
            return j + 1
        j += 1
    raise Incomplete


def _find(data: bytes, needle: bytes, start: int) -> int:
    k = data.find(needle, start)
    if k < 0:
        raise Incomplete
    return k + len(needle)


def _attrs(tag: bytes) -> list[tuple[str, str]]:
    m = _NAME.match(tag)
    start = m.end() if m else 1
    return [(a.decode("utf-8"), v[1:-1].decode("utf-8")) for a, v in _ATTR.findall(tag, start)]


def _qname(tag: bytes) -> str:
    m = _NAME.match(tag)
    return m.group(1).decode("utf-8") if m else ""


def _unescape_attr(v: str) -> str:
    if "&" not in v:
        return v
    from xml.sax.saxutils import unescape
    v = re.sub(r"&#x([0-9a-fA-F]+);", lambda m: chr(int(m.group(1), 16)), v)
    v = re.sub(r"&#([0-9]+);", lambda m: chr(int(m.group(1))), v)
    return unescape(v, {"&quot;": '"', "&apos;": "'"})


def _declared(tag: bytes) -> dict[str, str]:
    """Namespace declarations on one start tag ("" = default namespace)."""
    out = {}
    for a, v in _attrs(tag):
        if a == "xmlns":
            out[""] = _unescape_attr(v)
        elif a.startswith("xmlns:"):
            out[a[6:]] = _unescape_attr(v)
    return out


def _scan_element(data: bytes, i: int) -> tuple[int, list[bytes]]:
    """Scan the element whose start tag begins at i; return (end, start tags)."""
    end = _tag_end(data, i)
    tags = [data[i:end]]
    if data[end - 2] == 0x2F:  # '/>'
        return end, tags
    depth = 1
    j = end
    while depth:
        k = data.find(b"<", j)
        if k < 0:
            raise Incomplete
        if data.startswith(b"<![CDATA[", k):
            j = _find(data, b"]]>", k)
        elif data.startswith(b"<!--", k):
            j = _find(data, b"-->", k)
        elif data.startswith(b"<?", k):
            j = _find(data, b"?>", k)
        elif data.startswith(b"</", k):
            j = _tag_end(data, k)
            depth -= 1
        else:
            j = _tag_end(data, k)
            tags.append(data[k:j])
            if data[j - 2] != 0x2F:
                depth += 1
    return j, tags


def _used_prefixes(tags: list[bytes]) -> tuple[set[str], set[str]]:
    used, declared = set(), set()
    for t in tags:
        q = _qname(t)
        if ":" in q:
            used.add(q.split(":", 1)[0])
        for a, _v in _attrs(t):
            if a.startswith("xmlns:"):
                declared.add(a[6:])
            elif ":" in a and a != "xmlns":
                used.add(a.split(":", 1)[0])
    used.discard("xml")
    return used, declared


def _header_context(tag: bytes) -> dict[str, str]:
    """Namespace declarations of a stream header, read with lxml when possible."""
    try:
        from lxml import etree
        el = etree.fromstring(tag[:-1].rstrip(b"/") + b"/>")
        ctx = {("" if k is None else k): v for k, v in el.nsmap.items()}
        ctx.pop("xml", None)
        return ctx
    except Exception:  # noqa: BLE001 - fall back to the scanner's view
        return _declared(tag)


def split_stream(data: bytes) -> list[Unit]:
    """Cut one direction of one connection into top-level units (lossless)."""
    units: list[Unit] = []
    ctx: dict[str, str] = {}
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        try:
            if b in XML_WS:
                j = i
                while j < n and data[j] in XML_WS:
                    j += 1
                units.append(Unit("whitespace", data[i:j], i, ctx))
            elif b != 0x3C:  # stray text at top level
                j = data.find(b"<", i)
                j = n if j < 0 else j
                units.append(Unit("text", data[i:j], i, ctx))
            elif data.startswith(b"<?", i):
                j = _find(data, b"?>", i)
                kind = "declaration" if re.match(rb"<\?xml[\s?]", data[i:j]) else "pi"
                units.append(Unit(kind, data[i:j], i, ctx))
            elif data.startswith(b"<!--", i):
                j = _find(data, b"-->", i)
                units.append(Unit("comment", data[i:j], i, ctx))
            elif data.startswith(b"</", i):
                j = _tag_end(data, i)
                units.append(Unit("stream-close", data[i:j], i, ctx, name=_qname(data[i:j])))
            else:
                tag_end = _tag_end(data, i)
                tag = data[i:tag_end]
                qname = _qname(tag)
                own = _declared(tag)
                prefix, _, local = qname.rpartition(":")
                ns = own.get(prefix, ctx.get(prefix))
                if local == "stream" and ns == NS_STREAMS and not tag.endswith(b"/>"):
                    ctx = _header_context(tag)
                    units.append(Unit("stream-header", tag, i, ctx, name=qname, namespace=NS_STREAMS))
                    j = tag_end
                else:
                    j, tags = _scan_element(data, i)
                    used, declared = _used_prefixes(tags)
                    assumed = {p: ctx[p] for p in sorted(used - declared) if p in ctx}
                    units.append(Unit("element", data[i:j], i, ctx, name=qname, namespace=ns,
                                      assumed_prefixes=assumed))
        except Incomplete:
            units.append(Unit("incomplete", data[i:], i, ctx))
            break
        i = j
    return units


def is_stanza(u: Unit) -> bool:
    return u.kind == "element" and u.name in STANZA_NAMES and u.namespace in STANZA_NAMESPACES


def split_capture(path_or_chunks) -> dict[tuple[int, str], list[Unit]]:
    """Units of every (conn, dir) stream of a capture (a path or read_capture() chunks)."""
    if isinstance(path_or_chunks, (str, Path)):
        _, chunks = read_capture(path_or_chunks)
    else:
        chunks = list(path_or_chunks)
    return {k: split_stream(v) for k, v in reassemble(chunks).items()}


def corpus_records(chunks: list[dict]) -> list[dict]:
    """Stream headers and top-level elements as xmppbin corpus records, in the order
    in which they were completed on the wire (the chunk holding their last byte)."""
    # end offset of every chunk within its stream, to date each unit
    ends: dict[tuple[int, str], list[tuple[int, int, float]]] = {}
    for idx, c in enumerate(chunks):
        key = (c["conn"], c["dir"])
        lst = ends.setdefault(key, [])
        prev = lst[-1][0] if lst else 0
        lst.append((prev + len(c["bytes"]), idx, c["t"]))
    out = []
    for key, units in split_capture(chunks).items():
        marks = ends[key]
        m = 0
        for u in units:
            if u.kind not in ("element", "stream-header"):
                continue
            last = u.offset + len(u.data)
            while marks[m][0] < last:
                m += 1
            if u.kind == "stream-header":
                kind = "stream-header"
            else:
                kind = "stanza" if is_stanza(u) else "other-element"
            rec = {"xml": u.text(), "kind": kind, "assumed_prefixes": dict(u.assumed_prefixes),
                   "conn": key[0], "dir": key[1], "t": marks[m][2]}
            out.append((marks[m][1], u.offset, rec))
    out.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in out]


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Split a recorded XMPP session into top-level units.")
    ap.add_argument("capture", help="capture JSON Lines file (record_session.py output)")
    ap.add_argument("--stanzas", metavar="OUT", help="write stream headers and top-level elements "
                    "as xmppbin corpus records (JSON Lines)")
    args = ap.parse_args(argv)

    _, chunks = read_capture(args.capture)
    streams = reassemble(chunks)
    kinds: Counter = Counter()
    names: Counter = Counter()
    for data in streams.values():
        units = split_stream(data)
        assert b"".join(u.data for u in units) == data
        for u in units:
            k = u.kind
            if u.kind == "element":
                k = "stanza" if is_stanza(u) else "other-element"
                names[u.name] += 1
            kinds[k] += 1
    print(f"{len(chunks)} chunks, {len(streams)} streams, "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("elements: " + ", ".join(f"{k} {v}" for k, v in names.most_common()))
    if args.stanzas:
        recs = corpus_records(chunks)
        with open(args.stanzas, "w", encoding="utf-8", newline="\n") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"wrote {len(recs)} records to {args.stanzas}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
