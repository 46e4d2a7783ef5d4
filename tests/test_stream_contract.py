"""Stream mode under bad input (spec 14.5), on each backend (conftest runs every
test once per backend): failed coders stay failed, errors carry the good output
of their call, whatever the chunking; frames before OPEN; option validation."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stream import HEADER, STREAMS

import xmppbin
from xmppbin import stream
from xmppbin.errors import XmppbinError

CLOSE_BEFORE_OPEN = bytes.fromhex("273c2f613e")  # a CLOSE frame "</a>"


def frames_of(chunks, **kw) -> bytes:
    enc = stream.StreamEncoder(**kw)
    return b"".join(enc.feed(c) for c in chunks) + enc.flush()


def error_key(e: XmppbinError):
    return (type(e), e.offset, getattr(e, "limit", None))


def decode_chunked(data: bytes, cuts, **kw):
    """(events, error key or None) of data fed in pieces cut at the given
    positions, the events carried by the error included, then close()."""
    dec = stream.StreamDecoder(**kw)
    events: list = []
    bounds = [0] + sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]
    try:
        for a, b in itertools.pairwise(bounds):
            events += dec.feed(data[a:b])
        dec.close()
    except XmppbinError as e:
        return events + e.events, error_key(e), dec
    return events, None, dec


def encode_chunked(data: bytes, cuts, **kw):
    enc = stream.StreamEncoder(**kw)
    out = b""
    bounds = [0] + sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]
    try:
        for a, b in itertools.pairwise(bounds):
            out += enc.feed(data[a:b])
        out += enc.flush()
    except XmppbinError as e:
        return out + e.frames, error_key(e), enc
    return out, None, enc


# ---- a CLOSE frame before OPEN ----------------------------------------------------
def test_close_frame_before_open_is_rejected_at_its_offset():
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        stream.StreamDecoder().feed(CLOSE_BEFORE_OPEN)
    assert ei.value.offset == 0 and ei.value.events == []
    # after a TEXT frame (allowed before OPEN): the text event comes with the error
    data = stream.frame(stream.FRAME_TEXT, b"\n") + CLOSE_BEFORE_OPEN
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        stream.StreamDecoder().feed(data)
    assert ei.value.offset == 2
    assert ei.value.events == [stream.StreamEvent("text", b"\n")]
    # rejected at its header, before its payload arrives
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        stream.StreamDecoder().feed(CLOSE_BEFORE_OPEN[:1])
    assert ei.value.offset == 0


def test_element_frame_before_open_is_rejected_at_its_offset():
    data = stream.frame(stream.FRAME_TEXT, b" ") + stream.frame(stream.FRAME_ELEMENT, b"\x80")
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        stream.StreamDecoder().feed(data)
    assert ei.value.offset == 2 and ei.value.events == [stream.StreamEvent("text", b" ")]


def test_close_frame_after_an_announcement_is_accepted():
    frames = stream.StreamEncoder(in_stream=True).feed(b"<r xmlns='urn:xmpp:sm:3'/></stream:stream>")
    evs = stream.StreamDecoder().feed(frames)
    assert [e.kind for e in evs] == ["element", "close"]
    assert evs[1].xml == b"</stream:stream>"


# ---- a failed coder stays failed ---------------------------------------------------
def test_failed_decoder_stays_failed():
    good = frames_of([HEADER + b"<message><body>hello 4</body></message>"], exact=True)
    # corrupt the last frame's payload: an element whose body does not decode
    bad = good[:-2] + b"\xff\xff"
    dec = stream.StreamDecoder()
    with pytest.raises(XmppbinError) as ei:
        dec.feed(bad)
    first = error_key(ei.value)
    assert [e.kind for e in ei.value.events] == ["open"]
    for call in (lambda: dec.feed(good), lambda: dec.feed(b""), dec.close, lambda: dec.feed(good[:1])):
        with pytest.raises(XmppbinError) as ej:
            call()
        assert error_key(ej.value) == first
        assert ej.value.reason == ei.value.reason
        assert ej.value.events == []


def test_failed_decoder_on_truncation_stays_failed():
    good = frames_of([HEADER], exact=True)
    dec = stream.StreamDecoder()
    assert [e.kind for e in dec.feed(good[:-1])] == []
    with pytest.raises(xmppbin.TruncatedError) as ei:
        dec.close()
    assert ei.value.offset == len(good) - 1
    with pytest.raises(xmppbin.TruncatedError) as ej:
        dec.feed(good[-1:])
    assert ej.value.offset == len(good) - 1 and ej.value.events == []


def test_failed_encoder_stays_failed():
    enc = stream.StreamEncoder(exact=True)
    raw = HEADER + b"<message><body>a</body></message><presence><x></y></presence>"
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        enc.feed(raw)
    n = len(HEADER) + len(b"<message><body>a</body></message>")
    assert ei.value.offset > n
    # the frames of the header and the message come with the error
    dec = stream.StreamDecoder()
    assert [e.xml for e in dec.feed(ei.value.frames)] == [HEADER, b"<message><body>a</body></message>"]
    first = error_key(ei.value)
    for call in (lambda: enc.feed(b"<presence/>"), enc.flush, lambda: enc.element(b"<presence/>"),
                 lambda: enc.text(b" "), lambda: enc.close()):
        with pytest.raises(XmppbinError) as ej:
            call()
        assert error_key(ej.value) == first and ej.value.frames == b""


def test_unit_method_error_fails_the_encoder():
    enc = stream.StreamEncoder()
    enc.open(HEADER)
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        enc.element(b"<a><b></a>")
    with pytest.raises(xmppbin.MalformedXMLError) as ej:
        enc.element(b"<a/>")
    assert error_key(ej.value) == error_key(ei.value)


def test_splitter_limit_error_carries_the_earlier_frames():
    body = b"<message><body>" + b"w" * 200 + b"</body></message>"
    enc = stream.StreamEncoder(exact=True, max_size=len(body))
    with pytest.raises(xmppbin.EncodeLimitError) as ei:
        enc.feed(HEADER + body + b"<message><body>" + b"v" * 300)
    assert ei.value.limit == "max_size"
    assert ei.value.offset == len(HEADER) + len(body) + len(body)
    evs = stream.StreamDecoder().feed(ei.value.frames)
    assert [e.xml for e in evs] == [HEADER, body]


def test_flush_error_offsets_count_from_the_stream_start():
    enc = stream.StreamEncoder()
    enc.feed(HEADER + b"<presence/><mess")
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        enc.flush()
    assert ei.value.offset == len(HEADER) + len(b"<presence/><mess")
    enc2 = stream.StreamEncoder(max_frame=8, table_size=0, in_stream=True)
    assert enc2.feed(b"<a/>" + b" " * 8)  # the announcement and the element
    assert enc2.feed(b" ") == b""  # whitespace waits: it may go on
    with pytest.raises(xmppbin.EncodeLimitError) as ei:
        enc2.flush()
    assert ei.value.limit == "max_frame" and ei.value.offset == 4


# ---- option validation ------------------------------------------------------------
@pytest.mark.parametrize("kw, name", [
    ({"max_frame": -1}, "max_frame"), ({"max_frame": 0}, "max_frame"), ({"max_frame": True}, "max_frame"),
    ({"max_frame": 1 << 31}, "max_frame"), ({"max_frame": "9"}, "max_frame"),
    ({"max_table_size": -5}, "max_table_size"), ({"max_table_size": 1 << 21}, "max_table_size"),
    ({"max_table_size": 1.0}, "max_table_size"), ({"max_size": 0}, "max_size"),
])
def test_decoder_options_are_validated(kw, name):
    with pytest.raises(ValueError, match=name):
        stream.StreamDecoder(**kw)


def test_decoder_option_bounds_are_accepted():
    stream.StreamDecoder(max_frame=1, max_table_size=0)
    stream.StreamDecoder(max_frame=(1 << 31) - 1, max_table_size=(1 << 21) - 1)


@pytest.mark.parametrize("kw, name", [
    ({"max_frame": -1}, "max_frame"), ({"max_frame": 0}, "max_frame"), ({"max_frame": False}, "max_frame"),
    ({"max_frame": 1 << 25}, "max_frame"), ({"table_size": -1}, "table_size"),
    ({"table_size": stream.MAX_TABLE_SIZE + 1}, "table_size"), ({"table_size": True}, "table_size"),
    ({"max_depth": 0}, "max_depth"),
])
def test_encoder_options_are_validated(kw, name):
    with pytest.raises(ValueError, match=name):
        stream.StreamEncoder(**kw)


def test_encoder_option_bounds_are_accepted():
    stream.StreamEncoder(max_frame=1, table_size=0)
    stream.StreamEncoder(max_frame=(1 << 25) - 1, table_size=stream.MAX_TABLE_SIZE)


def test_decoder_max_table_size_zero_accepts_budget_zero_only():
    ok = frames_of([HEADER], table_size=0)
    assert stream.StreamDecoder(max_table_size=0).feed(ok)[0].kind == "open"
    with pytest.raises(xmppbin.DecodeLimitError) as ei:
        stream.StreamDecoder(max_table_size=0).feed(frames_of([HEADER], table_size=1))
    assert ei.value.limit == "max_table_size" and ei.value.offset == 1


# ---- any chunking: same events, then the same error -------------------------------
names = st.sampled_from(["a", "b", "x", "body", "item"])
texts = st.text(alphabet="ab c<&>'\"é\n", max_size=12)


@st.composite
def stanzas(draw) -> bytes:
    kind = draw(st.sampled_from(["message", "presence", "iq"]))
    attrs = "".join(f" {n}='{draw(st.sampled_from(['1', 'x@y/z', 'chat', '']))}'"
                    for n in draw(st.lists(st.sampled_from(["to", "id", "type"]), unique=True)))
    kids = "".join(f"<{n}>{draw(texts).replace('&', '&amp;').replace('<', '&lt;')}</{n}>"
                   for n in draw(st.lists(names, max_size=3)))
    return f"<{kind}{attrs}>{kids}</{kind}>".encode()


@st.composite
def bad_streams(draw):
    exact = draw(st.booleans())
    units = draw(st.lists(st.one_of(stanzas(), st.sampled_from([b" ", b"\r\n"])), max_size=6))
    raw = HEADER + b"".join(units)
    if draw(st.booleans()):
        raw += b"</stream:stream>"
    frames = frames_of([raw], exact=exact)
    cut = draw(st.integers(0, len(frames)))
    garbage = draw(st.binary(min_size=1, max_size=12))
    data = frames[:cut] + garbage
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return data, cuts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_streams())
def test_prefix_then_garbage_gives_the_same_events_and_error_for_any_chunking(case):
    data, cuts = case
    whole = decode_chunked(data, [])
    pieces = decode_chunked(data, cuts)
    bytewise = decode_chunked(data, range(len(data)))
    assert pieces[:2] == whole[:2]
    assert bytewise[:2] == whole[:2]
    if whole[1] is not None:  # and the decoder stays failed
        with pytest.raises(XmppbinError) as ei:
            whole[2].feed(b"\x02")
        assert error_key(ei.value) == whole[1]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stanzas(), max_size=5), st.binary(min_size=1, max_size=10), st.data())
def test_encoder_same_frames_and_error_for_any_chunking(units, garbage, data):
    raw = HEADER + b"".join(units) + garbage
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    whole = encode_chunked(raw, [])
    pieces = encode_chunked(raw, cuts)
    assert pieces[:2] == whole[:2]


@pytest.mark.parametrize("key", sorted(STREAMS)[:4], ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_capture_truncated_then_garbage_any_chunking(key):
    frames = frames_of(STREAMS[key], exact=True)
    for cut in (len(frames) // 3, len(frames) // 2 + 1, len(frames) - 1):
        data = frames[:cut] + b"\x81\x00\xff\x07"
        whole = decode_chunked(data, [])
        assert whole[1] is not None
        assert decode_chunked(data, range(0, len(data), 7))[:2] == whole[:2]
        assert decode_chunked(data, range(len(data)))[:2] == whole[:2]
