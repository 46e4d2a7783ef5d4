"""Every limit: N accepted, N + 1 rejected, in encode and in decode, with the limit named."""
from __future__ import annotations

import pytest

import xmppbin
from xmppbin import limits as L


def chain(depth: int) -> str:
    return "<a>" * depth + "</a>" * depth


def enc_fails(xml, limit, **kw):
    with pytest.raises(xmppbin.EncodeLimitError) as ei:
        xmppbin.encode(xml, **kw)
    assert ei.value.limit == limit
    assert isinstance(ei.value, xmppbin.EncodeError) and isinstance(ei.value, xmppbin.LimitExceededError)
    return ei.value


def dec_fails(data, limit, **kw):
    with pytest.raises(xmppbin.DecodeLimitError) as ei:
        xmppbin.decode(data, **kw)
    assert ei.value.limit == limit
    assert 0 <= ei.value.offset <= len(data)
    return ei.value


def test_defaults_are_documented_values():
    d = xmppbin.DEFAULT_LIMITS
    assert (d.max_size, d.max_depth, d.max_attributes, d.max_string, d.max_elements) == (
        L.MAX_SIZE, L.MAX_DEPTH, L.MAX_ATTRIBUTES, L.MAX_STRING, L.MAX_ELEMENTS) == (
        1048576, 128, 128, 1048576, 65536)


@pytest.mark.parametrize("bad", [0, -1, 2**31, 1.5, True, "3"])
def test_limit_values_are_checked(bad):
    with pytest.raises((ValueError, TypeError)):
        xmppbin.Limits(max_depth=bad)


@pytest.mark.parametrize("n", [1, 5, 128])
def test_max_depth(n):
    assert xmppbin.decode(xmppbin.encode(chain(n), max_depth=n), max_depth=n) == chain(n).replace(
        "<a></a>", "<a/>").encode()
    e = enc_fails(chain(n + 1), "max_depth", max_depth=n)
    assert e.offset == 3 * n  # the '<' of the element at depth n + 1
    dec_fails(xmppbin.encode(chain(n + 1), max_depth=n + 1), "max_depth", max_depth=n)


def test_default_depth_limit():
    xmppbin.encode(chain(128))
    enc_fails(chain(129), "max_depth")


@pytest.mark.parametrize("n", [1, 4, 128])
def test_max_attributes(n):
    def el(k):
        return "<x " + " ".join(f"a{i}='{i}'" for i in range(k)) + "/>"

    assert xmppbin.decode(xmppbin.encode(el(n), max_attributes=n), max_attributes=n) == el(n).encode()
    e = enc_fails(el(n + 1), "max_attributes", max_attributes=n)
    assert e.offset == el(n + 1).index(f"a{n}=")
    dec_fails(xmppbin.encode(el(n + 1), max_attributes=n + 1), "max_attributes", max_attributes=n)


def test_max_attributes_counts_declarations_and_static_shapes():
    xml = "<iq type='get' id='1' to='a.example'><ping xmlns='urn:xmpp:ping'/></iq>"
    data = xmppbin.encode(xml)
    assert xmppbin.decode(data, max_attributes=3)
    dec_fails(data, "max_attributes", max_attributes=2)
    enc_fails("<x xmlns='urn:a' xmlns:b='urn:b'/>", "max_attributes", max_attributes=1)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_max_elements(n):
    xml = "<q>" + "<i/>" * (n - 1) + "</q>"
    more = "<q>" + "<i/>" * n + "</q>"
    assert xmppbin.decode(xmppbin.encode(xml, max_elements=n, exact=True), max_elements=n) == xml.encode()
    e = enc_fails(more, "max_elements", max_elements=n)
    assert e.offset == len(more) - 4 - 4  # the last <i/>
    dec_fails(xmppbin.encode(more), "max_elements", max_elements=n)


