"""One text node or attribute value with very many character references and CDATA
sections: the pure-Python reference is linear in them (it once searched the rest
of the text again after every reference: 2M `&amp;` took minutes) and gives the
same bytes and errors as the C core.

Linearity is asserted by counting the characters str.find examines (no timing);
the C comparison runs on 200k references (a couple of seconds with the reference).
"""
from __future__ import annotations

import pytest
from conftest import require

from xmppbin import encoder as pyencoder
from xmppbin.dictionary import get_dictionary
from xmppbin.errors import MalformedXMLError, RestrictedXMLEncodeError, XmppbinError
from xmppbin.limits import Limits
from xmppbin.xmlscan import text_error, unescape

_cdecoder = require("_cdecoder")
_cencoder = require("_cencoder")

SINGLE_BACKEND = True  # both implementations are called explicitly

D = get_dictionary(1)
BIG = Limits(max_size=1 << 24, max_string=1 << 24)


class Counted(str):
    """A str that counts the characters its find() examines."""

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        r = str.find(self, sub, start, end)
        Counted.scanned += (len(self) if r < 0 else r + len(sub)) - start
        return r


def scanned(fn, raw: str):
    Counted.scanned = 0
    out = fn(Counted(raw))
    return out, Counted.scanned


UNITS = ["&amp;", "&#38;", "&#x26;", "<![CDATA[x]]>", "<![CDATA[&]]>x", "a&lt;<![CDATA[]]>\r\n&gt;b"]


@pytest.mark.parametrize("unit", UNITS)
def test_unescape_is_linear(unit):
    """str.find examines each character a bounded number of times: with n units
    the count stays below 4 characters per input character (a rescan of the rest
    after every reference made it grow with n)."""
    for n in (1000, 8000):
        raw = unit * n
        out, count = scanned(lambda r: unescape(r, False), raw)
        assert out == unescape(raw, False) and out is not None and len(out) >= n
        assert count <= 4 * len(raw), (n, count, len(raw))
    if "<" not in unit:
        raw = unit.replace("\r\n", "") * 8000
        out, count = scanned(lambda r: unescape(r, True), raw)
        assert out is not None and count <= 4 * len(raw)


@pytest.mark.parametrize("bad, reason, cls", [
    ("&bogus;", "entity '&bogus;' is not predefined", RestrictedXMLEncodeError),
    ("&#0;", "invalid character reference '&#0;'", MalformedXMLError),
    ("& ", "'&' must start a reference ending in ';'", MalformedXMLError),
    ("]]>", "']]>' is not allowed in character data", MalformedXMLError),
])
@pytest.mark.parametrize("unit", ["&amp;", "<![CDATA[&]]>&#65;"])
def test_text_error_is_linear(unit, bad, reason, cls):
    """The offending construct after 8000 good ones: found at its offset, with
    each character examined a bounded number of times."""
    raw = unit * 8000 + bad
    assert unescape(raw, False) is None
    got, count = scanned(lambda r: text_error(r, False), raw)
    assert got == (reason, len(unit) * 8000, cls)
    assert count <= 6 * len(raw), (count, len(raw))


def _both(xml: bytes, **kw) -> bytes:
    """The C and the reference encoding of xml, which must be the same bytes."""
    c = _cencoder.encode(xml, D, limits=BIG, **kw)
    p = pyencoder.encode(xml, D, limits=BIG, **kw)
    assert c == p
    return c


def test_200k_references_same_bytes_as_c():
    """200,000 references in one text node (10,000 of them in CDATA sections)
    and in one attribute value: the same bytes as C in both modes, and the exact
    encoding decodes to the input again."""
    text = "<a>" + "&amp;" * 150_000 + "&#x3c;" * 40_000 + "<![CDATA[&]]>" * 10_000 + "</a>"
    attr = "<a v='" + "&amp;&#10;&quot;" * 66_667 + "'/>"
    for xml in (text.encode(), attr.encode()):
        data = _both(xml, exact=True)
        assert _cdecoder.decode(data, limits=BIG) == xml
        _both(xml)


def test_200k_references_then_an_error_same_as_c():
    """The error after 200,000 good references: same class and offset in C and
    in the reference."""
    xml = ("<a>" + "&amp;" * 200_000 + "&bogus;</a>").encode()
    errs = []
    for fn in (_cencoder.encode, pyencoder.encode):
        with pytest.raises(XmppbinError) as ei:
            fn(xml, D, limits=BIG, exact=True)
        errs.append((type(ei.value), ei.value.offset))
    assert errs[0] == errs[1] == (RestrictedXMLEncodeError, 3 + 5 * 200_000)
