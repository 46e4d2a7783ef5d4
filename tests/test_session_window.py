"""The session window (spec 8.11, 14.3): in stream mode a message's copy
window is the prior text, then the last `budget` bytes of the literals the
stream's earlier messages coded (since the last OPEN), then its own.

Checked on both backends (test_copies.stream_alike: the C coder must give the
reference's frames, and both decoders must give the stream back): a later message copies a phrase of
an earlier one; the window's edge (a phrase whose first byte is exactly
`budget` bytes back is copied, one byte further it is not); a restart (new
stream header) empties it; budget 0 has none; a never-indexed value never
joins it, so a later guess costs the same whatever the secret (CRIME probe);
a unit of more than 64 KiB of text (the encoder's buffers are trimmed before
the next unit) keeps the window; and C == reference over the recorded
session with several budgets (the C encoder drops old bytes in steps).
"""
from __future__ import annotations

import os
import random
import sys

import pytest
from conftest import require, with_backend
from test_copies import crime_probe, stream_alike

from xmppbin import encoder as E
from xmppbin import model as M
from xmppbin import stream

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import _corpus  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE = os.path.join(HERE, "data", "capture-session.jsonl")
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          b"to='example.com' version='1.0'>")
PHRASE = "Xylophonicquart"  # 15 letters: one anchor (its first byte), so only a copy from its start takes it


def msg(body: str, i: int = 0) -> bytes:
    return f"<message to='romeo@montague.example' id='s{i}'><body>{body}</body></message>".encode()


def copies_of(data: bytes, **opts) -> list[tuple[bytes, list]]:
    """(literal, its copies (position, length, distance)) of every literal the
    reference codes in the stream data, in order."""
    seen: list[tuple[bytes, list]] = []
    orig = E._Coder._write_bytes

    def spy(self, bs, ctx, start=0, secret=False):
        seen.append((bytes(bs), list(self._parse(bs, ctx, start, secret)[1])))
        return orig(self, bs, ctx, start, secret)

    E._Coder._write_bytes = spy
    try:
        with_backend("python", lambda: stream.StreamEncoder(exact=True, **opts).feed(data))
    finally:
        E._Coder._write_bytes = orig
    return seen


def test_a_later_message_copies_an_earlier_phrase():
    require("_cstream")
    data = HEADER + msg("But soft, what light through yonder window breaks?", 1) + msg("It is the east.", 2) + msg(
        "what light through yonder window breaks, and Juliet is the sun", 3)
    stream_alike(data)
    lits = copies_of(data)
    body = next(c for lit, c in lits if lit.startswith(b"what light"))
    assert body and body[0][0] == 0 and body[0][1] >= len("what light through yonder window breaks")
    # the copy reaches over the second message's literals into the first's, not into the prior
    assert body[0][2] < 200


def _session_after(data: bytes, budget: int) -> bytes:
    st = E.StreamState(budget)
    orig = E.StreamState

    def make(b):
        return st

    E.StreamState = make
    try:
        with_backend("python", lambda: stream.StreamEncoder(exact=True, table_size=budget).feed(data))
    finally:
        E.StreamState = orig
    return bytes(st.sess)


def _edge_budget(first: bytes) -> tuple[int, int]:
    """The budget B that puts PHRASE's first byte exactly B bytes before the
    end of the session after the stream `first` coded with budget B (the
    budget also bounds the table, which decides which values are literals),
    and the session's length."""
    budget = 4096
    for _ in range(10):
        sess = _session_after(first, budget)
        want = len(sess) - sess.index(PHRASE.encode())
        if want == budget:
            return budget, len(sess)
        budget = want
    raise AssertionError("no fixed point")


