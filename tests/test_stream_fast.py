"""StreamEncoder.feed / StreamDecoder.feed through the CPython entry point
(csrc/pyfast.c, Feed) against the same objects forced onto the cffi path
(``_cfeed = None``): the same frames and events, call by call, and the same
errors (class, reason, offset, limit, e.frames / e.events), the failed object
staying failed alike (spec 14.5); on the committed capture, on the committed
generated traffic capture, on hypothesis chunkings and on bad input. Also:
the fast path is taken (the cffi feeder is called only for the units left to
Python), and inputs it does not take go to the Python method.

Without the fast module (PyPy, or not built) these tests are skipped; under CI
on CPython it is required.
"""
from __future__ import annotations

import array
import itertools
import os
import random

import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stream import HEADER, STREAMS, capture_streams
from test_stream_contract import bad_streams, stanzas

import xmppbin
from xmppbin import stream
from xmppbin.errors import XmppbinError

SINGLE_BACKEND = True  # the C backend only: both paths use the C stream state
pytestmark = pytest.mark.usefixtures("c_backend")

_xmppbin_fast = require("_xmppbin_fast")

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "data", "traffic-seed9001.jsonl")



TRAFFIC_STREAMS = capture_streams(TRAFFIC)


def make(cls, fast: bool, **kw):
    obj = cls(**kw)
    assert obj._feeder is not None
    if fast:
        assert isinstance(obj._cfeed, _xmppbin_fast.Feed)
    else:
        obj._cfeed = None  # the C method then calls the Python one
    return obj


def key(e: XmppbinError):
    return (type(e), e.reason, e.offset, getattr(e, "limit", None))


def pieces(data: bytes, cuts) -> list[bytes]:
    bounds = [0] + sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def run_encoder(fast: bool, chunks, more: int = 2, **kw) -> list:
    """Every call's outcome: ("ok", frames) or ("err", error, e.frames); after an
    error `more` further feeds (which must fail alike)."""
    enc = make(stream.StreamEncoder, fast, **kw)
    out: list = []
    calls = [(enc.feed, c) for c in chunks] + [(lambda _x: enc.flush(), None)]
    failed = 0
    for fn, arg in calls:
        try:
            out.append(("ok", fn(arg)))
        except XmppbinError as e:
            out.append(("err", key(e), e.frames))
            failed += 1
            if failed > more:
                break
    return out


def run_decoder(fast: bool, chunks, more: int = 2, **kw) -> list:
    dec = make(stream.StreamDecoder, fast, **kw)
    out: list = []
    calls = [(dec.feed, c) for c in chunks] + [(lambda _x: dec.close(), None)]
    failed = 0
    for fn, arg in calls:
        try:
            r = fn(arg)
            if r is not None:
                assert all(type(ev) is stream.StreamEvent for ev in r)
            out.append(("ok", r))
        except XmppbinError as e:
            assert all(type(ev) is stream.StreamEvent for ev in e.events)
            out.append(("err", key(e), e.events))
            failed += 1
            if failed > more:
                break
    return out


def frames_of(chunks, **kw) -> bytes:
    enc = stream.StreamEncoder(**kw)
    return b"".join(enc.feed(c) for c in chunks) + enc.flush()


def test_installed():
    assert type(stream.StreamEncoder.__dict__["feed"]).__name__ == "method_descriptor"
    assert type(stream.StreamDecoder.__dict__["feed"]).__name__ == "method_descriptor"
    assert stream.StreamDecoder.feed.__text_signature__ == "($self, data, /)"
    assert stream.StreamDecoder.feed.__doc__.startswith("The events of every frame")


class Counting:
    """Wraps a feeder's feed() (the cffi path) and counts its calls."""

    def __init__(self, feeder) -> None:
        self.calls = 0
        self._feed = feeder.feed
        feeder.feed = self

    def __call__(self, *args):
        self.calls += 1
        return self._feed(*args)


