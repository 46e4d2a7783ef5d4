"""Base64 with a layout (spec 8.6): text that is canonical padded base64 once its
whitespace is taken out, wrapped in lines of one width, separated by one whitespace
string, with whitespace before and after (vCard photos, PGP blocks, SASL and
certificate data as people indent them), is packed to its bytes like plain base64,
plus the layout.

Checked: which strings have a layout (the model's rule, accepted and refused shapes);
the C encoder gives the reference's bytes and both decoders give the input back, on
generated layouts and on near misses (in text and attribute values, default and exact
mode); a layout costs its bits and nothing else (the same value without whitespace is
within a few bytes); the decoders agree on max_string N accepted and N-1 refused and on
every truncation. Random layouts the encoder never writes (widths past the body, long
whitespace) are in test_c_decoder's random symbol streams.
"""
from __future__ import annotations

import base64
import random

import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_c_decoder import compare as compare_decoders
from test_c_encoder import compare as compare_encoders

from xmppbin import decoder as pydecoder
from xmppbin import encoder as pyencoder
from xmppbin import model as M
from xmppbin.dictionary import get_dictionary
from xmppbin.limits import DEFAULT_LIMITS, Limits

_cencoder = require("_cencoder")
_cdecoder = require("_cdecoder")

SINGLE_BACKEND = True  # differential: both implementations are called explicitly
D = get_dictionary(1)
RAW = bytes(range(7, 107))
B64 = base64.b64encode(RAW).decode()  # 136 characters, ends in "=="


def wrap(body: str, width: int, lead: str = "", sep: str = "\n", trail: str = "") -> str:
    lines = [body[i:i + width] for i in range(0, len(body), width)] if width else [body]
    return lead + sep.join(lines) + trail


@pytest.mark.parametrize("s, layout", [
    (wrap(B64, 0, "\n  ", "", "\n"), ("\n  ", 0, "", "\n")),
    (wrap(B64, 32, "\n    ", "\n    ", "\n  "), ("\n    ", 32, "\n    ", "\n  ")),
    (wrap(B64, 64, "", "\r\n", ""), ("", 64, "\r\n", "")),
    (wrap(B64, 68, "\t", " ", " \n"), ("\t", 68, " ", " \n")),  # the last line as long as the others
    (wrap(B64, 1, "", " ", ""), ("", 1, " ", "")),
    (wrap(B64, 135, "", "\n", ""), ("", 135, "\n", "")),  # the last line one character
    ("QUJD\tREVG ", None),  # lines of 4 (the last one too), a trail: b"ABCDEF"
])
def test_layouts(s, layout):
    assert M.b64_bytes(s) is None
    if layout is None:
        assert M.b64_layout(s) == (b"ABCDEF", "", 4, "\t", " ")
    else:
        assert M.b64_layout(s) == (RAW, *layout)


@pytest.mark.parametrize("s", [
    B64,  # no whitespace: plain B64 (b64_bytes)
    wrap(B64, 32).replace("\n", "\n ", 1),  # one separator differs
    wrap(B64, 32)[:40] + wrap(B64, 32)[41:],  # the second line one short
    wrap(B64, 40, sep="\n")[:-20] + "\n" + wrap(B64, 40)[-20:],  # a line break inside the last line
    wrap(B64[:-4] + "QR==", 32),  # nonzero bits below the last byte (R: 010001, its low 4 bits cut)
    wrap(B64[:8] + "=" + B64[9:], 32),  # '=' inside the body
    wrap(B64[:-1], 32),  # not a multiple of 4
    " QUJD ",  # 4 characters: under B64_MIN
    "  \n ",  # whitespace only
    "QUJD\tREVG\t\tR0g=",  # lines of 4, the second separator longer
])
def test_not_layouts(s):
    if s is not B64:
        assert M.b64_layout(s) is None
    else:
        assert M.b64_layout(s) is None and M.b64_bytes(s) == RAW


def _both_round_trip(xml: bytes, exact: bool) -> bytes:
    """The reference's message, after checking that C gives the same bytes and
    both decoders give the input back (exact mode: its bytes; default mode:
    the reference decoder's output)."""
    assert compare_encoders(xml, exact=exact) is None
    data = pyencoder.encode(xml, D, exact=exact, limits=DEFAULT_LIMITS)
    back_py = pydecoder.decode(data, limits=DEFAULT_LIMITS)
    assert _cdecoder.decode(data, limits=DEFAULT_LIMITS) == back_py
    if exact:
        assert back_py == xml
    else:  # once canonical, a second trip gives the same bytes
        assert pydecoder.decode(pyencoder.encode(back_py, D, limits=DEFAULT_LIMITS), limits=DEFAULT_LIMITS) == back_py
    return data


WS = st.text(alphabet=" \n\t\r", max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(min_size=4, max_size=150), width=st.integers(0, 90), lead=WS, sep=WS.filter(bool),
       trail=WS, attr=st.booleans(), exact=st.booleans(), cut=st.integers(-1, 400), ins=st.sampled_from(" =A\n"))
