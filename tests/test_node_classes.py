"""Node classes (spec 8.3): inside an element whose qname is one of the dictionary's
node contexts, a stateless message codes each node symbol first in that class's
table (a listed symbol, or N_ESCAPE and then the node table); elsewhere, and in
stream mode, in the node table alone. The reference encoder's symbols are
recorded and checked against an independent walk of the XML."""
from __future__ import annotations

import pytest
from lxml import etree

import xmppbin
from xmppbin import bits as BI
from xmppbin import model as M
from xmppbin.dictionary import get_dictionary

D = get_dictionary(1)
STREAM_OPEN = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com'>"

ROSTER = (
    "<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='v1'>"
    "<item jid='a@example.com' name='A' subscription='both'><group>Friends</group></item>"
    "<item jid='b@example.com' subscription='to'/></query></iq>"
)
FORM = (
    "<message><x xmlns='jabber:x:data' type='form'><title>T</title>"
    "<field var='a' type='text-single'><value>1</value></field>"
    "<field var='b' type='boolean'><value>0</value></field></x>"
    "<unlisted-child xmlns='urn:example:nc'><deep/></unlisted-child></message>"
)


def test_dictionary_lists_the_classes():
    """64 distinct qnames, each with 31 distinct node symbols of the node alphabet,
    and a class table per class and node context START .. AFTER_OTHER."""
    nsym = D.sizes["node"][1]
    assert len(D.node_contexts) == 64
    assert len({q for q, _ in D.node_contexts}) == 64
    for q, syms in D.node_contexts:
        assert len(syms) == M.NODE_CLASS_SYMS == len(set(syms))
        assert all(0 <= s < nsym for s in syms), q
    assert D.sizes["nodecls"] == (4 * 64, 32)
    assert len(D.codes["nodecls"]) == 4 * 64
    assert "nodecls" not in D.stream_sizes
    # the parents the protocol is made of are classes
    for q in ("iq", "message", "presence", "query", "x", "field", "item", "error", "pubsub"):
        assert q in D.node_cls, q


def record(xml: str, stream: bool = False) -> list[tuple]:
    """(table, context, symbol) of every node symbol the reference encoder codes."""
    out: list[tuple] = []
    orig = BI.BitWriter.sym

    def sym(self, code, s):
        if code.key[0] in ("node", "nodecls"):
            out.append((code.key[0], code.key[1], s))
        return orig(self, code, s)

    BI.BitWriter.sym = sym
    try:
        with _python():
            if stream:
                from xmppbin.stream import encode_stream

                encode_stream([STREAM_OPEN + xml.encode()])
            else:
                xmppbin.encode(xml.encode())
    finally:
        BI.BitWriter.sym = orig
    return out


class _python:
    def __enter__(self):
        self.prev = xmppbin.backend
        xmppbin._use_backend("python")

    def __exit__(self, *exc):
        xmppbin._use_backend(self.prev)


def expected_parents(xml: str) -> list[str | None]:
    """The qname of the innermost open element at each node symbol of a default-mode
    message (a start tag, each text node, each END, the message's END), in order;
    None at document level."""
    out: list[str | None] = []
    root = etree.fromstring(xml.encode())

    def qname(el):
        return el.prefix + ":" + etree.QName(el).localname if el.prefix else etree.QName(el).localname

    def walk(el, parent):
        out.append(parent)  # its start tag
        q = qname(el)
        if el.text:
            out.append(q)
        for ch in el:
            walk(ch, q)
            if ch.tail:
                out.append(q)
        out.append(q)  # its END

    walk(root, None)
    out.append(None)  # the message's END
    return out


@pytest.mark.parametrize("xml", [ROSTER, FORM, "<presence/>", "<message><body>hi</body></message>"])
def test_class_tables_code_the_symbols_inside_classes(xml):
    syms = record(xml)
    parents = expected_parents(xml)
    i = 0
    for parent in parents:
        k = D.node_cls.get(parent, 0) if parent is not None else 0
        if not k:
            assert syms[i][0] == "node", (parent, syms[i])
            i += 1
            continue
        table, t, local = syms[i]
        assert table == "nodecls" and (t - (t % M.NODECLS_CONTEXTS)) // M.NODECLS_CONTEXTS == k - 1, (parent, syms[i])
        i += 1
        if local == M.N_ESCAPE:  # then the node table, with a symbol the class does not list
            assert syms[i][0] == "node" and syms[i][2] not in D.node_local[k - 1]
            i += 1
        else:
            assert 1 <= local <= M.NODE_CLASS_SYMS
    assert i == len(syms)
    assert any(s[0] == "nodecls" for s in syms) == any(
        p is not None and p in D.node_cls for p in parents
    )


