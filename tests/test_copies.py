"""In-message copies of literal bytes (spec 8.11), on both backends.

A literal may copy bytes the message already coded as literals, or the
dictionary's prior text that every window starts with (test_prior.py). The
char symbol says where from: 0x01 (COPY) the window after the prior, by
distance - 1 in bl(that part - 1) bits; 0x02 (COPY_STR) the start of a prior
string, by its index; 0x03 (COPY_INNER) another inner anchor of the prior, by
its index (no literal can hold those bytes); GAMMA(len - 3) comes first.
Checked: the exact bytes of the vector that uses copies, a copy at the largest
distance accepted and one byte further rejected (with the error offset), a
first literal's window copy rejected and its prior copies accepted, an index one
past the last rejected, a secret in the same message neither copies nor is
copied (CRIME probe), and C == reference on copy-rich input, stateless and in
stream mode. Copies are searched only in stateless messages with at least
COPY_MIN_MESSAGE (768) value bytes (attribute values and text), so the
documents here are padded to that (or to one byte less, to test the gate);
every stream message is searched (its window starts with the session's,
test_session_window.py).
"""
from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import BACKENDS, coded_alike, require, with_backend

import xmppbin
from xmppbin import model as M
from xmppbin import stream
from xmppbin.bits import BitWriter
from xmppbin.dictionary import get_dictionary

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from gen_vectors import MESSAGE, Craft  # noqa: E402

D = get_dictionary(1)
VEC = os.path.join(os.path.dirname(__file__), "..", "spec", "vectors", "valid.json")
TEXT_CTX = D.text_ctx.get("message", M.VC_OTHER_TEXT)
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          b"to='example.com' version='1.0'>")


def value_bytes(doc: str) -> int:
    """The value bytes of doc that spec 8.11's copy gate counts."""
    from xmppbin.encoder import value_bytes
    from xmppbin.limits import DEFAULT_LIMITS
    from xmppbin.xmlscan import scan
    return value_bytes(scan(doc, DEFAULT_LIMITS).events)


