"""The literal model (spec 8.1): UTF-8-aware char contexts.

The automaton is checked against the spec's description, and multilingual
literals (every script range, every UTF-8 length, invalid byte sequences for
the decoder) give the same bytes / the same errors in the C core and the
reference, stateless and in stream mode (EXTEND continues in the context its
copied prefix reached).
"""
from __future__ import annotations

import random
from xml.sax.saxutils import escape

import pytest
from conftest import coded_alike, require, with_backend

from xmppbin import encoder as pyencoder
from xmppbin import model as M
from xmppbin import stream
from xmppbin.dictionary import get_dictionary

D = get_dictionary(1)

# one sample per script range of 8.1, and characters at every UTF-8 length boundary
SCRIPT_SAMPLES = [
    "héllo wörld ©", "Łódź ǅ ʃ", "Ἀθῆναι αβγ", "Привет мир", "Հայաստան", "שלום עולם", "مرحبا بالعالم",
    "ܫܠܡܐ", "नमस्ते ไทย", "ႣႤ ᐁ ệ", "‘quoted’ — … €", "こんにちは。", "你好世界", "한국어", "\ue000\ufb01\uff21",
    "😀👍🏽 👩\u200d💻 \U00010348",
    "\u0080\u07ff\u0800\ufffd\U00010000\U0010ffff",
]


def contexts(bs: bytes) -> list[int]:
    out, c = [], M.CC_FIRST
    for b in bs:
        out.append(c)
        c = M.CHAR_NEXT[c][b]
    return out + [c]


