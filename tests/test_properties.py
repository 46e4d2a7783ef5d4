"""Property tests: random XMPP-like trees, serialized with random lexical choices,
round-trip infoset-equal in default mode and byte-equal in exact mode."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from infoset import infoset

import xmppbin

CTX = dict(xmppbin.DEFAULT_CONTEXT)
NAMES = ["message", "iq", "presence", "body", "query", "item", "x", "r", "a", "feature", "forwarded",
         "result", "field", "value", "data", "pubsub", "publish", "n\u00e4me", "\u540d\u524d", "a-b.c_d", "z9"]
ATTRS = ["to", "from", "id", "type", "xml:lang", "jid", "node", "var", "h", "name", "v\u00e4r"]
URIS = ["jabber:client", "jabber:server", "urn:xmpp:sm:3", "http://jabber.org/protocol/disco#info",
        "urn:xmpp:forward:0", "urn:x", "http://a/b?c=d&e=f"]
PREFIXES = ["p", "stream", "foo", "x1", "\u00e9"]

# characters that exercise escaping, normalization and UTF-8 widths
SPECIAL = st.sampled_from(list("&<>'\"\t\n\r ]") + ["]]>", "\u00e9", "\u20ac", "\U0001f600", "\U00010000",
                                                  "\ud7ff", "\ue000", "\ufffd", "\x7f", "\u0085", "\u2028"])
XML_CHAR = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
    "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff",
)
TEXT = st.lists(st.one_of(XML_CHAR, SPECIAL, st.sampled_from(["romeo@montague.lit/orchard", "12345",
                "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "deadbeefCAFE", "SGVsbG8gd29ybGQh"])),
                max_size=12).map("".join)
WS = st.sampled_from(["\n", "\n  ", "\n    ", " ", "\n\t", "\r\n  ", "  \n"])


@st.composite
def lexical(draw):
    """Random lexical choices for one serialization."""
    return {
        "quote": draw(st.sampled_from(["'", '"'])),
        "mixq": draw(st.booleans()),
        "selfclose": draw(st.sampled_from(["<x/>", "<x />", "<x></x>", "mix"])),
        "charref": draw(st.booleans()),
        "cdata": draw(st.booleans()),
        "tagws": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@st.composite
def element(draw, depth=0, max_depth=4, bound=(("", "jabber:client"),)):
    decls = []
    for _ in range(draw(st.integers(0, 2))):
        p = draw(st.sampled_from([""] + PREFIXES))
        if p in [d[0] for d in decls]:
            continue
        decls.append((p, draw(st.sampled_from(URIS))))
    scope = dict(bound)
    scope.update(decls)
    prefixed = sorted(p for p in scope if p)
    pfx = draw(st.sampled_from(prefixed)) if prefixed and draw(st.booleans()) else ""
    name = (pfx + ":" if pfx else "") + draw(st.sampled_from(NAMES))
    attrs = []
    seen = set()
    for _ in range(draw(st.integers(0, 4))):
        a = draw(st.sampled_from(ATTRS))
        if prefixed and draw(st.integers(0, 4)) == 0:
            a = draw(st.sampled_from(prefixed)) + ":" + a.split(":")[-1]
        ap, _, local = a.rpartition(":")
        expanded = ("xml" if ap == "xml" else scope[ap] if ap else "", local)
        if expanded in seen:
            continue
        seen.add(expanded)
        attrs.append((a, draw(TEXT)))
    items = [("xmlns" + (":" + p if p else ""), u) for p, u in decls] + attrs
    items = draw(st.permutations(items)) if items else []
    children = []
    if depth < max_depth:
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.integers(0, 3))
            if kind == 0:
                children.append(("ws", draw(WS)))
            elif kind == 1:
                children.append(("text", draw(TEXT.filter(bool))))
            else:
                children.append(draw(element(depth + 1, max_depth, tuple(scope.items()))))
    # merge adjacent text (XML has no adjacent text nodes)
    merged = []
    for ch in children:
        if ch[0] in ("ws", "text") and merged and merged[-1][0] in ("ws", "text"):
            merged[-1] = ("text", merged[-1][1] + ch[1])
        else:
            merged.append(ch)
    return ("el", name, items, merged)


def esc_text(s, lx, rnd):
    out = []
    for c in s:
        if c == "&":
            out.append("&amp;" if rnd.random() < 0.7 else "&#38;")
        elif c == "<":
            out.append("&lt;" if rnd.random() < 0.7 else "&#x3C;")
        elif c == ">":
            out.append("&gt;" if rnd.random() < 0.5 else ">")
        elif c == "\r":
            out.append("&#13;" if rnd.random() < 0.7 else "&#xD;")
        elif lx["charref"] and ord(c) > 0x7F and rnd.random() < 0.3:
            out.append(f"&#{ord(c)};" if rnd.random() < 0.5 else f"&#x{ord(c):X};")
        elif c in "'\"" and rnd.random() < 0.3:
            out.append("&apos;" if c == "'" else "&quot;")
        else:
            out.append(c)
    s2 = "".join(out).replace("]]>", "]]&gt;")
    if lx["cdata"] and "]]>" not in s and "\r" not in s and rnd.random() < 0.3 and s:
        return "<![CDATA[" + s + "]]>"
    return s2


def esc_attr(s, q, lx, rnd):
    out = []
    for c in s:
        if c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == q:
            out.append("&apos;" if c == "'" else "&quot;")
        elif c in "\t\n\r":
            out.append(f"&#{ord(c)};" if rnd.random() < 0.5 else f"&#x{ord(c):x};")
        elif c in "'\">" and rnd.random() < 0.4:
            out.append({"'": "&apos;", '"': "&quot;", ">": "&gt;"}[c])
        elif lx["charref"] and ord(c) > 0x7F and rnd.random() < 0.3:
            out.append(f"&#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


def serialize(node, lx, rnd) -> str:
    _, name, items, children = node
    parts = ["<" + name]
    for a, v in items:
        q = lx["quote"] if not lx["mixq"] or rnd.random() < 0.5 else ("'" if lx["quote"] == '"' else '"')
        ws = rnd.choice([" ", "\n    ", "  ", "\t"]) if lx["tagws"] else " "
        eq = rnd.choice(["=", " = "]) if lx["tagws"] else "="
        parts.append(f"{ws}{a}{eq}{q}{esc_attr(v, q, lx, rnd)}{q}")
    if lx["tagws"] and rnd.random() < 0.3:
        parts.append(rnd.choice([" ", "\n"]))
    if not children:
        form = lx["selfclose"] if lx["selfclose"] != "mix" else rnd.choice(["<x/>", "<x />", "<x></x>"])
        if form == "<x></x>":
            return "".join(parts) + "></" + name + ">"
        return "".join(parts) + (" />" if form == "<x />" else "/>")
    parts.append(">")
    for ch in children:
        if ch[0] == "el":
            parts.append(serialize(ch, lx, rnd))
        else:
            parts.append(esc_text(ch[1], lx, rnd))
    parts.append("</" + name + (" " if lx["tagws"] and rnd.random() < 0.2 else "") + ">")
    return "".join(parts)


def check(tree, lx, **limits):
    import random

    xml = serialize(tree, lx, random.Random(lx["seed"])).encode("utf-8")
    data = xmppbin.encode(xml, context=CTX, **limits)
    out = xmppbin.decode(data, context=CTX, **limits)
    assert infoset(out, CTX) == infoset(xml, CTX)
    assert xmppbin.encode(out, context=CTX, **limits) == data  # canonical output is a fixed point
    exact = xmppbin.encode(xml, context=CTX, exact=True, **limits)
    assert xmppbin.decode(exact, context=CTX, **limits) == xml


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(element(), lexical())
def test_random_trees_roundtrip(tree, lx):
    check(tree, lx)


def chain(depth: int, leaf: str) -> tuple:
    node = ("el", "x", [], [("text", leaf)] if leaf else [])
    for i in range(depth - 1):
        node = ("el", NAMES[i % len(NAMES)], [("id", str(i))] if i % 3 == 0 else [], [("ws", "\n"), node])
    return node


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 3), TEXT, lexical())
def test_nesting_near_the_depth_limit(below, leaf, lx):
    limit = 40
    check(chain(limit - below, leaf), lx, max_depth=limit)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["\n", " ", "  ", "\t", "\n  ", "\n    "]), min_size=1, max_size=6).map("".join))
def test_whitespace_only_text_is_kept(ws):
    xml = f"<message><body>{ws}</body>{ws}<x/>{ws}</message>".encode()
    assert xmppbin.decode(xmppbin.encode(xml)) == xml.replace(b"\r", b"&#13;")
    assert xmppbin.decode(xmppbin.encode(xml, exact=True)) == xml


def strings_of(tree: tuple) -> list[str]:
    """The attribute values and texts of a tree, in document order."""
    _, _, attrs, children = tree
    out = [v for _, v in attrs]
    for ch in children:
        out += strings_of(ch) if ch[0] == "el" else [ch[1]]
    return out


def past_the_copy_gate(tree: tuple, extra: str) -> tuple:
    """tree with a last child whose text repeats the tree's own strings (and extra) until the
    message has more value bytes than spec 8.11's gate: random input the copy search runs on,
    with repeats to find."""
    from xmppbin import model as M

    words = [s for s in strings_of(tree) if s.strip()] + [extra, "orchard"]
    text = ""
    while len(text.encode("utf-8")) < M.COPY_MIN_MESSAGE:
        text += " ".join(words) + " "
    return tree[:3] + (list(tree[3]) + [("el", "body", [], [("text", text)])],)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(element(), lexical(), TEXT)
def test_random_trees_past_the_copy_gate(tree, lx, extra):
    """The round trips of check() on messages the encoder searches for copies, and the C
    encoder and decoder give the reference's bytes on them, default and exact."""
    import random

    from conftest import BACKENDS, coded_alike

    from xmppbin import model as M
    from xmppbin.encoder import value_bytes
    from xmppbin.limits import DEFAULT_LIMITS
    from xmppbin.xmlscan import scan

    big = past_the_copy_gate(tree, extra)
    check(big, lx)
    xml = serialize(big, lx, random.Random(lx["seed"])).encode("utf-8")
    assert value_bytes(scan(xml, DEFAULT_LIMITS, CTX).events) >= M.COPY_MIN_MESSAGE
    if "c" in BACKENDS:
        coded_alike([xml])
        coded_alike([xml], exact=True)