@pytest.mark.parametrize("key_", sorted(STREAMS)[:6], ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_fast_path_is_taken(key_):
    chunks = STREAMS[key_]
    units = stream.XmlSplitter().feed(b"".join(chunks))
    special = sum(1 for u in units if u.kind in ("open", "close"))
    elements = sum(1 for u in units if u.kind == "element")
    assert elements > 3 * special
    enc = make(stream.StreamEncoder, True, exact=True)
    counting = Counting(enc._feeder)
    frames = b"".join(enc.feed(c) for c in chunks) + enc.flush()
    assert frames == frames_of(chunks, exact=True)
    # the first call (no option struct yet) and the units left to Python only:
    # a stream header or end tag costs a feed(b"") after it, and the new context
    # after a header one more call to make the options
    assert counting.calls <= 1 + 3 * special
    assert 5 * counting.calls < len(chunks)  # the feeds of ordinary chunks stayed in C
    dec = make(stream.StreamDecoder, True)
    counting = Counting(dec._feeder)
    evs = []
    for i in range(len(frames)):
        evs += dec.feed(frames[i : i + 1])
    dec.close()
    assert b"".join(ev.xml for ev in evs) == b"".join(chunks)
    assert counting.calls <= 1 + 3 * special
    assert len(frames) > 20 * counting.calls


@pytest.mark.parametrize("name, streams", [("capture", STREAMS), ("traffic-seed9001", TRAFFIC_STREAMS)])
@pytest.mark.parametrize("exact", [True, False])
def test_recorded_sessions_same_as_cffi_path(name, streams, exact):
    rng = random.Random(9)
    for k in sorted(streams):
        chunks = streams[k]
        enc_fast = run_encoder(True, chunks, exact=exact)
        assert enc_fast == run_encoder(False, chunks, exact=exact), k
        frames = b"".join(r[1] for r in enc_fast)
        assert all(r[0] == "ok" for r in enc_fast)
        # the decoder: frames whole, in the encoder's output pieces, in random small pieces
        by_feed = [r[1] for r in enc_fast if r[1]]
        cuts = list(itertools.accumulate(rng.randint(1, 40) for _ in range(len(frames) // 20 + 1)))
        for feeds in ([frames], by_feed, pieces(frames, cuts)):
            fast = run_decoder(True, feeds)
            assert fast == run_decoder(False, feeds), k
            if exact:
                assert b"".join(ev.xml for r in fast if r[1] for ev in r[1]) == b"".join(chunks)


def test_capture_one_byte_at_a_time_same_as_cffi_path():
    for k in sorted(STREAMS)[:8]:
        frames = frames_of(STREAMS[k], exact=True)
        feeds = [frames[i : i + 1] for i in range(len(frames))]
        assert run_decoder(True, feeds) == run_decoder(False, feeds), k


@pytest.mark.parametrize("name, streams", [("capture", STREAMS), ("traffic-seed9001", TRAFFIC_STREAMS)])
def test_recorded_sessions_truncated_and_corrupted(name, streams):
    rng = random.Random(17)
    for k in sorted(streams)[:10]:
        frames = frames_of(streams[k])
        for _ in range(6):
            cut = rng.randint(0, len(frames))
            data = bytearray(frames[:cut] + bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 8))))
            if cut and rng.random() < 0.5:
                data[rng.randrange(cut)] ^= 1 << rng.randrange(8)
            cuts = [rng.randint(0, len(data)) for _ in range(rng.randint(0, 12))]
            feeds = pieces(bytes(data), cuts)
            fast = run_decoder(True, feeds)
            assert fast == run_decoder(False, feeds), (k, cut)
        raw = b"".join(streams[k])
        cut = rng.randint(0, len(raw))
        bad = raw[:cut] + b"<a><b></a>" + raw[cut:]
        feeds = pieces(bad, [rng.randint(0, len(bad)) for _ in range(10)])
        assert run_encoder(True, feeds) == run_encoder(False, feeds), (k, cut)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_streams())
