"""Far references (spec 14.3): in stream mode a REF_FAR codes its table index relative to
the last REF_FAR's, GAMMA(zigzag(i - last_far) + 1). A list sent again in the same order
then costs one gamma bit per entry; both encoders give the same frames, both decoders the
same events, and a relative index below 16, below 0 or past the table is refused by both
at the same offset."""
from __future__ import annotations

import pytest
from conftest import require, with_backend
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)
from test_stream_relint import traced_values

from xmppbin import stream
from xmppbin.errors import InvalidDataError
from xmppbin.history import History

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

# 40 values without common prefixes, JID, integer or hex forms: each one a table entry
WORDS = [f"{c}q{chr(0x61 + i * 7 % 26)}w{chr(0x61 + i * 11 % 26)}z"
         for i, c in enumerate("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN")]
assert len({w[0] for w in WORDS}) == len(WORDS)  # no two share a first byte


def listing(tag: str) -> bytes:
    return (f"<iq type='result' id='{tag}'><query xmlns='urn:x:list'>"
            + "".join(f"<item name='{w}'/>" for w in WORDS) + "</query></iq>").encode()


MSGS = [listing("one"), b"<presence/>", listing("two"), listing("three")]


def frames(name: str, msgs=MSGS) -> list[bytes]:
    def run():
        enc = stream.StreamEncoder(exact=True)
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    return with_backend(name, run)


def test_zigzag():
    h = History(budget=1000)
    h.last_far = 40
    for i, g in [(40, 1), (41, 3), (39, 2), (50, 21), (16, 48)]:
        assert h.far_gamma(i) == g and h.far_index(g) == i
    stateless = History()
    assert stateless.far_gamma(16) == 1 and stateless.far_index(1) == 16 and stateless.far_index(5) == 20


def test_a_repeated_list_costs_a_bit_an_entry():
    py = frames("python")
    assert frames("c") == py
    data = b"".join(py)
    want = ("ok", [HEADER] + MSGS)
    assert decode("python", data) == want and decode("c", data) == want
    items = [t for t in traced_values(data) if t[1] in WORDS]
    assert len(items) == 3 * len(WORDS)
    first, second, third = items[: len(WORDS)], items[len(WORDS) : 2 * len(WORDS)], items[2 * len(WORDS) :]
    assert all(how == "literal" for how, _, _ in first)
    # the second listing: table hits; after its first, each at the index of the one before
    assert all(how == "table hit" for how, _, _ in second + third)
    far = {bits for _, _, bits in second[1:]}
    assert len(far) == 1  # all the same: the REF_FAR symbol and GAMMA(1)
    one = far.pop()
    assert all(bits == one for _, _, bits in third)  # the third listing too, its first included
    # the REF_FAR symbol and GAMMA(1): the symbol's length is one - 1; the first
    # reference of the second listing pays a longer gamma code (an odd length)
    assert 2 <= one <= 9 and second[0][2] > one and (second[0][2] - (one - 1)) % 2 == 1


@pytest.mark.parametrize("bad", ["below", "negative", "past"])
def test_bad_far_references(bad, monkeypatch):
    """The reference encoder made to write a wrong GAMMA for its 2nd REF_FAR
    (its own table kept right): both decoders refuse it, with the same reason
    at the same offset, inside that frame."""
    good = frames("python")
    real_gamma, real_index = History.far_gamma, History.far_index
    count, lies = [0], {}

    def far_gamma(self, i):
        g = real_gamma(self, i)
        count[0] += 1
        if count[0] != 2:
            return g
        d = {"below": 15 - self.last_far, "negative": -self.last_far - 5, "past": 5000}[bad]
        lie = (2 * d if d >= 0 else -2 * d - 1) + 1
        lies[lie] = i
        return lie

    monkeypatch.setattr(History, "far_gamma", far_gamma)
    monkeypatch.setattr(History, "far_index", lambda self, g: lies.pop(g) if g in lies else real_index(self, g))
    bad_frames = frames("python")
    assert count[0] >= 2 and not lies
    monkeypatch.undo()
    assert bad_frames[:3] == good[:3] and bad_frames[3] != good[3]  # the lie is in the second listing
    data = b"".join(bad_frames[:4])
    got = [decode(name, data) for name in ("python", "c")]
    assert got[0] == got[1]
    kind, offset, msg = got[0]
    assert kind is InvalidDataError
    want = {"below": "far reference to string 15, below 16", "negative": "far reference to string -5, below 16",
            "past": "reference to string"}[bad]
    assert want in msg
    assert len(b"".join(good[:3])) < offset <= len(data)
