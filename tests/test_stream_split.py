"""The C stream I/O path (csrc/split.c, csrc/frame.c) against the reference
(XmlSplitter and the framing of xmppbin/stream.py): identical units, frames,
events and errors for any chunking, on the committed capture and on
hypothesis streams; and the feed loops stay in C for ordinary units."""
from __future__ import annotations

import random

import pytest
from conftest import require, with_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stream import HEADER, STREAMS

import xmppbin
from xmppbin import stream
from xmppbin.errors import XmppbinError

SINGLE_BACKEND = True  # both backends are used explicitly

_cstream = require("_cstream")

KEYS = sorted(STREAMS)


def pieces(data: bytes, cuts) -> list[bytes]:
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def split(sp, chunks):
    """(units, error key or None) with the units carried by an error."""
    units: list = []
    try:
        for c in chunks:
            units += [tuple(u) for u in sp.feed(c)]
        sp.close()
    except XmppbinError as e:
        return units + [tuple(u) for u in getattr(e, "events", [])], (type(e), e.offset, getattr(e, "limit", None))
    return units, None


def both_splitters(chunks, **kw):
    ref = split(stream.XmlSplitter(**kw), chunks)
    c = split(_cstream.CXmlSplitter(**kw), chunks)
    return ref, c


def encode(name, chunks, **kw):
    """(frames, error key or None): frames returned plus those carried by the error."""

    def run():
        enc = stream.StreamEncoder(**kw)
        assert (enc._feeder is not None) == (name == "c")
        out = b""
        try:
            for c in chunks:
                out += enc.feed(c)
            out += enc.flush()
        except XmppbinError as e:
            return out + e.frames, (type(e), e.offset, getattr(e, "limit", None))
        return out, None

    return with_backend(name, run)


def decode(name, chunks, **kw):
    def run():
        dec = stream.StreamDecoder(**kw)
        assert (dec._feeder is not None) == (name == "c")
        evs: list = []
        try:
            for c in chunks:
                evs += dec.feed(c)
            dec.close()
        except XmppbinError as e:
            return evs + e.events, (type(e), e.offset, getattr(e, "limit", None))
        return evs, None

    return with_backend(name, run)


# ---- the splitter ------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_c_splitter_matches_reference_on_the_capture(key):
    chunks = STREAMS[key]
    data = b"".join(chunks)
    rng = random.Random(hash(key) & 0xFFFF)
    for chs in (chunks, [data], pieces(data, [rng.randrange(len(data)) for _ in range(200)]),
                pieces(data, range(0, len(data), 3))):
        ref, c = both_splitters(chs)
        assert c == ref
        assert ref[1] is None and b"".join(u[1] for u in ref[0]) == data


def test_c_splitter_one_byte_at_a_time():
    data = b"".join(STREAMS[KEYS[0]])
    ref, c = both_splitters([data[i : i + 1] for i in range(len(data))])
    assert c == ref and ref[1] is None


FRAGMENTS = [
    b"<?xml version='1.0'?>", b"<?xml?>", b"<?xmlx?>", b"<?pi x?>", b"<stream:stream xmlns='jabber:client'>",
    b"<stream:stream>", b"</stream:stream>", b"</stream:stream >", b"<message to='a>b'>", b"</message>",
    b"<body>", b"</body>", b"hi", b"<x/>", b"<y a=\"'>\"/>", b"<!-- c -->", b"<!-->", b"<![CDATA[<a>]]>",
    b"<![CDATA[", b"]]>", b"-->", b" ", b"\r\n", b"\t", b"<", b">", b"/", b"'", b'"', b"?>", b"<!", b"\f",
    b"<a\n", b"<r xmlns='urn:x'/>", b"</a>", b"<stream:stream/>", b"x",
]


@st.composite
def raw_streams(draw):
    parts = draw(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
    data = b"".join(parts)
    cuts = draw(st.lists(st.integers(0, max(len(data), 1)), max_size=12))
    return data, cuts


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_streams(), st.booleans(), st.sampled_from([5, 40, 1 << 20]))
def test_c_splitter_matches_reference_on_hypothesis_streams(case, in_stream, max_size):
    data, cuts = case
    ref, c = both_splitters(pieces(data, cuts), in_stream=in_stream, max_size=max_size)
    assert c == ref
    whole, _ = both_splitters([data], in_stream=in_stream, max_size=max_size)
    if ref[1] is None and whole[1] is None:  # boundaries do not depend on the chunking
        assert ref == whole