def test_automaton_follows_the_spec():
    assert M.CHAR_CONTEXTS == 256 == D.sizes["char"][0] == len(D.codes["char"]) == len(D.stream_codes["char"])
    # the ASCII groups: 16 of them, every byte 0x00-0x7F in exactly one
    assert len(M.ASCII_GROUPS) == M.ASCII_GROUP_COUNT == 16
    assert sorted(b for g in M.ASCII_GROUPS for b in g) == list(range(0x80))
    # the subsets of the classes before a group: numbered 0 .. n(g) - 1, each used;
    # the contexts after an ASCII byte numbered group by group (BASE), 32 in all
    base = [1]
    for row in M.ASCII_SPLITS:
        assert len(row) == M.PAIR_CLASSES == 18 and sorted(set(row)) == list(range(1 + max(row)))
        base.append(base[-1] + 1 + max(row))
    assert base[-1] == M.CC_SCRIPT == 33 and M.ASCII_CONTEXTS == 32
    group = {b: g for g, members in enumerate(M.ASCII_GROUPS) for b in members}
    # tracked bytes and listed pairs: distinct ASCII bytes but 0, each pair's first byte tracked
    T, P = M.CHAR_TRACKED, M.CHAR_PAIRS
    assert len(set(T)) == len(T) and all(0 < b < 0x80 for b in T)
    assert len(set(P)) == len(P) and all(len(p) == 2 and p[0] in T and 0 < p[1] < 0x80 for p in P)
    assert M.CC_OLD == 85 and M.CC_TRACKED == 85 and M.CC_PAIR == 85 + len(T) and M.CC_PAIR + len(P) == 256
    last = {M.CC_TRACKED + i: b for i, b in enumerate(T)} | {M.CC_PAIR + i: p[1] for i, p in enumerate(P)}

    def t(b: bytes) -> int:
        return M.CC_TRACKED + T.index(b)

    # ASCII after anything: a listed pair, else a tracked byte, else its group and
    # the class of the byte before it (after a tracked or pair context: its last byte's)
    for c in range(M.CHAR_CONTEXTS):
        if c in last:
            p = 1 + group[last[c]]
        else:
            p = 0 if c == 0 else 1 + next(g for g in range(16) if base[g] <= c < base[g + 1]) if c < 33 else 17
        for b in range(0x80):
            if c in last and bytes((last[c], b)) in P:
                want = M.CC_PAIR + P.index(bytes((last[c], b)))
            elif b in T:
                want = t(bytes((b,)))
            else:
                want = base[group[b]] + M.ASCII_SPLITS[group[b]][p]
            assert M.CHAR_NEXT[c][b] == want
    # by hand from spec 8.1's lists: "the" is t, th, he; A B C are no tracked
    # bytes (C: group 2 after class 1); Z after tracked "e" takes e's class
    assert contexts(b"the") == [0, t(b"t"), M.CC_PAIR + P.index(b"th"), M.CC_PAIR + P.index(b"he")]
    assert contexts(b"ABC") == [0, 1, 1, 6]
    assert contexts(b"eZ")[2] == base[group[ord("Z")]] + M.ASCII_SPLITS[group[ord("Z")]][1 + group[ord("e")]]
    # the UTF-8 contexts: scripts from 33, invalid 49, leads from 50, mids from 76, then 83, 84
    S, INV, LEAD, MID = 33, 49, 50, 76
    # a 2-byte character: its lead range, then its script; a tracked byte after it
    assert contexts("éa".encode()) == [0, LEAD + 1, S + 0, t(b"a")]
    assert contexts("ш".encode()) == [0, LEAD + 7, S + 3]  # D1: lead range 7, Cyrillic
    assert contexts("ש".encode()) == [0, LEAD + 12, S + 5]
    assert contexts("ب".encode()) == [0, LEAD + 13, S + 6]
    # 3 bytes: lead, mid range, script
    assert contexts("中".encode()) == [0, LEAD + 21, MID + 4, S + 12]
    assert contexts("ไ".encode()) == [0, LEAD + 17, MID + 0, S + 8]
    # 4 bytes: lead, 83, 84, script F0-F4
    assert contexts("😀".encode()) == [0, LEAD + 24, 83, 84, S + 15]
    assert contexts("\U00100000".encode()) == [0, LEAD + 25, 83, 84, S + 15]
    # bytes that start no character; a character cut short starts the next afresh
    # (after a tracked byte or a pair too)
    for b in (0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF):
        assert M.CHAR_NEXT[0][b] == M.CHAR_NEXT[1][b] == M.CHAR_NEXT[S][b] == M.CHAR_NEXT[255][b] == INV
    assert contexts(b"\xe4a") == [0, LEAD + 21, t(b"a")]
    assert contexts(b"\xe4\xb8\xe4") == [0, LEAD + 21, MID + 4, LEAD + 21]
    assert contexts(b"\xc3\xa9\xa9") == [0, LEAD + 1, S, INV]
    # after a byte that is no continuation byte, the context depends on it and
    # the byte before it alone (the C core's shortcuts rely on it, and its init checks it)
    for c in range(M.CHAR_CONTEXTS):
        for a in range(256):
            x, y = M.CHAR_NEXT[M.CHAR_NEXT[c][a]], M.CHAR_NEXT[M.CHAR_NEXT[0][a]]
            assert x[:0x80] == y[:0x80] and x[0xC0:] == y[0xC0:]
    # every transition stays in range; every context is reachable but those
    # after an ASCII byte of a group whose bytes are all tracked (spec 8.1)
    seen = {0}
    todo = [0]
    while todo:
        c = todo.pop()
        for b in range(256):
            n = M.CHAR_NEXT[c][b]
            assert 0 <= n < M.CHAR_CONTEXTS
            if n not in seen:
                seen.add(n)
                todo.append(n)
    dead = {c for c in range(1, 33) if set(M.ASCII_GROUPS[M.ASCII_CONTEXT_GROUP[c - 1]]) <= set(T)}
    assert seen == set(range(M.CHAR_CONTEXTS)) - dead and len(dead) == 20
    assert M.char_context_after("Привет".encode()) == S + 3


