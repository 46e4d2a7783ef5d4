"""Relative integers (spec 14.3): in stream mode, an INT whose context's most recent value
is a canonical decimal integer b has one more bit, and with it 1 the value is b + GAMMA(d).
Checked here against the spec's formulas (bits of every traced value), both encoders
against each other, both decoders on the same frames, the cases without the bit (no
list, a non-integer last value, a never-indexed value, a JID part), the gamma bound,
and the overflow error at the same offset in both decoders."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from hypothesis import given, settings
from hypothesis import strategies as st
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import stream
from xmppbin.bits import gamma_length
from xmppbin.errors import InvalidDataError
from xmppbin.trace import tracing

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

MAX = (1 << 64) - 1


def ack(h) -> bytes:
    return b"<a xmlns='urn:xmpp:sm:3' h='%s'/>" % str(h).encode()


def frames(name: str, msgs: list[bytes], **kw) -> list[bytes]:
    def run():
        enc = stream.StreamEncoder(exact=True, **kw)
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    return with_backend(name, run)


def traced_values(data: bytes) -> list[tuple[str, str, int]]:
    """(how, text, bits) of every top-level value item the reference decoder reads
    in the stream data (test_stream_farref uses it too)."""

    def run():
        with tracing() as items:
            dec = stream.StreamDecoder()
            dec.feed(data)
            dec.close()
            return [(i.how, i.text, i.bits) for i in items if i.what == "value" and i.depth == 0]

    return with_backend("python", run)


def whole(n: int) -> int:
    """GAMMA(bl(n) + 1) and the low bits: an integer coded whole (8.6)."""
    bl = n.bit_length()
    return gamma_length(bl + 1) + max(bl - 1, 0)


def expected_bits(hs: list[int], int_len: int) -> list[int]:
    """The independent model of the rule: the bits of each h coded as INT, given
    the INT symbol's code length (the base is the previous h however it was coded)."""
    out, base = [], None
    for n in hs:
        if base is None:
            out.append(int_len + whole(n))
        else:
            rel = int_len + 1 + gamma_length(n - base) if 0 < n - base < 1 << 32 else None
            w = int_len + 1 + whole(n)
            out.append(rel if rel is not None and rel < w else w)
        base = n
    return out


def h_items(hs: list, **kw) -> list[tuple[str, int]]:
    """(how, bits) of each h's value as the reference decoder reads it, after
    checking that both encoders give the same frames and both decoders the XML."""
    msgs = [ack(h) for h in hs]
    py = frames("python", msgs, **kw)
    assert frames("c", msgs, **kw) == py
    data = b"".join(py)
    want = ("ok", [HEADER] + msgs)
    assert decode("python", data) == want and decode("c", data) == want
    items = traced_values(data)[-len(hs) :]  # (the header's values come first)
    assert [t[1] for t in items] == [str(h) for h in hs]
    return [(t[0], t[2]) for t in items]


def test_bits_follow_the_rule():
    hs = [7, 8, 9, 3, 4, 1357, 1358, 5031, MAX - 1, MAX, 6, (1 << 32) + 7]
    got = h_items(hs)
    assert all(how == "integer" for how, _ in got)  # no token, table hit or EXTEND among them
    bits = [b for _, b in got]
    int_len = bits[0] - whole(hs[0])  # the first has no base: no bit
    assert 1 <= int_len <= 12
    assert bits == expected_bits(hs, int_len)
    assert bits[1] == int_len + 2  # d = 1: the symbol, bit 1, GAMMA(1)
    assert bits[3] == int_len + 1 + whole(3)  # smaller than its base: bit 0, whole
    assert bits[9] == int_len + 2  # MAX - 1 + 1, the largest sum
    assert bits[11] == int_len + 1 + whole((1 << 32) + 7)  # d = 2**32 + 1: no gamma value


B = 9_999_999_999_000_000_000  # below 2**64; B + 2**32 has 20 digits and no common prefix with B


