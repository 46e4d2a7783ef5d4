"""Stream mode, C core vs reference: byte-identical frames and identical
decoding (or identical errors) on the committed real session."""
from __future__ import annotations

import random

import pytest
from conftest import require, with_backend
from test_stream import STREAMS

from xmppbin import stream
from xmppbin.errors import EncodeLimitError, XmppbinError

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

KEYS = sorted(STREAMS)
TABLE_SIZES = (stream.DEFAULT_TABLE_SIZE, 0, 64, 4096)


def encode(name, chunks, **kw) -> bytes:
    def run():
        enc = stream.StreamEncoder(**kw)
        assert (enc._c is not None) == (name == "c")
        return b"".join(enc.feed(c) for c in chunks) + enc.flush()

    return with_backend(name, run)


def decode(name, frames: bytes, **kw):
    """("ok", events) or (exception class, offset, limit); kw: StreamDecoder options."""

    def run():
        dec = stream.StreamDecoder(**kw)
        assert (dec._c is not None) == (name == "c")
        try:
            evs = dec.feed(frames)
            dec.close()
        except XmppbinError as e:
            return (type(e), e.offset, getattr(e, "limit", None))
        return ("ok", evs)

    return with_backend(name, run)


@pytest.mark.parametrize("table_size", TABLE_SIZES)
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_capture_frames_identical(key, exact, table_size):
    chunks = STREAMS[key]
    py = encode("python", chunks, exact=exact, table_size=table_size)
    c = encode("c", chunks, exact=exact, table_size=table_size)
    assert c == py
    assert decode("c", c) == decode("python", py)
    if exact:
        assert b"".join(ev.xml for ev in decode("c", c)[1]) == b"".join(chunks)


def _frames(exact: bool) -> list[bytes]:
    return [encode("python", STREAMS[k], exact=exact) for k in KEYS]


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_corrupted_frames_same_errors(exact):
    rnd = random.Random(0x5EED + exact)
    frames = _frames(exact)
    for _ in range(150):
        data = bytearray(rnd.choice(frames))
        how = rnd.randrange(4)
        if how == 0:
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(len(data))
                data[i] ^= 1 << rnd.randrange(8)
        elif how == 1:
            del data[rnd.randrange(len(data)) :]
        elif how == 2:
            i = rnd.randrange(len(data))
            data[i] = rnd.randrange(256)
        else:
            i = rnd.randrange(len(data))
            del data[i : i + rnd.randint(1, 4)]
        assert decode("c", bytes(data)) == decode("python", bytes(data))


def _split_frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(data):
        v, p = stream.get_varint(data, pos, stream.MAX_FRAME_HEADER)
        kind, n = stream.frame_header(v)
        out.append((kind, data[p : p + n]))
        pos = p + n
    return out


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_corrupted_message_bodies_same_errors(exact):
    """Corruptions inside OPEN and ELEMENT payloads, framing kept valid: the
    message decoders themselves must agree (error class, offset, limit, or output)."""
    rnd = random.Random(0xB0D1 + exact)
    streams = [_split_frames(f) for f in _frames(exact)]
    outcomes = {"ok": 0, "error": 0}
    for _ in range(200):
        frames = list(rnd.choice(streams))
        coded = [i for i, (k, p) in enumerate(frames) if k in (stream.FRAME_ELEMENT, stream.FRAME_OPEN) and p]
        i = rnd.choice(coded)
        kind, payload = frames[i]
        body = bytearray(payload)
        lo = 0
        if kind == stream.FRAME_OPEN:  # keep the budget and the message header
            lo = len(stream.put_varint(stream.get_varint(payload, 0, 3)[0])) + 2
            if len(body) <= lo:
                continue
        how = rnd.randrange(3)
        j = rnd.randrange(lo, len(body))
        if how == 0:
            body[j] ^= 1 << rnd.randrange(8)
        elif how == 1:
            del body[j:]
        else:
            body[j] = rnd.randrange(256)
        frames[i] = (kind, bytes(body))
        data = b"".join(stream.frame(k, p) for k, p in frames[: i + 1 + rnd.randrange(3)])
        c, py = decode("c", data), decode("python", data)
        assert c == py
        outcomes["ok" if c[0] == "ok" else "error"] += 1
    assert outcomes["error"] > 50


