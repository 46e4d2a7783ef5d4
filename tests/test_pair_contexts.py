"""Spec 7.1 / 8.5: "element attribute" value contexts. An attribute value is coded
in the context of the pair of its element's qname and its own qname when
attr-contexts lists the pair, else in its qname's context, else in context 0;
both backends pick the same context on every path (static shapes, generic start
tags, the stream's shape cache, prefixed qnames)."""
from __future__ import annotations

import pytest
from conftest import coded_alike, require, with_backend

from xmppbin import model as M
from xmppbin import stream
from xmppbin.dictionary import get_dictionary

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

D = get_dictionary(1)
PAIRS = [s for s in D.attr_contexts if " " in s]
SINGLES = [s for s in D.attr_contexts if " " not in s]


def test_the_dictionary_lists_pairs_after_the_qnames():
    assert len(SINGLES) == 48 and len(PAIRS) == 32
    assert D.attr_contexts == SINGLES + PAIRS  # the qnames first (spec 7.1)
    assert len(set(D.attr_contexts)) == len(D.attr_contexts)
    for p in PAIRS:
        e, a = p.split(" ")
        assert e and a and " " not in a  # two qnames
    # the pairs the traffic depends on most
    for p in ("iq type", "message type", "field type", "field var", "feature var", "iq to", "message from"):
        assert p in PAIRS, p
    # and a prefixed element's pair, matched on the qname as written
    assert "stream:stream from" in PAIRS


def test_attr_context_rule():
    for i, s in enumerate(D.attr_contexts):
        if " " in s:
            e, a = s.split(" ")
            assert D.attr_context(e, a) == M.VC_FIXED + i
    # an element with no pair of that attribute: the qname's context, or 0
    assert D.attr_context("iq", "type") != D.attr_context("presence-x", "type") == M.VC_FIXED + SINGLES.index("type")
    assert D.attr_context("field", "no-such-attribute") == M.VC_OTHER_ATTR
    assert D.attr_context("no-such-element", "xml:lang") == M.VC_FIXED + SINGLES.index("xml:lang")
    # the element's qname as written: a prefix makes another element
    assert D.attr_context("x:field", "type") == D.attr_context("presence-x", "type")


@pytest.mark.parametrize("pair, token",
                         [("field type", "boolean"), ("iq type", "result"), ("message type", "groupchat")])
def test_a_pair_context_codes_its_values_in_fewer_bits(pair, token):
    t = M.V_TOKEN + D.values.index(token)
    e, a = pair.split(" ")
    paired = D.codes["value"][D.attr_context(e, a)].lengths[t]
    single = D.codes["value"][M.VC_FIXED + SINGLES.index(a)].lengths[t]
    assert paired < single, (pair, paired, single)


DOCS = [
    # static shapes whose items have pair contexts
    b"<iq type='result' id='a1'/>",
    b"<x xmlns='jabber:x:data' type='form'><field var='muc#roomconfig_roomname' type='text-single'"
    b" label='Room name'><value>x</value></field><field type='boolean' var='b'/></x>",
    # generic start tags (an attribute no shape has) of pair elements
    b"<iq type='get' id='b2' to='romeo@montague.lit/orchard' foo='bar'/>",
    b"<message type='chat' from='juliet@capulet.lit/balcony' zzz='1'><body>hi</body></message>",
    b"<presence from='a@b/c' to='d@e' type='unavailable' q='r'/>",
    # a literal attribute name next to pair attributes; an element name coded as a literal
    b"<query><feature var='urn:xmpp:x' some-literal-name='v'/><no-such-element-name type='result' var='x'/></query>",
]


def test_both_backends_code_pair_contexts_alike():
    msgs, xml = coded_alike(DOCS)
    assert all(m for m in msgs)
    coded_alike([b"<root>" + d + b"</root>" for d in DOCS])  # nested, other node contexts


def test_a_prefixed_element_pair_in_a_stream_header():
    # "stream:stream from" is a pair: the header's from is coded in its context
    assert D.attr_context("stream:stream", "from") != D.attr_context("stream", "from")
    hdr = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
           b" from='capulet.lit' to='montague.lit' version='1.0' x-extra='1'>")
    coded_alike([hdr], open_root=True)


def test_stream_mode_shape_cache_keeps_pair_contexts():
    """The second tag of a shape comes from the stream's cache (14.3), whose items
    keep the contexts of the first: both backends, byte for byte, and decoded back."""
    hdr = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='b'>"
    els = [b"<iq type='result' id='c%d' to='a@b/c' foo='%d'/>" % (i, i) for i in range(4)]
    els += [b"<message type='chat' to='a@b' zz='1'><body>x</body></message>"] * 2

    def frames():
        enc = stream.StreamEncoder(exact=True)
        return [enc.open(hdr)] + [enc.element(e) for e in els]

    py = with_backend("python", frames)
    assert with_backend("c", frames) == py

    def decoded():
        return [e.xml for e in stream.StreamDecoder().feed(b"".join(py))]

    for backend in ("python", "c"):
        assert with_backend(backend, decoded) == [hdr] + els