def padded(doc: str, n: int = M.COPY_MIN_MESSAGE, filler: str = "orchard wall, balcony scene; ") -> str:
    """doc with a <z> element of filler text before its last end tag, giving it
    exactly n value bytes (the encoder's copy gate, spec 8.11)."""
    cut = doc.rindex("</")
    k = n - value_bytes(doc)
    assert k > 0, (value_bytes(doc), n)
    out = doc[:cut] + "<z>" + (filler * (k // len(filler) + 1))[:k] + "</z>" + doc[cut:]
    assert value_bytes(out) == n
    return out


def _vector(name: str) -> dict:
    return next(x for x in json.load(open(VEC, encoding="utf-8"))["vectors"] if x["name"] == name)


NP = len(D.prior)  # every window starts with the prior text (8.11)


def _copy_msg(dist: int, length: int = 4, copied: bytes = b"", kind: int = M.COPY) -> bytes:
    """<message>abcde + a copy of `length` bytes</message>: kind COPY from
    `dist` back in the window after the prior (abcde, 5 bytes); COPY_STR /
    COPY_INNER from the prior string / anchor of index `dist`. `copied`: the
    bytes it copies, over which the char context steps (empty: it stays after
    abcde's `e`)."""
    return (Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
            .lit_copy(TEXT_CTX, b"abcde", 5, length, dist, 5, copied, kind)
            .node(M.NC_AFTER_OTHER, M.N_END).node(M.NC_DOC, M.N_END).done())


def test_vector_with_copies_is_exact_and_smaller(monkeypatch):
    v = _vector("literal-copy")
    assert value_bytes(v["xml"]) >= M.COPY_MIN_MESSAGE
    assert xmppbin.encode(v["xml"]).hex() == v["binary"]
    assert xmppbin.decode(bytes.fromhex(v["binary"])).decode() == v["decoded"]
    # the reference without copies codes it longer: the vector does use them
    monkeypatch.setattr(M, "COPY_MIN", 10**9)
    without = with_backend("python", lambda: xmppbin.encode(v["xml"]))
    assert len(without) > len(bytes.fromhex(v["binary"])) + 2


@pytest.mark.parametrize("n", [M.COPY_MIN_MESSAGE - 1, M.COPY_MIN_MESSAGE])
def test_copy_gate_vectors(n, monkeypatch):
    """spec 8.11: a message of 767 value bytes is coded without copies, the
    same repeats in 768 with them; the vectors' exact bytes say so on both
    backends, and the reference with the gate moved shows the difference."""
    v = _vector(f"copy-gate-{n}")
    assert value_bytes(v["xml"]) == n
    assert xmppbin.encode(v["xml"]).hex() == v["binary"]
    assert xmppbin.decode(bytes.fromhex(v["binary"])).decode() == v["xml"]
    searched = n >= M.COPY_MIN_MESSAGE
    monkeypatch.setattr(M, "COPY_MIN_MESSAGE", 10**9 if searched else 1)
    moved = with_backend("python", lambda: xmppbin.encode(v["xml"]))
    if not searched:  # searched, it would have been shorter
        assert len(moved) < len(bytes.fromhex(v["binary"])) - 50
    else:  # not searched, it would have been longer
        assert len(moved) > len(bytes.fromhex(v["binary"])) + 50


@pytest.mark.parametrize("dist, length, text", [
    (5, 4, "abcdeabcd"),  # the largest distance: the window's first byte
    (1, 6, "abcdeeeeeee"),  # overlapping: each copied byte is there when it is read
    (3, 9, "abcdecdecdecde"),
])
def test_copy_within_the_window_is_accepted(dist, length, text):
    msg = _copy_msg(dist, length, text[5:].encode())
    assert xmppbin.decode(msg).decode() == f"<message>{text}</message>"


def test_copy_from_the_prior_is_accepted():
    """A prior copy names its source: the first string's start gives the
    prior's first bytes, the last string's with one byte more its 0x00 (no XML
    character: rejected), an inner anchor the bytes from there."""
    p4 = D.prior[:4]
    assert xmppbin.decode(_copy_msg(0, 4, p4, M.COPY_STR)).decode() == f"<message>abcde{p4.decode()}</message>"
    last = D.prior_strings[-1].encode()
    with pytest.raises(xmppbin.InvalidDataError) as ei:  # 0x00 is no XML character
        xmppbin.decode(_copy_msg(len(D.prior_starts) - 1, len(last) + 1, last + b"\0", M.COPY_STR))
    assert "not allowed in XML" in str(ei.value)
    q = D.prior_inner_list[7]
    got = D.prior[q : q + 6]
    assert 0 not in got and q not in D.prior_starts
    assert xmppbin.decode(_copy_msg(7, 6, got, M.COPY_INNER)).decode() == f"<message>abcde{got.decode()}</message>"


@pytest.mark.parametrize("kind", [M.COPY_STR, M.COPY_INNER])
def test_prior_index_past_the_last_is_rejected(kind):
    n = len(D.prior_starts if kind == M.COPY_STR else D.prior_inner_list)
    assert n < 1 << (n - 1).bit_length()  # the index field can say n
    m = _copy_msg(n, 4, b"", kind)
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        xmppbin.decode(m)
    c = Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit_copy(TEXT_CTX, b"abcde", 5, 4, n, 5, b"", kind)
    assert ei.value.offset == len(c.header) + c.copy_end // 8 == with_backend("python", lambda: _err_offset(m))
    q = (D.prior_starts if kind == M.COPY_STR else D.prior_inner_list)[n - 1]  # the last index is accepted
    got = D.prior[q : q + 4]
    assert xmppbin.decode(_copy_msg(n - 1, 4, got, kind)).decode() == f"<message>abcde{got.decode()}</message>"


def test_copy_beyond_the_window_is_rejected():
    m = _copy_msg(6)  # the distance's bits can say 6; the window after the prior has 5 bytes
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        xmppbin.decode(m)
    assert "copy from 6 bytes back in a window of 5" in str(ei.value)
    # the offset: right after the distance field (the header byte, then the bits up to it)
    c = Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit_copy(TEXT_CTX, b"abcde", 5, 4, 6, 5)
    assert ei.value.offset == len(c.header) + c.copy_end // 8 == with_backend("python", lambda: _err_offset(m))


def _err_offset(m: bytes) -> int:
    try:
        xmppbin.decode(m)
    except xmppbin.InvalidDataError as e:
        return e.offset
    raise AssertionError("decoded")


def test_first_literal_copies_from_the_prior_alone():
    """At a message's first literal byte the window after the prior is empty:
    a window copy is rejected, a prior copy accepted."""
    def msg(kind, index, copied=b""):
        c = Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit_copy(TEXT_CTX, b"", 0, 4, index, 0,
                                                                                 copied, kind)
        return c, c.node(M.NC_AFTER_OTHER, M.N_END).node(M.NC_DOC, M.N_END).done()

    _, m = msg(M.COPY_STR, 0, D.prior[:4])
    assert xmppbin.decode(m).decode() == f"<message>{D.prior[:4].decode()}</message>"
    c, m = msg(M.COPY, 1)
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        xmppbin.decode(m)
    assert "copy before any literal byte" in str(ei.value)
    # the offset: right after the length (no distance field in an empty window)
    assert ei.value.offset == len(c.header) + c.copy_end // 8 == with_backend("python", lambda: _err_offset(m))


def test_copy_longer_than_max_string_is_a_limit():
    m = _copy_msg(1, 100, b"e" * 100)
    with pytest.raises(xmppbin.DecodeLimitError):
        xmppbin.decode(m, max_string=50)
    assert xmppbin.decode(m, max_string=105).decode() == "<message>abcde" + "e" * 100 + "</message>"


def _docs(gate: int = M.COPY_MIN_MESSAGE):
    """40 messages of gate - 1, gate or gate + 1 value bytes (both sides of the copy gate)."""
    words = ["balcony", "montague", "capulet", "wherefore", "urn:xmpp:features:", "http://jabber.org/protocol/"]
    docs = []
    for i in range(40):
        a, b, c = words[i % 6], words[(i * 5 + 1) % 6], words[(i * 7 + 2) % 6]
        doc = (f"<message to='{a}@{b}.example/{c}{i}' id='{a}{i}'><body>{a} {b} {c} {a}{b} {c}{a}</body>"
               f"<subject>{b}{c} and {a}{b}{c}</subject><x xmlns='{c}{a}'><v>{'Привет ' * (i % 4)}{a}</v></x>"
               f"</message>")
        docs.append(padded(doc, gate - 1 + i % 3, f"{b} {a}{c}, "))
    return docs


@pytest.mark.parametrize("exact", [False, True])
def test_c_and_reference_copy_alike(exact):
    require("_cencoder")
    docs = _docs()
    p, _ = coded_alike(docs, exact=exact)
    # the gate (spec 8.11): only the documents of 768 value bytes or more copy their own literals
    no_own = _without_own_copies(lambda: [xmppbin.encode(x, exact=exact) for x in docs])
    for x, m, m0 in zip(docs, p, no_own):
        assert (len(m) < len(m0)) if value_bytes(x) >= M.COPY_MIN_MESSAGE else (m == m0)


def _without_own_copies(fn):
    """fn's result from the reference with copies of a message's own literals
    switched off (the gate huge): only the prior is searched."""
    saved = M.COPY_MIN_MESSAGE
    M.COPY_MIN_MESSAGE = 10**9
    try:
        return with_backend("python", fn)
    finally:
        M.COPY_MIN_MESSAGE = saved


def _without_copies(fn):
    """fn's result from the reference with copies switched off (COPY_MIN huge)."""
    saved = M.COPY_MIN
    M.COPY_MIN = 10**9
    try:
        return with_backend("python", fn)
    finally:
        M.COPY_MIN = saved


def stream_alike(data: bytes, **opts):
    """The reference's exact-mode frames of data (a stream; StreamEncoder
    options opts), after checking the round trip (each backend's decoder) and
    that the C coder gives the same frames; and the function that codes them
    (to run again with a gate moved)."""
    def run():
        frames = stream.StreamEncoder(exact=True, **opts).feed(data)
        assert b"".join(ev.xml for ev in stream.StreamDecoder().feed(frames)) == data
        return frames

    frames = with_backend("python", run)
    assert with_backend("c", run) == frames
    return frames, run


def test_stream_copies_alike():
    require("_cstream")
    docs = _docs(400)  # every stream unit is searched, whatever its size (8.11)
    frames, run = stream_alike(HEADER + "".join(docs).encode())
    # without copies every frame is longer
    assert len(_without_copies(run)) > len(frames) + 40 * 20


def crime_probe(monkeypatch, elements) -> None:
    """The CRIME probe (spec 14.4). elements(secret, guess) gives the units a
    stream codes after its header, the secret being the text of {urn:x}pw,
    never-indexed. The attacker compares the size of the last unit's frame for
    a guess sharing a substring with the secret and for one sharing nothing:
    the difference must be the same for another secret. Measured in bits with
    the reference (whole bytes would round), the C coder giving the same
    frames; two public values do copy each other."""
    nbits = []

    class CountingWriter(BitWriter):
        def getvalue(self):
            nbits.append(self.nbits)
            return super().getvalue()

    monkeypatch.setattr(stream, "BitWriter", CountingWriter)

    def bits(secret, guess, public=False):
        def run():
            enc = stream.StreamEncoder(
                exact=True, never_index=None if public else (lambda kind, name, value: name == "{urn:x}pw"))
            enc.open(HEADER)
            return [enc.element(x) for x in elements(secret, guess)][-1]

        frame = with_backend("python", run)
        if "c" in BACKENDS:
            assert with_backend("c", run) == frame
        return nbits[-1]

    near, far = "hunter2-correct-horse-battery", "qvzkwjx-pmyfbgl-xzqvk-wjpmyfb"
    for secret in ("hunter2-correct-horse-battery", "xx-hunter2-correct-horse-yy", "correct-horse"):
        other = "".join("qzjxvkwpmybf"[ord(ch) % 12] for ch in secret)
        assert bits(secret, near) - bits(secret, far) == bits(other, near) - bits(other, far)
    assert bits(near, near, True) < bits(far, near, True) - 60


@pytest.mark.parametrize("secret_first", [True, False])
def test_crime_probe_copies_never_touch_a_secret(secret_first, monkeypatch):
    """A guess sharing a long substring with a never-indexed value in the same
    message costs the same whatever the secret is: the secret is neither a
    copy's source nor its target."""
    def elements(secret, guess):
        pw = f"<pw xmlns='urn:x'>{secret}</pw>"
        body = f"<body>{guess}</body>"
        msg = f"<message>{pw + body if secret_first else body + pw}</message>"
        return [padded(msg, 300 + len(secret), "Q")]  # the filler shares nothing with the others

    crime_probe(monkeypatch, elements)


def _ref_coder():
    from xmppbin.encoder import _Coder
    return _Coder(D, BitWriter())


def test_copies_start_only_at_anchors():
    """spec 8.11: a copy starts at an anchor of its literal and copies from a
    window anchor; the same 12 bytes after a letter (no anchor) are not copied,
    after '-' (an anchor on both sides) they are."""
    co = _ref_coder()
    co._add_window(b"zzabcdefghijkl")
    assert list(co._parse(b"Qabcdefghijkl", M.CC_FIRST, 0, False)[1]) == []
    co = _ref_coder()
    co._add_window(b"zz-abcdefghijkl")
    # (at, length, symbol, distance - 1, its bits): the window after the prior is 15 + 2 bytes, anchor 3
    assert co._parse(b"Q-abcdefghijkl", M.CC_FIRST, 0, False)[1] == [(2, 12, M.COPY, 13, 5)]
    assert [M.is_anchor(b"ab-c\xd0\xb0d", i) for i in range(7)] == [True, False, False, True, False, False, True]
    assert M.is_anchor(b"a" * 40, 32) and not M.is_anchor(b"a" * 40, 33)


def test_a_run_is_copied_from_the_sixteenth_byte():
    """Positions that are multiples of 16 are anchors whatever the bytes: a run
    of one letter costs 16 bytes and one overlapping copy (distance 16)."""
    assert _ref_coder()._parse(b"n" * 100, M.CC_FIRST, 0, False)[1] == [(16, 84, M.COPY, 15, 4)]


@pytest.mark.parametrize("body", ["zzabcdefghijkl Qabcdefghijkl", "zz-abcdefghijkl Q-abcdefghijkl", "n" * 300,
                                  "ab" * 70 + "é" * 40 + "漢字" * 30])
def test_c_and_reference_anchor_alike(body):
    require("_cencoder")
    doc = f"<message><body>{body}</body><subject>{body[::-1]}</subject></message>"
    doc = padded(doc, value_bytes(doc) + M.COPY_MIN_MESSAGE, "Q")
    p = with_backend("python", lambda: xmppbin.encode(doc))
    assert p == with_backend("c", lambda: xmppbin.encode(doc))
    assert with_backend("c", lambda: xmppbin.decode(p)) == with_backend("python", lambda: xmppbin.decode(p))


JID_DOCS = [
    # the domain of the JID in 'to' repeats a literal of 'from' (est once
    # priced it with copies and coded 'to' differently)
    "<presence from='carol7@intranet' type='unavailable' to='david.jones9@intranet/desk'/>",
    "<message from='erin@chat.example.org' to='frank.miller@chat.example.org/phone'><body>hi</body></message>",
]


# the thread is HEX when LIT is priced plain, LIT with a copy when priced with
# copies; then the body copies from it: whether pricing counts copies changes it
PRICED_DOCS = JID_DOCS + [
    padded("<message><thread>cafe1234cafe1234cafe1234cafe1234</thread><body>cafe1234cafe1234cafe1234cafe1234 yes"
           "</body></message>",
           filler="Q"),
]


@pytest.mark.parametrize("doc", PRICED_DOCS)
def test_forms_are_priced_without_copies(doc, monkeypatch):
    """Spec 8.8: choosing a value's form prices LIT (and est a JID part's LIT)
    as its plain bytes, without copies; only the chosen LIT is coded with
    them. Both backends code these documents alike and they round-trip; the
    last one is coded differently by a reference that prices copies."""
    from xmppbin import encoder as E

    coder = next(v for v in vars(E).values() if isinstance(v, type) and hasattr(v, "_est") and hasattr(v, "_choose"))
    require("_cencoder")
    new = with_backend("python", lambda: xmppbin.encode(doc))
    assert with_backend("c", lambda: xmppbin.encode(doc)) == new
    assert with_backend("c", lambda: xmppbin.decode(new)) == with_backend("python", lambda: xmppbin.decode(new))

    plain_cost = coder._lit_cost

    def cost_with_copies(self, s, secret=False):
        return plain_cost(self, s, False)

    monkeypatch.setattr(coder, "_lit_cost", cost_with_copies)
    old = with_backend("python", lambda: xmppbin.encode(doc))
    monkeypatch.undo()
    if doc not in JID_DOCS:  # (a JID document may or may not change: its parts are searched against the prior)
        assert old != new
    assert with_backend("python", lambda: xmppbin.decode(new)) == with_backend("python", lambda: xmppbin.decode(old))


def test_stream_jid_estimate_alike():
    """The stream encoder's est (sest in C) prices parts plain too: same frames."""
    require("_cstream")
    data = HEADER + "".join(PRICED_DOCS * 2).encode()

    def run():
        frames = stream.StreamEncoder().feed(data)
        assert len(list(stream.StreamDecoder().feed(frames))) == 1 + 2 * len(PRICED_DOCS)
        return frames

    assert with_backend("python", run) == with_backend("c", run)


def _copied_special_docs(c: str) -> list[str]:
    """For every length 3-40 and every position: a message whose attribute
    holds the segments (letters, one c at that position) and whose bodies are
    the segments again, so each body is a copy of attribute bytes, the copy
    alone bringing c into its literal; padded past the copy gate."""
    esc = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}[c]
    docs = []
    for n in range(M.COPY_MIN, 41):
        segs = ["".join("klmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzab"[(i + j) % 40] for i in range(n))
                for j in range(n)]
        segs = [s[:j] + c + s[j + 1:] for j, s in enumerate(segs)]
        source = " ".join(s.replace(c, esc) for s in segs)
        bodies = "".join(f"<b>{s.replace(c, esc)}</b>" for s in segs)
        doc = f"<message><x a='{source}'/>{bodies}</message>"
        docs.append(padded(doc) if value_bytes(doc) < M.COPY_MIN_MESSAGE else doc)
    return docs


@pytest.mark.parametrize("c", ["&", "<", ">", '"', "'"])
def test_copied_escapable_byte_at_every_offset(c):
    """A copy whose bytes alone hold an escapable character, at every offset of
    copies of 3-40 bytes (the C decoder classes copied bytes 16 at a time):
    the C decoder escapes it as the reference does, and the message really
    copies (shorter than without copies of its own literals)."""
    require("_cencoder")
    docs = _copied_special_docs(c)
    msgs = with_backend("c", lambda: [xmppbin.encode(x) for x in docs])
    c_xml = with_backend("c", lambda: [xmppbin.decode(m) for m in msgs])
    assert c_xml == with_backend("python", lambda: [xmppbin.decode(m) for m in msgs])
    no_own = _without_own_copies(lambda: [xmppbin.encode(x) for x in docs[-3:]])
    assert all(len(m) < len(m0) - 20 for m, m0 in zip(msgs[-3:], no_own))


def test_copy_source_errors_alike_on_both_backends():
    """A copy from a prior string or anchor one past the last (the vectors
    copy-string-index / copy-anchor-index): the same error, offset and message from
    both decoders, which names the index and how many there are."""
    require("_cdecoder")
    with open(os.path.join(os.path.dirname(__file__), "..", "spec", "vectors", "invalid-binary.json")) as f:
        vecs = {v["name"]: v for v in json.load(f)["vectors"]}
    d = get_dictionary(1)
    for name, what, n in (("copy-string-index", "string", len(d.prior_starts)),
                          ("copy-anchor-index", "anchor", len(d.prior_inner_list))):
        data = bytes.fromhex(vecs[name]["binary"])

        def decode(data=data):
            with pytest.raises(xmppbin.InvalidDataError) as ei:
                xmppbin.decode(data)
            return ei.value.offset, str(ei.value)

        py = with_backend("python", decode)
        assert with_backend("c", decode) == py
        assert py == (vecs[name]["offset"], f"copy from prior {what} {n} of {n} (at byte {py[0]})")
