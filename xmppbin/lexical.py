"""Serialization: the canonical form, exact-mode styles and lexical slots.

Default-mode decoding writes the canonical serialization (STYLE_DEFAULT, no
deviations). Exact mode records a style (7 bits) and the list of lexical slots
whose spelling differs from what that style would write (spec: "Exact mode").
"""
from __future__ import annotations

from typing import NamedTuple


class Style(NamedTuple):
    dquote: int = 0  # 0: attributes in '...', 1: in "..."
    empty: int = 0  # 0: <x/>, 1: <x />, 2: <x></x>
    text_gt: int = 1  # escape '>' in text as &gt;
    text_quot: int = 0  # escape ' and " in text as &apos; &quot;
    attr_gt: int = 0  # escape '>' in attribute values
    attr_oq: int = 0  # escape the other quote character in attribute values


STYLE_DEFAULT = Style()
#: style fields in the order they are chosen and coded, with their bit widths
STYLE_FIELDS = (("dquote", 1), ("empty", 2), ("text_gt", 1), ("text_quot", 1), ("attr_gt", 1), ("attr_oq", 1))

# slot kinds
SL_WSB = 0  # whitespace before an attribute (canonical " ")
SL_EQ = 1  # the '=' with whitespace around it (canonical "=")
SL_QUOTE = 2  # the quote character (canonical: the style's)
SL_VAL = 3  # attribute value spelling
SL_TAGEND = 4  # whitespace before '>' or '/>' (canonical "", or " " before '/>' in style empty=1)
SL_EMPTY = 5  # empty element written as <x/> vs <x></x>
SL_ENDWS = 6  # whitespace before '>' of an end tag (canonical "")
SL_TVAL = 7  # text spelling


def escape_text(v: str, st: Style) -> str:
    if "&" in v:
        v = v.replace("&", "&amp;")
    if "<" in v:
        v = v.replace("<", "&lt;")
    if ">" in v:
        v = v.replace(">", "&gt;") if st.text_gt else v.replace("]]>", "]]&gt;")
    if "\r" in v:
        v = v.replace("\r", "&#13;")
    if st.text_quot:
        v = v.replace("'", "&apos;").replace('"', "&quot;")
    return v


def escape_attr(v: str, st: Style, quote: str) -> str:
    if "&" in v:
        v = v.replace("&", "&amp;")
    if "<" in v:
        v = v.replace("<", "&lt;")
    if st.attr_gt and ">" in v:
        v = v.replace(">", "&gt;")
    if quote == "'" or st.attr_oq:
        v = v.replace("'", "&apos;")
    if quote == '"' or st.attr_oq:
        v = v.replace('"', "&quot;")
    if "\t" in v or "\n" in v or "\r" in v:
        v = v.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return v


def style_quote(st: Style) -> str:
    return '"' if st.dquote else "'"


def other_quote(q: str) -> str:
    return "'" if q == '"' else '"'


def slots(events) -> list[tuple[int, int, int]]:
    """The lexical slots of an event list, in order: (kind, event index, item index).

    Per start tag: WSB, EQ, QUOTE, VAL for each attribute (namespace declarations
    included), then TAGEND, then EMPTY if the element has no content. Per end
    tag: ENDWS. Per text node inside the root: TVAL. Nothing else has slots.
    """
    out = []
    n = len(events)
    depth = 0
    for k, e in enumerate(events):
        t = e[0]
        if t == "S":
            for i in range(len(e[2])):
                out.append((SL_WSB, k, i))
                out.append((SL_EQ, k, i))
                out.append((SL_QUOTE, k, i))
                out.append((SL_VAL, k, i))
            out.append((SL_TAGEND, k, -1))
            if k + 1 < n and events[k + 1][0] == "E":
                out.append((SL_EMPTY, k, -1))
            depth += 1
        elif t == "E":
            depth -= 1
            out.append((SL_ENDWS, k, -1))
        elif t == "T" and depth > 0:
            out.append((SL_TVAL, k, -1))
    return out


def canonical_tagend(st: Style, selfclosed: bool) -> str:
    return " " if (selfclosed and st.empty == 1) else ""
