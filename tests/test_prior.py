"""The prior text (spec 8.11): every copy window starts with it.

Dictionary 1 carries a prior text P, the [prior] strings of
spec/tokens-v1.txt, each followed by 0x00. A copy's distance may reach into
it from any literal. An encoder searches it in every message (stateless
or stream, whatever its size; never a never-indexed value): at a
literal's first byte among the starts of its strings (by their first 4
bytes), at the literal's later anchors that hold an ASCII byte among its
inner anchors (by 6 bytes, the last 4 of each key).
Checked: P's layout and both indexes, the vector that copies from it, the
smallest messages with the exact bytes on both backends, where each index is
searched, the 4-candidate rows, never-indexed values, and C == reference in
stream mode.
"""
from __future__ import annotations

import json
import os

import pytest
from conftest import coded_alike, require, with_backend
from test_copies import HEADER, stream_alike, value_bytes

import xmppbin
from xmppbin import model as M
from xmppbin import stream
from xmppbin.bits import BitWriter
from xmppbin.dictionary import get_dictionary, prior_inner_index, prior_text

D = get_dictionary(1)
NP = len(D.prior)
VEC = os.path.join(os.path.dirname(__file__), "..", "spec", "vectors", "valid.json")
# a prior string of plain ASCII letters and punctuation, long enough that its copy wins, no JID
# (no "@" or "/"), and the only prior string with its key (a key with many strings, like
# "urn:", has more anchors than the search examines: its nearest ones win)
WORD = next(s for s in D.prior_strings if len(s) >= 20 and s.isascii() and s.isprintable()
            and not set(s) & set(" @/") and len(D.prior_index[s.encode()[:M.COPY_MIN]]) == 1)


def test_prior_layout_and_index():
    assert D.prior.endswith(b"\0") and D.prior.count(0) == len(D.prior_strings)
    assert D.prior == b"".join(s.encode() + b"\0" for s in D.prior_strings)
    assert M.COPY not in D.prior
    starts = [0] + [i + 1 for i, b in enumerate(D.prior[:-1]) if b == 0]
    want: dict[bytes, list[int]] = {}
    for p, s in zip(starts, D.prior_strings):
        if len(s.encode()) >= M.COPY_MIN:
            want.setdefault(D.prior[p : p + M.COPY_MIN], []).append(p)
    assert D.prior_index == want
    with pytest.raises(ValueError):
        prior_text(["a\x00b"])
    with pytest.raises(ValueError):
        prior_text([""])


def _unindexed(monkeypatch):
    """The reference's indexes of P emptied: its bytes stay in the window, no
    search finds them."""
    monkeypatch.setattr(D, "prior_index", {})
    monkeypatch.setattr(D, "prior_inner", {})


def test_prior_copy_vector(monkeypatch):
    v = next(x for x in json.load(open(VEC, encoding="utf-8"))["vectors"] if x["name"] == "prior-copy")
    assert value_bytes(v["xml"]) < M.COPY_MIN_MESSAGE  # the prior alone is searched
    assert xmppbin.encode(v["xml"]).hex() == v["binary"]
    assert xmppbin.decode(bytes.fromhex(v["binary"])).decode() == v["decoded"]
    _unindexed(monkeypatch)  # the reference without the prior's search codes it longer
    assert len(with_backend("python", lambda: xmppbin.encode(v["xml"]))) > len(v["binary"]) // 2 + 10


@pytest.mark.parametrize("doc", [f"<message><body>{WORD}</body></message>", f"<r a='{WORD}'/>",
                                 f"<iq id='{WORD}' type='get'><q xmlns='urn:x'/></iq>"])
def test_prior_searched_in_the_smallest_messages(doc, monkeypatch):
    """A value equal to a prior string is copied from the prior whatever the
    message's size (a message of that one value here; C == reference): the
    reference with its indexes of P emptied codes it a copy's worth longer."""
    require("_cencoder")
    assert value_bytes(doc) < 2 * len(WORD)
    (m,), _ = coded_alike([doc])
    _unindexed(monkeypatch)
    plain = with_backend("python", lambda: xmppbin.encode(doc))
    assert len(m) < len(plain) - 5


def _coder():
    from xmppbin.encoder import _Coder
    co = _Coder(D, BitWriter())
    co.copies = False  # a message between the two gates: the prior alone is searched
    return co


def _derived_inner() -> dict[bytes, list[int]]:
    """Every inner anchor of P by key, derived here from the rule: an ASCII byte
    starting a string or after a byte that is no ASCII letter or digit, with 6
    bytes of its string from it."""
    out: dict[bytes, list[int]] = {}
    for j in range(len(D.prior) - 5):
        b, before = D.prior[j], D.prior[j - 1] if j else 0
        key = D.prior[j : j + 6]
        if 0 < b < 0x80 and 0 not in key and (before == 0 or not (chr(before).isascii() and chr(before).isalnum())):
            out.setdefault(key, []).append(j)
    return out