def test_both_backends_agree_and_round_trip(backend_name):
    for xml in (ROSTER, FORM):
        data = xmppbin.encode(xml)
        assert xmppbin.decode(data) == xmppbin.decode(xmppbin.encode(xmppbin.decode(data)))
    with _python():
        ref = [xmppbin.encode(x) for x in (ROSTER, FORM)]
    assert [xmppbin.encode(x) for x in (ROSTER, FORM)] == ref


def test_stream_mode_codes_no_class_symbols():
    """A message coded with a stream's state keeps its own node contexts (14.3)."""
    syms = record(ROSTER, stream=True)
    assert len(syms) >= len(expected_parents(ROSTER)) and all(t == "node" for t, _, _ in syms)


def test_class_codes_fit_one_8_bit_lookup():
    """Every nodecls code is at most 8 bits and complete (spec 7.2): the C decoder
    reads a class symbol with one lookup of the next 8 bits."""
    for code in D.codes["nodecls"]:
        assert max(code.lengths) <= M.NODECLS_MAX_LEN == 8
        assert sum(1 << (8 - n) for n in code.lengths) == 256


def _complete_with_a_9_bit_code() -> list[int]:
    """32 code lengths with Kraft sum 1 and a longest code of 9 bits: from 32 codes
    of 5 bits, four times a longest code split into two one bit longer and two
    5-bit codes merged into one of 4 bits."""
    ls = [5] * 32
    for _ in range(4):
        i = ls.index(max(ls))
        ls[i] += 1
        ls.append(ls[i])
        del ls[ls.index(5)]
        ls[ls.index(5)] = 4
    assert len(ls) == 32 and max(ls) == 9 and sum(1 << (9 - n) for n in ls) == 1 << 9
    return ls


@pytest.mark.parametrize("lengths", [_complete_with_a_9_bit_code(), [5] * 31 + [6]], ids=["9-bit", "incomplete"])
def test_dictionary_refuses_other_class_codes(lengths):
    """A class table with a code over 8 bits (complete), or an incomplete one, is refused."""
    from xmppbin import _dict_v1 as t
    from xmppbin.dictionary import Dictionary, encode_lengths

    table = {k: list(v) for k, v in t.LENGTHS.items()}
    table["nodecls"][5] = encode_lengths(lengths)
    with pytest.raises(ValueError, match="nodecls"):
        Dictionary(1, t.PREFIXES, t.NAMES, t.NAMESPACES, t.VALUES, t.ATTR_CONTEXTS, t.TEXT_CONTEXTS,
                   t.SHAPES, table, (), t.NODE_CONTEXTS)
    table["nodecls"][5] = t.LENGTHS["nodecls"][5]  # the same call with the real table loads
    assert Dictionary(1, t.PREFIXES, t.NAMES, t.NAMESPACES, t.VALUES, t.ATTR_CONTEXTS, t.TEXT_CONTEXTS,
                      t.SHAPES, table, (), t.NODE_CONTEXTS).codes["nodecls"][5].lengths == D.codes["nodecls"][5].lengths


@pytest.mark.parametrize("table,bad", [("char", [1, 1] + [8] * 254), ("value", [25] * 3000), ("name", [0] * 1201)],
                         ids=["over-subscribed", "too-long", "zero"])
def test_dictionary_checks_every_table_when_loaded(table, bad):
    """Code lengths are checked when a dictionary loads, though its HuffmanCode
    objects are built only when a table is first looked up (the C backend never
    looks them up): a context that over-subscribes its code space, or has a
    length outside 1..24, is refused at once; a valid dictionary builds nothing
    until asked, then the table asked for alone."""
    from xmppbin import _dict_v1 as t
    from xmppbin.dictionary import Dictionary, encode_lengths

    def load(tab):
        return Dictionary(1, t.PREFIXES, t.NAMES, t.NAMESPACES, t.VALUES, t.ATTR_CONTEXTS, t.TEXT_CONTEXTS,
                          t.SHAPES, tab, (), t.NODE_CONTEXTS)

    lengths = {k: list(v) for k, v in t.LENGTHS.items()}
    n = len(lengths[table][1])
    lengths[table][1] = "".join(encode_lengths([min(x, 35)]) if x else "0" for x in (bad + [8] * n)[:n])
    with pytest.raises(ValueError, match=f"table {table}"):
        load(lengths)
    d = load(t.LENGTHS)
    assert dict.__len__(d.codes) == 0 and dict.__len__(d.stream_codes) == 0
    assert d.stream_codes["char"][200].lengths == D.stream_codes["char"][200].lengths
    assert list(dict.keys(d.codes)) == [] and list(dict.keys(d.stream_codes)) == ["char"]
    del lengths["stream.prefix"]
    lengths[table][1] = t.LENGTHS[table][1]
    d = load(lengths)  # no stream set of its own: the stateless one
    assert d.stream_codes["prefix"] is d.codes["prefix"] and dict.__len__(d.codes) == 1
    with pytest.raises(KeyError):
        d.stream_codes["nodecls"]  # stream mode codes no node classes (spec 14.3)