# ---- the encoder feed loop --------------------------------------------------------
@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"conn{k[0]}-{k[1]}")
@pytest.mark.parametrize("exact", [False, True])
def test_c_feed_encoder_frames_match_reference(key, exact):
    chunks = STREAMS[key]
    ref = encode("python", chunks, exact=exact)
    assert ref[1] is None
    assert encode("c", chunks, exact=exact) == ref
    data = b"".join(chunks)
    assert encode("c", pieces(data, range(0, len(data), 5)), exact=exact) == ref


@st.composite
def stanza(draw) -> bytes:
    kind = draw(st.sampled_from(["message", "presence", "iq"]))
    body = draw(st.text(alphabet="ab <&é", max_size=8)).replace("&", "&amp;").replace("<", "&lt;")
    extra = draw(st.sampled_from([
        "", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFiYwA=</auth>",
        "<!-- c -->", "<![CDATA[x<y]]>", "<x:password xmlns:x='jabber:iq:register'>pw</x:password>",
        # the splitter's guessed ends (split.c: candidate_end): an end tag of the unit's own name before its end
        f"<![CDATA[</{kind}>]]>", f"<!-- </{kind} > -->", f"<{kind}><body>n</body></{kind}>", f"<{kind}/>",
    ]))
    return f"<{kind} id='{draw(st.integers(0, 9))}'><body>{body}</body>{extra}</{kind}>".encode()


@st.composite
def xml_streams(draw):
    units = draw(st.lists(st.one_of(stanza(), st.sampled_from([b" ", b"\n"])), max_size=6))
    tail = draw(st.sampled_from([b"", b"</stream:stream>", b"<presence>", b"oops", b"<a></b>", b"<!--x-->",
                                 HEADER, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AA==</auth>"]))
    data = HEADER + b"".join(units) + tail
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=10))
    return data, cuts


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xml_streams(), st.booleans(), st.sampled_from([{}, {"table_size": 0}, {"max_frame": 40},
                                                      {"max_size": 120}, {"allow_comments": True}]))
def test_c_feed_encoder_matches_reference_on_hypothesis_streams(case, exact, kw):
    data, cuts = case
    chunks = pieces(data, cuts)
    ref = encode("python", chunks, exact=exact, **kw)
    assert encode("c", chunks, exact=exact, **kw) == ref


def _candidates(enc) -> tuple[int, int]:
    """(units taken at a guessed end, of which undone) of a C StreamEncoder's loop."""
    taken, undone = _cstream.ffi.new("uint64_t *"), _cstream.ffi.new("uint64_t *")
    _cstream.lib.xb_fenc_candidates(enc._feeder._p, taken, undone)
    return taken[0], undone[0]


# (unit, its guessed end is the unit's end): the splitter's guess (split.c: the
# first '>' ends the first tag; a self-closed unit is that tag, else
# candidate_end's end tag) is kept only when the scan accepts it
GUESSES = [
    (b"<message id='1'><body>a</body></message>", True),
    (b"<message id='2'><messages>b</messages><body>c</body></message \n>", True),  # a longer name; spaces
    (b"<iq id='3' type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>", True),
    (b"<message id='4'><body><![CDATA[</message>]]></body></message>", False),  # in CDATA: undone
    (b"<message id='5'><body>d</body><!-- </message> --></message>", False),  # in a comment: undone
    (b"<message id='6'><f xmlns='urn:xmpp:forward:0'><message id='7'><body>e</body></message></f></message>",
     None),  # an element of its own name inside (a carbon copy): not guessed
    (b"<message id='8'><message/></message>", None),
    (b"<presence id='9'/>", True),  # self-closed: its first tag
    (b"<r xmlns='urn:xmpp:sm:3' />", True),
    (b"<presence a='/>'/>", False),  # the first '>' is in a value, after '/': undone
    (b"<message a='x>y'><body>z</body></message>", True),  # the first '>' in a value: the end tag still ends it
    (b"<message a='x/>' b='2'>w</message>", False),
]


@pytest.mark.parametrize("unit,kept", GUESSES)
@pytest.mark.parametrize("cut", [None, 5, 1])
def test_guessed_element_ends_same_frames(unit, kept, cut):
    """An element's end guessed (its first tag ending at the first '>', a
    self-closed one being that tag, else ending at its first end tag of its own
    name): the same frames as the reference whether the guess holds, is undone
    (a '>' in a value, the end tag in CDATA or a comment) or is not made (an
    element of the same name inside),
    and the same for any chunking; the loop counts what it guessed."""
    data = HEADER + unit + b" " + unit
    chunks = [data] if cut is None else pieces(data, range(len(HEADER), len(data), cut))
    ref = encode("python", chunks, allow_comments=True)
    assert ref[1] is None
    assert encode("c", chunks, allow_comments=True) == ref

    def counts():
        enc = stream.StreamEncoder(allow_comments=True)
        for c in chunks:
            enc.feed(c)
        return _candidates(enc)

    taken, undone = with_backend("c", counts)
    if cut is not None:  # the units arrive in pieces: their ends are found by reading their tags
        assert (taken, undone) == (0, 0)
    elif kept is None:
        assert (taken, undone) == (0, 0)
    else:
        assert (taken, undone) == (2, 0 if kept else 2)


