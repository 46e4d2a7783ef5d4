"""Restarts (spec 14.2): every stream header after an encoder's first OPEN frame goes in an
OPEN frame of message kind 2, coded with the stream state as it is (table, shapes, recent
values, session window, style); a decoder keeps its state for it, and refuses one before
any OPEN frame or one that changes the budget, the mode or the dictionary. The three
encoder paths (reference, C coder, C feed loop) give the same frames; both decoders the
same events and the same errors at the same offsets, for any chunking."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import model as M
from xmppbin import stream
from xmppbin.errors import InvalidDataError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

AUTH = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"
SUCCESS = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
FEATURES = (b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
            b"<sm xmlns='urn:xmpp:sm:3'/></stream:features>")
MSG = b"<message to='juliet@capulet.example/balcony' type='chat' id='m1'><body>Wherefore</body></message>"
UNITS = [HEADER, FEATURES, AUTH, SUCCESS, HEADER, FEATURES, MSG]


def message_kind(frame: bytes) -> int:
    """The message kind of an OPEN frame (after its header and the budget varint)."""
    _, p = stream.get_varint(frame, 0, 4)
    _, q = stream.get_varint(frame, p, 3)
    return frame[q] >> 3 & 3


def frames(name: str, exact: bool, feed: bool, units=UNITS, **kw) -> list[bytes]:
    def run():
        enc = stream.StreamEncoder(exact=exact, **kw)
        if feed:
            return [enc.feed(u) for u in units]
        return [enc.open(u) if u is HEADER else enc.element(u) for u in units]

    return with_backend(name, run)


@pytest.mark.parametrize("exact", [True, False])
def test_restart_keeps_the_state(exact):
    ref = frames("python", exact, False)
    assert frames("c", exact, False) == ref == frames("c", exact, True) == frames("python", exact, True)
    assert [message_kind(ref[0]), message_kind(ref[4])] == [M.KIND_STREAM_OPEN, M.KIND_RESTART]
    # the restart's header and features cost less than the first ones: the state carried over
    assert len(ref[4]) < len(ref[0]) and len(ref[5]) < len(ref[1])
    fresh = frames("python", exact, False, [HEADER, FEATURES, MSG])
    assert fresh[:2] == ref[:2]  # a new encoder starts from an empty state
    data = b"".join(ref)
    want = decode("python", data)
    assert want[0] == "ok" and len(want[1]) == len(UNITS)
    if exact:
        assert want[1] == UNITS
    for name in ("python", "c"):
        assert decode(name, data) == want

        def bytewise():
            dec = stream.StreamDecoder()
            return [e.xml for i in range(len(data)) for e in dec.feed(data[i : i + 1])]

        assert with_backend(name, bytewise) == want[1]


def test_announcement_then_header_is_a_restart():
    # a stream encoded from its middle: an announcement, then a header (a restart)
    units = [FEATURES, HEADER, MSG]

    def run():
        enc = stream.StreamEncoder(exact=True, in_stream=True)
        return [enc.feed(u) for u in units]

    ref = with_backend("python", run)
    assert with_backend("c", run) == ref
    assert message_kind(ref[0]) == M.KIND_ELEMENT  # the announcement precedes the element
    assert message_kind(ref[1]) == M.KIND_RESTART
    for name in ("python", "c"):
        assert decode(name, b"".join(ref)) == ("ok", units)


def restart_payload(budget: int, kind: int, exact: bool, dict_id: int = 1) -> bytes:
    return stream.put_varint(budget) + M.header(kind, exact, dict_id)


@pytest.mark.parametrize("case", ["first", "budget", "mode", "dictionary"])
def test_bad_restarts(case):
    good = b"".join(frames("python", True, False, [HEADER, MSG]))
    restart = frames("python", True, False)[4]
    _, p = stream.get_varint(restart, 0, 4)
    body = restart[p + 4 :]  # after the budget (3 bytes) and the message header (1 byte)
    budget = stream.DEFAULT_TABLE_SIZE - (case == "budget")
    payload = restart_payload(budget, M.KIND_RESTART, case != "mode", 2 if case == "dictionary" else 1) + body
    before = b"" if case == "first" else good
    frame = stream.frame(stream.FRAME_OPEN, payload)
    at = len(before) + stream.get_varint(frame, 0, 4)[1] + len(stream.put_varint(budget))  # the message header
    reason = ("a restart before the stream's open frame" if case == "first"
              else "a restart changes the table budget, the mode or the dictionary")
    for name in ("python", "c"):
        assert decode(name, before + frame) == (InvalidDataError, at, f"{reason} (at byte {at})")
