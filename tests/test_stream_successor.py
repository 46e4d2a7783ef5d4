"""A stream message's first node event (spec 14.3, Node prediction): predicted by
the previous message's root entry's `next` slot when that prediction is live, else
by the document's `next` (the first event of the message before the previous one).
The reference coder's prediction at every message start is checked against an
independent model of the rule (with shape cache evictions and new serials), both
backends write the same frames and decode them, and a PRED where nothing predicts
the first event is refused by both decoders at the same offset."""
from __future__ import annotations

from conftest import require, with_backend
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_stream import HEADER
from test_stream_recent import decode  # (type, offset, message) of an error, or ("ok", units)

from xmppbin import encoder, model, stream
from xmppbin.errors import InvalidDataError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

NAMES = 40  # more distinct roots than the shape cache holds (32): evictions


def unit(k: int) -> bytes:
    return f"<x{k}/>".encode()


def run_frames(name: str, msgs: list[bytes], observe=None) -> list[bytes]:
    """The frames of HEADER + msgs from backend name; observe(coder, prediction,
    event) is called at the first node symbol of each message (reference only)."""

    def run():
        enc = stream.StreamEncoder(exact=True)
        assert (enc._c is not None) == (name == "c")
        return [enc.open(HEADER)] + [enc.element(m) for m in msgs]

    if observe is None:
        return with_backend(name, run)
    real = encoder._Coder.node

    def node(self, ctx, sym, event):
        if self.state is not None and not getattr(self, "observed", False):
            self.observed = True  # (one coder per message)
            observe(self.state.prediction(self.pslot), event)
        return real(self, ctx, sym, event)

    encoder._Coder.node = node
    try:
        return with_backend(name, run)
    finally:
        encoder._Coder.node = real


def model_predictions(seq: list[int]) -> list[tuple | None]:
    """The rule of 14.3 written out for messages of one self-closed root each:
    the prediction (an ("S", serial) event, or None) at each message start,
    the stream header's included."""
    cache: list[tuple[str, int]] = []  # (shape, serial), front first
    nxt: dict[int, tuple] = {}  # the next slots of the entries in the cache
    serial = 0
    doc_first = doc_next = None
    root_prev = None
    out = []

    def live(ev):
        return ev is not None and any(s == ev[1] for _, s in cache)

    for shape in ["stream:stream"] + [f"x{k}" for k in seq]:
        if root_prev is not None and live(("S", root_prev)) and live(nxt.get(root_prev)):
            pred = nxt[root_prev]
        else:
            pred = doc_next if live(doc_next) else None
        out.append(pred)
        hit = [i for i, (sh, _) in enumerate(cache) if sh == shape]
        if hit:
            ent = cache.pop(hit[0])
        else:
            ent = (shape, serial)
            serial += 1
            if len(cache) == model.SHAPE_CACHE:
                nxt.pop(cache.pop()[1], None)
        cache.insert(0, ent)
        event = ("S", ent[1])
        if root_prev is not None and live(("S", root_prev)):
            nxt[root_prev] = event
        doc_first, doc_next = event, doc_first
        root_prev = None if shape == "stream:stream" else ent[1]  # the header's root stays open
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.integers(0, 3), st.integers(0, NAMES - 1)), max_size=70))
@example(list(range(NAMES)) + [0, 1, 0, 1, 39, 2, 39, 2] + list(range(NAMES)))  # serials evicted and renewed
def test_first_event_prediction_follows_the_rule(seq):
    msgs = [unit(k) for k in seq]
    seen: list[tuple | None] = []
    py = run_frames("python", msgs, lambda pred, event: seen.append(pred))
    assert seen == model_predictions(seq)
    assert run_frames("c", msgs) == py
    for name in ("c", "python"):
        assert decode(name, b"".join(py)) == ("ok", [HEADER] + msgs)


def test_acks_after_stanzas_are_predicted():
    """A server's <r/> after each stanza: once a stanza's shape has been followed
    by <r/>, the <r/> after it is the prediction (PRED: a one-byte SHORT frame)."""
    r = b"<r xmlns='urn:xmpp:sm:3'/>"
    stanzas = [b"<message to='a@b'><body>hi</body></message>", b"<presence from='c@d/e'/>",
               b"<iq type='result' id='x1'/>"]
    msgs = [m for s in stanzas * 3 for m in (s, r)]
    hits: list[bool] = []
    py = run_frames("python", msgs, lambda pred, event: hits.append(pred is not None and pred == event))
    assert run_frames("c", msgs) == py
    # hits[0] is the stream header's; the <r/> after the first stanza has no
    # prediction that fits (the document's next is the header's root), each
    # later one is predicted: after the next two stanzas by the document's next
    # (the <r/> two messages back), from the second round on by the stanza's next
    assert hits[2::2] == [False] + [True] * 8
    # py[0]: the header; a predicted <r/> is a 4-bit message, a one-byte SHORT frame (14.2)
    assert [len(f) for f in py[2::2]] == [3, 1, 1, 1, 1, 1, 1, 1, 1]
    for name in ("c", "python"):
        assert decode(name, b"".join(py)) == ("ok", [HEADER] + msgs)


def test_pred_without_a_prediction_is_refused_by_both():
    """The first element after the stream header: no previous root, and the
    document's next is empty (the header was the only message), so PRED is
    invalid there."""
    msgs = [b"<r xmlns='urn:xmpp:sm:3'/>"]
    real = encoder._Coder.node
    starts: list[int] = []  # messages started (one coder per message)

    def forged(self, ctx, sym, event):
        if self.state is not None and not getattr(self, "observed", False):
            self.observed = True
            starts.append(1)
            if len(starts) == 2:  # the first element's first node symbol
                assert self.state.prediction(self.pslot) is None
                self.w.sym(self.ncodes[ctx], self.d.n_pred)  # PRED in the unpredicted context
                return
        return real(self, ctx, sym, event)

    encoder._Coder.node = forged
    try:
        data = b"".join(run_frames("python", msgs))
    finally:
        encoder._Coder.node = real
    py, c = decode("python", data), decode("c", data)
    assert py == c
    assert py[0] is InvalidDataError and "PRED without a prediction" in py[2]
