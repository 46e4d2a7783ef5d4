"""SHORT frames (spec 14.2): an ELEMENT message body of one byte whose message takes
its first 4 bits (in exact mode followed by the plain bit 1) goes as one byte, header
value type 0 with the low bit set; a body of k = 2, 3 or 4 bytes whose bits after the
first 7k - 3 are zero (and whose first 7 are not) goes as a k-byte header of that type,
its value those 7k - 3 bits. Both encoders send them exactly then; both decoders take
them as those ELEMENT frames, and take the long form too; errors come at the same
offsets from both, for any chunking."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import model as M
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
            v, _ = stream.get_varint(data, pos, 4)
            out += stream.frame(stream.FRAME_ELEMENT, stream.short_payload(v, exact))
        else:
            out += data[pos : pos + n]
    return out


def fits(body: bytes, exact: bool) -> bool:
    """The rule of 14.2, bit by bit: does this ELEMENT body go as a SHORT frame?"""
    bits = "".join(f"{b:08b}" for b in body)
    if len(body) == 1:
        return bits[4:] == ("1000" if exact else "0000")
    k = len(body)
    return 2 <= k <= 4 and set(bits[7 * k - 3 :]) == {"0"} and "1" in bits[:7]


# stanzas whose bodies take 2 to 4 bytes, some of them fitting a SHORT frame
MORE = [b"<a xmlns='urn:xmpp:sm:3' h='%d'/>" % h for h in (1, 2, 3, 7, 8, 100, 101, 4000, 4001)] + [
    b"<presence from='c@d/e' id='%d'/>" % i for i in range(12)] + [b"<iq type='get' id='x%d'/>" % i for i in range(6)]


@pytest.mark.parametrize("msgs", [MSGS, MORE], ids=["acks", "more"])
@pytest.mark.parametrize("exact", [True, False])
def test_short_exactly_when_the_body_fits(exact, msgs):
    py = frames("python", exact, msgs)
    assert frames("c", exact, msgs) == py == frames("c", exact, msgs, feed=True)
    sizes = set()
    for f in py[1:]:
        v, p = stream.get_varint(f, 0, 4)
        kind, n = stream.frame_header(v)
        if kind == stream.FRAME_ELEMENT:
            assert not fits(f[p:], exact)  # a body that fits never goes in a long frame
            continue
        assert kind == stream.FRAME_SHORT and n == 0 and p == len(f) and v & 7 == 1
        body = stream.short_payload(v, exact)
        assert len(body) == len(f) and fits(body, exact)
        assert stream.element_frame(body, exact) == f
        sizes.add(len(f))
    if msgs is MSGS:
        # the <r/> after a stanza whose shape was followed by <r/> before (14.3)
        assert [len(f) for f in py[2::2]][2:] == [1, 1, 1, 1]
    else:
        assert {2, 3} <= sizes  # SHORT frames above one byte (4 bytes: test_max_frame_counts_a_short_frames_bytes)
    data = b"".join(py)
    want = decode("python", data)
    assert want[0] == "ok" and want[1][1:] == msgs and (want[1][0] == HEADER or not exact)
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


def test_misplaced_and_oversized_short_frames():
    head = b"".join(frames("c", True, msgs=[]))
    for bad, why, at in [
        (b"\x01", "element frame before the stream's open frame", 0),  # no OPEN yet
        (b"\x81\x01", "element frame before the stream's open frame", 0),
        (head + b"\x81\x00", "non-minimal varint", len(head)),  # a 2-byte header of value 1
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


@pytest.mark.parametrize("exact", [True, False])
def test_any_short_frame_decodes_alike(exact):
    """Every SHORT frame of 2 and of 3 bytes (a sample) after a stream's start:
    the same outcome from both decoders, an error inside the frame's bytes."""
    head = b"".join(frames("c", exact, msgs=MSGS[:2]))
    for k, values in ((2, range(16, 1 << 11, 7)), (3, range(1 << 11, 1 << 18, 997))):
        for c in values:
            f = stream.put_varint(c << 3 | 1)
            assert len(f) == k and stream.short_payload(c << 3 | 1, exact) == (c << (k + 3)).to_bytes(k, "big")
            got = [decode(name, head + f) for name in ("python", "c")]
            assert got[0] == got[1], (k, c)
            if got[0][0] != "ok":
                assert len(head) <= got[0][1] <= len(head) + k


def test_max_frame_counts_a_short_frames_bytes():
    """A 4-byte SHORT frame stands for a 4-byte payload: max_frame 3 refuses it
    at its first byte (before decoding it), 4 takes it, in both decoders."""
    from xmppbin.errors import DecodeLimitError

    announce = stream.frame(stream.FRAME_OPEN, stream.put_varint(100) + M.header(M.KIND_ELEMENT, True, 1))  # 2 bytes
    short4 = stream.put_varint(((1 << 24) | 12345) << 3 | 1)
    assert len(short4) == 4
    data = announce + short4

    def run(limit):
        dec = stream.StreamDecoder(max_frame=limit)
        try:
            return [e.xml for e in dec.feed(data)]
        except DecodeLimitError as e:
            return ("limit", e.offset, e.limit, e.reason)
        except InvalidDataError as e:  # the body itself need not be a message
            return ("invalid", e.offset)
        except TruncatedError as e:
            return ("truncated", e.offset)

    for name in ("python", "c"):
        assert with_backend(name, lambda: run(3)) == ("limit", len(announce), "max_frame",
                                                       "frame of 4 bytes exceeds max_frame=3")
        got = with_backend(name, lambda: run(4))
        assert got == with_backend("python", lambda: run(4)) and got[0] != "limit"