def test_decoder_any_chunking_same_as_cffi_path(case):
    data, cuts = case
    feeds = pieces(data, cuts)
    assert run_decoder(True, feeds) == run_decoder(False, feeds)
    bytewise = [data[i : i + 1] for i in range(len(data))]
    assert run_decoder(True, bytewise) == run_decoder(False, bytewise)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stanzas(), max_size=5), st.binary(max_size=10), st.booleans(), st.data())
def test_encoder_any_chunking_same_as_cffi_path(units, garbage, close, data):
    raw = HEADER + b"".join(units) + garbage + (b"</stream:stream>" if close else b"")
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    feeds = pieces(raw, cuts)
    assert run_encoder(True, feeds) == run_encoder(False, feeds)


def test_limits_same_as_cffi_path():
    raw = HEADER + b"<message><body>" + b"x" * 300 + b"</body></message>" + b" " * 50
    for kw in ({"max_frame": 40}, {"max_size": 120}, {"max_frame": 4096}):
        feeds = pieces(raw, range(0, len(raw), 37))
        fast = run_encoder(True, feeds, **kw)
        assert fast == run_encoder(False, feeds, **kw)
    frames = frames_of([raw])
    for kw in ({"max_frame": 40}, {"max_size": 100}, {"max_table_size": 0}):
        for feeds in ([frames], [frames[i : i + 1] for i in range(len(frames))]):
            assert run_decoder(True, feeds, **kw) == run_decoder(False, feeds, **kw)


