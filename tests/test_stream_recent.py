"""Spec 14.3, recent values bounded by the table: a recent value that is a
table entry leaves every recent list when the table's last entry equal to it
is evicted (or the table is emptied), the others keeping their order, so
RECENT+k names the next one. Both backends: identical frames, identical
decoding, identical errors."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER

from xmppbin import model as M
from xmppbin import stream
from xmppbin.dictionary import get_dictionary
from xmppbin.errors import InvalidDataError, XmppbinError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

BUDGET = 200
A = "first-evicted-value-" + "a" * 20  # 40 bytes: a 72-byte entry
X = "second-kept-value-" + "x" * 22  # 40 bytes
MSGS = [
    b"<message id='result'/>",  # a token: recallable for good
    f"<message id='{A}'/>".encode(),
    f"<message id='{X}'/>".encode(),
]
EVICT_A = b"<message><body>" + b"z" * 40 + b"</body></message>"  # 3 x 72 > 200: A leaves the table
EMPTY_TABLE = b"<message><body>" + b"z" * 200 + b"</body></message>"  # larger than the budget
LAST = b"<message id='result'/>"
# the id context's list before LAST, and the RECENT index LAST is coded with
CASES = {"evicted": (EVICT_A, [X, "result"], 1), "emptied": (EMPTY_TABLE, ["result"], 0)}
# the last frame of each case (the same from both backends): never-indexed list
# 1, the root PRED 0 (predicted by the document's next slot, 14.3: the root of
# the message before the previous one), RECENT+1 110110 / RECENT+0 1011 (in the
# value context of the pair "message id", 8.5), the two ENDs predicted 0 0,
# plain 1, zero padding: the body b6 20 of "evicted" has 11 bits and zeros, so
# it goes as the 2-byte SHORT frame 89 5b (14.2: header value (0xb620 >> 5) << 3
# | 1 as a varint), the body ac 80 of "emptied" (9 bits) as a1 56
GOLDEN = {"evicted": "895b", "emptied": "a156"}


def frames_of(name: str, middle: bytes, old_rule: bool = False) -> list[bytes]:
    """The frames of the sequence; old_rule (reference only): recent values
    stay in their lists after eviction (the rule before this version)."""

    def run():
        enc = stream.StreamEncoder(exact=True, table_size=BUDGET)
        assert (enc._c is not None) == (name == "c")
        out = [enc.open(HEADER)]
        if old_rule:
            enc._s.state.hist.gone = None
        out += [enc.element(m) for m in MSGS + [middle, LAST]]
        return out

    return with_backend(name, run)


def decode(name: str, data: bytes):
    def run():
        dec = stream.StreamDecoder()
        assert (dec._c is not None) == (name == "c")
        try:
            evs = dec.feed(data)
            dec.close()
        except XmppbinError as e:
            return (type(e), e.offset, str(e))
        return ("ok", [e.xml for e in evs])

    return with_backend(name, run)


@pytest.mark.parametrize("case", sorted(CASES))
def test_eviction_removes_a_recent_value(case):
    middle, listed, k = CASES[case]
    py = frames_of("python", middle)
    assert frames_of("c", middle) == py
    assert py[-1].hex() == GOLDEN[case]
    data = b"".join(py)
    for name in ("python", "c"):
        assert decode(name, data) == ("ok", [HEADER] + MSGS + [middle, LAST])

    # the reference's lists after the middle message: the evicted value is gone
    def state_after_middle():
        enc = stream.StreamEncoder(exact=True, table_size=BUDGET)
        enc.open(HEADER)
        for m in MSGS + [middle]:
            enc.element(m)
        return [lst for lst in enc._s.state.recent.values() if "result" in lst]

    assert with_backend("python", state_after_middle) == [listed]
    assert listed.index("result") == k  # LAST is RECENT+k (GOLDEN)

    # the old rule kept A (and, emptied, X) in their slots, not recallable:
    # LAST was RECENT+2, a slot that no longer exists: both decoders reject it
    old = frames_of("python", middle, old_rule=True)
    assert old[:-1] == py[:-1] and old[-1] != py[-1]
    bad = b"".join(old)
    errs = [decode(name, bad) for name in ("python", "c")]
    assert errs[0][:2] == errs[1][:2]
    cls, offset, msg = errs[0]
    assert cls is InvalidDataError
    assert len(listed) <= 2 and "RECENT 2 is no recallable recent value of its context" in msg
    # the error is at the payload byte where the never-indexed list (1 bit), the
    # root's PRED (1 bit, GOLDEN) and the value symbol RECENT+2 (in the context of
    # the pair "message id", 8.5) end; the payload of a SHORT frame (14.2) is the
    # frame's own bytes, an ELEMENT frame's follows its one-byte header
    start = len(bad) - len(old[-1])
    if old[-1][0] & 0x87 == 0x81:  # SHORT: type 0 with the low bit
        payload = start
    else:
        assert old[-1][0] == (len(old[-1]) - 1) << 1  # ELEMENT, header varint(length << 1)
        payload = start + 1
    d = get_dictionary(1)
    sym_len = d.stream_codes["value"][d.attr_context("message", "id")].lengths[M.V_RECENT + 2]
    assert offset == payload + (2 + sym_len) // 8


def _churn() -> list[bytes]:
    """240 stanzas that churn a 256-byte table through many compactions while
    "keep" stays listed in the id context and its entry stays live."""
    msgs = []
    for i in range(240):
        mid = "keep" if i % 3 else f"id-{i % 7}-" + "q" * (i % 5)
        body = f"{i:04d}-" + "b" * (i % 37)
        to = f"keep@example.net/r{i}"
        msgs.append(f"<message id='{mid}' to='{to}' type='chat'><body>{body}</body></message>".encode())
    return msgs


def test_listed_values_point_into_the_live_table(c_backend):
    """The C state's invariant after every message of _churn (the frames
    alone cannot show it: a compaction copies the strings into a new buffer
    and frees the old one, so a value left pointing to the old one reads
    freed memory, which only AddressSanitizer sees): every listed value that is a table entry
    points into the live string buffer, at an equal live entry
    (xb_stream_recent_check). Without the compaction's repointing
    (sstate.c: recent_repoint) this fails after the first compaction."""
    from xmppbin._cstream import ffi, lib

    enc = stream.StreamEncoder(exact=True, table_size=256)
    enc.open(HEADER)
    stale = ffi.new("size_t *")
    listed = []
    for i, m in enumerate(_churn()):
        enc.element(m)
        listed.append(lib.xb_stream_recent_check(enc._c._p, stale))
        assert stale[0] == 0, f"after message {i}"
    assert min(listed[10:]) > 0  # "keep" and others are listed throughout


def test_recent_values_across_table_compactions():
    """The C core's listed values hold no bytes of their own: they point to an
    equal live entry in the table's string buffer, and every compaction of
    that buffer (at a 256-byte budget, one every few messages here) moves
    them. "keep" stays listed in the id context for the whole run (RECENT
    each time) and its entry stays live (the JID's local part refers to it,
    moving it to the front) while distinct bodies and resources churn the
    table through many compactions; other ids are evicted and come back.
    C frames equal the reference's, and both decoders give the stanzas back."""
    budget = 256
    msgs = _churn()

    def run():
        enc = stream.StreamEncoder(exact=True, table_size=budget)
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    py = with_backend("python", run)
    assert with_backend("c", run) == py
    data = b"".join(py)
    for name in ("python", "c"):
        assert decode(name, data) == ("ok", [HEADER] + msgs)
