"""SHORT frames (spec 14.2): an ELEMENT message body of one byte whose message takes
its first 4 bits (in exact mode followed by the plain bit 1) goes as one byte, header
value type 0 with the low bit set. Both encoders send it exactly then; both decoders
take it as that ELEMENT frame, and take the long form too; a longer header of that
type stays reserved; errors come at the same offsets from both, for any chunking."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import stream
from xmppbin.cli import _frames
from xmppbin.errors import InvalidDataError, TruncatedError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

R = b"<r xmlns='urn:xmpp:sm:3'/>"
STANZAS = [b"<message to='a@b'><body>hi</body></message>", b"<presence from='c@d/e'/>"]
MSGS = [m for s in STANZAS * 3 for m in (s, R)]


def frames(name: str, exact: bool, msgs=MSGS, feed: bool = False) -> list[bytes]:
    """The frames of HEADER + msgs (feed: through feed(), the C loops with the C backend)."""

    def run():
        enc = stream.StreamEncoder(exact=exact)
        if feed:
            return [enc.feed(HEADER)] + [enc.feed(m) for m in msgs]
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    return with_backend(name, run)


def long_form(data: bytes, exact: bool) -> bytes:
    """data with every SHORT frame written as the ELEMENT frame it stands for."""
    out = b""
    for pos, kind, n in _frames(data):  # the CLI's frame walker: (offset, type, length)
        if kind == stream.FRAME_SHORT:
            out += stream.frame(stream.FRAME_ELEMENT, stream.short_payload(data[pos], exact))
        else:
            out += data[pos : pos + n]
    return out


@pytest.mark.parametrize("exact", [True, False])
def test_short_exactly_when_the_body_fits(exact):
    py = frames("python", exact)
    assert frames("c", exact) == py == frames("c", exact, feed=True)
    for f in py[1:]:
        body = f[1:]
        fits = len(body) == 1 and body[0] & 0x0F == (0x08 if exact else 0)
        short = len(f) == 1
        assert not fits  # a body that fits never goes in a long frame
        if short:
            v = f[0]
            assert v & 7 == 1 and v < 0x80
            assert stream.frame_header(v) == (stream.FRAME_SHORT, 0)
            assert stream.element_frame(stream.short_payload(v, exact), exact) == f
    # the <r/> after a stanza whose shape was followed by <r/> before (14.3)
    assert [len(f) for f in py[2::2]][2:] == [1, 1, 1, 1]
    data = b"".join(py)
    want = decode("python", data)
    assert want[0] == "ok" and want[1][1:] == MSGS and (want[1][0] == HEADER or not exact)
    for name in ("c", "python"):
        assert decode(name, data) == want
        assert decode(name, long_form(data, exact)) == want  # the long form decodes alike


@pytest.mark.parametrize("name", ["c", "python"])
def test_any_chunking(name):
    data = b"".join(frames("c", True))

    def run():
        dec = stream.StreamDecoder()
        return [e.xml for i in range(len(data)) for e in dec.feed(data[i : i + 1])]

    assert with_backend(name, run) == [HEADER] + MSGS


def test_reserved_and_misplaced_short_frames():
    # type 0 with the low bit in a header of two bytes or more: reserved
    head = b"".join(frames("c", True, msgs=[]))
    for bad, why, at in [
        (head + b"\x81\x01", "reserved frame type", len(head)),
        (b"\x01", "element frame before the stream's open frame", 0),  # no OPEN yet
    ]:
        got = [decode(name, bad) for name in ("python", "c")]
        assert got[0] == got[1]
        assert got[0][0] is InvalidDataError and why in got[0][2] and got[0][1] == at


def test_a_short_frame_that_is_no_message_is_truncated_at_its_end():
    """0x01: the body 0x08 (exact) / 0x00 (default), whose never-indexed count
    (a GAMMA starting with zero bits) runs past the body: both decoders refuse
    it as truncated at the end of the SHORT frame, its one byte being the body's."""
    for exact in (True, False):
        head = b"".join(frames("c", exact, msgs=[]))
        bad = head + b"\x01"
        got = [decode(name, bad) for name in ("python", "c")]
        assert got[0][:2] == got[1][:2] == (TruncatedError, len(head) + 1)
