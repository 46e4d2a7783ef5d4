"""Stream headers coded in the C feed loops (csrc/frame.c: open_unit for the
encoder's header units, open_frame for the decoder's OPEN frames) against the
same C objects with the loops' header set removed (``set_headers(None)``:
every header goes to stream.py, as before the loops coded them) and against
the pure-Python reference: the same frames and events, the same Python state
after every call (context, stream name, opened/ended, exact, footprint), the
same errors (class, reason, offset, limit, the frames/events before the error,
the failed object staying failed), for any chunking. Also: the Python path is
not taken for headers whose declarations the loops know (the capture's); a
restart (spec 14.2) whose declarations the decoder's loop does not know is
decoded there, with the state kept, and only its context is learnt in
stream.py (_restarted), never a second decoding.
"""
from __future__ import annotations

import itertools

import pytest
from conftest import require, with_backend
from test_stream import HEADER, STREAMS

from xmppbin import model as M
from xmppbin import stream
from xmppbin.errors import XmppbinError

SINGLE_BACKEND = True  # the C backend, compared with the reference explicitly
pytestmark = pytest.mark.usefixtures("c_backend")

require("_xmppbin_c")

STREAM_NS = "http://etherx.jabber.org/streams"
STANZA = b"<message to='a@b/c' id='%d' type='chat'><body>hello %d</body></message>"
SASL = (b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"
        b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")

HEADERS = {
    "c2s-decl": HEADER,
    "s2s": (b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
            b"xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>"),
    "prefix": (b"<?xml version='1.0' encoding='UTF-8'?>\n <s:stream xmlns:s=\"http://etherx.jabber.org/streams\""
               b" xmlns=\"jabber:client\" to = 'x' >"),
    "default-ns-root": b"<stream xmlns='http://etherx.jabber.org/streams' to='\xc3\xa9.example' version='1.0'>",
    "no-default-ns": b"<?xml version='1.0'?>\n\n<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
    "reference": (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                  b" to='a&amp;b'>"),  # always stream.py's: the loop reads no references
    "tab-value": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a\tb'>",
    "non-ascii-name": b"<str\xc3\xa9am xmlns='urn:x'>",  # its end tag stays stream.py's
}
END = {"prefix": b"</s:stream>", "default-ns-root": b"</stream>", "non-ascii-name": "</stré am>".replace(" ", "")
       .encode()}

# headers the C coder rejects once the loop takes them (their declarations are known)
BAD_HEADERS = {
    "undeclared-prefix": b"<foo:stream xmlns='jabber:client'>",
    "duplicate": (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                  b" a='1' a='2'>"),
    "bad-char": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' a='\x01'>",
    "xmlns-prefix": b"<xmlns:stream xmlns:stream='http://etherx.jabber.org/streams'>",
}



def session(name: str) -> list[bytes]:
    """A direction: header, SASL, the header again (restart), stanzas, end tag."""
    h = HEADERS[name]
    end = END.get(name, b"</stream:stream>")
    return [h, SASL, b" ", h, STANZA % (1, 1), b"\n", STANZA % (2, 2), end]


def c_obj(cls, headers: bool, **kw):
    obj = cls(**kw)
    assert obj._feeder is not None
    if not headers:
        obj._feeder.set_headers(None)
    return obj


def key(e: BaseException):
    return (type(e), e.reason, e.offset, getattr(e, "limit", None))  # type: ignore[attr-defined]


def enc_state(enc) -> tuple:
    s = enc._s
    return (dict(s.context), s.stream_qname, enc.opened, enc.ended, s.exact, enc.footprint())


def dec_state(dec) -> tuple:
    s = dec._s
    return (dict(s.context), s.stream_qname, dec._opened, s.exact, s.dictionary.id, dec.footprint())


def run_encoder(enc, chunks, state=True):
    """[(frames or error, state)] per chunk, then flush; stops at an error
    after checking that the failed encoder stays failed."""
    out = []
    for c in [*chunks, None]:
        try:
            r = enc.feed(c) if c is not None else enc.flush()
        except XmppbinError as e:
            out.append((key(e), e.frames))
            with pytest.raises(type(e)) as again:
                enc.feed(b" ")
            assert key(again.value) == key(e) and again.value.frames == b""
            return out
        out.append((r, enc_state(enc) if state else None))
    return out


def run_decoder(dec, pieces, state=True):
    out = []
    for p in pieces:
        try:
            r = dec.feed(p)
        except XmppbinError as e:
            out.append((key(e), e.events))
            with pytest.raises(type(e)) as again:
                dec.feed(b"\x00")
            assert key(again.value) == key(e) and again.value.events == []
            return out
        out.append((r, dec_state(dec) if state else None))
    return out


def reference(fn):
    return with_backend("python", fn)


@pytest.mark.parametrize("exact", [False, True], ids=["default", "exact"])
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_headers_as_stream_py_codes_them(name, exact, monkeypatch):
    chunks = session(name)
    run_encoder(c_obj(stream.StreamEncoder, True, exact=exact), chunks)  # the loops learn the declarations
    frames_c = b"".join(r for r, _ in run_encoder(c_obj(stream.StreamEncoder, True, exact=exact), chunks))
    calls: list = []
    orig_open, orig_frame = stream.StreamEncoder._open, stream.StreamDecoder._frame
    monkeypatch.setattr(stream.StreamEncoder, "_open", lambda self, x: calls.append("open") or orig_open(self, x))
    monkeypatch.setattr(stream.StreamDecoder, "_frame",
                        lambda self, k, p: calls.append(k) or orig_frame(self, k, p))
    with_c = run_encoder(c_obj(stream.StreamEncoder, True, exact=exact), chunks)
    taken = list(calls)
    without = run_encoder(c_obj(stream.StreamEncoder, False, exact=exact), chunks)
    assert with_c == without
    frames = b"".join(r for r, _ in with_c)
    assert frames == frames_c == reference(lambda: b"".join(
        r for r, _ in run_encoder(stream.StreamEncoder(exact=exact), chunks, state=False)))
    # one byte at a time, with the loop
    enc = c_obj(stream.StreamEncoder, True, exact=exact)
    assert b"".join(enc.feed(bytes([b])) for b in b"".join(chunks)) + enc.flush() == frames
    c_readable = name not in ("reference", "tab-value", "non-ascii-name")
    assert taken == ([] if c_readable else ["open", "open"])

    stream.StreamDecoder().feed(frames)  # the decoder loop learns the declarations
    calls.clear()
    relearn = []
    orig_restarted = stream.StreamDecoder._restarted
    monkeypatch.setattr(stream.StreamDecoder, "_restarted",
                        lambda self, x: relearn.append(x) or orig_restarted(self, x))
    pieces = [frames[:len(frames) // 3], frames[len(frames) // 3:]]
    with_c = run_decoder(c_obj(stream.StreamDecoder, True), pieces)
    taken, relearnt = list(calls), len(relearn)
    assert with_c == run_decoder(c_obj(stream.StreamDecoder, False), pieces)
    events = [ev for r, _ in with_c for ev in r]
    assert events == reference(lambda: stream.StreamDecoder().feed(frames))
    if exact:
        assert b"".join(ev.xml for ev in events) == b"".join(chunks)
    dec = c_obj(stream.StreamDecoder, True)
    assert [ev for b in frames for ev in dec.feed(bytes([b]))] == events
    dec = c_obj(stream.StreamDecoder, True)
    dec._cfeed = None  # the cffi path of the loop (no C-API entry), restarts included
    assert [ev for p in pieces for ev in dec.feed(p)] == events
    # the decoder reads the decoded header (a tab in a value is a space unless
    # exact); a reference in a value is stream.py's, but for the restart, which
    # the loop decodes (stream.py learns its context from the decoded XML)
    if name == "reference" or (name == "tab-value" and exact):
        assert taken.count(stream.FRAME_OPEN) == 1 and relearnt == 1
    else:
        assert stream.FRAME_OPEN not in taken and relearnt == 0


def test_capture_headers_in_the_c_loops(monkeypatch):
    """Every stream header of the committed capture (16: two per direction, the
    second a restart) is coded and decoded in the C loops once they know its
    declarations."""
    frames = {}
    for k, chunks in STREAMS.items():  # learn
        enc = stream.StreamEncoder()
        frames[k] = b"".join(enc.feed(c) for c in chunks) + enc.flush()
        stream.StreamDecoder().feed(frames[k])
    calls: list = []
    dcalls: list = []
    orig_unit_e, orig_unit_d = stream.StreamEncoder._unit_c, stream.StreamDecoder._unit_c
    monkeypatch.setattr(stream.StreamEncoder, "_unit_c",
                        lambda self, rc, out: calls.append(self._feeder._res.kind) or orig_unit_e(self, rc, out))
    monkeypatch.setattr(stream.StreamDecoder, "_unit_c",
                        lambda self, rc, out: dcalls.append(self._feeder._res.kind) or orig_unit_d(self, rc, out))
    synced = []
    orig_sync = stream.StreamEncoder._header_c
    monkeypatch.setattr(stream.StreamEncoder, "_header_c", lambda self: synced.append(1) or orig_sync(self))
    headers = 0
    for k, chunks in STREAMS.items():
        enc = stream.StreamEncoder()
        assert b"".join(enc.feed(c) for c in chunks) + enc.flush() == frames[k]
        evs = stream.StreamDecoder().feed(frames[k])
        headers += sum(ev.kind == "open" for ev in evs)
        assert enc._s.stream_qname == "stream:stream" and enc._s.context[""] == "jabber:client"
    assert headers == 16 and len(synced) == 16
    assert stream.FRAME_OPEN not in calls + dcalls  # no header left to stream.py


def open_frame(payload: bytes) -> bytes:
    return stream.frame(stream.FRAME_OPEN, payload)


def header_payload(exact=False) -> bytes:
    enc = stream.StreamEncoder(exact=exact)
    f = enc.feed(HEADER)
    assert f[0] & 7 == 2 * stream.FRAME_OPEN + 1
    v, p = stream.get_varint(f, 0, 4)
    return f[p:]


def bad_open_frames() -> dict:
    good = header_payload()
    body = good[4:]  # budget varint (the default, 32768): 3 bytes, then the 1-byte message header
    assert good[:3] == stream.put_varint(stream.DEFAULT_TABLE_SIZE) == stream.put_varint(32768)
    head = good[3:4]
    assert head[0] & 3 == 1  # dictionary 1 in the header's own byte
    long = head[0] & 0xFC  # the first byte of a two-byte header
    restart = head[0] & ~(3 << 3) | 2 << 3
    return {
        "empty": b"",
        "varint-truncated": b"\x80",
        "varint-truncated-2": b"\x80\x80",
        "varint-long": b"\x80\x80\x80\x01",
        "varint-non-minimal": b"\x80\x00" + head,
        "budget-over": stream.put_varint(stream.MAX_TABLE_SIZE + 1) + head,
        "no-header": stream.put_varint(100),
        "half-header": stream.put_varint(100) + bytes([long]),
        "version-0": b"\x00" + bytes([head[0] & 0x1F]),
        "version-2": b"\x00" + bytes([0x40 | (head[0] & 0x1F)]),
        "kind-2": b"\x00" + bytes([restart]),  # a restart with another budget
        "kind-2-exact": good[:3] + bytes([restart | 4]) + good[4:],  # ... another mode
        "kind-2-dictionary-2": good[:3] + bytes([restart & 0xFC | 2]) + good[4:],
        "kind-3": b"\x00" + bytes([head[0] | 3 << 3]),
        "dictionary-0": b"\x00" + bytes([long, 0]),
        "dictionary-1-long": b"\x00" + bytes([long, 1]),
        "dictionary-3-long": good[:3] + bytes([long, 3]) + good[4:],
        "dictionary-2": b"\x00" + bytes([long | 2]),
        "dictionary-200": b"\x00" + bytes([long, 200]),
        "announce-body": b"\x00" + bytes([head[0] & ~(3 << 3)]) + b"x",
        "body-truncated": good[:3] + head + good[4:-3],
        "body-garbage": good[:3] + head + good[4:] + b"\xff\xff",
        "body-empty": good[:3] + head,
        "exact-body-mismatch": good[:3] + bytes([head[0] | 4]) + good[4:],
        "body-only-junk": good[:3] + head + b"\x00" + body[:1],
    }


def results(outcome) -> list:
    """run_decoder's outcome without the states (for the reference)."""
    return [r if isinstance(r, list) else (r, x) for r, x in outcome]


@pytest.mark.parametrize("name", sorted(bad_open_frames()))
def test_bad_open_frames(name):
    """An OPEN frame after a good stream, mostly bad: the same events before
    the error (carried on it), the same error, for both paths and the
    reference, whole and one byte at a time."""
    good = HEADER, STANZA % (1, 1)
    head = b"".join(stream.StreamEncoder().feed(c) for c in good)
    data = head + open_frame(bad_open_frames()[name]) + stream.frame(stream.FRAME_ELEMENT, b"\x00")
    stream.StreamDecoder().feed(head)  # the loops know HEADER
    outcome = run_decoder(c_obj(stream.StreamDecoder, True), [data])
    assert outcome == run_decoder(c_obj(stream.StreamDecoder, False), [data])
    assert results(outcome) == reference(lambda: results(run_decoder(stream.StreamDecoder(), [data], state=False)))
    bytewise = [data[i:i + 1] for i in range(len(data))]
    one = run_decoder(c_obj(stream.StreamDecoder, True), bytewise)
    assert one == run_decoder(c_obj(stream.StreamDecoder, False), bytewise)
    err, events = outcome[-1]
    assert isinstance(err, tuple)  # every case fails (the last frame at the latest)
    assert one[-1][0] == err
    assert [ev for r, _ in one[:-1] for ev in r] + one[-1][1] == events


def test_bad_open_frame_errors_are_the_references():
    """Spot checks of the reasons and offsets (payload at offset 1)."""
    cases = {
        "varint-long": ("InvalidDataError", "varint longer than 3 bytes", 0),
        "budget-over": ("DecodeLimitError", f"table budget {stream.MAX_TABLE_SIZE + 1} exceeds max_table_size="
                        f"{stream.MAX_TABLE_SIZE}", 0),
        "version-2": ("UnknownDictionaryError", "unsupported format version 2", 1),
        # (alone: no OPEN frame before them)
        "kind-2": ("InvalidDataError", "a restart before the stream's open frame", 1),
        "kind-2-exact": ("InvalidDataError", "a restart before the stream's open frame", 3),
        "dictionary-2": ("UnknownDictionaryError", "unknown dictionary id 2", 1),
        "dictionary-200": ("UnknownDictionaryError", "unknown dictionary id 200", 2),
        "dictionary-1-long": ("InvalidDataError", "dictionary id 1 in a two-byte header", 2),
        "dictionary-3-long": ("InvalidDataError", "dictionary id 3 in a two-byte header", 4),
        "kind-3": ("InvalidDataError", "invalid message header in an open frame", 1),
        "announce-body": ("InvalidDataError", "an announcing open frame has no body", 2),
        "no-header": ("TruncatedError", "frame is truncated", 1),
        "half-header": ("TruncatedError", "frame is truncated", 2),
        # errors in the header's body: offsets from the stream's start (14.5),
        # not from the payload's (the body follows the budget and the message header)
        "body-truncated": ("TruncatedError", "message is truncated", len(bad_open_frames()["body-truncated"])),
        "body-garbage": ("TrailingDataError", "2 bytes after the end of the message",
                         len(bad_open_frames()["body-garbage"]) - 2),
    }
    frames = bad_open_frames()
    for name, (cls, reason, off) in cases.items():
        data = open_frame(frames[name])
        start = len(data) - len(frames[name])
        for headers in (True, False):
            with pytest.raises(XmppbinError) as e:
                c_obj(stream.StreamDecoder, headers).feed(data)
            assert (type(e.value).__name__, e.value.reason, e.value.offset) == (cls, reason, start + off), name


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
def test_bad_headers_with_known_declarations(name):
    """A header whose declarations the loop knows but which the C coder
    rejects: the error of stream.py's path (and the reference's), with the
    frames before it."""
    bad = BAD_HEADERS[name]
    # teach the loop the declarations of the bad header with a good one
    good = {
        "undeclared-prefix": b"<stream xmlns='jabber:client'>",
        "duplicate": HEADER,
        "bad-char": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
        "xmlns-prefix": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
    }[name]
    stream.StreamEncoder().feed(good)
    chunks = [HEADER, STANZA % (1, 1), b"</stream:stream>" + bad]
    outcome = run_encoder(c_obj(stream.StreamEncoder, True), chunks)
    assert isinstance(outcome[-1][0], tuple)  # an error
    assert outcome == run_encoder(c_obj(stream.StreamEncoder, False), chunks)
    assert outcome[-1] == reference(lambda: run_encoder(stream.StreamEncoder(), chunks, state=False))[-1]


@pytest.mark.parametrize("budget_delta", [0, 1])
@pytest.mark.parametrize("limit", [0, 100, 16384, stream.MAX_OPEN_BUDGET - 1])
def test_max_table_size_limit(limit, budget_delta):
    """An OPEN frame's budget N is accepted with max_table_size=N, N+1 rejected
    (DecodeLimitError at the payload's offset), announcement and header alike."""
    from xmppbin.errors import DecodeLimitError

    budget = limit + budget_delta
    datas = [open_frame(stream.put_varint(budget) + M.header(M.KIND_ELEMENT, False, 1))]  # an announcement
    if budget <= stream.MAX_TABLE_SIZE:  # a stream header coded with this budget
        datas.append(stream.StreamEncoder(table_size=budget).feed(HEADER))
    stream.StreamDecoder().feed(stream.StreamEncoder().feed(HEADER))  # the loops know HEADER
    for data in datas:
        at = stream.get_varint(data, 0, 4)[1]
        outs = []
        for headers in (True, False):
            dec = c_obj(stream.StreamDecoder, headers, max_table_size=limit)
            try:
                outs.append(("ok", dec.feed(data), dec_state(dec)))
            except XmppbinError as e:
                outs.append(("err", key(e)))
        assert outs[0] == outs[1]
        if budget_delta:
            assert outs[0] == ("err", (DecodeLimitError, f"table budget {budget} exceeds max_table_size={limit}",
                                       at, "max_table_size"))
        else:
            assert outs[0][0] == "ok" and [ev.kind for ev in outs[0][1]] == ["open"] * (data is datas[-1]
                                                                                        and len(datas) == 2)


def test_new_declarations_after_decoding_go_to_stream_py():
    """An OPEN frame whose declarations the decoder loop does not know yet: it
    decodes the header, cannot name its context, and leaves the frame to
    stream.py, which decodes it again; the next such frame is the loop's."""
    import uuid

    h = (b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='urn:test:%s'>"
         % uuid.uuid4().hex.encode())
    frames = reference(lambda: stream.StreamEncoder().feed(h + STANZA % (1, 1)))
    outs = [run_decoder(c_obj(stream.StreamDecoder, headers), [frames]) for headers in (True, True, False)]
    assert outs[0] == outs[1] == outs[2]
    assert [ev.kind for ev in outs[0][0][0]] == ["open", "element"]


def test_state_after_each_feed_in_pieces():
    """The Python state read after each feed (the header split anywhere) is
    the same with the loop's headers as with stream.py's."""
    chunks = session("s2s")
    data = b"".join(chunks)
    run_encoder(stream.StreamEncoder(), chunks)
    for cut in range(0, len(data), 17):
        pieces = [data[:cut], data[cut:]]
        assert run_encoder(c_obj(stream.StreamEncoder, True), pieces) == run_encoder(
            c_obj(stream.StreamEncoder, False), pieces)
    enc = stream.StreamEncoder()
    frames = b"".join(enc.feed(c) for c in chunks)
    for a, b in itertools.combinations(range(0, len(frames), 23), 2):
        pieces = [frames[:a], frames[a:b], frames[b:]]
        assert run_decoder(c_obj(stream.StreamDecoder, True), pieces) == run_decoder(
            c_obj(stream.StreamDecoder, False), pieces)


def test_allow_comments_change_follows_to_headers():
    """allow_comments changed after construction: the header options change with it."""
    h = b"<!-- c --><stream:stream xmlns:stream='http://etherx.jabber.org/streams'><!-- x --><a/>"
    outs = []
    for headers in (True, False):
        enc = c_obj(stream.StreamEncoder, headers)
        enc.feed(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>")
        enc.allow_comments = True
        outs.append(run_encoder(enc, [b"</stream:stream>", h, b"</stream:stream>"]))
    assert outs[0] == outs[1]


def test_max_table_size_changed_after_construction():
    """StreamDecoder.max_table_size set later applies to the C loop's OPEN frames too."""
    data = stream.StreamEncoder(table_size=1000).feed(HEADER)
    stream.StreamDecoder().feed(data)  # the loops know HEADER
    for headers in (True, False):
        dec = c_obj(stream.StreamDecoder, headers)
        dec.max_table_size = 999
        with pytest.raises(XmppbinError) as e:
            dec.feed(data)
        assert e.value.reason == "table budget 1000 exceeds max_table_size=999"
        dec = c_obj(stream.StreamDecoder, headers, max_table_size=999)
        dec.max_table_size = 1000
        assert [ev.kind for ev in dec.feed(data)] == ["open"]


def test_headers_learned_in_threads():
    """Encoders in several threads, each stream with declarations of its own
    (learned by the shared header set while the others code): every stream's
    frames are the reference's, and each header's context is its own."""
    import threading
    import uuid

    tag = uuid.uuid4().hex
    streams = [[f"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='urn:{tag}:{i}'>".encode(),
                b"<message xmlns:x='urn:x'><x:body>%d</x:body></message>" % i, b"<iq id='%d'/>" % i,
                b"</stream:stream>"] * 3 for i in range(16)]

    def encode_all(chunks):
        enc = stream.StreamEncoder()
        return b"".join(enc.feed(c) for c in chunks) + enc.flush(), enc._s.context[""]

    want = reference(lambda: [encode_all(chunks) for chunks in streams])
    got: list = [None] * len(streams)

    def work(i):
        for _ in range(3):
            got[i] = encode_all(streams[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want
    assert [c for _, c in got] == [f"urn:{tag}:{i}" for i in range(len(streams))]