@pytest.mark.parametrize("out", [0, 1])
def test_the_window_holds_the_last_budget_bytes(out):
    """The phrase's first byte exactly `budget` bytes back: all its 15 bytes
    copied; one byte further back (budget - 1): not copied at all (its only
    anchor is out of the window). The same frames on both backends, which
    decode back on both."""
    require("_cstream")
    first = HEADER + msg(PHRASE, 1) + msg("ab", 2)
    budget, _ = _edge_budget(first)
    data = first + msg("and " + PHRASE, 3)
    stream_alike(data, table_size=budget - out)
    last = [c for lit, c in copies_of(data, table_size=budget - out) if lit == b"and " + PHRASE.encode()]
    assert len(last) == 1
    if out:
        assert last[0] == []
    else:
        [(at, n, kind, val, _bits)] = last[0]  # a copy from the session window: its distance - 1
        assert (at, n, kind) == (4, len(PHRASE), M.COPY) and val + 1 >= budget + 4  # (+ the unit's literals before)


def test_a_restart_keeps_the_window():
    """A restart (a later stream header, spec 14.2) keeps the session: the phrase
    before it is copied after it, as without it (the restart's header adds no
    literal bytes between: the same copies)."""
    require("_cstream")
    tail = msg("and " + PHRASE, 2)
    stream_alike(HEADER + msg(PHRASE, 1) + tail)
    stream_alike(HEADER + msg(PHRASE, 1) + HEADER + tail)
    with_window = [c for lit, c in copies_of(HEADER + msg(PHRASE, 1) + tail) if lit.endswith(PHRASE.encode())]
    restarted = [c for lit, c in copies_of(HEADER + msg(PHRASE, 1) + HEADER + tail) if lit.endswith(PHRASE.encode())]
    fresh = [c for lit, c in copies_of(HEADER + tail) if lit.endswith(PHRASE.encode())]
    assert with_window[-1] and restarted[-1] == with_window[-1] and not fresh[-1]


def test_budget_zero_has_no_session_window():
    require("_cstream")
    data = HEADER + msg(PHRASE, 1) + msg("and " + PHRASE, 2)
    stream_alike(data, table_size=0)
    assert all(not c for lit, c in copies_of(data, table_size=0))


@pytest.mark.parametrize("budget", [0, 40, 1000, 16384])
def test_c_and_reference_alike_on_the_recorded_session(budget):
    """Every direction of the recorded session, exact and default mode."""
    require("_cstream")
    for (conn, d), chunks in sorted(_corpus.capture_streams(CAPTURE).items()):
        data = b"".join(chunks)
        for exact in (True, False):
            def enc(exact=exact, data=data):
                return stream.StreamEncoder(exact=exact, table_size=budget).feed(data)
            assert with_backend("c", enc) == with_backend("python", enc), (conn, d, exact)


def test_a_huge_unit_keeps_the_window():
    """A unit of more than 64 KiB of literal text: before the next unit the
    C encoder trims its buffers (keeping only the window, the last budget
    bytes), and the next unit still copies from the end of the huge one."""
    require("_cstream")
    rnd = random.Random(7)
    # 84 KB of words of 5 to 7 letters (of one length, they would be base64 in lines: spec 8.6)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randrange(5, 8)))
             for _ in range(12000)]
    data = HEADER + msg(" ".join(words), 1) + msg(" ".join(words[-40:]), 2) + msg("ab " + PHRASE, 3)
    stream_alike(data)
    second = next(c for lit, c in copies_of(data) if lit.startswith(words[-40].encode()))
    assert second and second[0][1] >= 200


@pytest.mark.parametrize("secret_first", [True, False])
def test_crime_probe_a_secret_never_joins_the_session(secret_first, monkeypatch):
    """A never-indexed value of an earlier message is not in the window: the
    size of a later message that guesses it (or part of it) is the same
    whatever the secret; a public value is copied."""
    def elements(secret, guess):
        pw = f"<pw xmlns='urn:x'>{secret}</pw>"
        other = "<body>orchard wall</body>"
        return [f"<message>{pw + other if secret_first else other + pw}</message>",
                f"<message><body>{guess}</body></message>"]

    crime_probe(monkeypatch, elements)