def test_every_ascii_pair_is_coded_alike():
    """The C core's ASCII contexts are the reference's: texts holding every pair
    of XML-allowed ASCII bytes (so every group after every class of byte before
    it), every such byte first in a literal and after a non-ASCII character,
    each followed by a byte coded in the context it leads to, code to the same
    bytes and decode back in both, in text and attribute values, default and
    exact. The messages stay below COPY_MIN_MESSAGE: every byte is coded in its
    context."""
    require("_cencoder")
    allowed = [b for b in range(0x80) if b >= 0x20 or b in (0x09, 0x0A)]
    assert all(any(b in g for b in allowed) for g in M.ASCII_GROUPS)
    pairs = "".join(chr(a) + chr(b) for a in allowed for b in allowed)
    pairs += "".join("é" + chr(b) + "z" for b in allowed)
    docs = [f"<message><body>{escape(pairs[i : i + 600])}</body></message>" for i in range(0, len(pairs), 600)]
    docs += [f"<x a='{escape(pairs[i : i + 300], {chr(39): '&apos;'})}'/>" for i in range(0, len(pairs), 300)]
    docs += [f"<x a='{escape(chr(b) + 'z', {chr(39): '&apos;'})}'/>" for b in allowed]
    for exact in (False, True):
        coded_alike(docs, exact=exact)


def test_multilingual_text_is_smaller_than_its_utf8():
    """The contexts pay for themselves on the scripts of real chat (trained on
    generated traffic, 7.2): a literal of these costs well under 8 bits a byte."""
    c = pyencoder._Coder(D, None)
    for s, bits in (("Привет, как дела? Увидимся завтра", 5), ("שלום, מה שלומך היום", 5),
                    ("مرحبا، كيف حالك اليوم", 5), ("สวัสดีครับ วันนี้อากาศดี", 5),
                    ("你好，今天天气很好，我们去公园吧", 7)):
        assert c._lit_cost(s) < bits * len(s.encode()), s


def _docs():
    rng = random.Random(11)
    docs = []
    for s in SCRIPT_SAMPLES:
        docs.append(f"<message><body>{s}</body></message>")
        docs.append(f"<presence><status>{s} {s[::-1]}</status>"
                    f"<nick xmlns='http://jabber.org/protocol/nick'>{s[:3]}</nick></presence>")
        docs.append(f"<iq type='set' id='{s[:5]}'><query xmlns='jabber:iq:roster'>"
                    f"<item name='{s}' jid='a@b'><group>{s[-4:]}</group></item></query></iq>")
    pool = "".join(SCRIPT_SAMPLES) + "abc ./:-_@xyz"
    for _ in range(60):
        t = "".join(rng.choice(pool) for _ in range(rng.randrange(1, 40)))
        docs.append(f"<message to='{t[:6].strip() or 'x'}@example.com'><body>{t}</body>"
                    f"<thread>{t[::-1]}</thread></message>")
    return docs


@pytest.mark.parametrize("exact", [False, True])
def test_c_and_reference_code_multilingual_literals_alike(exact):
    require("_cencoder")
    coded_alike(_docs(), exact=exact)


def test_stream_mode_multilingual_extend():
    """EXTEND of a non-ASCII prefix continues in the context its bytes reached:
    both backends give the same frames and decode them back."""
    require("_cstream")
    docs = []
    for s in SCRIPT_SAMPLES:
        for tail in ("", " ok", "ü", "中文", "😀!"):
            docs.append(f"<message to='a@b'><body>{s}{tail}</body><thread>{s}{tail}</thread></message>")
    data = ("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='b'>"
            + "".join(docs)).encode()
    def run():
        frames = stream.StreamEncoder(exact=True).feed(data)
        assert b"".join(ev.xml for ev in stream.StreamDecoder().feed(frames)) == data
        return frames

    out = {be: with_backend(be, run) for be in ("python", "c")}
    assert out["python"] == out["c"]
    # an EXTEND was used on the way (the bodies share prefixes with their predecessors)
    assert len(out["c"]) < len(data) // 2
