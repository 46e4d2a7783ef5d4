"""Stream mode (both backends): framing, chunking, dynamic table, secrets, limits."""
from __future__ import annotations

import base64
import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xmppbin
from xmppbin import stream
from xmppbin.dictionary import get_dictionary
from xmppbin.history import History

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE = os.path.join(HERE, "data", "capture-session.jsonl")

HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")


def capture_streams(path: str = CAPTURE) -> dict:
    """The TCP reads of each (conn, dir) of a capture (tools/traffic format)."""
    out: dict = {}
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            c = json.loads(line)
            data = c["data"].encode() if "data" in c else base64.b64decode(c["data_b64"])
            out.setdefault((c["conn"], c["dir"]), []).append(data)
    return out


STREAMS = capture_streams()


def table_strings(coder) -> list[str]:
    """The dynamic table of a StreamEncoder or StreamDecoder, oldest first, from
    the backend that codes it."""
    if coder._c is not None:
        return coder._c.table()
    return [s for s, _size in coder._s.state.hist.entries]


def roundtrip(chunks, exact=True, **kw) -> tuple[bytes, bytes]:
    enc = stream.StreamEncoder(exact=exact, **kw)
    frames = b"".join(enc.feed(c) for c in chunks) + enc.flush()
    dec = stream.StreamDecoder()
    out = b"".join(ev.xml for ev in dec.feed(frames))
    dec.close()
    return frames, out


@pytest.mark.parametrize("key", sorted(STREAMS), ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_capture_roundtrips_with_recorded_chunking(key):
    chunks = STREAMS[key]
    frames, out = roundtrip(chunks)
    assert out == b"".join(chunks)
    # and the decoder accepts the frames one byte at a time
    dec = stream.StreamDecoder()
    out1 = b"".join(ev.xml for i in range(len(frames)) for ev in dec.feed(frames[i : i + 1]))
    dec.close()
    assert out1 == out


@pytest.mark.parametrize("key", sorted(STREAMS)[:2], ids=lambda k: f"conn{k[0]}-{k[1]}")
def test_capture_roundtrips_fed_one_byte_at_a_time(key):
    raw = b"".join(STREAMS[key])
    frames, out = roundtrip([raw[i : i + 1] for i in range(len(raw))])
    assert out == raw
    assert frames == roundtrip([raw])[0]  # the frames do not depend on the chunking


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_capture_roundtrips_with_random_chunking(data):
    key = data.draw(st.sampled_from(sorted(STREAMS)))
    raw = b"".join(STREAMS[key])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=40)))
    chunks = [raw[a:b] for a, b in zip([0] + cuts, cuts + [len(raw)])]
    frames, out = roundtrip(chunks)
    assert out == raw
    # frames cut anywhere decode the same
    fcuts = sorted(data.draw(st.lists(st.integers(0, len(frames)), max_size=40)))
    dec = stream.StreamDecoder()
    out2 = b"".join(ev.xml for a, b in zip([0] + fcuts, fcuts + [len(frames)]) for ev in dec.feed(frames[a:b]))
    dec.close()
    assert out2 == raw


def test_default_mode_keeps_the_infoset_of_every_unit():
    from infoset import infoset

    raw = b"".join(STREAMS[sorted(STREAMS)[1]])
    enc = stream.StreamEncoder(exact=False)
    frames = enc.feed(raw) + enc.flush()
    events = stream.StreamDecoder().feed(frames)
    units = stream.XmlSplitter().feed(raw)
    assert [e.kind for e in events] == [u.kind for u in units]
    ctx = dict(xmppbin.DEFAULT_CONTEXT)
    for e, u in zip(events, units):
        if u.kind == "element":
            assert infoset(e.xml, ctx) == infoset(u.xml, ctx)
        elif u.kind in ("text", "close"):
            assert e.xml == u.xml