class _NoHit(list):
    """A shape cache in which the reference encoder never finds a shape: it codes
    repeated shapes with SHAPE or GENERIC again, so the cache holds equal shapes
    in several entries (valid, if not what an encoder would send)."""

    def index(self, *args):
        raise ValueError


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_equal_shapes_in_several_cache_entries(exact):
    """Spec 14.3: every cache entry has its own serial and slots, also when two
    hold the same shape; evicting one of them must not disturb the other."""
    mixed = [b"<presence/>", b"<message to='a@b'><body>hi</body></message>", b"<foo xmlns='x:y'><bar/></foo>",
             b"<presence/>", b"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"]
    # a cache full of one shape, then another shape evicting its copies one by one
    units = [b"<presence/>"] * 40 + [b"<foo xmlns='x:y'/>"] * 40 + [mixed[i * 7 % len(mixed)] for i in range(60)]

    def run():
        enc = stream.StreamEncoder(exact=exact)
        head = enc.open(stream_header())
        enc._s.state.cache = _NoHit(enc._s.state.cache)
        return head + b"".join(enc.element(u) for u in units)

    frames = with_backend("python", run)
    c, py = decode("c", frames), decode("python", frames)
    assert c == py
    assert c[0] == "ok" and [ev.xml for ev in c[1][1:]] == units


def stream_header() -> bytes:
    from test_stream import HEADER

    return HEADER


# ---- generated streams ------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = ["message", "presence", "iq", "body", "x", "item", "query", "foo:bar", "a"]
_ATTRS = ["to", "from", "id", "type", "jid", "node", "var", "xml:lang", "b"]
_VALUES = st.one_of(
    st.sampled_from(["", "user@example.com/res", "room@muc.example.com/nick", "example.com", "chat",
                     "http://jabber.org/protocol/pubsub#publish", "http://jabber.org/protocol/pubsub#retract",
                     "muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "12345", "0", "deadbeef00",
                     "DEADBEEF00", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "aGVsbG8gd29ybGQ=", "a&b<c>'\"",
                     "x\u00e9\u4e2d\U0001f600"]),
    st.text(alphabet="ab@/.-_#:0123 \u00e9", max_size=12),
)


@st.composite
def _element(draw, depth=0):
    name = draw(st.sampled_from(_NAMES))
    attrs = draw(st.lists(st.tuples(st.sampled_from(_ATTRS), _VALUES), max_size=3, unique_by=lambda t: t[0]))
    xmlns = " xmlns:foo='urn:foo'" if name.startswith("foo:") else ""
    if draw(st.booleans()):
        xmlns += draw(st.sampled_from(["", " xmlns='jabber:x:data'", " xmlns='urn:xmpp:ping'"]))
    q = draw(st.sampled_from(["'", '"']))
    a = "".join(f" {k}={q}{_esc(v, q)}{q}" for k, v in attrs)
    kids = []
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.integers(0, 3))
            if kind == 0:
                kids.append(draw(_element(depth + 1)))
            elif kind == 1:
                kids.append(draw(st.sampled_from(["\n  ", "\n    ", " ", "\n"])))
            else:
                kids.append(_esc(draw(_VALUES), None) or "t")
    merged = []
    for k in kids:  # no two adjacent text nodes
        if merged and not merged[-1].startswith("<") and not k.startswith("<"):
            merged[-1] += k
        else:
            merged.append(k)
    inner = "".join(merged)
    if not inner and draw(st.booleans()):
        return f"<{name}{xmlns}{a}{draw(st.sampled_from(['/>', ' />']))}"
    return f"<{name}{xmlns}{a}>{inner}</{name}>"


def _esc(v: str, q) -> str:
    v = v.replace("&", "&amp;").replace("<", "&lt;")
    if q:
        v = v.replace(q, "&apos;" if q == "'" else "&quot;")
    return v


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(units=st.lists(_element(), min_size=1, max_size=8), exact=st.booleans(),
       table_size=st.sampled_from([0, 64, 200, 4096]), sasl=st.booleans())
