"""Every bad input raises a precise xmppbin error (a ValueError) with a byte offset."""
from __future__ import annotations

import pickle
import random

import pytest

import xmppbin

MESSAGES = [
    "<r xmlns='urn:xmpp:sm:3'/>",
    "<message from='juliet@capulet.lit/balcony' to='romeo@montague.lit' type='chat' id='5a6f1d32-8c0e-4c89-b6b9-"
    "1b9c3f0e2d7a'><body>Wherefore art thou, Romeo? \U0001f600</body><active xmlns='http://jabber.org/protocol/"
    "chatstates'/></message>",
    "<iq type='result' id='d1'>\n  <query xmlns='http://jabber.org/protocol/disco#info'>\n"
    "    <identity category='server' type='im'/>\n    <feature var='urn:xmpp:ping'/>\n  </query>\n</iq>",
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a.example' "
    "version='1.0'>",
    "<data xmlns='urn:xmpp:bob'>iVBORw0KGgoAAAANSUhEUgAAAAoAAAAKCAYAAACNMs+9AAAABGdBTUEAALGP</data>",
]


def encoded():
    for xml in MESSAGES:
        for exact in (False, True):
            yield xml, exact, xmppbin.encode(xml, exact=exact)


@pytest.mark.parametrize("xml,exact,data", list(encoded()))
def test_truncation_at_every_offset(xml, exact, data):
    assert xmppbin.decode(data) == (xml.encode() if exact else xmppbin.decode(data))
    for k in range(len(data)):
        with pytest.raises(xmppbin.TruncatedError) as ei:
            xmppbin.decode(data[:k])
        assert ei.value.offset == k


@pytest.mark.parametrize("xml,exact,data", list(encoded()))
def test_trailing_bytes(xml, exact, data):
    for extra in (b"\x00", b"\xff", data):
        with pytest.raises(xmppbin.TrailingDataError) as ei:
            xmppbin.decode(data + extra)
        assert ei.value.offset == len(data)


def used_bits(xml: str, exact: bool) -> int:
    """Number of bits of the message body, from the reference encoder's bit writer."""
    from xmppbin import encoder
    from xmppbin.bits import BitWriter
    from xmppbin.dictionary import get_dictionary
    from xmppbin.limits import DEFAULT_LIMITS
    from xmppbin.xmlscan import scan

    w = BitWriter()
    encoder.encode_events(scan(xml, DEFAULT_LIMITS, exact=exact), get_dictionary(1), exact, w)
    return w.nbits


def test_nonzero_padding_is_trailing_data():
    found = 0
    for xml, exact, data in encoded():
        pad = 8 * (len(data) - 1) - used_bits(xml, exact)  # after the one-byte header of dictionary 1
        assert 0 <= pad < 8
        for k in range(pad):
            with pytest.raises(xmppbin.TrailingDataError) as ei:
                xmppbin.decode(data[:-1] + bytes([data[-1] | (1 << k)]))
            assert ei.value.offset == len(data) - 1
            found += 1
    assert found


def test_random_corruption_never_crashes():
    """Flipped bits give a valid message or an xmppbin error, never another exception or a hang."""
    rnd = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    for _xml, _exact, data in encoded():
        for _ in range(300):
            b = bytearray(data)
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(1, len(b))  # after the one-byte header
                b[i] ^= 1 << rnd.randrange(8)
            try:
                xmppbin.decode(bytes(b), allow_comments=True)
                outcomes["ok"] += 1
            except xmppbin.DecodeError as e:
                assert 0 <= e.offset <= len(b)
                outcomes["error"] += 1
    assert outcomes["error"] > 100


def test_errors_are_value_errors_with_offsets_and_pickle():
    with pytest.raises(ValueError):
        xmppbin.decode(b"")
    e = xmppbin.TruncatedError("message is truncated", 7)
    assert "byte 7" in str(e) and e.offset == 7
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is xmppbin.TruncatedError and e2.offset == 7
    lim = pickle.loads(pickle.dumps(xmppbin.EncodeLimitError("too deep", 3, "max_depth")))
    assert lim.limit == "max_depth" and lim.offset == 3