def test_stream_is_smaller_than_stateless_and_than_a_zlib_stream():
    """Issue 5: on the real session, stream mode (exact) is at most 0.6 of a
    XEP-0138 zlib stream (default level, Z_SYNC_FLUSH after every unit) and
    smaller than stateless messages. benchmarks/stream_report.py prints the figures."""
    import zlib

    total = {"stream": 0, "stateless": 0, "zlib": 0}
    for chunks in STREAMS.values():
        raw = b"".join(chunks)
        total["stream"] += len(roundtrip(chunks)[0])
        z = zlib.compressobj(6)
        for u in stream.XmlSplitter().feed(raw):
            total["zlib"] += len(z.compress(u.xml)) + len(z.flush(zlib.Z_SYNC_FLUSH))
            if u.kind == "element":
                total["stateless"] += len(xmppbin.encode(u.xml, exact=True)) + 2
            elif u.kind == "open":
                total["stateless"] += len(xmppbin.encode(u.xml, exact=True, open_root=True, context={})) + 2
            else:
                total["stateless"] += len(u.xml) + 1
    assert total["stream"] < total["stateless"] < total["zlib"]
    assert total["stream"] <= 0.6 * total["zlib"]


# ---- dynamic table --------------------------------------------------------------
def test_history_budget_and_eviction():
    h = History(budget=100)
    h.add("a" * 10)  # 42
    h.add("b" * 10)  # 84
    assert h.find("a" * 10) == 1 and h.find("b" * 10) == 0
    h.add("c" * 10)  # 126 > 100: "a..." evicted
    assert h.find("a" * 10) is None and len(h) == 2 and h.size == 84
    h.add("d" * 68)  # exactly 100: everything else evicted
    assert len(h) == 1 and h.size == 100 and h.find("d" * 68) == 0
    h.add("e" * 69)  # 101 > budget: the table empties, nothing inserted
    assert len(h) == 0 and h.size == 0 and h.find("e" * 69) is None


def element_sizes(elements, **kw):
    enc = stream.StreamEncoder(exact=True, **kw)
    out = [enc.open(HEADER)]
    for e in elements:
        out.append(enc.element(e))
    return out


def test_repeated_strings_become_references_until_evicted():
    # a resource without repeated substrings, so that no copy (8.11) shortens its first coding
    jid = "juliet@capulet.example/balcony-" + "".join(chr(0x61 + (i * 7) % 26) + str(i % 10) for i in range(20))
    # INT ids of one bit length, none a value token (1001-1006 are): each costs
    # the same, and none is the last id
    ids = [str(7100 + i) for i in range(4)]
    assert not set(ids) & set(get_dictionary(1).values)
    msgs = [f"<message to='{jid}' id='{i}'/>".encode() for i in ids]
    big = element_sizes(msgs)
    assert len(big[2]) < len(big[1]) - 20  # the JID is a reference the second time
    tiny = element_sizes(msgs, table_size=64)  # the JID does not fit: it is never a reference
    # (tiny[1], the first element, also codes its shape in full; from the third
    # on, the root is the one the previous root's next slot predicts, 14.3)
    assert len(tiny[4]) == len(tiny[3]) and all(len(tiny[k]) >= len(big[k]) + 5 for k in (2, 3, 4))


def test_restart_keeps_the_table_a_new_encoder_starts_empty():
    # a resource without repeated substrings, so that no copy (8.11) shortens its first coding
    jid = "juliet@capulet.example/balcony-" + "".join(chr(0x61 + (i * 7) % 26) + str(i % 10) for i in range(20))
    msg = f"<message to='{jid}'/>".encode()
    enc = stream.StreamEncoder(exact=True)
    open1 = enc.open(HEADER)
    first = enc.element(msg)
    second = enc.element(msg)
    open2 = enc.open(HEADER)  # a restart (14.2): the state carries over
    third = enc.element(msg)
    assert len(second) < len(first) and len(third) <= len(second)
    assert len(open2) < len(open1)
    kinds = []
    for f in (open1, open2):  # the message header's kind, after the frame header and the budget
        _, p = stream.get_varint(f, 0, 4)
        _, q = stream.get_varint(f, p, 3)
        kinds.append(f[q] >> 3 & 3)
    assert kinds == [1, 2]
    fresh = stream.StreamEncoder(exact=True)
    assert fresh.open(HEADER) == open1 and fresh.element(msg) == first
    dec = stream.StreamDecoder()
    assert [e.xml for e in dec.feed(open1 + first + second + open2 + third)] == [HEADER, msg, msg, HEADER, msg]