@pytest.mark.parametrize("hs", [
    [B, B + (1 << 32) - 1],  # the largest d: relative (1 + 63 bits against 76 whole)
    [B, B + (1 << 32)],  # d = 2**32 is no gamma value: whole
])
def test_gamma_bound(hs):
    got = h_items(hs)
    assert [how for how, _ in got] == ["integer", "integer"]
    bits = [b for _, b in got]
    int_len = bits[0] - whole(hs[0])
    assert bits == expected_bits(hs, int_len)
    d = hs[1] - hs[0]
    assert bits[1] == (int_len + 1 + 63 if d < 1 << 32 else int_len + 1 + whole(hs[1]))
    assert int_len + 1 + 63 < int_len + 1 + whole(hs[1])  # so the cases differ in bits


def test_no_bit_without_an_integer_base():
    # "758" after "x7" (no integer): no bit; "759": d = 1; "761" after "007" (not canonical): no bit
    got = h_items(["x7", 758, 759, "007", 761])
    assert [how for how, _ in got] == ["literal", "integer", "integer", "literal", "integer"]
    int_len = got[1][1] - whole(758)
    assert 1 <= int_len <= 12
    assert got[2][1] == int_len + 2
    assert got[4][1] == int_len + whole(761)


def test_never_indexed_values_are_no_base_and_never_relative():
    # 642 is never-indexed: coded whole without the bit, and not remembered, so
    # 643's base is 641 (d = 2) and 644's is 643 (d = 1)
    got = h_items([641, 642, 643, 644], never_index=lambda kind, name, value: value == "642")
    assert [how for how, _ in got] == ["integer"] * 4
    int_len = got[0][1] - whole(641)
    assert [b for _, b in got] == [int_len + whole(641), int_len + whole(642), int_len + 1 + 3, int_len + 2]


def test_jid_parts_have_no_bit():
    # integer resources one apart in the same JID part context: coded whole (8.6)
    msgs = [b"<presence from='ann@localhost/84210736519'/>", b"<presence from='bob@localhost/84210736520'/>"]
    py = frames("python", msgs)
    assert frames("c", msgs) == py
    data = b"".join(py)
    assert decode("c", data) == decode("python", data) == ("ok", [HEADER] + msgs)

    def run():
        with tracing() as items:
            dec = stream.StreamDecoder()
            dec.feed(data)
            return [(i.how, i.text, i.bits) for i in items if i.what == "value" and i.depth == 1]

    parts = [t for t in with_backend("python", run) if t[0] == "integer"]
    assert [t[1] for t in parts] == ["84210736519", "84210736520"]
    int_len = parts[0][2] - whole(84210736519)
    assert parts[1][2] == int_len + whole(84210736520)


def test_overflow_is_refused_at_the_same_offset():
    # MAX - 1 then MAX: the second is relative, d = 1; the same frame after MAX overflows
    a = frames("python", [ack(MAX - 1), ack(MAX)])
    b = frames("python", [ack(MAX), ack(MAX - 1)])
    assert len(a[2]) <= 3  # symbol, bit 1, GAMMA(1)
    data = b"".join(b[:2]) + a[2]
    got = [decode(name, data) for name in ("python", "c")]
    assert got[0] == got[1]
    kind, offset, msg = got[0]
    assert kind is InvalidDataError and "integer longer than 64 bits" in msg
    assert len(b"".join(b[:2])) < offset <= len(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 40), st.integers(0, MAX), st.sampled_from(["x", "", "0", "01"])),
                min_size=1, max_size=25))
def test_encoders_agree_and_round_trip(hs):
    msgs = [ack(h) for h in hs]
    py = frames("python", msgs)
    assert frames("c", msgs) == py
    data = b"".join(py)
    want = ("ok", [HEADER] + msgs)
    assert decode("python", data) == want
    assert decode("c", data) == want


@pytest.mark.parametrize("name", ["python", "c"])
def test_feed_loop_agrees(name):
    msgs = [ack(h) for h in (1, 2, 3, 10, 11, 5)]

    def run():
        enc = stream.StreamEncoder(exact=True)
        return enc.feed(HEADER + b"".join(msgs))

    assert with_backend(name, run) == b"".join(frames("python", msgs))
