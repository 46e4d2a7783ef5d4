"""Strict scanner for the RFC 6120 restricted-XML subset (reference implementation).

It turns one UTF-8 XML element (optionally preceded by an XML declaration and
surrounded by whitespace, comments and PIs) into a flat list of events that keep
both the infoset value and the exact lexical form of everything:

    ("S", qname, items, ws_end, selfclose, off)   start tag
        items: list of (qname, value, raw, quote, ws_before, eq)
    ("E", qname, ws_gt, off)                      end tag (ws_gt is None for <x/>)
    ("T", value, raw, off)                        text (char data, refs, CDATA)
    ("C", text, off)                              comment
    ("P", content, off)                           processing instruction

Offsets are character indices into the decoded input; ``Scan.byte_offset``
converts them for error messages. Values follow XML 1.0: line ends are
normalized, attribute whitespace is normalized to spaces, references are
expanded.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NoReturn

from .errors import EncodeError, EncodeLimitError, MalformedXMLError, RestrictedXMLEncodeError
from .limits import Limits

XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"
STREAM_NS = "http://etherx.jabber.org/streams"

_START = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff"
)
_CHAR = _START + r"\-.0-9\u00b7\u0300-\u036f\u203f-\u2040"
NCNAME = f"[{_START}][{_CHAR}]*"
_QNAME_RE = re.compile(f"{NCNAME}(?::{NCNAME})?")
_NAME_RE = re.compile(f"[{_START}:][{_CHAR}:]*")
NCNAME_RE = re.compile(NCNAME)
_WS_RE = re.compile(r"[ \t\r\n]*")


def _ws_at(text: str, pos: int) -> re.Match[str]:
    """The run of whitespace at pos (possibly empty, so there always is one)."""
    m = _WS_RE.match(text, pos)
    assert m is not None
    return m
_ILLEGAL_RE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XMLDECL_RE = re.compile(
    r"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['\"])1\.[0-9]+\1"
    r"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['\"])([A-Za-z][A-Za-z0-9._-]*)\2)?"
    r"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['\"])(?:yes|no)\4)?[ \t\r\n]*\?>"
)
_REF_RE = re.compile(r"&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;&< \t\r\n]*));")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_ATTR_WS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})

DEFAULT_CONTEXT: Mapping[str, str] = {"": "jabber:client", "stream": STREAM_NS}


def is_xml_char(c: str) -> bool:
    return _ILLEGAL_RE.match(c) is None


def check_chars(s: str) -> int:
    """Index of the first character not allowed in XML 1.0, or -1."""
    m = _ILLEGAL_RE.search(s)
    return -1 if m is None else m.start()


def is_ncname(s: str) -> bool:
    return NCNAME_RE.fullmatch(s) is not None


def is_qname(s: str) -> bool:
    return _QNAME_RE.fullmatch(s) is not None


def is_name(s: str) -> bool:
    return _NAME_RE.fullmatch(s) is not None


def unescape(raw: str, attr: bool) -> str | None:
    """Infoset value of a raw text or attribute spelling; None if it is not valid.

    Handles predefined entities, character references, CDATA sections (text
    only) and line-end normalization; in attributes also whitespace normalization.
    The caller has already checked for illegal characters.
    """
    out = []
    i = 0
    n = len(raw)
    # the next '<' and '&' at or after i (-1: none left), searched again only
    # once passed, so that the whole scan is linear however many there are
    lt = raw.find("<")
    amp = raw.find("&")
    while i < n:
        if 0 <= lt < i:
            lt = raw.find("<", i)
        if 0 <= amp < i:
            amp = raw.find("&", i)
        j = n
        if 0 <= lt < j:
            j = lt
        if 0 <= amp < j:
            j = amp
        if j > i:
            chunk = raw[i:j].replace("\r\n", "\n").replace("\r", "\n")
            if attr:
                chunk = chunk.translate(_ATTR_WS)
            elif "]]>" in chunk:
                return None
            out.append(chunk)
            # a ']]' at the end of a chunk followed by '>' in the next one cannot
            # happen: '>' is not a reference start, so it stays in this chunk.
        if j == n:
            break
        if j == lt:
            if attr or not raw.startswith("<![CDATA[", j):
                return None
            end = raw.find("]]>", j + 9)
            if end < 0:
                return None
            out.append(raw[j + 9 : end].replace("\r\n", "\n").replace("\r", "\n"))
            i = end + 3
            continue
        m = _REF_RE.match(raw, j)
        if m is None:
            return None
        dec, hx, name = m.groups()
        if name is not None:
            c = _PREDEFINED.get(name)
            if c is None:
                return None
        else:
            try:
                cp = int(dec) if dec is not None else int(hx, 16)
            except ValueError:
                return None
            if cp > 0x10FFFF:
                return None
            c = chr(cp)
            if not is_xml_char(c):
                return None
        out.append(c)
        i = m.end()
    return "".join(out)


class Scan:
    """Result of scanning: events, prolog text, and whether the root is left open."""

    __slots__ = ("events", "prolog", "open_root", "text", "_ascii")

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = text.isascii()
        self.events: list[tuple] = []
        self.prolog = ""  # BOM and XML declaration, exactly as written
        self.open_root = False  # True for a stream header (<stream:stream ...> left open)

    def byte_offset(self, i: int) -> int:
        return i if self._ascii else len(self.text[:i].encode("utf-8"))


def decode_input(xml: bytes | str, limits: Limits) -> str:
    if isinstance(xml, str):
        try:
            data = xml.encode("utf-8")
        except UnicodeEncodeError as e:
            off = len(xml[: e.start].encode("utf-8", "surrogatepass"))
            raise MalformedXMLError("lone surrogate in input", off) from None
    elif isinstance(xml, (bytes, bytearray, memoryview)):
        data = bytes(xml)
    else:
        raise TypeError(f"xml must be bytes or str, not {type(xml).__name__}")
    if len(data) > limits.max_size:
        raise EncodeLimitError(
            f"input of {len(data)} bytes exceeds max_size={limits.max_size}", limits.max_size, "max_size"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedXMLError("invalid UTF-8", e.start) from None


def text_error(raw: str, attr: bool) -> tuple[str, int, type[EncodeError]]:
    """Why unescape(raw, attr) failed: (reason, offset into raw, error class) of the
    first offending construct; ']]>' is legal in attributes. Linear in len(raw):
    c, j, k are the next CDATA section, '&' and ']]>' at or after i (-1: none
    left), searched again only once passed."""
    i = 0
    c = -1 if attr else raw.find("<![CDATA[")
    j = raw.find("&")
    k = -1 if attr else raw.find("]]>")
    while True:
        if 0 <= c < i:
            c = raw.find("<![CDATA[", i)
        if 0 <= j < i:
            j = raw.find("&", i)
        if 0 <= k < i:
            k = raw.find("]]>", i)
        if c >= 0 and (j < 0 or c < j) and (k < 0 or c < k):
            i = raw.find("]]>", c + 9) + 3  # the scanner found its end
            continue
        if j < 0 and k < 0:
            return "invalid character data", 0, MalformedXMLError
        if k >= 0 and (j < 0 or k < j):
            return "']]>' is not allowed in character data", k, MalformedXMLError
        m = _REF_RE.match(raw, j)
        if m is None:
            return "'&' must start a reference ending in ';'", j, MalformedXMLError
        if m.group(3) is not None and m.group(3) not in _PREDEFINED:
            if not is_name(m.group(3)):
                return f"invalid reference {m.group(0)!r}", j, MalformedXMLError
            return f"entity '&{m.group(3)};' is not predefined", j, RestrictedXMLEncodeError
        if unescape(m.group(0), False) is None:
            return f"invalid character reference {m.group(0)!r}", j, MalformedXMLError
        i = m.end()


def scan(
    xml: bytes | str,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
    open_root: bool | None = None,
    exact: bool = False,
) -> Scan:
    """Scan one element. open_root: True if the input must be a start tag left open
    (a stream header), False if it must be a complete element, None to accept an
    open root only when it is <stream> in the streams namespace.
    """
    text = decode_input(xml, limits)
    sc = Scan(text)

    def fail(msg: str, i: int, cls: type[EncodeError] = MalformedXMLError) -> NoReturn:
        raise cls(msg, sc.byte_offset(i))

    def limit(msg: str, i: int, name: str) -> NoReturn:
        raise EncodeLimitError(msg, sc.byte_offset(i), name)

    def check_string(s: str, i: int) -> None:
        if len(s) > limits.max_string // 4 and len(s.encode("utf-8")) > limits.max_string:
            limit(f"string longer than max_string={limits.max_string}", i, "max_string")

    bad = check_chars(text)
    if bad >= 0:
        fail(f"character U+{ord(text[bad]):04X} is not allowed in XML", bad)

    events = sc.events
    ev = events.append
    n = len(text)
    pos = 0
    if text.startswith("\ufeff"):
        pos = 1
    if text.startswith("<?xml", pos) and pos + 5 < n and text[pos + 5] in " \t\r\n":
        m = _XMLDECL_RE.match(text, pos)
        if m is None:
            fail("malformed XML declaration", pos)
        enc = m.group(3)
        if enc is not None and enc.lower() not in ("utf-8", "utf8"):
            fail(f"encoding {enc!r} is not UTF-8", m.start(3))
        pos = m.end()
    sc.prolog = text[:pos]
    if exact:
        check_string(sc.prolog, 0)

    # namespace scopes: list of dicts (prefix -> uri) pushed per element
    scopes: list[dict[str, str]] = [dict(context)]
    scopes[0]["xml"] = XML_NS
    stack: list[str] = []
    stack_off: list[int] = []
    root_done = False
    nelements = 0
    text_start = pos
    raw_parts: list[str] = []

    def flush_text(end: int) -> None:
        # called with the raw text accumulated since text_start
        nonlocal raw_parts
        raw = "".join(raw_parts)
        raw_parts = []
        if not raw:
            return
        if not stack:
            if raw.strip(" \t\r\n"):
                fail("text outside the root element", text_start)
            if exact:
                check_string(raw, text_start)
            ev(("T", raw, raw, text_start))  # kept as written (exact mode only)
            return
        value = unescape(raw, False)
        if value is None:
            _text_error(raw, text_start)
        check_string(raw if exact else value, text_start)
        if not value and not exact:
            return  # only empty CDATA sections: no text node in the infoset
        ev(("T", value, raw, text_start))

    def _text_error(raw: str, base: int, attr: bool = False) -> NoReturn:
        msg, off, cls = text_error(raw, attr)
        fail(msg, base + off, cls)

    while True:
        lt = text.find("<", pos)
        if lt < 0:
            lt = n
        if lt > pos:
            if not raw_parts:
                text_start = pos
            raw_parts.append(text[pos:lt])
        if lt == n:
            break
        if text.startswith("<![CDATA[", lt):
            if not stack:
                fail("CDATA section outside the root element", lt)
            end = text.find("]]>", lt + 9)
            if end < 0:
                fail("unterminated CDATA section", lt)
            if not raw_parts:
                text_start = lt
            raw_parts.append(text[lt : end + 3])
            pos = end + 3
            continue
        flush_text(lt)
        c = text[lt + 1 : lt + 2]
        if c == "/":
            m = _QNAME_RE.match(text, lt + 2)
            if m is None:
                fail("malformed end tag", lt)
            name = m.group(0)
            w = _ws_at(text, m.end())
            if w.end() >= n or text[w.end()] != ">":
                fail("malformed end tag", lt)
            if not stack:
                fail(f"end tag </{name}> without start tag", lt)
            if stack[-1] != name:
                fail(f"end tag </{name}> does not match <{stack[-1]}>", lt)
            if exact:
                check_string(w.group(0), lt)
            stack.pop()
            stack_off.pop()
            scopes.pop()
            ev(("E", name, w.group(0), lt))
            pos = w.end() + 1
            if not stack:
                root_done = True
            continue
        if c == "!":
            if text.startswith("<!--", lt):
                end = text.find("--", lt + 4)
                if end < 0:
                    fail("unterminated comment", lt)
                if not text.startswith("-->", end):
                    fail("'--' is not allowed inside a comment", end)
                if not allow_comments:
                    fail("comments are not allowed in XMPP (RFC 6120 11.1)", lt, RestrictedXMLEncodeError)
                body = text[lt + 4 : end]
                check_string(body, lt)
                ev(("C", body, lt))
                pos = end + 3
                continue
            if text.startswith("<!DOCTYPE", lt):
                fail("DTDs are not allowed in XMPP (RFC 6120 11.1)", lt, RestrictedXMLEncodeError)
            fail("malformed markup declaration", lt)
        if c == "?":
            m = _NAME_RE.match(text, lt + 2)
            if m is None:
                fail("malformed processing instruction", lt)
            target = m.group(0)
            end = text.find("?>", m.end())
            if end < 0:
                fail("unterminated processing instruction", lt)
            if target.lower() == "xml":
                fail("XML declaration not at the start of the input", lt)
            if ":" in target:
                fail("processing instruction target contains ':'", lt)
            if end > m.end() and text[m.end()] not in " \t\r\n":
                fail("malformed processing instruction", lt)
            if not allow_comments:
                fail("processing instructions are not allowed in XMPP (RFC 6120 11.1)", lt, RestrictedXMLEncodeError)
            body = text[lt + 2 : end]
            check_string(body, lt)
            ev(("P", body, lt))
            pos = end + 2
            continue
        # start tag
        if root_done and not stack:
            fail("content after the root element", lt)
        m = _QNAME_RE.match(text, lt + 1)
        if m is None:
            fail("malformed start tag", lt)
        name = m.group(0)
        check_string(name, lt)
        nelements += 1
        if nelements > limits.max_elements:
            limit(f"more than max_elements={limits.max_elements} elements", lt, "max_elements")
        if len(stack) + 1 > limits.max_depth:
            limit(f"nesting deeper than max_depth={limits.max_depth}", lt, "max_depth")
        p = m.end()
        items: list[tuple] = []
        while True:
            w = _ws_at(text, p)
            ws = w.group(0)
            p = w.end()
            if p >= n:
                break
            ch = text[p]
            if ch == ">" or (ch == "/" and text.startswith("/>", p)):
                break
            if not ws:
                fail("whitespace required before attribute", p)
            am = _QNAME_RE.match(text, p)
            if am is None:
                fail("malformed attribute name", p)
            aname = am.group(0)
            check_string(aname, p)
            e1 = _ws_at(text, am.end()).end()
            if e1 >= n or text[e1] != "=":
                fail(f"attribute {aname} has no '='", p)
            e2 = _ws_at(text, e1 + 1).end()
            if e2 >= n or text[e2] not in "'\"":
                fail(f"attribute {aname} value is not quoted", p)
            q = text[e2]
            qe = text.find(q, e2 + 1)
            if qe < 0:
                fail(f"unterminated value of attribute {aname}", e2)
            raw = text[e2 + 1 : qe]
            lt2 = raw.find("<")
            if lt2 >= 0:
                fail("'<' is not allowed in an attribute value", e2 + 1 + lt2)
            value = unescape(raw, True)
            if value is None:
                _text_error(raw, e2 + 1, True)
            check_string(raw if exact else value, e2 + 1)
            if exact:
                check_string(ws, p)
                check_string(text[am.end() : e2], p)
            items.append((aname, value, raw, q, ws, text[am.end() : e2], p))
            if len(items) > limits.max_attributes:
                limit(f"more than max_attributes={limits.max_attributes} attributes", p, "max_attributes")
            p = qe + 1
        if p >= n:
            fail("unterminated start tag", lt)
        selfclose = text[p] == "/"
        ws_end = ws
        if exact:
            check_string(ws_end, lt)
        pos = p + (2 if selfclose else 1)
        scope, err = resolve_start(name, items, scopes[-1])
        if err is not None:
            fail(err[0], lt if err[1] < 0 else items[err[1]][6])
        ev(("S", name, [it[:6] for it in items], ws_end, selfclose, lt))
        if selfclose:
            ev(("E", name, None, p))
            if not stack:
                root_done = True
        else:
            stack.append(name)
            stack_off.append(lt)
            scopes.append(scope)
    flush_text(n)
    if stack:
        if (
            len(stack) == 1
            and not root_done
            and events
            and events[-1][0] == "S"
            and events[-1][5] == stack_off[0]
            and pos == n
            and open_root is not False
            and (open_root or _is_stream_open(stack[0], scopes[1]))
        ):
            sc.open_root = True
            return sc
        fail(f"unclosed element <{stack[-1]}>", stack_off[-1])
    if not root_done:
        fail("no root element", n)
    if open_root:
        fail("expected a stream header (a start tag left open)", n)
    return sc


def _is_stream_open(name: str, scope: Mapping[str, str]) -> bool:
    pfx, _, local = name.rpartition(":")
    return local == "stream" and scope.get(pfx) == STREAM_NS


def resolve_start(name: str, items, parent_scope: Mapping[str, str]):
    """Namespace-check a start tag; items are (qname, value, ...) tuples.

    Returns (scope, None) with the element's in-scope prefixes, or
    (None, (message, item_index)) where item_index is -1 for the element name.
    Shared by the scanner and the decoder so both accept the same tags.
    """
    scope = dict(parent_scope)
    seen = set()
    for k, it in enumerate(items):
        a = it[0]
        if a in seen:
            return None, (f"duplicate attribute {a}", k)
        seen.add(a)
        if a == "xmlns" or a.startswith("xmlns:"):
            pfx = a[6:]
            v = it[1]
            if pfx == "xmlns":
                return None, ("the prefix 'xmlns' cannot be declared", k)
            if pfx == "xml" and v != XML_NS:
                return None, ("the prefix 'xml' cannot be rebound", k)
            if pfx != "xml" and v == XML_NS:
                return None, ("the XML namespace cannot be bound to another prefix", k)
            if v == XMLNS_NS:
                return None, ("the xmlns namespace cannot be declared", k)
            if pfx and not v:
                return None, (f"prefix {pfx} cannot be undeclared in XML 1.0", k)
            scope[pfx] = v
    expanded = set()
    for k, it in enumerate(items):
        a = it[0]
        if a == "xmlns" or a.startswith("xmlns:"):
            continue
        pfx, _, local = a.rpartition(":")
        if pfx:
            if pfx == "xmlns" or pfx not in scope:
                return None, (f"unbound prefix {pfx} in attribute {a}", k)
            key = (scope[pfx], local)
        else:
            key = ("", local)
        if key in expanded:
            return None, (f"duplicate attribute {a} (same namespace and name)", k)
        expanded.add(key)
    pfx = name.rpartition(":")[0]
    if pfx == "xmlns":
        return None, ("element prefix 'xmlns' is reserved", -1)
    if pfx and pfx not in scope:
        return None, (f"unbound prefix {pfx} in element {name}", -1)
    return scope, None