def test_a_reference_moves_its_entry_to_the_front():
    h = History(budget=1000)
    for x in ("a", "b", "c", "d"):
        h.add(x)
    assert [h.find(x) for x in "abcd"] == [3, 2, 1, 0]
    h.use(3)  # a reference to "a"
    assert [h.find(x) for x in "abcd"] == [0, 3, 2, 1]
    h.add("e" * 900)  # 932 + 33 > 1000: the least recently used ("b", "c") go first
    assert h.find("b") is None and h.find("c") is None and h.find("a") == 1 and h.find("d") == 2
    stateless = History()
    stateless.add("a")
    stateless.add("b")
    stateless.use(1)  # stateless messages keep insertion order
    assert stateless.find("a") == 1


def test_lru_keeps_a_repeated_jid_near_the_front():
    """A JID referenced again and again stays a near reference while many
    other strings pass through the table (FIFO order would push it far back)."""
    own = "romeo@montague.example/orchard"
    msgs = [f"<message to='{own}'><body>line {i:03d} of the balcony scene</body></message>".encode()
            for i in range(40)]
    # different contexts each time, so that SAME does not apply: the JID alternates between to and from
    msgs = [m if i % 2 else m.replace(b"to=", b"from=") for i, m in enumerate(msgs)]
    sizes = [len(f) for f in element_sizes(msgs)[1:]]
    frames = b"".join(element_sizes(msgs))
    assert b"".join(e.xml for e in stream.StreamDecoder().feed(frames)[1:]) == b"".join(msgs)
    assert max(sizes[20:]) <= min(sizes[2:20]) + 1


def test_last_value_of_a_context():
    """A value equal to the last one of its context costs a couple of bits
    (SAME), but only while it is a token or a live table entry."""
    jid = "nurse@capulet.example/chamber"
    m1 = f"<message to='{jid}' type='chat'><body>Anon!</body></message>".encode()
    big = element_sizes([m1, m1])
    assert 2 * len(big[2]) < len(big[1])
    frames = b"".join(big)
    assert [e.xml for e in stream.StreamDecoder().feed(frames)][1:] == [m1, m1]
    # a budget too small for the JID: it is no live entry, so not recallable; the
    # token "chat" and the body are still recalled
    tiny = element_sizes([m1, m1], table_size=40)
    assert len(big[2]) < len(tiny[2]) < len(tiny[1])
    frames = b"".join(tiny)
    assert [e.xml for e in stream.StreamDecoder().feed(frames)][1:] == [m1, m1]


def test_a_secret_never_becomes_a_last_value():
    """A never-indexed value is not coded as SAME and does not become its
    context's last value: the next frame's size does not depend on it."""
    def probe_size(secret):
        enc = stream.StreamEncoder(exact=True, never_index=lambda kind, name, value: name == "{urn:x}pw")
        enc.open(HEADER)
        # the attacker plants the guess in the table (another context), the
        # secret passes, then the attacker's text in the secret's value context
        enc.element("<message><body>guess-0001</body></message>")
        enc.element(f"<message><pw xmlns='urn:x'>{secret}</pw></message>")
        return len(enc.element("<message><note xmlns='urn:x'>guess-0001</note></message>"))

    assert probe_size("guess-0001") == probe_size("other-9999")