def test_other_inputs_take_the_python_path():
    raw = HEADER + b"<message><body>hi</body></message>"
    frames = frames_of([raw])
    for conv in (bytearray, memoryview, lambda b: memoryview(bytearray(b))):
        assert run_encoder(True, [conv(raw)]) == run_encoder(False, [conv(raw)])
        assert run_decoder(True, [conv(frames)]) == run_decoder(False, [conv(frames)])
    # not bytes: a memoryview of 4-byte items, a str, None
    words = memoryview(array.array("I", frames[: len(frames) // 4 * 4]))
    for odd in (words, "text", None):
        for run in (run_encoder, run_decoder):
            try:
                fast = run(True, [odd])
            except Exception as e:  # noqa: BLE001 - compared with the other path's
                fast = ("raised", type(e), str(e))
            try:
                slow = run(False, [odd])
            except Exception as e:  # noqa: BLE001
                slow = ("raised", type(e), str(e))
            assert fast == slow
    enc = make(stream.StreamEncoder, True)
    with pytest.raises(TypeError):
        enc.feed(raw, raw)  # type: ignore[call-arg]
    assert enc.feed(data=raw) == make(stream.StreamEncoder, False).feed(raw)  # keywords: the Python method


def test_options_changed_after_the_first_feed():
    raw = HEADER + b"<message><body>hi <!-- c --> there</body></message>"
    frames_comments = frames_of([raw], allow_comments=True, exact=True)
    for fast in (True, False):
        dec = make(stream.StreamDecoder, fast)
        with pytest.raises(XmppbinError):
            dec.feed(frames_comments)
        dec = make(stream.StreamDecoder, fast)
        dec.allow_comments = True
        assert b"".join(ev.xml for ev in dec.feed(frames_comments)) == raw
        dec = make(stream.StreamDecoder, fast)
        first = dec.feed(frames_comments[:5])
        dec.limits = xmppbin.Limits(max_string=4)
        with pytest.raises(XmppbinError) as ei:
            dec.feed(frames_comments[5:])
        assert ei.value.limit == "max_string"
        assert first == []


def test_feeders_freed():
    import gc
    import weakref

    enc = make(stream.StreamEncoder, True)
    dec = make(stream.StreamDecoder, True)
    refs = [weakref.ref(enc._feeder), weakref.ref(dec._feeder)]
    frames = enc.feed(HEADER + b"<a/>")
    assert dec.feed(frames)
    del enc, dec
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_coders_freed_without_the_cycle_collector():
    """No reference cycle through the C entry (a server makes a coder per
    connection: each would otherwise wait for the cycle collector)."""
    import gc
    import weakref

    was = gc.isenabled()
    gc.disable()
    try:
        enc = make(stream.StreamEncoder, True)
        dec = make(stream.StreamDecoder, True)
        assert dec.feed(enc.feed(HEADER + b"<a/>"))
        refs = [weakref.ref(o) for o in (enc, dec, enc._feeder, dec._feeder, enc._c, dec._c)]
        del enc, dec
        assert [r() for r in refs] == [None] * 6
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("key_", sorted(STREAMS)[:3], ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_options_not_prepared_after_a_unit_go_on_in_python(key_):
    """Should the options not be current after a unit left to Python (_unit_c
    prepares them), the C method hands the rest of the call to _resume_c."""
    chunks = STREAMS[key_]
    frames = frames_of(chunks, exact=True)

    def stale(obj):
        obj._feeder.set_headers(None)  # stream headers go to stream.py (which makes their contexts here)
        obj._feeder.prepare = lambda *args: None  # the C entry keeps the first context's options
        # a stream header gives an equal context as a new object (stream.py
        # shares equal contexts, which would keep the options current)
        opened = obj._s.opened

        def opened_copy(name, items):
            decls = opened(name, items)
            obj._s.context = dict(obj._s.context)
            return decls

        obj._s.opened = opened_copy
        return obj

    enc = stale(make(stream.StreamEncoder, True, exact=True))
    counting = Counting(enc._feeder)
    assert b"".join(enc.feed(c) for c in chunks) + enc.flush() == frames
    assert counting.calls > 0  # _resume_c fed on through the cffi loop
    dec = stale(make(stream.StreamDecoder, True))
    counting = Counting(dec._feeder)
    assert b"".join(ev.xml for ev in dec.feed(frames)) == b"".join(chunks)
    assert counting.calls > 0
    bad = frames + b"\x81\x00\xff"  # a non-minimal frame header after the stream
    outcomes = []
    for dec in (stale(make(stream.StreamDecoder, True)), make(stream.StreamDecoder, False)):
        got = []
        for piece in (bad, b"x"):
            try:
                got.append(("ok", dec.feed(piece)))
            except XmppbinError as e:
                got.append(("err", key(e), e.events))
        outcomes.append(got)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][-1][0] == "err"


STANZA = b"<message to='a@b/c' id='%d' type='chat'><body>hello %d</body></message>"


@pytest.fixture
def fail_results():
    """_xmppbin_fast._fail_results(n), switched off again after the test."""
    yield _xmppbin_fast._fail_results
    _xmppbin_fast._fail_results(0)


@pytest.mark.parametrize("nth", [1, 3])
def test_decoder_out_of_memory_building_events_fails_it(fail_results, nth):
    """A MemoryError while the C method builds its events (the frames are
    consumed, the state went on) fails the decoder for good (spec 14.5): every
    later feed() and close() raises a new MemoryError carrying no events."""
    frames = frames_of([HEADER] + [STANZA % (i, i) for i in range(6)])
    dec = make(stream.StreamDecoder, True)
    assert dec.feed(frames[:40])  # the stream header
    fail_results(nth)
    with pytest.raises(MemoryError) as first:
        dec.feed(frames[40:])
    assert dec._failed is first.value and dec._cfeed.failed and dec._cfeed.error is first.value
    for call in (lambda: dec.feed(frames[40:]), lambda: dec.feed(b""), dec.close):
        with pytest.raises(MemoryError) as again:
            call()
        assert again.value is not first.value and again.value.args == first.value.args
        assert again.value.events == []
    # a new decoder of the same bytes is not affected: the header and 6 stanzas
    fail_results(0)
    evs = make(stream.StreamDecoder, True).feed(frames)
    assert [ev.kind for ev in evs] == ["open"] + ["element"] * 6 and evs[-1].xml == STANZA % (5, 5)


def test_decoder_out_of_memory_holding_a_partial_frame_fails_it(fail_results):
    """A frame's first bytes are held in C; when the empty result list cannot
    be made, feeding the bytes again would repeat them: the decoder fails."""
    frames = frames_of([HEADER, STANZA % (1, 1)])
    dec = make(stream.StreamDecoder, True)
    assert dec.feed(frames[:-5])
    fail_results(1)
    with pytest.raises(MemoryError) as first:
        dec.feed(frames[-5:-1])  # the last frame still lacks a byte: held
    assert dec._failed is first.value
    with pytest.raises(MemoryError) as again:
        dec.feed(frames[-1:])
    assert again.value is not first.value and again.value.events == []


def test_decoder_empty_results_are_fresh_lists_to_the_caller():
    """A feed that completes no frame returns an empty list; the C method may
    hand back the one it returned before, but only once nobody holds it: a
    list the caller keeps (or filled) is never returned again, and every
    result is an empty list the caller may change."""
    frames = frames_of([HEADER, STANZA % (1, 1)])
    dec = make(stream.StreamDecoder, True)
    assert [ev.kind for ev in dec.feed(frames[:-5])] == ["open"]
    kept = dec.feed(frames[-5:-4])  # held: the last frame is not complete
    assert kept == [] and type(kept) is list
    other = dec.feed(frames[-4:-3])
    assert other == [] and other is not kept  # kept is held: not handed out again
    kept.append("mine")
    again = dec.feed(frames[-3:-2])
    assert again == [] and again is not kept and kept == ["mine"] and other == []
    again.append("filled, then dropped")
    del kept, again
    assert dec.feed(frames[-2:-1]) == []  # not the list filled and dropped
    last = dec.feed(frames[-1:])
    assert [ev.kind for ev in last] == ["element"] and last[0].xml == STANZA % (1, 1)


@pytest.mark.parametrize("nth", [1, 2])
def test_encoder_out_of_memory_building_frames_fails_it(fail_results, nth):
    """The same for StreamEncoder.feed(): the units are coded into the state,
    their frames cannot be returned, so the encoder fails for good; flush()
    too. nth 2: the frames before a stream header left to Python (the C loop
    reads no attribute value with a reference) are built, the joined result is not."""
    enc = make(stream.StreamEncoder, True)
    enc.feed(HEADER + STANZA % (0, 0))
    fail_results(nth)
    with pytest.raises(MemoryError) as first:
        header = HEADER.replace(b"<stream:stream ", b"<stream:stream x='a&amp;b' ")
        enc.feed(STANZA % (1, 1) + b"</stream:stream>" + header + STANZA % (2, 2))
    assert enc._failed is first.value and enc._cfeed.failed
    for call in (lambda: enc.feed(STANZA % (3, 3)), enc.flush):
        with pytest.raises(MemoryError) as again:
            call()
        assert again.value is not first.value and again.value.args == first.value.args
        assert again.value.frames == b""
    fail_results(0)
    ok = make(stream.StreamEncoder, True)
    assert ok.feed(HEADER + STANZA % (0, 0)) and ok.feed(STANZA % (1, 1))


def test_cfeed_slot_read_at_its_offset():
    """feed() finds the Feed in the _cfeed slot of the exact class; an unset
    slot (deleted) or a subclass instance goes by attribute lookup: the same
    results either way."""
    assert type(stream.StreamDecoder.__dict__["_cfeed"]).__name__ == "member_descriptor"
    assert type(stream.StreamEncoder.__dict__["_cfeed"]).__name__ == "member_descriptor"
    frames = frames_of([HEADER, STANZA % (1, 1), STANZA % (2, 2)])
    want = make(stream.StreamDecoder, True).feed(frames)
    gone = make(stream.StreamDecoder, True)
    del gone._cfeed
    assert gone.feed(frames) == want

    class Sub(stream.StreamDecoder):
        pass

    assert Sub().feed(frames) == want
    enc = make(stream.StreamEncoder, True)
    del enc._cfeed
    assert enc.feed(HEADER + STANZA % (1, 1) + STANZA % (2, 2)) == frames