def test_prior_inner_index():
    """The index keeps the last 4 anchors of each key, in increasing order."""
    every = _derived_inner()
    assert D.prior_inner == {k: v[-4:] for k, v in every.items()}
    assert M.PRIOR_INNER_KEY == 6 and M.PRIOR_INNER_CANDIDATES == 4
    assert sum(len(v) > 4 for v in every.values()) > 100  # the cap matters
    # string starts, after "-" and after a non-ASCII byte; not at a non-ASCII
    # byte (17), after a letter (2: "-" after "b") or with fewer than 6 bytes (14)
    assert prior_inner_index(b"ab-cdefgh\0xyz-12\0\xc3\xa9-abcdef\0") == {
        b"ab-cde": [0], b"cdefgh": [3], b"xyz-12": [10], b"-abcde": [19], b"abcdef": [20]}


def test_prior_search_at_a_literals_anchors():
    co = _coder()
    w = WORD.encode()
    p = D.prior.index(w + b"\0")
    # (at, length, symbol, source, its bits): the prior string that starts at p, by its index
    src = (M.COPY_STR, D.prior_starts.index(p), (len(D.prior_starts) - 1).bit_length())
    assert co._parse(w, M.CC_FIRST, 0, False)[1] == [(0, len(w), *src)]
    # a later anchor (after "-"): the inner anchors, among them the strings' starts
    assert co._parse(b"-" + w, M.CC_FIRST, 0, False)[1] == [(1, len(w), *src)]
    assert all(at != 1 for at, *_ in co._parse(b"x" + w, M.CC_FIRST, 0, False)[1])  # after a letter: no anchor
    assert not co._parse(w, M.CC_FIRST, 0, True)[1]  # never-indexed: no copies (14.4)
    co.win += b"abc"  # earlier literals of the message: a prior copy is coded the same
    assert co._parse(w, M.CC_FIRST, 0, False)[1] == [(0, len(w), *src)]


def _beyond_the_row() -> tuple[bytes, list[int], bytes]:
    """A key with more than 4 inner anchors, all of them, and the 20 bytes of P
    from an older one, which no kept anchor of the key matches in full
    (another older one may)."""
    for key, every in _derived_inner().items():
        for j in every[:-4]:
            text = D.prior[j : j + 20]
            if 0 not in text and text.isascii() and not any(D.prior.startswith(text, q) for q in every[-4:]):
                return key, every, text
    raise AssertionError("no older anchor with a longer match")


def test_prior_inner_rows_keep_four():
    """Only a key's nearest 4 inner anchors are candidates (and copy sources,
    spec 8.11): text that an older one matches in full is copied shorter (or
    not at all), alike on both backends."""
    require("_cencoder")
    key, every, text = _beyond_the_row()
    lit = b"-" + text
    doc = f"<message><body>{lit.decode()}</body></message>"
    (m,), _ = coded_alike([doc])
    assert all(n < len(text) for _, n, *_ in _coder()._parse(lit, M.CC_FIRST, 0, False)[1])


def test_never_indexed_value_is_not_copied_from_the_prior():
    """A never-indexed value equal to a prior string costs its plain bytes: the
    same stream coded with and without the value secret differ by the copy."""
    require("_cstream")
    doc = f"<message><body>x</body><pw xmlns='urn:x'>{WORD}</pw></message>"

    def run(secret):
        def go():
            enc = stream.StreamEncoder(never_index=(lambda k, name, v: name == "{urn:x}pw") if secret else None)
            enc.open(HEADER)
            return enc.element(doc)
        out = with_backend("python", go)
        assert with_backend("c", go) == out
        return out

    assert len(run(True)) > len(run(False)) + 8


def test_stream_units_copy_from_the_prior_alike(monkeypatch):
    """Every stream unit is searched in full, however few value bytes it has (8.11):
    small units copy from the prior, C == reference; with the reference's
    index of the prior emptied (its bytes still in the window) the frames are
    longer by about one prior string each."""
    require("_cstream")
    short = [s for s in D.prior_strings if 12 <= len(s.encode()) <= 40]
    docs = [f"<message><body>{s}</body></message>" for s in short[-20:]]
    assert all(value_bytes(d) < M.COPY_MIN_MESSAGE for d in docs)  # below the stateless gate
    frames, run = stream_alike(HEADER + "".join(docs).encode())
    _unindexed(monkeypatch)
    assert len(with_backend("python", run)) > len(frames) + 20 * 3