@pytest.mark.parametrize("unit", [
    b"<message id='1'><body a='</message>'>x</body></message>",  # '<' in an attribute value
    b"<message id='2'><body>x</message>",  # the guess closes an open child
    b"<message id='3'><b></message></b></message>",
    b"<message id='4'><body>x</body></message><message",  # the next unit unfinished
    b"<message id='5'><body>&bad;</body></message>",
    b"<presence a='/>'",  # a guessed self-closed tag, unfinished
    b"<presence a='x>'/><presence/>",
    b"<presence a='/>' b/>",
])
@pytest.mark.parametrize("cut", [None, 3])
def test_guessed_element_ends_same_errors(unit, cut):
    """Malformed units the guess reaches: the reference's error (class, offset),
    with the same frames before it, for any chunking."""
    data = HEADER + b"<presence/>" + unit
    chunks = [data] if cut is None else pieces(data, range(len(HEADER), len(data), cut))
    assert encode("c", chunks) == encode("python", chunks)


def test_c_feed_encoder_never_index_callback_goes_through_python():
    seen = []

    def never_index(kind, name, value):
        seen.append((kind, name))
        return name == "{jabber:client}body"

    data = HEADER + b"<message><body>secret</body></message><message><body>secret</body></message>"
    ref = encode("python", [data], never_index=never_index)
    n = len(seen)
    assert encode("c", [data], never_index=never_index) == ref
    assert len(seen) == 2 * n and n > 0


# ---- the decoder feed loop --------------------------------------------------------
@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_c_feed_decoder_events_match_reference(key):
    frames = encode("python", STREAMS[key], exact=True)[0]
    ref = decode("python", [frames])
    assert ref[1] is None and b"".join(e.xml for e in ref[0]) == b"".join(STREAMS[key])
    assert decode("c", [frames]) == ref
    assert decode("c", pieces(frames, range(0, len(frames), 7))) == ref


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xml_streams(), st.binary(max_size=8), st.data())
def test_c_feed_decoder_matches_reference_on_garbage(case, garbage, data):
    raw, _ = case
    frames, _err = encode("python", [raw], exact=True)
    cut = data.draw(st.integers(0, len(frames)))
    blob = frames[:cut] + garbage
    cuts = data.draw(st.lists(st.integers(0, len(blob)), max_size=10))
    ref = decode("python", [blob])
    assert decode("c", [blob]) == ref
    assert decode("c", pieces(blob, cuts)) == ref


# ---- buffer protocol and one C call per feed ---------------------------------------
@pytest.mark.parametrize("name", ["python", "c"])
def test_feed_takes_bytearray_and_memoryview(name):
    data = b"".join(STREAMS[KEYS[0]])
    ref = encode(name, [data])[0]
    assert encode(name, [bytearray(data)])[0] == ref
    assert encode(name, [memoryview(data)[i : i + 100] for i in range(0, len(data), 100)])[0] == ref
    evs = decode(name, [bytearray(ref)])
    assert evs == decode(name, [memoryview(ref)]) and evs[1] is None


def test_c_feed_codes_ordinary_units_without_python(monkeypatch):
    """Plain stanzas and whitespace never come back to stream.py's unit coding
    (and decoding); nor does a stream header once the C loops know its
    declarations (the first header with them is stream.py's)."""
    calls = []
    orig_encode, orig_frame = stream.StreamEncoder._encode, stream.StreamDecoder._frame
    monkeypatch.setattr(stream.StreamEncoder, "_encode",
                        lambda self, ev: calls.append(ev.kind) or orig_encode(self, ev))
    monkeypatch.setattr(stream.StreamDecoder, "_frame", lambda self, k, p: calls.append(k) or orig_frame(self, k, p))
    body = b"".join(b"<message to='a@b' id='%d'><body>hi %d</body></message> " % (i, i) for i in range(50))

    def run():
        enc = stream.StreamEncoder(exact=True)
        head = enc.feed(HEADER)
        frames = enc.feed(body)
        dec = stream.StreamDecoder()
        assert [e.kind for e in dec.feed(head)] == ["open"]
        evs = dec.feed(frames)
        assert len(evs) == 99  # the last space may go on
        assert b"".join(e.xml for e in evs) == body[:-1]
        return head + frames

    first = with_backend("c", run)
    assert calls in ([], ["open", stream.FRAME_OPEN])  # HEADER's first time in this process: stream.py's
    calls.clear()
    assert with_backend("c", run) == first == with_backend("python", run)
    calls.clear()
    with_backend("c", run)
    assert calls == []