def test_c_equals_reference(raw, width, lead, sep, trail, attr, exact, cut, ins):
    body = base64.b64encode(raw).decode()
    s = wrap(body, width, lead, sep, trail)
    if 0 <= cut < len(s):  # a near miss (or, by chance, another layout)
        s = s[:cut] + ins + s[cut:]
    else:
        assert M.b64_layout(s) is not None or M.b64_bytes(s) == raw
    if attr:
        esc = s.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")
        xml = f"<a xmlns='urn:x' k='{esc}'/>".encode()
    else:
        xml = f"<a xmlns='urn:x'>{s.replace(chr(13), '&#13;')}</a>".encode()
    _both_round_trip(xml, exact)


def test_layout_costs_only_its_bits():
    """A wrapped value takes no more than the same base64 on one line plus the
    bits of its layout (b64_layout_cost, rounded up to bytes, and one byte of
    padding), and stays within 40 bytes of its raw bytes."""
    for width, lead, sep, trail in [(64, "\n      ", "\n      ", "\n    "), (76, "", "\r\n", "\r\n"),
                                    (60, "\n", "\n", "\n")]:
        raw = random.Random(width).randbytes(700)
        body = base64.b64encode(raw).decode()
        plain = _both_round_trip(f"<data xmlns='urn:xmpp:bob'>{body}</data>".encode(), False)
        s = wrap(body, width, lead, sep, trail).replace("\r", "&#13;")
        wrapped = _both_round_trip(f"<data xmlns='urn:xmpp:bob'>{s}</data>".encode(), False)
        bits = M.b64_layout_cost(lead, width, sep, trail)
        assert len(plain) <= len(wrapped) <= len(plain) + (bits + 7) // 8 + 1
        assert len(wrapped) < len(raw) + 40


def test_xep_0420_payload():
    """The held-out XEP example whose payload is wrapped, indented base64 (the
    payload class the issue's acceptance reports): packed, not a literal."""
    from conftest import SHARED, load, record_context, require_shared_corpus
    require_shared_corpus()
    rec = next(r for r in load(SHARED) if r["xep"] == "0420" and "encryption:stub:sce" in r["xml"])
    xml = rec["xml"].encode()
    data = pyencoder.encode(xml, D, context=record_context(rec), limits=DEFAULT_LIMITS)
    assert len(data) < 800  # 719 bytes of payload; a literal made it 901
    assert compare_encoders(xml, context=record_context(rec)) is None


def _message(s: str) -> bytes:
    return pyencoder.encode(f"<a xmlns='urn:x'>{s}</a>".encode(), D, limits=DEFAULT_LIMITS)


def test_max_string_decoded_length():
    """The decoders check the decoded length, layout included, against
    max_string before reading the bytes: N accepted, N-1 refused, same offset."""
    s = wrap(B64, 32, "\n    ", "\n    ", "\n  ")
    data = _message(s)
    ok = Limits(max_string=len(s))
    assert compare_decoders(data, ok) is None
    assert s.encode() in pydecoder.decode(data, limits=ok)
    short = Limits(max_string=len(s) - 1)
    assert compare_decoders(data, short) is None
    with pytest.raises(Exception) as ei:
        _cdecoder.decode(data, limits=short)
    assert getattr(ei.value, "limit", None) == "max_string"


def test_max_string_many_separators():
    """Width 1: the separators make most of the string (the C decoder checks
    their count x length against max_string before adding it)."""
    from xmppbin.bits import BitWriter
    from xmppbin.encoder import _Coder

    s = wrap(B64, 1, "", "\n\t", "")
    assert _Coder(D, BitWriter())._choose(s, M.VC_OTHER_TEXT)[0] == M.V_B64
    data = _message(s)
    for n in (len(s), len(s) - 1, len(B64) + 1, 3):
        assert compare_decoders(data, Limits(max_string=n)) is None
    with pytest.raises(Exception) as ei:
        _cdecoder.decode(data, limits=Limits(max_string=len(s) - 1))
    assert getattr(ei.value, "limit", None) == "max_string"
    assert s.encode() in _cdecoder.decode(data, limits=Limits(max_string=len(s)))


def test_every_truncation():
    data = _message(wrap(B64, 20, "\n\t ", "\r\n\t ", "\n"))
    for k in range(len(data)):
        assert compare_decoders(data[:k]) is None


def test_layout_from_34_bytes():
    """The wrapped bit, and so a layout, exist from B64_LAYOUT_MIN = 34 bytes (a body
    of 48 characters): 33 bytes in two lines stay a literal, 34 are packed; a plain
    value of 34 bytes costs the bit more than one of 33 (8 bits of a byte + 1)."""
    from xmppbin.bits import BitWriter
    from xmppbin.encoder import _Coder

    assert M.B64_LAYOUT_MIN == 34
    costs = {}
    for n in (33, 34):
        body = base64.b64encode(bytes(range(50, 50 + n))).decode()
        wrapped = wrap(body, 24, "\n  ", "\n  ", "\n")
        assert M.b64_layout(wrapped)[0] == bytes(range(50, 50 + n))
        sym, _, _ = _Coder(D, BitWriter())._choose(wrapped, M.VC_OTHER_TEXT)
        assert sym == (M.V_LIT if n < 34 else M.V_B64)
        assert compare_encoders(f"<a xmlns='urn:x'>{wrapped}</a>".encode()) is None
        sym, costs[n], _ = _Coder(D, BitWriter())._choose(body, M.VC_OTHER_TEXT)
        assert sym == M.V_B64
    assert costs[34] - costs[33] == 8 + 1  # GAMMA(33) and GAMMA(34) are both 11 bits
