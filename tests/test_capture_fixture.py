"""The recorded real session (tests/data/capture-session.jsonl) and its splitter.

The fixture was produced by tools/traffic/record_session.py (Prosody + slixmpp on
127.0.0.1); these tests only read it, so they need neither Prosody nor slixmpp.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from collections import Counter

import pytest
from lxml import etree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CAPTURE = os.path.join(HERE, "data", "capture-session.jsonl")
STANZAS = os.path.join(HERE, "data", "capture-stanzas.jsonl")

_spec = importlib.util.spec_from_file_location("capture_split", os.path.join(ROOT, "tools", "traffic", "split.py"))
split = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = split  # dataclasses look their module up there
_spec.loader.exec_module(split)

NS = {
    "sasl": "urn:ietf:params:xml:ns:xmpp-sasl",
    "bind": "urn:ietf:params:xml:ns:xmpp-bind",
    "sm": "urn:xmpp:sm:3",
    "roster": "jabber:iq:roster",
    "receipts": "urn:xmpp:receipts",
    "chatstates": "http://jabber.org/protocol/chatstates",
    "mucuser": "http://jabber.org/protocol/muc#user",
    "mucowner": "http://jabber.org/protocol/muc#owner",
    "pubsub": "http://jabber.org/protocol/pubsub",
    "event": "http://jabber.org/protocol/pubsub#event",
    "mam": "urn:xmpp:mam:2",
    "carbons": "urn:xmpp:carbons:2",
    "ping": "urn:xmpp:ping",
    "info": "http://jabber.org/protocol/disco#info",
    "items": "http://jabber.org/protocol/disco#items",
    "vcard": "vcard-temp",
    "caps": "http://jabber.org/protocol/caps",
    "csi": "urn:xmpp:csi:0",
    "blocking": "urn:xmpp:blocking",
    "version": "jabber:iq:version",
    "client": "jabber:client",
    "delay": "urn:xmpp:delay",
}


def wrap(xml: bytes, ctx: dict[str, str]) -> etree._Element:
    """Parse a top-level element inside a wrapper that declares its stream context."""
    decl = "".join(f' xmlns="{v}"' if k == "" else f' xmlns:{k}="{v}"' for k, v in ctx.items())
    root = etree.fromstring(f"<wrapper{decl}>".encode() + xml + b"</wrapper>")
    assert len(root) == 1
    return root[0]


@pytest.fixture(scope="module")
def capture():
    return split.read_capture(CAPTURE)


@pytest.fixture(scope="module")
def units(capture):
    _, chunks = capture
    return split.split_capture(chunks)


@pytest.fixture(scope="module")
def elements(units):
    """(conn, dir, lxml element) for every top-level element, in stream order."""
    out = []
    for (conn, d), us in units.items():
        for u in us:
            if u.kind == "element":
                out.append((conn, d, wrap(u.data, u.context)))
    return out


def find(elements, xpath: str, direction: str | None = None) -> list:
    hits = []
    for _conn, d, el in elements:
        if direction and d != direction:
            continue
        hits.extend(el.xpath(xpath, namespaces=NS))
    return hits


# ---------------------------------------------------------------------------
# the fixture as a file
# ---------------------------------------------------------------------------

def test_fixture_format(capture):
    assert os.path.getsize(CAPTURE) < 300_000
    header, chunks = capture
    assert header["capture"] == "xmppbin-session" and header["version"] == 1
    assert header["server"].startswith("Prosody ") and header["client"].startswith("slixmpp ")
    assert header["created"] and header["note"]
    with open(CAPTURE, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert lines[0] == header and len(lines) == len(chunks) + 1
    last_t = 0.0
    for raw, c in zip(lines[1:], chunks):
        assert set(raw) in ({"conn", "dir", "t", "data"}, {"conn", "dir", "t", "data_b64"})
        assert isinstance(raw["conn"], int) and raw["conn"] >= 1
        assert raw["dir"] in ("c2s", "s2c")
        assert raw["t"] >= last_t  # recording order is time order
        last_t = raw["t"]
        assert c["bytes"]  # no empty reads recorded
        if "data_b64" in raw:  # only for chunks that are not valid UTF-8 on their own
            with pytest.raises(UnicodeDecodeError):
                base64.b64decode(raw["data_b64"]).decode("utf-8")
    conns = {c["conn"] for c in chunks}
    assert conns == set(range(1, max(conns) + 1)) and len(conns) >= 2
    assert {(c["conn"], c["dir"]) for c in chunks} == {(n, d) for n in conns for d in ("c2s", "s2c")}


def test_read_capture_b64(tmp_path):
    p = tmp_path / "c.jsonl"
    head = {"capture": "xmppbin-session", "version": 1}
    rows = [{"conn": 1, "dir": "c2s", "t": 0.0, "data": "<a>\u00e9"},
            {"conn": 1, "dir": "c2s", "t": 0.1, "data_b64": base64.b64encode(b"\xe2\x82").decode()},
            {"conn": 1, "dir": "c2s", "t": 0.2, "data_b64": base64.b64encode(b"\xac</a>").decode()}]
    p.write_text("\n".join(json.dumps(r) for r in [head, *rows]) + "\n", encoding="utf-8")
    h, chunks = split.read_capture(p)
    assert h == head
    assert split.reassemble(chunks) == {(1, "c2s"): "<a>\u00e9\u20ac</a>".encode()}


# ---------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------

def test_units_concatenate_back(capture, units):
    _, chunks = capture
    streams = split.reassemble(chunks)
    assert set(units) == set(streams)
    for key, data in streams.items():
        us = units[key]
        assert b"".join(u.data for u in us) == data, key
        kinds = [u.kind for u in us]
        assert set(kinds) <= {"declaration", "stream-header", "element", "whitespace", "stream-close"}, key
        assert kinds[-1] == "stream-close", key  # every session ended cleanly
        assert kinds.count("stream-header") == 2, key  # initial + restart after SASL
        for u in us:
            if u.kind == "whitespace":
                assert u.data.strip(b" \t\r\n") == b""
        if key[1] == "s2c":  # Prosody sends an XML declaration before each header
            assert kinds[:2] == ["declaration", "stream-header"]
        else:  # slixmpp does not
            assert kinds[0] == "stream-header"


def test_elements_well_formed_in_context(units):
    n = 0
    for (_conn, _d), us in units.items():
        for u in us:
            if u.kind == "stream-header":
                assert u.context[""] == "jabber:client"
                assert u.context["stream"] == split.NS_STREAMS
                etree.fromstring(u.data[:-1] + b"/>")
            elif u.kind == "element":
                el = wrap(u.data, u.context)
                n += 1
                assert etree.QName(el).namespace == u.namespace
                assert u.context == {"": "jabber:client", "stream": split.NS_STREAMS}
    assert n > 300


def test_stanzas_file_matches_split(capture):
    _, chunks = capture
    with open(STANZAS, encoding="utf-8") as f:
        recs = [json.loads(line) for line in f]
    assert recs == split.corpus_records(chunks)
    kinds = Counter(r["kind"] for r in recs)
    assert kinds["stanza"] > 200 and kinds["other-element"] > 200 and kinds["stream-header"] >= 4
    for r in recs:
        assert set(r) == {"xml", "kind", "assumed_prefixes", "conn", "dir", "t"}
        if r["kind"] == "stream-header":
            el = etree.fromstring(r["xml"].encode()[:-1] + b"/>")
            assert etree.QName(el).localname == "stream"
            continue
        # the corpus convention: jabber:client by default, plus the assumed prefixes
        el = wrap(r["xml"].encode(), {"": "jabber:client", **r["assumed_prefixes"]})
        is_stanza = etree.QName(el).namespace == "jabber:client" and etree.QName(el).localname in split.STANZA_NAMES
        assert (r["kind"] == "stanza") == is_stanza
        if r["xml"].startswith("<stream:"):
            assert r["assumed_prefixes"] == {"stream": split.NS_STREAMS}


# ---------------------------------------------------------------------------
# what the session contains
# ---------------------------------------------------------------------------

def test_session_features(elements):
    c2s, s2c = "c2s", "s2c"
    # SASL (SCRAM) login and resource binding on every connection
    assert len(find(elements, "self::sasl:auth[@mechanism='SCRAM-SHA-1']", c2s)) >= 2
    assert len(find(elements, "self::sasl:challenge", s2c)) >= 2
    assert len(find(elements, "self::sasl:success", s2c)) >= 2
    assert len(find(elements, "self::client:iq[@type='result']/bind:bind/bind:jid", s2c)) >= 2
    # roster get, roster set and server roster pushes
    assert find(elements, "self::client:iq[@type='get']/roster:query", c2s)
    assert find(elements, "self::client:iq[@type='set']/roster:query/roster:item[roster:group]", c2s)
    assert find(elements, "self::client:iq[@type='set']/roster:query/roster:item[@subscription='both']", s2c)
    assert find(elements, "self::client:presence[@type='subscribe']", c2s)
    assert find(elements, "self::client:presence[@type='subscribed']", s2c)
    # presence with entity capabilities
    assert find(elements, "self::client:presence/caps:c[@hash='sha-1']", c2s)
    # chat messages with receipts and chat states, both ways
    for d in (c2s, s2c):
        assert len(find(elements, "self::client:message[@type='chat'][client:body][receipts:request]", d)) >= 4
        assert len(find(elements, "self::client:message/receipts:received", d)) >= 4
        assert find(elements, "self::client:message/chatstates:composing", d)
        assert find(elements, "self::client:message/chatstates:paused", d)
    bodies = [b.text for b in find(elements, "self::client:message/client:body")]
    assert any(all(ch in t for ch in "&<>'\"") for t in bodies)
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in bodies)  # emoji (4-byte UTF-8)
    # carbons
    assert find(elements, "self::client:iq/carbons:enable", c2s)
    assert find(elements, "self::client:message/carbons:received", s2c)
    assert find(elements, "self::client:message/carbons:sent", s2c)
    # pings (incl. one answered with an error), disco, version, vCard, blocking, CSI
    assert len(find(elements, "self::client:iq[@type='get']/ping:ping", c2s)) >= 3
    assert find(elements, "self::client:iq[@type='error'][@from]", s2c)
    assert find(elements, "self::client:iq[@type='result']/info:query/info:identity[@category='server']", s2c)
    assert find(elements, "self::client:iq[@type='result']/info:query/info:identity[@category='client']", s2c)
    assert find(elements, "self::client:iq[@type='result']/items:query/items:item", s2c)
    assert find(elements, "self::client:iq[@type='result']/version:query/version:name", s2c)
    assert find(elements, "self::client:iq[@type='set']/vcard:vCard/vcard:FN", c2s)
    assert find(elements, "self::client:iq[@type='result']/vcard:vCard/vcard:FN", s2c)
    assert find(elements, "self::client:iq[@type='set']/blocking:block", c2s)
    assert find(elements, "self::csi:inactive", c2s) and find(elements, "self::csi:active", c2s)
    # MUC: creation, configuration, subject, groupchat messages, leave
    assert find(elements, "self::client:presence/mucuser:x/mucuser:status[@code='201']", s2c)
    assert find(elements, "self::client:presence/mucuser:x/mucuser:status[@code='110']", s2c)
    assert find(elements, "self::client:iq[@type='set']/mucowner:query", c2s)
    assert find(elements, "self::client:message[@type='groupchat']/client:subject[text()]", s2c)
    assert find(elements, "self::client:message[@type='groupchat'][client:body]/delay:delay", s2c)  # history
    assert len(find(elements, "self::client:message[@type='groupchat'][client:body]", s2c)) >= 8
    assert find(elements, "self::client:presence[@type='unavailable']/mucuser:x", s2c)
    # PEP: mood, tune, avatar data (a few KB of base64) + metadata, and notifications
    nodes = {p.get("node") for p in find(elements, "self::client:iq[@type='set']/pubsub:pubsub/pubsub:publish", c2s)}
    assert {"http://jabber.org/protocol/mood", "http://jabber.org/protocol/tune",
            "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata"} <= nodes
    data = find(elements, "self::client:iq/pubsub:pubsub/pubsub:publish/pubsub:item/*[local-name()='data']", c2s)
    assert data and len(data[0].text) > 2000
    assert find(elements, "self::client:message/event:event/event:items", s2c)
    # MAM: query, archived results, fin
    assert find(elements, "self::client:iq[@type='set']/mam:query", c2s)
    assert len(find(elements, "self::client:message/mam:result/*[local-name()='forwarded']", s2c)) >= 3
    assert find(elements, "self::client:iq[@type='result']/mam:fin", s2c)
    # stream management: enable/enabled and <r/>/<a/> in both directions
    assert find(elements, "self::sm:enable", c2s) and find(elements, "self::sm:enabled", s2c)
    for d in (c2s, s2c):
        assert len(find(elements, "self::sm:r", d)) >= 5
        assert len(find(elements, "self::sm:a[@h]", d)) >= 5


def test_whitespace_keepalive(units):
    ws = [u for (_c, d), us in units.items() for u in us if u.kind == "whitespace"]
    assert ws and all(u.data == b" " for u in ws)


# ---------------------------------------------------------------------------
# the scanner on hand-made streams
# ---------------------------------------------------------------------------

def test_scanner_edge_cases():
    stream = (b"<?xml version='1.0'?>\r\n<stream:stream xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' to='a>b'>\r\n \t"
              b"<message to='x' note=\"1 > 0 'q'\"><body><![CDATA[<not a tag/>]]></body></message>"
              b"<stream:features><x xmlns:y='urn:y'><y:z/></x></stream:features>"
              b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
              b"xmlns:db='jabber:server:dialback'><db:result to='a'>k</db:result><iq/>"
              b"</stream:stream><presence><sta")
    us = split.split_stream(stream)
    assert b"".join(u.data for u in us) == stream
    assert [u.kind for u in us] == ["declaration", "whitespace", "stream-header", "whitespace", "element",
                                    "element", "stream-header", "element", "element", "stream-close",
                                    "incomplete"]
    msg, feats, db, iq = us[4], us[5], us[7], us[8]
    assert msg.name == "message" and split.is_stanza(msg) and msg.assumed_prefixes == {}
    assert feats.assumed_prefixes == {"stream": split.NS_STREAMS} and not split.is_stanza(feats)
    assert db.context[""] == "jabber:server" and db.assumed_prefixes == {"db": "jabber:server:dialback"}
    assert iq.namespace == "jabber:server" and split.is_stanza(iq)