HEADERS = [
    HEADER, b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    (b"<?xml version='1.0'?>\n <stream:stream xmlns:stream=\"http://etherx.jabber.org/streams\""
     b" xmlns=\"jabber:server\" to = 'a' >"),
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a&amp;b'>",
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a\nb'>",
    b"<s xmlns='urn:x' a='&#x41;' b=\"'\" c='\"'>", b"<stream:stream xmlns:stream='urn:s' xmlns='urn:\xc3\xa9'>",
]


@pytest.mark.parametrize("xml", HEADERS)
def test_quick_header_reading_matches_the_scan(xml):
    """The stream header's root name and attributes read without a scan (when
    the quick reading applies) are those of the scan."""
    from xmppbin.xmlscan import scan

    sc = scan(xml, xmppbin.Limits(), {"": "jabber:client"}, True, True, True)
    root = next(e for e in sc.events if e[0] == "S")
    quick = _cstream.header_root(xml)
    if quick is not None:
        assert quick == (root[1], [(it[0], it[1]) for it in root[2]])
    # and both backends code and decode it alike, the context taken from it
    data = xml + b"<message><body>x</body></message>"
    ref = encode("python", [data], exact=True, allow_comments=True)
    assert ref[1] is None
    assert encode("c", [data], exact=True, allow_comments=True) == ref
    assert decode("c", [ref[0]], allow_comments=True) == decode("python", [ref[0]], allow_comments=True)


def test_quick_header_reading_skips_the_prolog():
    """A decoded stream header may carry comments and PIs before its root (allow_comments)."""
    from xmppbin.xmlscan import scan

    xml = b"<?xml version='1.0'?>\n<!-- c --><?pi x?> <s:s xmlns:s='urn:s' a=\"1\">"
    sc = scan(xml, xmppbin.Limits(), {}, True, True, True)
    root = next(e for e in sc.events if e[0] == "S")
    assert _cstream.header_root(xml) == (root[1], [(it[0], it[1]) for it in root[2]]) == (
        "s:s", [("xmlns:s", "urn:s"), ("a", "1")])


def test_quick_header_reading_falls_back_on_references_and_newlines():
    assert _cstream.header_root(HEADERS[3]) is None
    assert _cstream.header_root(HEADERS[4]) is None
    assert _cstream.header_root(HEADERS[2]) == (
        "stream:stream", [("xmlns:stream", "http://etherx.jabber.org/streams"), ("xmlns", "jabber:server"),
                          ("to", "a")])


SECRET_UNITS = [
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFiYwA=</auth>",
    b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></success>",
    b"<s:response xmlns:s='urn:ietf:params:xml:ns:xmpp-sasl' >eA==</s:response >",
    b"<response xmlns='urn:other'>eA==</response>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'> </auth>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' a='1' xml:lang='en'>a&amp;b&#x41;\n c</auth>",
    b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1=\r\n</challenge>",
    b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><![CDATA[x]]></challenge>",
    b"<initial-response xmlns='urn:xmpp:sasl:2'>AAA</initial-response>",
    b"<iq type='set'><query xmlns='jabber:iq:register'><password>pw</password></query></iq>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' m='&lt;'>x</auth>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x</auth >",
]


@pytest.mark.parametrize("xml", SECRET_UNITS)
@pytest.mark.parametrize("exact", [False, True])
def test_quick_secret_ordinals_match_the_scan(xml, exact):
    """Lone secret elements get their never-indexed ordinals without a scan in
    Python: the same ordinals as the scan's, the same frames as the reference."""
    from xmppbin.xmlscan import scan

    ctx = dict(xmppbin.DEFAULT_CONTEXT)
    quick = stream._quick_secrets(xml, ctx, stream.SECRET_ELEMENTS)
    sc = scan(xml, xmppbin.Limits(), ctx, False, False, exact)
    if quick is not None:
        assert quick == stream._secret_ordinals(sc, ctx, stream.SECRET_ELEMENTS, None)
    data = HEADER + xml + xml
    ref = encode("python", [data], exact=exact)
    assert ref[1] is None
    assert encode("c", [data], exact=exact) == ref


def test_quick_secret_ordinals_apply_to_sasl_nonzas():
    ctx = dict(xmppbin.DEFAULT_CONTEXT)
    assert [stream._quick_secrets(x, ctx, stream.SECRET_ELEMENTS) for x in SECRET_UNITS[:5]] == [
        [1], [], None, [0], []]  # None: left to the scan