def test_generated_streams_identical(units, exact, table_size, sasl):
    from test_stream import HEADER

    chunks = [HEADER] + [u.encode() for u in units]
    if sasl:  # a never-indexed value in the middle
        chunks.insert(2, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>dXNlcg==</auth>")
    py = encode("python", chunks, exact=exact, table_size=table_size)
    c = encode("c", chunks, exact=exact, table_size=table_size)
    assert c == py
    out_c, out_py = decode("c", c), decode("python", py)
    assert out_c == out_py
    assert out_c[0] == "ok"
    if exact:
        assert b"".join(ev.xml for ev in out_c[1]) == b"".join(chunks)


def _encode_outcome(name, chunks, **kw):
    """frames, or (exception class, offset, limit) of the first failing unit."""

    def run():
        enc = stream.StreamEncoder(**kw)
        out = []
        try:
            for c in chunks:
                out.append(enc.feed(c))
            out.append(enc.flush())
        except XmppbinError as e:
            return (type(e), e.offset, getattr(e, "limit", None), b"".join(out))
        return b"".join(out)

    return with_backend(name, run)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
def test_corrupted_xml_same_encoder_errors(exact):
    """Corrupted XML units and tight limits: both stream encoders raise the same
    error at the same offset, after the same frames, or give the same frames."""
    rnd = random.Random(0xE11C + exact)
    junk = [b"<", b">", b"&", b"'", b'"', b"\x00", b"\xff", b"]]>", b"<!--x-->", b"<?pi x?>", b"&amp;", b"&#0;",
            b"xmlns:a='b'", b"/", b" ", b"\r", b"\xc3"]
    for _ in range(120):
        key = rnd.choice(KEYS)
        chunks = list(STREAMS[key])
        i = rnd.randrange(len(chunks))
        b = bytearray(chunks[i])
        j = rnd.randrange(len(b) + 1)
        if rnd.random() < 0.5:
            b[j:j] = rnd.choice(junk)
        elif b:
            del b[j : j + rnd.randint(1, 3)]
        chunks[i] = bytes(b)
        kw = dict(exact=exact, allow_comments=rnd.random() < 0.3)
        if rnd.random() < 0.3:
            kw.update(max_string=rnd.choice([8, 40]), max_attributes=rnd.choice([2, 5]), max_depth=rnd.choice([2, 4]))
        assert _encode_outcome("c", chunks, **kw) == _encode_outcome("python", chunks, **kw)


@pytest.mark.parametrize("kw", [dict(max_string=8), dict(max_string=40), dict(max_attributes=2), dict(max_depth=2),
                                dict(max_elements=3), dict(max_size=200), dict(max_size=1000),
                                dict(max_table_size=100), dict(max_frame=300), dict(context={"": "jabber:client"})],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_decoder_limits_and_options_same(kw):
    for exact in (True, False):
        for f in _frames(exact):
            assert decode("c", f, **kw) == decode("python", f, **kw)


# Elements with a secret element's local name (csrc/frame.c: secret_ordinals):
# True when the C feed loop settles them itself (the tag declares its own
# namespace), False when they go to stream.py. Frames identical either way.
_SECRET_NAMED = [
    (b"<message><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>q83vEjRWeJA=</hash></message>", True),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>dXNlcg==</auth>", True),
    (b'<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1">biws</auth >', True),
    (b"<s:auth xmlns:s='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN' xml:lang='en'>eA==</s:auth>", True),
    (b"<response xmlns='urn:xmpp:sasl:2'>  c=biws \n</response>", True),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>a&amp;b&#x41;</auth>", True),
    (b"<auth xmlns='urn:x:not-sasl'>not a secret</auth>", True),
    (b"<message><body>pw</body><token xmlns='urn:other'>t</token><hash xmlns=''/></message>", True),
    (b"<iq type='set'><query xmlns='jabber:iq:register'><password>x</password></query></iq>", False),
    (b"<iq type='set'><query xmlns='jabber:iq:auth'><password xmlns='jabber:iq:auth'>x</password></query></iq>",
     False),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'/>", False),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'> \n </auth>", False),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>a<![CDATA[<b>]]>c</auth>", False),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>a<b/>c</auth>", False),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' m='a&amp;b'>x</auth>", True),
    (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' m='a\tb&#10;>'>x</auth>", True),
    (b"<message><body><![CDATA[<auth>x</auth>]]></body></message>", True),
    (b"<message><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x</auth></message>", False),
    (b"<s:auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' xmlns:s='urn:x'>x</s:auth>", True),
    (b"<auth>inherited</auth>", False),
]


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "default"])
@pytest.mark.parametrize("unit,settled", _SECRET_NAMED)
def test_secret_named_elements_in_the_c_loop(unit, settled, exact, monkeypatch):
    """An element whose tags carry a secret element's local name: the C loop
    codes it (and its never-indexed text) when the name's own namespace is
    declared in the tag, else hands it to stream.py; the frames are the
    reference's, and a repeat of the text later in the stream is no reference
    to a secret."""
    from test_stream import HEADER

    later = b"<message><body>dXNlcg==</body><x>eA==</x></message>"
    chunks = [HEADER, unit, later, unit]
    encode("c", chunks, exact=exact)  # the C loop has seen HEADER's declarations: it codes such headers itself
    calls = []
    orig = stream.StreamEncoder._unit_c
    monkeypatch.setattr(stream.StreamEncoder, "_unit_c", lambda self, rc, out: calls.append(rc) or orig(self, rc, out))
    c = encode("c", chunks, exact=exact)
    monkeypatch.undo()
    assert c == encode("python", chunks, exact=exact)
    # the header is the C loop's; the element goes to stream.py twice unless settled in C
    assert len(calls) == (0 if settled else 2)
    assert decode("c", c) == decode("python", c)


