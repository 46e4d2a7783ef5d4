"""Public API: options objects, lxml adapters, str/bytes input, contexts, threads."""
from __future__ import annotations

import threading

from lxml import etree

import xmppbin

CARBON = (
    "<message from='romeo@montague.lit' to='romeo@montague.lit/home'><received xmlns='urn:xmpp:carbons:2'>"
    "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='juliet@capulet.lit/balcony' "
    "type='chat'><body>Hi</body></message></forwarded></received></message>"
)


def test_str_and_bytes_input_agree():
    assert xmppbin.encode(CARBON) == xmppbin.encode(CARBON.encode()) == xmppbin.encode(bytearray(CARBON.encode()))
    assert xmppbin.decode_str(xmppbin.encode(CARBON)) == CARBON


def test_codec_holds_options():
    c = xmppbin.Codec(exact=True, max_depth=3, allow_comments=True)
    xml = '<a  x="1"><!--c--><b><c/></b></a>'
    assert c.decode(c.encode(xml)) == xml.encode()
    try:
        c.encode("<a><b><c><d/></c></b></a>")
    except xmppbin.EncodeLimitError as e:
        assert e.limit == "max_depth"
    else:
        raise AssertionError("depth limit not applied")
    enc, dec = xmppbin.Encoder(exact=True), xmppbin.Decoder()
    assert dec.decode(enc.encode(xml.replace("<!--c-->", ""))) == xml.replace("<!--c-->", "").encode()


def test_lxml_adapters_keep_namespaces():
    el = xmppbin.decode_element(xmppbin.encode(CARBON))
    assert el.tag == "{jabber:client}message"
    inner = el.find(".//{jabber:client}body")
    assert inner is not None and inner.text == "Hi"
    assert el.getparent() is None
    again = xmppbin.decode_element(xmppbin.encode_element(el))
    assert etree.tostring(again) == etree.tostring(el)


def test_stream_prefix_from_context():
    xml = "<stream:features><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>"
    el = xmppbin.decode_element(xmppbin.encode(xml))
    assert el.tag == "{http://etherx.jabber.org/streams}features"


def test_server_context():
    ctx = {"": "jabber:server", "stream": xmppbin.STREAM_NS, "db": "jabber:server:dialback"}
    xml = "<db:result from='a.example' to='b.example'>abc</db:result>"
    data = xmppbin.encode(xml, context=ctx)
    assert xmppbin.decode(data, context=ctx) == xml.encode()
    el = xmppbin.decode_element(data, context=ctx)
    assert el.tag == "{jabber:server:dialback}result"


def test_inherited_default_namespace_costs_nothing():
    plain = xmppbin.encode("<message><body>x</body></message>")
    declared = xmppbin.encode("<message xmlns='jabber:client'><body>x</body></message>")
    assert len(plain) < len(declared)
    assert xmppbin.decode(declared) == b"<message xmlns='jabber:client'><body>x</body></message>"


def test_no_guessing():
    xml = "<message to='user_name@Example.COM/Res' id='DeadBeefCafe01' h='0012'><body>0x1F</body></message>"
    assert xmppbin.decode(xmppbin.encode(xml)) == xml.encode()


def test_threads_share_a_codec():
    codec = xmppbin.Codec()
    msgs = [f"<message id='m{i}' to='u{i}@example.com'><body>{'x' * (i + 1)}</body></message>" for i in range(50)]
    expected = [codec.encode(m) for m in msgs]
    errors = []

    def work():
        for _ in range(20):
            for m, e in zip(msgs, expected):
                if codec.encode(m) != e or codec.decode(e) != m.encode():
                    errors.append(m)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_backend_and_version():
    assert xmppbin.backend in xmppbin.BACKENDS
    assert xmppbin.__version__


def test_batch_calls_match_single_calls(sample_records):
    xmls = [r["xml"] for r in sample_records if "<!--" not in r["xml"] and not r["assumed_prefixes"]
            and r["kind"] != "stream-header"]
    for exact in (False, True):
        datas = xmppbin.encode_many(xmls, exact=exact)
        assert datas == [xmppbin.encode(x, exact=exact) for x in xmls]
        assert xmppbin.decode_many(datas) == [xmppbin.decode(d) for d in datas]
    assert xmppbin.encode_many([]) == [] and xmppbin.decode_many([]) == []


def test_batch_errors_name_the_message():
    import pytest

    good = xmppbin.encode("<presence/>")
    with pytest.raises(xmppbin.TruncatedError) as ei:
        xmppbin.decode_many([good, good, good[:-1]])
    assert ei.value.index == 2 and ei.value.offset == len(good) - 1 and "message 2" in str(ei.value)
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        xmppbin.encode_many(["<a/>", "<b>"])
    assert ei.value.index == 1 and ei.value.offset == 0
    with pytest.raises(xmppbin.EncodeLimitError) as ei:
        xmppbin.encode_many(["<a/>", "<a><b/></a>"], max_depth=1)
    assert ei.value.index == 1 and ei.value.limit == "max_depth"
    with pytest.raises(TypeError):
        xmppbin.decode_many([good, "text"])


def test_context_is_validated():
    import pytest

    with pytest.raises(ValueError):
        xmppbin.Codec(context={"1bad": "urn:x"})
    with pytest.raises(TypeError):
        xmppbin.Codec(context={"": 5})
    with pytest.raises(ValueError):
        xmppbin.Encoder(dictionary=2)


def test_without_the_fast_module():
    """Without xmppbin._xmppbin_fast (PyPy, or not built) the methods stay the Python
    ones and everything goes through the backend as before."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['xmppbin._xmppbin_fast'] = None\n"
        "import xmppbin\n"
        "assert xmppbin._cfast is None\n"
        "assert type(xmppbin.Codec.__dict__.get('encode', xmppbin.Encoder.__dict__['encode'])).__name__ == 'function'\n"
        "c = xmppbin.Codec()\n"
        "x = b\"<message to='a@b/c'><body>hi</body></message>\"\n"
        "m = c.encode(x)\n"
        "assert c.decode(m) == x and c.encode_many([x, x]) == [m, m] and c.decode_many([m]) == [x]\n"
        "assert xmppbin.decode(xmppbin.encode(x)) == x\n"
        "try:\n"
        "    c.encode(b'<a>')\n"
        "except xmppbin.MalformedXMLError as e:\n"
        "    assert e.offset == 0\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
        "print(xmppbin.backend)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in xmppbin.BACKENDS