STRINGS = {
    "ascii": lambda n: "x" * n,
    "two-byte": lambda n: "\u00e9" * (n // 2) + "y" * (n % 2),
    "hex": lambda n: "abcdef0123"[: min(n, 10)] + "a" * max(0, n - 10),
    "base64": lambda n: None,
}


@pytest.mark.parametrize("kind", ["ascii", "two-byte", "hex"])
@pytest.mark.parametrize("n", [8, 9, 64, 1000])
def test_max_string_text(kind, n):
    s = STRINGS[kind](n)
    assert len(s.encode()) == n
    xml = f"<body>{s}</body>"
    assert xmppbin.decode(xmppbin.encode(xml, max_string=n), max_string=n) == xml.encode()
    longer = f"<body>{STRINGS[kind](n + 1)}</body>"
    assert enc_fails(longer, "max_string", max_string=n).offset == 6
    dec_fails(xmppbin.encode(longer), "max_string", max_string=n)


@pytest.mark.parametrize("n", [8, 12, 400])
def test_max_string_base64(n):
    def b64(k):  # canonical base64 of length k (k multiple of 4)
        return ("QUJD" * k)[:k]

    assert xmppbin.decode(xmppbin.encode(f"<d>{b64(n)}</d>", max_string=n), max_string=n)
    dec_fails(xmppbin.encode(f"<d>{b64(n + 4)}</d>"), "max_string", max_string=n + 3)


def test_max_string_uuid_and_attribute_and_name():
    u = "5a6f1d32-8c0e-4c89-b6b9-1b9c3f0e2d7a"
    data = xmppbin.encode(f"<m id='{u}'/>")
    assert xmppbin.decode(data, max_string=36)
    dec_fails(data, "max_string", max_string=35)
    enc_fails(f"<m id='{u}'/>", "max_string", max_string=35)
    enc_fails("<abcdefgh/>", "max_string", max_string=7)
    assert xmppbin.encode("<abcdefgh/>", max_string=8)
    dec_fails(xmppbin.encode("<zqzqzqzq/>"), "max_string", max_string=7)


def test_max_string_applies_to_raw_spelling_in_exact_mode():
    xml = "<b>&#233;&#233;</b>"  # value: 4 bytes; as written: 12 bytes
    assert xmppbin.encode(xml, max_string=4)
    enc_fails(xml, "max_string", max_string=11, exact=True)
    data = xmppbin.encode(xml, max_string=12, exact=True)
    assert xmppbin.decode(data, max_string=12) == xml.encode()
    dec_fails(data, "max_string", max_string=11)


@pytest.mark.parametrize("n", [40, 41, 1000])
def test_max_size(n):
    def xml(k):  # spaces: a cheap repeat, so the binary message stays below its input
        return "<a>x" + " " * (k - 8) + "</a>"

    assert len(xml(n)) == n
    data = xmppbin.encode(xml(n), max_size=n)
    assert xmppbin.decode(data, max_size=n) == xml(n).encode()
    e = enc_fails(xml(n + 1), "max_size", max_size=n)
    assert e.offset == n
    dec_fails(xmppbin.encode(xml(n + 1)), "max_size", max_size=n)


def test_max_size_bounds_the_binary_input_and_expansion():
    data = xmppbin.encode("<a>" + "x" * 100 + "</a>")
    e = dec_fails(data + b"\0" * 50, "max_size", max_size=len(data) + 49)
    assert e.offset == len(data) + 49
    # a small message that expands: many references to one long string
    body = "<q>" + "".join(f"<i v='{'y' * 200}'/>" for _ in range(50)) + "</q>"
    small = xmppbin.encode(body)
    assert len(small) < 400
    e = dec_fails(small, "max_size", max_size=5000)
    assert e.offset < len(small)  # detected while decoding, not after building the whole output


def test_encode_guarantees_decode_under_the_same_limits():
    # the default-mode output escapes '>' as '&gt;': longer than the input
    xml = "<a>" + ">" * 100 + "</a>"
    enc_fails(xml, "max_size", max_size=200)
    assert xmppbin.decode(xmppbin.encode(xml, max_size=407), max_size=407)
    enc_fails(xml, "max_size", max_size=406)
    exact = xmppbin.encode(xml, exact=True)
    n = max(len(exact), len(xml.encode()))  # copies (8.11) make this message shorter than its input
    assert xmppbin.decode(exact, max_size=n) == xml.encode()
    enc_fails(xml, "max_size", exact=True, max_size=n - 1)
    # a binary message longer than its input
    noisy = "<a>" + "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(30)) + "</a>"
    data = xmppbin.encode(noisy)
    if len(data) > len(noisy.encode()):
        enc_fails(noisy, "max_size", max_size=len(data) - 1)


def test_max_string_applies_to_dictionary_strings():
    # 'http://jabber.org/protocol/disco#info' comes from the dictionary, not from the message
    xml = "<query xmlns='http://jabber.org/protocol/disco#info'/>"
    n = len("http://jabber.org/protocol/disco#info")
    data = xmppbin.encode(xml)
    assert len(data) < 8
    assert xmppbin.decode(data, max_string=n) == xml.encode()
    dec_fails(data, "max_string", max_string=n - 1)
    enc_fails(xml, "max_string", max_string=n - 1)


def test_max_string_applies_to_tag_whitespace_in_exact_mode():
    xml = "<a  b  =  'x'  ></a    >"  # longest lexical string: "  =  "
    assert xmppbin.encode(xml, exact=True, max_string=5)
    assert xmppbin.encode(xml, max_string=1)
    enc_fails(xml, "max_string", exact=True, max_string=4)
    dec_fails(xmppbin.encode(xml, exact=True), "max_string", max_string=4)


def test_names_reused_through_the_shape_cache_count_toward_max_size():
    """A long name repeated through the shape cache costs a few bits each time; the
    decoder must stop as soon as the output would pass max_size, not build it first."""
    name = "n" + "x" * 999
    body = "<q>" + f"<{name}/>" * 200 + "</q>"
    data = xmppbin.encode(body, max_size=1 << 20)
    assert len(data) < 1100
    assert xmppbin.decode(data, max_size=len(body)) == body.encode()
    e = dec_fails(data, "max_size", max_size=50_000)
    assert e.offset < len(data) - 10


def test_produced_bytes_never_exceed_the_output(sample_records):
    """The decoder's running max_size account is a lower bound of the output length,
    so a message that fits is never rejected early (checked on the reference)."""
    from conftest import record_context

    from xmppbin import decoder

    for rec in sample_records:
        ctx = record_context(rec)
        op = rec["kind"] == "stream-header"
        for exact in (False, True):
            data = xmppbin.encode(rec["xml"], exact=exact, context=ctx, open_root=op, allow_comments=True)
            dec = decoder._Decoder(data, xmppbin.DEFAULT_LIMITS, ctx, True)
            events = dec.run()
            out = xmppbin.decode(data, context=ctx, allow_comments=True)
            assert dec.produced <= len(out), rec["xml"][:80]
            assert events
