#!/usr/bin/env python3
"""Generate the test vectors in spec/vectors/ with the reference implementation.

    python tools/gen_vectors.py           # rewrite spec/vectors/*.json
    python tools/gen_vectors.py --check   # exit 1 if they differ from what the code produces

valid.json:       XML, options, exact expected bytes (hex) and the decoded XML.
invalid-binary.json: hand-built messages (symbol by symbol) with the expected error class and offset.
invalid-xml.json: XML inputs the encoder must reject, with error class and offset.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import xmppbin  # noqa: E402
from xmppbin import model as M  # noqa: E402
from xmppbin import stream  # noqa: E402
from xmppbin.bits import BitWriter  # noqa: E402
from xmppbin.dictionary import get_dictionary  # noqa: E402

STREAM = "http://etherx.jabber.org/streams"
SERVER_CTX = {"": "jabber:server", "stream": STREAM, "db": "jabber:server:dialback"}

def gate_doc(n: int) -> str:
    """A chat message of exactly n value bytes (attribute values and text)
    whose body repeats one phrase: its copies are coded only from spec 8.11's
    COPY_MIN_MESSAGE value bytes on."""
    to, typ = "romeo@montague.lit", "chat"
    phrase = "by the balcony scene tonight, "
    k = n - len(to) - len(typ)
    return f"<message to='{to}' type='{typ}'><body>" + (phrase * (k // len(phrase) + 1))[:k] + "</body></message>"


VALID = [
    ("sm-request", "Stream management request: one static shape", "<r xmlns='urn:xmpp:sm:3'/>", {}),
    ("sm-ack", "Stream management ack with an integer", "<a xmlns='urn:xmpp:sm:3' h='17'/>", {}),
    ("presence-empty", "Initial presence", "<presence/>", {}),
    ("message-chat", "Chat message with body and thread",
     "<message from='juliet@capulet.lit/balcony' to='romeo@montague.lit' type='chat' id='m1'>"
     "<body>Wherefore art thou, Romeo?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>", {}),
    ("literal-copy", "Repeated phrases in a message of 768 value bytes or more: copies of earlier literal bytes (8.11)",
     "<message to='romeo@montague.lit' type='groupchat'><subject>the balcony scene tonight</subject>"
     "<body>Meet me at the balcony scene tonight, by the balcony scene!</body>" + "".join(
         f"<line n='{i}'>{who} waits at the orchard wall, {what} the balcony scene tonight.</line>"
         for i, (who, what) in enumerate([("Romeo", "before"), ("Juliet", "after"), ("The nurse", "during"),
                                          ("Mercutio", "long before"), ("Tybalt", "well after"),
                                          ("Benvolio", "just before"), ("Friar Laurence", "right after"),
                                          ("Balthasar", "before"), ("Paris", "after"), ("Capulet", "during"),
                                          ("Montague", "before")])) + "</message>", {}),
    ("prior-copy", "A data form, too small for copies of its own literals: field names copied from the prior text "
     "(8.11)",
     "<iq type='result' id='cfg1' from='coven@chat.shakespeare.lit'><query xmlns='http://jabber.org/protocol/muc#owner'>"
     "<x xmlns='jabber:x:data' type='form'><field var='muc#roomconfig_roomname' label='Natural-Language Room Name'/>"
     "<field var='muc#roomconfig_roomdesc' label='Short Description of Room'/>"
     "<field var='muc#roomconfig_maxusers' label='Maximum Number of Occupants'/></x></query></iq>", {}),
    ("prior-copy-small", "One short value: copied from the prior text all the same (8.11: the prior is searched in "
     "every message)", "<message><body>Distribute Room Across Multiple Services?</body></message>", {}),
    (f"copy-gate-{M.COPY_MIN_MESSAGE - 1}",
     f"{M.COPY_MIN_MESSAGE - 1} value bytes with repeats: too few to be searched for copies (8.11)", None, {}),
    (f"copy-gate-{M.COPY_MIN_MESSAGE}", f"{M.COPY_MIN_MESSAGE} value bytes with the same repeats: searched, copies "
     "coded (8.11)", None, {}),
    ("chat-multilingual", "Chat text in several scripts: the UTF-8 literal contexts of 8.1",
     "<message to='romeo@montague.lit' type='chat'><body>Привет! שלום. مرحبا 你好 ไทย 😀👍</body></message>", {}),
    ("permuted-order", "A message whose attributes are a static shape's in another order: PERMUTED, the shape "
     "and the rank of the order (8.5)", "<message id='m1' type='chat' to='a@b' from='c@d/e'><body>hi</body></message>",
     {}),
    ("iq-ping", "Ping", "<iq type='get' id='p1' to='capulet.lit'><ping xmlns='urn:xmpp:ping'/></iq>", {}),
    ("stream-features", "Stream features use the stream prefix from the context",
     "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
     "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>"
     "<mechanism>PLAIN</mechanism></mechanisms></stream:features>", {}),
    ("stream-header", "Stream header: a start tag left open (message kind 1)",
     "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='im.example.com' "
     "version='1.0'>", {}),
    ("stream-header-exact", "Stream header with XML declaration, kept byte for byte",
     "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
     "from='im.example.com' id='t7AMCin9zjMNwQKDnplntZPIDEI=' to='juliet@im.example.com' version='1.0' "
     "xml:lang='en'>", {"exact": True}),
    ("carbon-redeclared", "Forwarded message redeclares jabber:client; the redundant declaration is kept",
     "<message from='romeo@montague.lit' to='romeo@montague.lit/home'><received xmlns='urn:xmpp:carbons:2'>"
     "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='juliet@capulet.lit/balcony' "
     "to='romeo@montague.lit/garden' type='chat'><body>What man art thou?</body></message></forwarded>"
     "</received></message>", {}),
    ("pretty-printed", "Indentation whitespace is character data and is kept",
     "<iq type='result' id='d1'>\n  <query xmlns='http://jabber.org/protocol/disco#info'>\n"
     "    <identity category='server' type='im'/>\n    <feature var='jabber:iq:version'/>\n"
     "    <feature var='urn:xmpp:ping'/>\n  </query>\n</iq>", {}),
    ("cr-in-text", "A carriage return given as a reference stays a carriage return",
     "<message><body>line1&#13;\nline2</body></message>", {}),
    ("astral", "Astral characters and multi-byte UTF-8",
     "<message><body>\U0001f600 caf\u00e9 \u20ac \U00010348</body></message>", {}),
    ("cdata-end-in-text", "The sequence ]]> in text", "<message><body>a ]]&gt; b &amp; c &lt; d</body></message>",
     {}),
    ("attr-whitespace-refs", "Tab and newline in an attribute value survive as references",
     "<x xmlns='urn:x' v='a&#9;b&#10;c'/>", {}),
    ("slixmpp-style", "Double quotes and <x /> with a space (slixmpp), exact mode",
     '<iq type="get" id="ab12" xmlns="jabber:client"><query xmlns="jabber:iq:roster" /></iq>', {"exact": True}),
    ("prosody-style", "Prosody escapes all five entities, exact mode",
     "<message type='chat'><body>&apos;quoted&apos; &quot;x&quot; a&gt;b</body></message>", {"exact": True}),
    ("cdata-exact", "CDATA section, exact mode", "<message><body><![CDATA[<b>bold</b>]]></body></message>",
     {"exact": True}),
    ("cdata-default", "CDATA section, default mode writes the text escaped",
     "<message><body><![CDATA[<b>bold</b>]]></body></message>", {}),
    ("charref-exact", "Character reference spelling, exact mode", "<message><body>caf&#233; &#x20AC;</body></message>",
     {"exact": True}),
    ("multiline-tag-exact", "Attributes on separate lines, exact mode",
     "<iq type='set'\n    id='pass2'\n    to='user@jabber.org/resource'\n    from='pass.jabber.org'>\n"
     "  <query xmlns='jabber:iq:pass'/>\n</iq>", {"exact": True}),
    ("comment-allowed", "A comment, kept with allow_comments",
     "<message><!-- note --><body>hi</body></message>", {"allow_comments": True}),
    ("pi-allowed", "A processing instruction, kept with allow_comments",
     "<message><?app data here?><body>hi</body></message>", {"allow_comments": True}),
    ("uuid-id", "A UUID id is packed into 16 bytes, letter case kept",
     "<message id='5a6f1d32-8c0e-4c89-b6b9-1b9c3f0e2d7a'/>", {}),
    ("uuid-upper", "An upper-case UUID", "<message id='5A6F1D32-8C0E-4C89-B6B9-1B9C3F0E2D7A'/>", {}),
    ("int-large", "A 64-bit integer", "<a xmlns='urn:xmpp:sm:3' h='18446744073709551615'/>", {}),
    ("int-leading-zero", "Leading zeros are not canonical integers; kept as written",
     "<a xmlns='urn:xmpp:sm:3' h='007'/>", {}),
    ("hex-mixed", "Hex in both cases is kept exactly",
     "<iq id='deadbeef01' type='get'><x xmlns='urn:x' a='DEADBEEF01' b='DeadBeef01'/></iq>", {}),
    ("base64", "Canonical base64 text is packed",
     "<data xmlns='urn:xmpp:bob' cid='sha1+8f35fef110ffc5df08d579a50083ff9308fb6242@bob.xmpp.org' "
     "type='image/png'>iVBORw0KGgoAAAANSUhEUgAAAAoAAAAKCAYAAACNMs+9AAAABGdBTUEAALGP</data>", {}),
    ("base64-wrapped", "Base64 in lines of 32 characters with indentation around is packed with its layout "
     "(spec 8.6): lead, width, separator (the lead's), trail",
     "<photo xmlns='vcard-temp'>\n  BwgJCgsMDQ4PEBESExQVFhcYGRobHB0e\n  HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2"
     "\n  Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1O\n  T1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVm\n  Z2hpag==\n</photo>", {}),
    ("base64-wrapped-exact", "Lines of 64 in exact mode, no lead or trail, the last line short",
     "<photo xmlns='vcard-temp'>BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2\n"
     "Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVm\nZ2hpag==</photo>", {"exact": True}),
    ("base64-line-attr", "One base64 line with a tab and newlines around it, in an attribute: packed, the "
     "whitespace written back as references",
     "<a xmlns='urn:x' k='&#9;QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=&#10;&#10;'/>", {}),
    ("jid-underscore", "A JID with an underscore comes back unchanged",
     "<message to='user_name@host.example/Res_1' from='host.example'/>", {}),
    ("xml-lang", "xml:lang is always bound", "<message xml:lang='en'><body xml:lang='de'>Hallo</body></message>",
     {}),
    ("prefixed-attr", "A prefixed attribute with its declaration",
     "<item xmlns='urn:x' xmlns:foo='urn:foo' foo:bar='1' bar='2'/>", {}),
    ("dialback", "Server context with the db prefix",
     "<db:result from='capulet.lit' to='montague.lit'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"
     "</db:result>", {"context": SERVER_CTX}),
    ("empty-values", "Empty attribute value and empty element", "<iq type='result' id=''/>", {}),
    ("unknown-names", "Names and namespaces outside the dictionary are literals",
     "<zzyzx xmlns='urn:example:unheard-of' qwerty='uiop'><zzyzx/></zzyzx>", {}),
    ("repeated-shapes", "Repeated start tags use the shape cache; repeated strings the history",
     "<query xmlns='jabber:iq:roster'><item jid='a@b.example' name='A'/><item jid='c@b.example' name='A'/>"
     "<item jid='a@b.example' name='C'/></query>", {}),
    ("muc-presence", "MUC presence", "<presence from='coven@chat.shakespeare.lit/thirdwitch' id='n13mt3l' "
     "to='hag66@shakespeare.lit/pda'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' "
     "role='participant'/><status code='110'/></x></presence>", {}),
    ("bom-decl-exact", "Byte order mark and XML declaration, exact mode",
     "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence/>\n", {"exact": True}),
    ("exact-common-style", "Exact mode costs one byte here over default mode", "<r xmlns='urn:xmpp:sm:3'/>",
     {"exact": True}),
    ("end-tag-space", "Whitespace in an end tag, exact mode", "<message><body>x</body ></message >", {"exact": True}),
    ("empty-cdata", "An empty CDATA section is no text node (default mode)", "<body><![CDATA[]]></body>", {}),
    ("empty-cdata-exact", "An empty CDATA section, exact mode: an empty text node spelled by a deviation",
     "<body><![CDATA[]]></body>", {"exact": True}),
]

INVALID_XML = [
    ("unclosed", "<message><body>hi</body>", "MalformedXMLError"),
    ("mismatched", "<message><body>hi</bodx></message>", "MalformedXMLError"),
    ("bad-utf8", b"<message><body>\xc3\x28</body></message>", "MalformedXMLError"),
    ("control-char", "<message><body>a\x01b</body></message>", "MalformedXMLError"),
    ("doctype", "<!DOCTYPE message><message/>", "RestrictedXMLEncodeError"),
    ("comment", "<message><!-- c --></message>", "RestrictedXMLEncodeError"),
    ("pi", "<message><?pi x?></message>", "RestrictedXMLEncodeError"),
    ("entity", "<message><body>&nbsp;</body></message>", "RestrictedXMLEncodeError"),
    ("bare-ampersand", "<message><body>a & b</body></message>", "MalformedXMLError"),
    ("lt-in-attr", "<message id='a<b'/>", "MalformedXMLError"),
    ("cdata-end", "<message><body>a]]>b</body></message>", "MalformedXMLError"),
    ("duplicate-attr", "<message id='1' id='2'/>", "MalformedXMLError"),
    ("duplicate-expanded", "<x xmlns:a='urn:1' xmlns:b='urn:1' a:y='1' b:y='2'/>", "MalformedXMLError"),
    ("unbound-prefix", "<foo:bar/>", "MalformedXMLError"),
    ("two-roots", "<a/><b/>", "MalformedXMLError"),
    ("text-after-root", "<a/>text", "MalformedXMLError"),
    ("late-xml-decl", "<a/><?xml version='1.0'?>", "MalformedXMLError"),
    ("latin1", "<?xml version='1.0' encoding='ISO-8859-1'?><a/>", "MalformedXMLError"),
    ("bad-charref", "<a>&#0;</a>", "MalformedXMLError"),
    ("empty", "", "MalformedXMLError"),
    ("empty-reference", "<a>&;</a>", "MalformedXMLError"),
    ("entity-after-cdata", "<a><![CDATA[&]]>&bad;</a>", "RestrictedXMLEncodeError"),
    ("open-not-stream", "<message>", "MalformedXMLError"),
]


class Craft:
    """Builds messages symbol by symbol with dictionary 1 (stateless). It
    follows the open elements' node classes (spec 8.3) as a decoder would: a
    static shape's qname, a generic start tag's once its name is written."""

    def __init__(self, exact=False, kind=0):
        self.d = get_dictionary(1)
        self.w = BitWriter()
        self.header = M.header(kind, exact, 1)
        self.cls: list = [0]  # node classes of the open elements; None: a generic start tag's, not named yet
        self.prefix = ""

    def sym(self, table, ctx, s):
        self.w.sym(self.d.codes[table][ctx], s)
        if table == "prefix" and s:
            self.prefix = self.d.prefixes[s - 1]
        elif table == "name" and ctx == M.NMC_ELEMENT and s and self.cls[-1] is None:
            local = self.d.names[s - 1]
            self.cls[-1] = self.d.node_cls.get(f"{self.prefix}:{local}" if self.prefix else local, 0)
        return self

    def node(self, ctx, s):
        k = self.cls[-1]
        assert k is not None, "a node symbol inside a generic start tag not named"
        if k and ctx != M.NC_DOC:  # inside an element of a node class: its table first
            local = self.d.node_local[k - 1].get(s, M.N_ESCAPE)
            self.w.sym(self.d.codes["nodecls"][(k - 1) * M.NODECLS_CONTEXTS + ctx - 1], local)
            if local == M.N_ESCAPE:
                self.w.sym(self.d.codes["node"][ctx], s)
        else:
            self.w.sym(self.d.codes["node"][ctx], s)
        if s == M.N_END:
            if len(self.cls) > 1:
                self.cls.pop()
        elif s == M.N_GENERIC:
            self.prefix = ""
            self.cls.append(None)
        return self

    def escaped(self, ctx, s):
        """Node symbol s after N_ESCAPE of the innermost element's class (spec
        8.3), whether or not the class lists it."""
        k = self.cls[-1]
        assert k and ctx != M.NC_DOC
        self.w.sym(self.d.codes["nodecls"][(k - 1) * M.NODECLS_CONTEXTS + ctx - 1], M.N_ESCAPE)
        self.w.sym(self.d.codes["node"][ctx], s)
        return self

    def shape(self, ctx, key):
        self.node(ctx, M.N_SHAPE + self.d.shape_map[key])
        self.cls.append(self.d.node_cls.get(key[0], 0))
        return self

    def value(self, ctx, s):
        return self.sym("value", ctx, s)

    def lit(self, ctx, data: bytes):
        self.value(ctx, M.V_LIT)
        ctx = M.CC_FIRST
        for b in data + b"\0":
            self.sym("char", ctx, b)
            ctx = M.CHAR_NEXT[ctx][b]
        return self

    def lit_copy(self, ctx, data: bytes, at: int, length: int, dist: int, window: int, copied: bytes = b"",
                 kind: int = M.COPY):
        """A LIT of data[:at], a copy (8.11) of length bytes, then the rest of
        data; ends with the terminator. kind COPY: from dist back in the part
        of the window after the prior, `window` bytes long; COPY_STR /
        COPY_INNER: from the prior string / other inner anchor of index dist
        (window unused). `copied`: the bytes it copies, which step the char
        context."""
        self.value(ctx, M.V_LIT)
        ctx = M.CC_FIRST
        for b in data[:at]:
            self.sym("char", ctx, b)
            ctx = M.CHAR_NEXT[ctx][b]
        self.sym("char", ctx, kind)
        self.w.gamma(length - M.COPY_MIN + 1)
        if kind == M.COPY_STR:
            self.w.write(dist, (len(self.d.prior_starts) - 1).bit_length())
        elif kind == M.COPY_INNER:
            self.w.write(dist, (len(self.d.prior_inner_list) - 1).bit_length())
        elif window:
            self.w.write(dist - 1, (window - 1).bit_length())
        self.copy_end = self.w.nbits  # bits after the copy's fields (an error's offset)
        for b in copied:
            ctx = M.CHAR_NEXT[ctx][b]
        for b in data[at:] + b"\0":
            self.sym("char", ctx, b)
            ctx = M.CHAR_NEXT[ctx][b]
        return self

    def bits(self, v, n):
        self.w.write(v, n)
        return self

    def gamma(self, n):
        self.w.gamma(n)
        return self

    def done(self) -> bytes:
        return self.header + self.w.getvalue()


PRESENCE = ("presence",)
MESSAGE = ("message",)
IQ3 = ("iq", ("a", "type"), ("a", "to"), ("a", "id"))


def invalid_binary():
    d = get_dictionary(1)
    assert PRESENCE in d.shape_map and MESSAGE in d.shape_map and IQ3 in d.shape_map
    assert M.N_END in d.node_local[d.node_cls["message"] - 1]
    ok = xmppbin.encode("<presence/>")
    LAST = d.prior_strings[-1].encode("utf-8")  # the prior's last string (8.11)
    cases = [
        ("empty", b"", "TruncatedError", "no header"),
        ("header-only", ok[:1], "TruncatedError", "one byte: the header of dictionary 1"),
        ("version-2", bytes([0x40 | (ok[0] & 0x1F)]) + ok[1:], "UnknownDictionaryError", "format version 2"),
        ("version-0", bytes([ok[0] & 0x1F]) + ok[1:], "UnknownDictionaryError", "format version 0"),
        ("kind-2", bytes([ok[0] | 0x10]) + ok[1:], "InvalidDataError", "reserved message kind"),
        ("dictionary-2", bytes([ok[0] ^ 3]) + ok[1:], "UnknownDictionaryError", "dictionary 2 (one-byte header)"),
        ("dictionary-3", bytes([ok[0] | 3]) + ok[1:], "UnknownDictionaryError", "dictionary 3 (one-byte header)"),
        ("dictionary-0", bytes([ok[0] & 0xFC]) + b"\x00" + ok[1:], "UnknownDictionaryError",
         "unknown dictionary id 0 (two-byte header)"),
        ("dictionary-200", bytes([ok[0] & 0xFC]) + b"\xc8" + ok[1:], "UnknownDictionaryError",
         "unknown dictionary id 200 (two-byte header)"),
        ("dictionary-1-long", bytes([ok[0] & 0xFC]) + b"\x01" + ok[1:], "InvalidDataError",
         "dictionary 1 in a two-byte header (one byte names it)"),
        ("trailing-byte", ok + b"\x00", "TrailingDataError", "a byte after the message"),
        ("no-root", Craft().node(M.NC_DOC, M.N_END).done(), "InvalidDataError", "END before any element"),
        ("second-root", Craft().shape(M.NC_DOC, PRESENCE).node(M.NC_START, M.N_END).shape(M.NC_DOC, PRESENCE).done(),
         "InvalidDataError", "two root elements"),
        ("class-escape-listed", Craft().shape(M.NC_DOC, MESSAGE).escaped(M.NC_START, M.N_END)
         .node(M.NC_DOC, M.N_END).done(), "InvalidDataError",
         "END inside a <message> coded after N_ESCAPE: the class of message lists it (8.3)"),
        ("permuted-no-shape", Craft().node(M.NC_DOC, M.N_PERMUTED).sym("node", M.NC_DOC, M.N_END).done(),
         "InvalidDataError", "PERMUTED followed by END, not a static shape (8.5)"),
        ("permuted-no-items", Craft().node(M.NC_DOC, M.N_PERMUTED)
         .sym("node", M.NC_DOC, M.N_SHAPE + d.shape_map[PRESENCE]).done(), "InvalidDataError",
         "PERMUTED of <presence/>, a shape without items (8.5)"),
        ("permuted-rank", Craft().node(M.NC_DOC, M.N_PERMUTED).sym("node", M.NC_DOC, M.N_SHAPE + d.shape_map[IQ3])
         .bits(5, M.perm_bits(3)).done(), "InvalidDataError",
         "PERMUTED rank 6 of a shape of 3 items: 3! orders have ranks 0-5 (8.5)"),
        ("cache-miss", Craft().node(M.NC_DOC, M.N_LOCAL + 3).done(), "InvalidDataError",
         "shape cache entry 3 of an empty cache"),
        ("ws-parent-at-doc", Craft().node(M.NC_DOC, M.N_WS_PARENT).done(), "InvalidDataError",
         "whitespace relative to a parent at document level"),
        ("ws-same-undefined", Craft().shape(M.NC_DOC, PRESENCE).node(M.NC_START, M.N_WS_SAME).done(),
         "InvalidDataError", "WS_SAME with no earlier whitespace at that depth"),
        ("doc-text", Craft().node(M.NC_DOC, M.N_TEXT).lit(M.VC_OTHER_TEXT, b"x").done(), "InvalidDataError",
         "non-whitespace text outside the root"),
        ("empty-text", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT, M.V_EMPTY)
         .done(), "InvalidDataError", "an empty text node"),
        ("adjacent-text", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit(M.VC_OTHER_TEXT, b"a")
         .node(M.NC_AFTER_OTHER, M.N_TEXT).lit(M.VC_OTHER_TEXT, b"b").done(), "InvalidDataError",
         "two adjacent text nodes"),
        ("ref-empty-history", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT,
         M.V_REF).done(), "InvalidDataError", "history reference with an empty history"),
        ("ref-far", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT, M.V_REF_FAR)
         .gamma(1).done(), "InvalidDataError", "far history reference beyond the history"),
        ("recent-stateless", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .value(M.VC_OTHER_TEXT, M.V_RECENT).done(), "InvalidDataError",
         "RECENT (a recent value of a context: stream mode only) in a stateless message"),
        ("extend-stateless", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .value(M.VC_OTHER_TEXT, M.V_EXTEND).done(), "InvalidDataError",
         "EXTEND (a prefix of a recent value: stream mode only) in a stateless message"),
        ("bad-utf8", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit(M.VC_OTHER_TEXT, b"\xc3\x28")
         .done(), "InvalidDataError", "a literal that is not UTF-8"),
        ("overlong-utf8", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit(M.VC_OTHER_TEXT,
         b"\xc0\xaf").done(), "InvalidDataError", "overlong UTF-8"),
        ("surrogate-utf8", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit(M.VC_OTHER_TEXT,
         b"\xed\xa0\x80").done(), "InvalidDataError", "UTF-8 of a surrogate"),
        ("control-char", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).lit(M.VC_OTHER_TEXT, b"a\x04")
         .done(), "InvalidDataError", "a character XML does not allow"),
        ("copy-empty-window", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .lit_copy(M.VC_OTHER_TEXT, b"abcd", 0, 4, 1, 0).done(), "InvalidDataError",
         "a first literal's copy from the window after the prior, which is empty"),
        ("copy-beyond-window", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .lit_copy(M.VC_OTHER_TEXT, b"abcde", 5, 4, 6, 5).done(), "InvalidDataError",
         "a copy from 6 bytes back in a window (after the prior) of 5"),
        ("copy-prior-nul", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .lit_copy(M.VC_OTHER_TEXT, b"", 0, len(LAST) + 1, len(d.prior_starts) - 1, 0, LAST + b"\0",
                   M.COPY_STR).done(), "InvalidDataError",
         "a copy of the prior's last string and the 0x00 ending it: no XML character"),
        ("copy-string-index", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .lit_copy(M.VC_OTHER_TEXT, b"", 0, 4, len(d.prior_starts), 0, b"", M.COPY_STR).done(),
         "InvalidDataError", f"a copy from prior string {len(d.prior_starts)}, one past the last"),
        ("copy-anchor-index", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .lit_copy(M.VC_OTHER_TEXT, b"", 0, 4, len(d.prior_inner_list), 0, b"", M.COPY_INNER).done(),
         "InvalidDataError", f"a copy from prior anchor {len(d.prior_inner_list)}, one past the last"),
        ("bad-name", Craft().node(M.NC_DOC, M.N_GENERIC).sym("prefix", 0, 1).sym("name", M.NMC_ELEMENT,
         M.NM_LITERAL).lit(M.VC_NAME, b"1abc").done(), "InvalidDataError", "element name that is not an NCName"),
        ("unbound-prefix", Craft().node(M.NC_DOC, M.N_GENERIC).sym("prefix", 0, M.P_LITERAL).lit(M.VC_NAME, b"zz")
         .sym("name", M.NMC_ELEMENT, 1).sym("aitem", 0, M.A_END).done(), "InvalidDataError",
         "element prefix not bound"),
        ("duplicate-attr", Craft().node(M.NC_DOC, M.N_GENERIC).sym("prefix", 0, 1).sym("name", M.NMC_ELEMENT, 1)
         .sym("aitem", 0, M.A_LITERAL).lit(M.VC_NAME, b"q").sym("aitem", 0, M.A_LITERAL).lit(M.VC_NAME, b"q")
         .sym("aitem", 0, M.A_END).value(M.VC_OTHER_ATTR, M.V_EMPTY).value(M.VC_OTHER_ATTR, M.V_EMPTY).done(),
         "InvalidDataError", "duplicate attribute"),
        ("comment-not-allowed", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_COMMENT).done(),
         "RestrictedXMLDecodeError", "a comment without allow_comments"),
        ("bad-comment", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_COMMENT).lit(M.VC_MISC, b"a--b")
         .done(), "InvalidDataError", "comment containing --", {"allow_comments": True}),
        ("pi-xml", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_PI).lit(M.VC_MISC, b"xml x").done(),
         "InvalidDataError", "processing instruction named xml", {"allow_comments": True}),
        ("jid-in-jid", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT,
         M.V_JID_LD).value(M.VC_JID_LOCAL, M.V_JID_LD).done(), "InvalidDataError", "a JID inside a JID part"),
        ("int-65-bits", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT, M.V_INT)
         .gamma(66).bits(0, 64).done(), "InvalidDataError", "an integer of 65 bits"),
        ("gamma-too-long", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT,
         M.V_INT).bits(0, 32).done(), "InvalidDataError", "Elias-gamma prefix of 32 zeros"),
        ("exact-bad-ws", Craft(exact=True).node(M.NC_DOC, M.N_GENERIC).sym("prefix", 0, 1).sym("name", M.NMC_ELEMENT,
         1).sym("aitem", 0, M.A_LITERAL).lit(M.VC_NAME, b"q").sym("aitem", 0, M.A_END)
         .value(M.VC_OTHER_ATTR, M.V_EMPTY).node(M.NC_START, M.N_END).node(M.NC_DOC, M.N_END)
         .bits(0, 7).bits(0, 1).gamma(2).gamma(1).lit(M.VC_MISC, b"x").done(), "InvalidDataError",
         "attribute whitespace deviation that is not whitespace"),
        ("exact-too-many-devs", Craft(exact=True).shape(M.NC_DOC, PRESENCE).node(M.NC_START, M.N_END)
         .node(M.NC_DOC, M.N_END).bits(0, 7).bits(0, 1).gamma(10).done(), "InvalidDataError",
         "more deviations than lexical slots"),
        ("exact-bad-prolog", Craft(exact=True).shape(M.NC_DOC, PRESENCE).node(M.NC_START, M.N_END)
         .node(M.NC_DOC, M.N_END).bits(0, 7).bits(1, 1).lit(M.VC_MISC, b"<?xml?>").done(), "InvalidDataError",
         "a prolog that is not an XML declaration"),
        ("exact-empty-style-3", Craft(exact=True).shape(M.NC_DOC, PRESENCE).node(M.NC_START, M.N_END)
         .node(M.NC_DOC, M.N_END).bits(0, 1).bits(3, 2).bits(0, 4).done(), "InvalidDataError",
         "reserved empty-element style 3"),
        ("xmlns-as-attribute", Craft().node(M.NC_DOC, M.N_GENERIC).sym("prefix", 0, 1).sym("name", M.NMC_ELEMENT, 1)
         .sym("aitem", 0, M.A_LITERAL).lit(M.VC_NAME, b"xmlns").done(), "InvalidDataError",
         "a namespace declaration coded as an ordinary attribute"),
        ("jid-bad-local", Craft().shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT).value(M.VC_OTHER_TEXT,
         M.V_JID_LD).lit(M.VC_JID_LOCAL, b"a@b").lit(M.VC_JID_DOMAIN, b"c").done(), "InvalidDataError",
         "a JID local part containing @"),
        ("doc-ws-default-mode", Craft().node(M.NC_DOC, M.N_WS_SAME).done(), "InvalidDataError",
         "whitespace outside the root in a default-mode message"),
        ("exact-empty-text-unspelled", Craft(exact=True).shape(M.NC_DOC, MESSAGE).node(M.NC_START, M.N_TEXT)
         .value(M.VC_OTHER_TEXT, M.V_EMPTY).node(M.NC_AFTER_OTHER, M.N_END).node(M.NC_DOC, M.N_END)
         .bits(0, 7).bits(0, 1).gamma(1).done(), "InvalidDataError",
         "an empty text node in exact mode without the deviation that spells it"),
        ("stream-open-truncated", Craft(kind=1).node(M.NC_DOC, M.N_GENERIC).done(), "TruncatedError",
         "a stream header cut inside its start tag"),
    ]
    # a truncated real message and one with non-zero padding (the first of these
    # bodies whose message has padding bits: their number depends on the codes)
    msg = xmppbin.encode("<message to='romeo@montague.lit'><body>Hi</body></message>")
    cases.append(("truncated-middle", msg[: len(msg) // 2], "TruncatedError", "the first half of a message"))
    for body in ("Hi", "Hi!", "Hello", "Hey", "Yo"):
        msg = xmppbin.encode(f"<message to='romeo@montague.lit'><body>{body}</body></message>")
        if _padding_bits(f"<message to='romeo@montague.lit'><body>{body}</body></message>"):
            cases.append(("nonzero-padding", msg[:-1] + bytes([msg[-1] | 1]), "TrailingDataError",
                          "a padding bit set"))
            break
    return cases


def _padding_bits(xml: str) -> int:
    """The number of padding bits at the end of the default-mode message of xml."""
    from xmppbin.encoder import encode_events
    from xmppbin.limits import Limits
    from xmppbin.xmlscan import DEFAULT_CONTEXT, scan

    w = BitWriter()
    encode_events(scan(xml.encode(), Limits(), DEFAULT_CONTEXT, False, False), get_dictionary(1), False, w)
    return -w.nbits % 8


_HDR = ("<stream:stream to='capulet.example' xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>")
_MSG = ("<message to='romeo@montague.example' type='chat' id='{id}'><body>{body}</body>"
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message>")
SESSION = (
    "<?xml version='1.0'?>" + _HDR
    + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    + _HDR
    + "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource>"
      "</bind></iq>"
    + "<presence><show>chat</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
      "node='http://slixmpp.com/ver/1.17.0' ver='vGCaMERLmMjTo/1xahCCNwJM/E0='/></presence>\n"
    + _MSG.format(id="m1", body="Wherefore art thou Romeo?")
    + " "
    + _MSG.format(id="m2", body="Deny thy father &amp; refuse thy name")
    + "<iq type='result' id='disco1' to='romeo@montague.example/orchard'>"
      "<query xmlns='http://jabber.org/protocol/disco#info'><feature var='muc#roomconfig_roomname'/>"
      "<feature var='muc#roomconfig_roomdesc'/></query></iq>"
    + "<r xmlns='urn:xmpp:sm:3'/>"
    + "</stream:stream>"
)
# later bodies repeat phrases of earlier ones: copies from the session window (8.11)
WINDOW = (
    _HDR
    + _MSG.format(id="w1", body="But soft, what light through yonder window breaks?")
    + _MSG.format(id="w2", body="It is the east, and Juliet is the sun.")
    + _MSG.format(id="w3", body="Arise, fair sun, and kill the envious moon")
    + _MSG.format(id="w4", body="what light through yonder window? It is the east, fair sun!")
    + "</stream:stream>"
)
# a server acking each stanza: the <r/> after a stanza whose shape was followed by
# <r/> before is the first-event prediction (14.3), a 4-bit message in a SHORT frame (14.2)
ACKS = (
    _HDR
    + "".join(f"<message to='juliet@capulet.example/balcony' type='chat' id='a{i}'><body>Hi {i}</body></message>"
              f"<r xmlns='urn:xmpp:sm:3'/><presence from='nurse@capulet.example/home' id='p{i}'/>"
              f"<r xmlns='urn:xmpp:sm:3'/>" for i in range(3))
    + "</stream:stream>"
)
# a client acking the stanzas it handled: relative integers (14.3) after the first
COUNTS = (
    _HDR
    + "".join(f"<a xmlns='urn:xmpp:sm:3' h='{h}'/>" for h in (3, 4, 5, 9, 2, 758, 759, 18446744073709551615))
    + "</stream:stream>"
)
# a roster sent twice: its second listing's far references relative to the last one (14.3)
_CONTACTS = [f"{c}{c}-{i}@montague.example" for i, c in enumerate("bcdfghjklmnpqrstvwxz")]
_ITEMS = "".join(f"<item jid='{j}' subscription='both'/>" for j in _CONTACTS)
ROSTER = (
    _HDR
    + "".join(f"<iq type='result' id='r{n}'><query xmlns='jabber:iq:roster'>{_ITEMS}</query></iq>" for n in (1, 2))
    + "</stream:stream>"
)
# (name, description, XML stream, StreamEncoder options): spec section 14
STREAM = [
    ("session-exact", "a c2s session with SASL (never-indexed), a restart (an OPEN frame of message kind 2, "
     "coded with the state kept), repeated structures and "
     "values (REF, RECENT, EXTEND, PRED), keepalive whitespace and the plain close tag", SESSION,
     {"exact": True}),
    ("session-default", "the same in default mode: infoset, canonical output", SESSION, {}),
    ("session-tiny-table", "the same with a 64-byte table: most strings do not fit", SESSION,
     {"exact": True, "table_size": 64}),
    ("session-no-table", "the same with the table disabled (budget 0)", SESSION, {"table_size": 0}),
    ("session-window", "chat bodies that copy phrases of earlier messages from the session window",
     WINDOW, {"exact": True}),
    ("session-window-small", "the same with a 40-byte budget: the session window is the last 40 bytes of "
     "the session's literals", WINDOW, {"exact": True, "table_size": 40}),
    ("acks-exact", "a server's <r/> after each stanza: predicted roots (first-event prediction) in SHORT "
     "frames", ACKS, {"exact": True}),
    ("acks-default", "the same in default mode", ACKS, {}),
    ("counted-acks", "a client's <a h='...'/>: the first INT has no relative bit; 4, 5, 9 and 759 are relative "
     "to the context's last value (d = 1, 1, 4, 1); 2 (below 9), 758 (d = 756 costs more) and 2**64 - 1 "
     "(d beyond a gamma value) are whole after the bit 0", COUNTS, {"exact": True}),
    ("repeated-roster", "a roster of 20 contacts sent twice: the second listing's JIDs are far references, "
     "each relative to the last (GAMMA(1) after its first: the same table index)", ROSTER, {"exact": True}),
    ("mid-stream", "a stream captured after its header: an announcing OPEN frame, then elements",
     "<r xmlns='urn:xmpp:sm:3'/> <a xmlns='urn:xmpp:sm:3' h='1'/><a xmlns='urn:xmpp:sm:3' h='2'/>",
     {"exact": True, "in_stream": True}),
]


def build():
    valid = []
    for name, desc, xml, opts in VALID:
        if xml is None:  # the copy gate's two sides (8.11)
            xml = gate_doc(int(name.rsplit('-', 1)[1]))
        enc_opts = {k: v for k, v in opts.items()}
        data = xmppbin.encode(xml, **enc_opts)
        dec_opts = {k: v for k, v in opts.items() if k in ("context", "allow_comments")}
        out = xmppbin.decode(data, **dec_opts).decode("utf-8")
        if opts.get("exact"):
            assert out == xml, name
        valid.append({"name": name, "description": desc, "xml": xml, "options": opts, "binary": data.hex(),
                      "decoded": out})
    inv_bin = []
    for case in invalid_binary():
        name, data, err, desc = case[:4]
        opts = case[4] if len(case) > 4 else {}
        try:
            xmppbin.decode(data, **opts)
        except xmppbin.XmppbinError as e:
            assert type(e).__name__ == err, (name, repr(e))
            inv_bin.append({"name": name, "description": desc, "binary": data.hex(), "options": opts, "error": err,
                            "offset": e.offset})
        else:
            raise AssertionError(f"{name} decoded")
    inv_xml = []
    for name, xml, err in INVALID_XML:
        try:
            xmppbin.encode(xml)
        except xmppbin.XmppbinError as e:
            assert type(e).__name__ == err, (name, repr(e))
            inv_xml.append({"name": name, "xml": xml if isinstance(xml, str) else None,
                            "xml_hex": xml.hex() if isinstance(xml, bytes) else None, "error": err,
                            "offset": e.offset})
        else:
            raise AssertionError(f"{name} encoded")
    streams = []
    for name, desc, xml, opts in STREAM:
        frames = stream.encode_stream([xml.encode("utf-8")], **opts)
        out = stream.decode_stream(frames).decode("utf-8")
        if opts.get("exact"):
            assert out == xml, name
        streams.append({"name": name, "description": desc, "xml": xml, "options": opts, "frames": frames.hex(),
                        "decoded": out})
    return {"valid.json": valid, "invalid-binary.json": inv_bin, "invalid-xml.json": inv_xml,
            "stream.json": streams}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    out_dir = os.path.join(ROOT, "spec", "vectors")
    stale = False
    for fn, content in build().items():
        text = json.dumps({"format_version": 1, "dictionary": 1, "vectors": content}, indent=1,
                          ensure_ascii=False) + "\n"
        path = os.path.join(out_dir, fn)
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    print(f"{path} is stale", file=sys.stderr)
                    stale = True
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            print(f"{path}: {len(content)} vectors")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