@pytest.mark.parametrize("unit", [
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' a='1' a='2'>x</auth>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' xmlns='urn:y'>x</auth>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x</auth2>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x]]>y</auth>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\xff</auth>",
    b"<hash xmlns='urn:xmpp:hashes:2'>x</hash >",
])
def test_secret_named_malformed_same_errors(unit):
    """Malformed elements with a secret local name: the same error, offset and
    frames before it as the reference, whichever path takes them."""
    from test_stream import HEADER

    chunks = [HEADER, b"<a/>", unit]
    assert _encode_outcome("c", chunks) == _encode_outcome("python", chunks)


@pytest.mark.parametrize("end", [b"</stream:stream>", b"</stream:stream \n >", b"</stream:streamx>", b"</other>"])
@pytest.mark.parametrize("max_frame", [stream.DEFAULT_MAX_FRAME, 12])
def test_stream_end_tag_in_the_c_loops(end, max_frame, monkeypatch):
    """The end tag of the open stream header: framed by the C encoder loop
    itself (not stream.py) when it is the header's, as the reference frames it
    (empty CLOSE for the plain tag, else its bytes; max_frame checked), with
    ended() set and cleared by the next header; a mismatch is stream.py's
    error. The C decoder loop gives the close event of an empty CLOSE frame."""
    from test_stream import HEADER

    chunks = [HEADER, b"<a/>", end, HEADER, b"<b/>"]
    calls = []
    for cls in (stream.StreamEncoder, stream.StreamDecoder):
        orig = cls._unit_c
        monkeypatch.setattr(cls, "_unit_c", lambda self, rc, out, o=orig: calls.append(rc) or o(self, rc, out))

    def run():
        enc = stream.StreamEncoder(max_frame=max_frame)
        out, ended = [], []
        try:
            for c in chunks:
                out.append(enc.feed(c))
                ended.append(enc.ended)
        except XmppbinError as e:
            return (type(e), e.offset, getattr(e, "limit", None), b"".join(out) + e.frames, ended)
        return (b"".join(out), ended)

    with_backend("c", run)  # the C loops learn HEADER's declarations (its first header is stream.py's)
    calls.clear()
    c = with_backend("c", run)
    header_calls = len(calls)
    py = with_backend("python", run)
    assert c == py
    plain = end in (b"</stream:stream>", b"</stream:stream \n >")
    if plain and max_frame > 20:
        assert c[1] == [False, False, True, False, False]
        assert header_calls == 0  # the headers are coded in the C loop too
        decode("c", c[0])
        calls.clear()
        out = decode("c", c[0])
        # nothing (a CLOSE frame with a payload is stream.py's)
        assert len(calls) == (0 if end == b"</stream:stream>" else 1)
        assert out == decode("python", c[0])
        assert [ev.kind for ev in out[1]] == ["open", "element", "close", "open", "element"]
        assert out[1][2].xml == end


def test_empty_close_frame_without_a_header_same_error():
    """An empty CLOSE frame after an announcing OPEN frame (no stream header
    named): not taken by the C loop; the reference's error."""
    enc = stream.StreamEncoder(in_stream=True)
    frames = enc.feed(b"<a/>") + stream.frame(stream.FRAME_CLOSE, b"")
    out = decode("c", frames)
    assert out == decode("python", frames)
    assert out[0] is not None and out[0] != "ok"


@pytest.mark.parametrize("end", [b"</stream:stream" + b" " * 300 + b">", b"</x y='" + b"q" * 300 + b"'>"])
def test_long_end_tag_same_error_for_any_chunking(end):
    """An end tag longer than max_size (spec 14.1): the splitter's limit error
    at its start + max_size whether it arrives whole or in pieces (it used to
    be the end tag's own error when whole: a fuzz_stream finding), both backends."""
    from test_stream import HEADER

    data = HEADER + b"<a/>" + end + b"<b/>"
    kw = {"max_size": len(HEADER) + 8}
    whole = [data]
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    outcomes = {(name, len(chunks)): _encode_outcome(name, chunks, **kw)
                for name in ("c", "python") for chunks in (whole, pieces)}
    first = outcomes[("c", 1)]
    assert first[0] is EncodeLimitError and first[2] == "max_size"
    assert first[1] == len(HEADER) + 4 + kw["max_size"]
    assert all(o[:3] == first[:3] for o in outcomes.values())
