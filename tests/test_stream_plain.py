"""The plain bit of a stream message's lexical section (spec 14.3, Style): 1 = the
stream's style, no prolog, no deviation, and nothing more; 0 = the section of 9.4 with
one bit for the style. Both backends write the same bits, both decoders accept the
long form of a plain message, and a plain bit where the message needs a deviation is
refused by both at the same offset."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import decoder, encoder, stream
from xmppbin.errors import InvalidDataError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

SAME_STYLE = [b"<message to='a@b'/>", b"<message to='c@d'><body>hi</body></message>", b"<r xmlns='urn:xmpp:sm:3'/>"]


def frames(name: str, msgs: list[bytes]) -> list[bytes]:
    def run():
        enc = stream.StreamEncoder(exact=True)
        assert (enc._c is not None) == (name == "c")
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    return with_backend(name, run)


def test_same_frames_from_both_backends():
    assert frames("c", SAME_STYLE) == frames("python", SAME_STYLE)
    data = b"".join(frames("c", SAME_STYLE))
    for name in ("c", "python"):
        assert decode(name, data) == ("ok", [HEADER] + SAME_STYLE)


@pytest.mark.parametrize("msgs, plain", [
    (SAME_STYLE, [True, True, True]),
    # double quotes: a new style (not plain), then the stream keeps it (plain)
    ([b"<message to='a@b'/>", b'<message to="a@b"/>', b'<message to="c@d"/>'], [True, False, True]),
    # a deviation from the stream's style (a reference kept as written): not plain
    ([b"<message to='a@b'/>", b"<message to='a&#64;b'/>", b"<message to='a@b'/>"], [True, False, True]),
])
def test_plain_when_the_style_holds_and_nothing_deviates(msgs, plain):
    # the first bit of each element message's lexical section, as the reference decoder reads it
    first: list[int] = []
    real_lex = decoder._Decoder.lexical

    def lex(self, events):
        p = self.r.pos
        if self.state is not None:
            first.append((self.r.data[p >> 3] >> (7 - (p & 7))) & 1)
        return real_lex(self, events)

    data = b"".join(frames("c", msgs))
    decoder._Decoder.lexical = lex
    try:
        assert decode("python", data) == ("ok", [HEADER] + msgs)
    finally:
        decoder._Decoder.lexical = real_lex
    assert [bool(b) for b in first[1:]] == plain
    assert decode("c", data) == ("ok", [HEADER] + msgs)


def _forged(msgs: list[bytes], write) -> bytes:
    """Frames from the reference encoder with its stream lexical section written by
    write(sc, c, real) instead (write may call real for the usual section)."""
    real = encoder.encode_lexical
    calls = []

    def forged(sc, c):
        calls.append(1)
        if len(calls) == 1:  # the stream header's message: as usual
            return real(sc, c)
        return write(sc, c, real)

    encoder.encode_lexical = forged
    try:
        return b"".join(frames("python", msgs))
    finally:
        encoder.encode_lexical = real


def test_long_form_of_a_plain_message_decodes_the_same():
    """0, 1 (the stream's style), 0 (no prolog), GAMMA(1) (no deviation): what the
    encoder writes as the one bit 1; a decoder takes either."""

    def long_form(sc, c, real):
        c.w.write(0, 1)
        c.w.write(1, 1)
        c.w.write(0, 1)
        c.w.gamma(1)

    data = _forged(SAME_STYLE, long_form)
    assert data != b"".join(frames("python", SAME_STYLE))
    for name in ("c", "python"):
        assert decode(name, data) == ("ok", [HEADER] + SAME_STYLE)


def test_plain_bit_where_a_deviation_is_needed_is_refused_by_both():
    """An empty text node is an empty CDATA section in exact mode, which only a
    deviation can spell: a plain message holding one is invalid, at the same offset."""
    msgs = [b"<message to='a@b'/>", b"<message><body><![CDATA[]]></body></message>"]

    def plain_always(sc, c, real):
        c.w.write(1, 1)

    data = _forged(msgs, plain_always)
    py, c = decode("python", data), decode("c", data)
    assert py == c
    assert py[0] is InvalidDataError and "empty text node" in py[2]