def test_repeated_structure_is_predicted():
    """The second stanza of the same structure codes its node symbols as PRED:
    far fewer bits, and it decodes to the same XML."""
    msg = (b"<message type='chat' to='nurse@capulet.example'><body>Anon!</body>"
           b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>")
    other = b"<presence><show>away</show></presence>"
    sizes = [len(f) for f in element_sizes([msg, other, msg, msg])]
    assert sizes[4] < sizes[1] - 10
    frames = b"".join(element_sizes([msg, other, msg, msg]))
    assert [e.xml for e in stream.StreamDecoder().feed(frames)][1:] == [msg, other, msg, msg]


def test_pred_without_a_prediction_is_invalid():
    from xmppbin.bits import BitWriter
    from xmppbin.dictionary import get_dictionary

    d = get_dictionary(1)
    w = BitWriter()
    w.gamma(1)  # no secrets
    w.sym(d.stream_codes["node"][0], d.n_pred)  # the first event of a stream has no prediction
    frames = stream.StreamEncoder(exact=True, in_stream=True).feed(b"<r xmlns='urn:xmpp:sm:3'/>")
    v, p = stream.get_varint(frames, 0, 4)
    head = frames[: p + stream.frame_header(v)[1]]  # the announcing OPEN frame: a fresh state
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        stream.StreamDecoder().feed(head + stream.frame(stream.FRAME_ELEMENT, w.getvalue()))
    assert "PRED" in str(ei.value) and ei.value.offset > len(head)


def test_extend_codes_a_shared_prefix():
    def form(second):
        return (f"<x xmlns='jabber:x:data'><field var='muc#roomconfig_roomname'/>"
                f"<field var='{second}'/></x>").encode()

    shared = element_sizes([form("muc#roomconfig_roomdesc")])
    fresh = element_sizes([form("zmq+qpnvxuyzgr~roomdesc")])
    assert len(shared[1]) <= len(fresh[1]) - 8
    frames = b"".join(shared)
    assert stream.StreamDecoder().feed(frames)[1].xml == form("muc#roomconfig_roomdesc")


def test_extend_never_reaches_a_secret():
    """A secret is not coded as an extension of a public value of its context:
    the size of its frame does not depend on what came before it."""
    def secret_frame(public):
        enc = stream.StreamEncoder(exact=True, never_index=lambda kind, name, value: name == "{urn:x}pw")
        enc.open(HEADER)
        enc.element(f"<message><note xmlns='urn:x'>{public}</note></message>")
        return len(enc.element("<message><pw xmlns='urn:x'>hunter2-xyzzy</pw></message>"))

    assert secret_frame("hunter2-abcde") == secret_frame("qqqqqqq-abcde")


def test_styles_may_change_from_frame_to_frame():
    msgs = [b"<message to='a@b'/>", b'<message to="a@b"/>', b"<message to='a@b' />", b'<message to="a@b"/>']
    frames = b"".join(element_sizes(msgs))
    assert [e.xml for e in stream.StreamDecoder().feed(frames)][1:] == msgs


def test_plain_close_tag_is_an_empty_frame():
    enc = stream.StreamEncoder(exact=True)
    head = enc.open(HEADER)
    plain = enc.close(b"</stream:stream>")
    assert plain == stream.frame(stream.FRAME_CLOSE, b"")
    spaced = enc.close(b"</stream:stream >")
    assert spaced == stream.frame(stream.FRAME_CLOSE, b"</stream:stream >")
    out = [e.xml for e in stream.StreamDecoder().feed(head + plain + spaced)]
    assert out[1:] == [b"</stream:stream>", b"</stream:stream >"]
    with pytest.raises(xmppbin.InvalidDataError):  # no stream header: no qname to stand for
        stream.StreamDecoder().feed(stream.frame(stream.FRAME_CLOSE, b""))


def test_frame_header_types():
    # the low bit says "not ELEMENT", type 0 says ELEMENT: a SHORT frame of 1 to 4
    # bytes (tests/test_stream_short.py)
    assert stream.frame_header(0x81) == (stream.FRAME_SHORT, 0)
    assert stream.frame_header(0x79) == (stream.FRAME_SHORT, 0)
    assert stream.frame_header(0x7E) == (stream.FRAME_ELEMENT, 63)
    assert stream.frame_header(3 << 3 | stream.FRAME_OPEN << 1 | 1) == (stream.FRAME_OPEN, 3)


def test_table_budget_limit_on_decode():
    frames = stream.StreamEncoder(table_size=4096).open(HEADER)
    assert stream.StreamDecoder(max_table_size=4096).feed(frames)
    with pytest.raises(xmppbin.DecodeLimitError) as ei:
        stream.StreamDecoder(max_table_size=4095).feed(frames)
    assert ei.value.limit == "max_table_size"
    with pytest.raises(ValueError):
        stream.StreamEncoder(table_size=stream.MAX_TABLE_SIZE + 1)


# ---- secrets -------------------------------------------------------------------------
SASL = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-EXAMPLE-MECH'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"


def test_sasl_payload_never_enters_the_table():
    enc = stream.StreamEncoder(exact=True)
    enc.open(HEADER)
    enc.element(SASL)
    entries = table_strings(enc)
    assert "AGp1bGlldAByMG0zMG15cjBtMzA=" not in entries
    assert "X-EXAMPLE-MECH" in entries  # attribute values are indexed as usual
    # the same string later in the stream is not a reference to the secret
    probe = b"<message><body>AGp1bGlldAByMG0zMG15cjBtMzA=</body></message>"
    with_secret = enc.element(probe)
    enc2 = stream.StreamEncoder(exact=True)
    enc2.open(HEADER)
    enc2.element(SASL.replace(b"AGp1bGlldAByMG0zMG15cjBtMzA=", b"AGZvbwBiYXJiYXpxdXV4cXV1eHF1dXg="))
    assert len(enc2.element(probe)) == len(with_secret)


@pytest.mark.parametrize("guess_right", [True, False])
def test_crime_probe_sees_no_size_difference(guess_right):
    """An attacker who controls text in the stream and sees frame sizes learns
    nothing about a never-indexed secret: each guess costs the same whether or
    not the secret equals it."""
    secret = "s3cr3t-passw0rd-42"
    guess = secret if guess_right else "s3cr3t-passw0rd-43"
    sizes = []
    for actual in (secret, "xxxxxx-xxxxxxx-xx"):
        enc = stream.StreamEncoder(exact=True)
        enc.open(HEADER)
        enc.element(f"<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>juliet</username>"
                    f"<password>{actual}</password></query></iq>")
        sizes.append(len(enc.element(f"<message><body>{guess}</body></message>")))
    assert sizes[0] == sizes[1]


def test_caller_marked_values_are_never_indexed():
    token = "tok-" + "z" * 30
    xml = f"<x xmlns='urn:x' authtoken='{token}' other='{token}'/>"
    enc = stream.StreamEncoder(exact=True, never_index=lambda kind, name, value: name == "authtoken")
    frames = enc.open(HEADER) + enc.element(xml)
    entries = table_strings(enc)
    assert entries.count(token) == 1  # only the unmarked attribute's copy
    frames += enc.element(xml)
    out = b"".join(e.xml for e in stream.StreamDecoder().feed(frames))
    assert out == HEADER + xml.encode() * 2


@pytest.mark.parametrize("second, symbol", [
    (b"<message><body>abcdefgh-1234</body></message>", "reference"),  # another context: a table reference
    (b"<message id='abcdefgh-1234'><body>y</body></message>", "RECENT"),  # the id context's last value
])
def test_decoder_rejects_a_reference_for_a_secret(second, symbol):
    """A frame that marks a value never-indexed but codes it as a reference
    (REF, or RECENT: one of its context's recent values) is invalid."""
    from xmppbin.bits import BitReader, BitWriter

    enc = stream.StreamEncoder(exact=True)
    head = enc.open(HEADER) + enc.element(b"<message id='abcdefgh-1234'><body>x</body></message>")
    msg = enc.element(second)  # its first value (ordinal 0) is now coded by reference
    _v, p = stream.get_varint(msg, 0, 4)
    payload = msg[p:]
    r = BitReader(payload, 0)
    assert r.gamma() == 1  # the frame marks no secret
    rest = len(payload) * 8 - r.pos
    w = BitWriter()
    w.gamma(2)  # one secret ...
    w.gamma(1)  # ... ordinal 0
    w.write(int.from_bytes(payload, "big") & ((1 << rest) - 1), rest)
    dec = stream.StreamDecoder()
    dec.feed(head)
    good = stream.StreamDecoder()
    assert good.feed(head + msg)[-1].xml == second
    with pytest.raises(xmppbin.InvalidDataError) as ei:
        dec.feed(stream.frame(stream.FRAME_ELEMENT, w.getvalue()))
    assert symbol in str(ei.value)


# ---- framing, errors, limits ----------------------------------------------------------
def test_truncated_or_corrupted_streams_fail_cleanly():
    chunks = STREAMS[sorted(STREAMS)[0]]
    frames, _ = roundtrip(chunks)
    boundaries = {0}
    pos = 0
    while pos < len(frames):
        v, p = stream.get_varint(frames, pos, 4)
        pos = p + stream.frame_header(v)[1]
        boundaries.add(pos)
    cuts = sorted(set(range(0, len(frames), max(1, len(frames) // 300))) | set(list(boundaries)[:50]))
    for cut in cuts:
        dec = stream.StreamDecoder()
        try:
            dec.feed(frames[:cut])
            dec.close()
        except xmppbin.TruncatedError as e:
            assert cut not in boundaries and e.offset == cut
        else:
            assert cut in boundaries  # only a cut between frames is a complete stream prefix
    rnd = random.Random(7)
    errors = 0
    for _ in range(300):
        b = bytearray(frames)
        i = rnd.randrange(len(b))
        b[i] ^= 1 << rnd.randrange(8)
        dec = stream.StreamDecoder()
        try:
            dec.feed(bytes(b))
            dec.close()
        except xmppbin.DecodeError as e:
            assert 0 <= e.offset <= len(b)
            errors += 1
    assert errors > 50


def test_truncation_offsets_and_messages():
    frames = stream.StreamEncoder().open(HEADER)
    dec = stream.StreamDecoder()
    assert dec.feed(frames[:-1]) == []
    with pytest.raises(xmppbin.TruncatedError) as ei:
        dec.close()
    assert ei.value.offset == len(frames) - 1


def test_max_frame_limit():
    enc = stream.StreamEncoder()
    frames = enc.open(HEADER) + enc.element(b"<message><body>" + b"q" * 500 + b"</body></message>")
    sizes = []
    pos = 0
    while pos < len(frames):
        v, p = stream.get_varint(frames, pos, 4)
        sizes.append(stream.frame_header(v)[1])
        pos = p + stream.frame_header(v)[1]
    n = max(sizes)
    stream.StreamDecoder(max_frame=n).feed(frames)
    with pytest.raises(xmppbin.DecodeLimitError) as ei:
        stream.StreamDecoder(max_frame=n - 1).feed(frames)
    assert ei.value.limit == "max_frame"
    with pytest.raises(xmppbin.EncodeLimitError):
        e2 = stream.StreamEncoder(max_frame=n - 1)
        e2.open(HEADER)
        e2.element(b"<message><body>" + b"q" * 500 + b"</body></message>")


def test_stanza_size_limit_in_the_splitter():
    body = b"<message><body>" + b"w" * 100 + b"</body></message>"
    n = len(body)
    enc = stream.StreamEncoder(max_size=n)
    assert enc.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + body)
    enc2 = stream.StreamEncoder(max_size=n - 1)
    with pytest.raises(xmppbin.EncodeLimitError):
        enc2.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + body)


def test_element_before_open_is_announced_and_required():
    enc = stream.StreamEncoder(exact=True, in_stream=True)
    frames = enc.feed(b"<r xmlns='urn:xmpp:sm:3'/> <a xmlns='urn:xmpp:sm:3' h='1'/>")
    out = b"".join(e.xml for e in stream.StreamDecoder().feed(frames))
    assert out == b"<r xmlns='urn:xmpp:sm:3'/> <a xmlns='urn:xmpp:sm:3' h='1'/>"
    assert stream.frame_header(stream.get_varint(frames, 0, 4)[0])[0] == stream.FRAME_OPEN
    elem = stream.frame(stream.FRAME_ELEMENT, b"\x80")
    with pytest.raises(xmppbin.InvalidDataError):
        stream.StreamDecoder().feed(elem)


def test_restart_after_sasl_and_close():
    raw = (HEADER + b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth>"
           + b"<?xml version='1.0'?>" + HEADER[len(b"<?xml version='1.0'?>"):] + b" <presence/></stream:stream>")
    frames, out = roundtrip([raw])
    assert out == raw
    kinds = [e.kind for e in stream.StreamDecoder().feed(frames)]
    assert kinds == ["open", "element", "open", "text", "element", "close"]


def test_splitter_resumes_instead_of_rescanning():
    """A large element fed in small chunks is scanned once: after every feed the
    splitter's resume point has reached the last '<' it has seen, so no byte is
    looked at again by a later feed (linear time for any chunking)."""
    big = b"<message><body>" + b"QUJD" * 2000 + b"<b/></body></message>"
    head = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    sp = stream.XmlSplitter()
    units = sp.feed(head)
    for i in range(0, len(big), 7):
        units += sp.feed(big[i : i + 7])
        if len(units) == 1:
            assert sp._resume[0] >= bytes(sp.buf).rfind(b"<")
    assert [u.kind for u in units] == ["open", "element"] and units[1].xml == big
