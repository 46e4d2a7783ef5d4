"""An independent view of the XML infoset, computed by lxml (not by xmppbin)."""
from __future__ import annotations

import io
import re
from collections.abc import Mapping

from lxml import etree

_OPEN = re.compile(rb"<([^\s/>]+)")


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


def wrap(xml: bytes, context: Mapping[str, str], open_root: bool = False, tag: str = "xmppbin-test-wrapper") -> bytes:
    """A parseable document: the element inside a wrapper that declares the context
    (the prefixes a stream header would declare); a stream header gets its end tag."""
    body = re.sub(rb"^(\xef\xbb\xbf)?<\?xml[^>]*\?>", b"", xml)
    if open_root:
        body += b"</" + _OPEN.search(body).group(1) + b">"
    decls = "".join(f" xmlns='{_attr(u)}'" if not p else f" xmlns:{p}='{_attr(u)}'" for p, u in context.items())
    return f"<{tag}{decls}>".encode() + body + f"</{tag}>".encode()


def infoset(xml: bytes, context: Mapping[str, str], open_root: bool = False) -> list:
    """Events of one element as lxml sees them inside the given namespace context:
    (start, qname, prefix, namespace declarations in order, attributes in order),
    text and tails exactly, comments, PIs, end. Document-level whitespace and the
    XML declaration are not part of an element's infoset."""
    doc = wrap(xml, context, open_root)
    out = []
    pending_ns = []
    depth = 0
    for ev, obj in etree.iterparse(io.BytesIO(doc), events=("start", "end", "start-ns", "comment", "pi"),
                                   remove_comments=False, remove_pis=False, resolve_entities=False):
        if ev == "start-ns":
            pending_ns.append(obj)
            continue
        if ev == "start":
            depth += 1
            if depth > 1:
                out.append(("start", obj.tag, obj.prefix, tuple(pending_ns), tuple(obj.attrib.items())))
                out.append(("text", obj.text or ""))
            pending_ns = []
        elif ev == "end":
            depth -= 1
            if depth >= 1:
                out.append(("end", obj.tag))
                if depth >= 1:
                    out.append(("tail", obj.tail or ""))
        elif ev == "comment":
            out.append(("comment", obj.text))
        elif ev == "pi":
            out.append(("pi", obj.target, obj.text))
    # whitespace around the root belongs to the wrapper, not to the element
    if out and out[-1][0] == "tail":
        out.pop()
    return out