@pytest.mark.parametrize(
    "xml,cls,offset",
    [
        (b"<a>\xe2\x82</a>", xmppbin.MalformedXMLError, 3),  # truncated UTF-8 sequence
        (b"<a>\xed\xa0\x80</a>", xmppbin.MalformedXMLError, 3),  # encoded surrogate
        ("<a>\ufffe</a>", xmppbin.MalformedXMLError, 3),
        ("<a>\u00e9\x0b</a>", xmppbin.MalformedXMLError, 5),  # offset counts UTF-8 bytes
        ("<a b='1'c='2'/>", xmppbin.MalformedXMLError, 8),
        ("<a b=1/>", xmppbin.MalformedXMLError, 3),
        ("<a xmlns:xmlns='urn:x'/>", xmppbin.MalformedXMLError, 3),
        ("<a xmlns:xml='urn:x'/>", xmppbin.MalformedXMLError, 3),
        ("<a xmlns:p=''/>", xmppbin.MalformedXMLError, 3),
        ("<xmlns:a/>", xmppbin.MalformedXMLError, 0),
        ("<a><!-- a -- b --></a>", xmppbin.MalformedXMLError, 10),
        ("<a>&#xD800;</a>", xmppbin.MalformedXMLError, 3),
        ("<a>&amp</a>", xmppbin.MalformedXMLError, 3),
        ("<a></a ", xmppbin.MalformedXMLError, 3),
        ("<a", xmppbin.MalformedXMLError, 0),
        ("text", xmppbin.MalformedXMLError, 0),
        ("<!ENTITY x 'y'><a/>", xmppbin.MalformedXMLError, 0),
        ("<a>&lt;&unknown;</a>", xmppbin.RestrictedXMLEncodeError, 7),
        ("<a b=']]>&nbsp;'/>", xmppbin.RestrictedXMLEncodeError, 9),  # ']]>' is legal in attributes
        ("<a>&a\u1680b;</a>", xmppbin.RestrictedXMLEncodeError, 3),  # only XML whitespace ends a name
        ("<a>&a b;</a>", xmppbin.MalformedXMLError, 3),
    ],
)
def test_encode_errors(xml, cls, offset):
    with pytest.raises(cls) as ei:
        xmppbin.encode(xml)
    assert ei.value.offset == offset
    assert isinstance(ei.value, xmppbin.EncodeError)


def test_surrogate_in_str_input():
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        xmppbin.encode("<a>\u00e9\ud800</a>")
    assert ei.value.offset == 5


def test_open_root_options():
    hdr = "<stream:stream xmlns:stream='urn:not-streams'>"
    with pytest.raises(xmppbin.MalformedXMLError):
        xmppbin.encode(hdr)  # not the streams namespace: not taken for a header unless asked
    assert xmppbin.decode(xmppbin.encode(hdr, open_root=True, exact=True)) == hdr.encode()
    with pytest.raises(xmppbin.MalformedXMLError):
        xmppbin.encode("<a/>", open_root=True)
    real = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
    with pytest.raises(xmppbin.MalformedXMLError):
        xmppbin.encode(real, open_root=False)
    with pytest.raises(xmppbin.MalformedXMLError):
        xmppbin.encode(real + " ")  # the header must end the input


def test_restricted_on_decode():
    data = xmppbin.encode("<a><!--x--><?p d?></a>", allow_comments=True)
    with pytest.raises(xmppbin.RestrictedXMLDecodeError) as ei:
        xmppbin.decode(data)
    assert isinstance(ei.value, xmppbin.RestrictedXMLError) and isinstance(ei.value, xmppbin.DecodeError)
    assert xmppbin.decode(data, allow_comments=True) == b"<a><!--x--><?p d?></a>"


def test_context_must_bind_prefixes():
    with pytest.raises(xmppbin.MalformedXMLError):
        xmppbin.encode("<stream:features/>", context={"": "jabber:client"})
    data = xmppbin.encode("<stream:features/>")
    with pytest.raises(xmppbin.InvalidDataError):
        xmppbin.decode(data, context={"": "jabber:client"})


def test_type_errors():
    with pytest.raises(TypeError):
        xmppbin.encode(123)
    with pytest.raises(TypeError):
        xmppbin.decode("not bytes")
    with pytest.raises(TypeError):
        xmppbin.encode("<a/>", max_sise=3)
