"""Spec 8.5: PERMUTED. A start tag whose items are a static shape's in another
order is coded as PERMUTED, the shape's symbol and the rank of the order, in
stateless messages; both backends alike, the order kept, the first shape of a
set of items chosen, and every bad PERMUTED rejected alike. Stream mode never
codes it and rejects it."""
from __future__ import annotations

import itertools
import math
import random

import pytest
from conftest import coded_alike, require, with_backend

import xmppbin
from xmppbin import bits as B
from xmppbin import model as M
from xmppbin import stream
from xmppbin.dictionary import get_dictionary

SINGLE_BACKEND = True  # both backends are used explicitly

require("_xmppbin_c")

D = get_dictionary(1)


def test_rank_is_a_bijection_onto_0_to_k_factorial():
    for k in range(M.PERM_MIN, 7):
        ranks = set()
        for p in itertools.permutations(range(k)):
            r = M.perm_rank(list(p))
            assert M.perm_order(k, r) == list(p)
            ranks.add(r)
        assert ranks == set(range(math.factorial(k)))
        assert M.perm_rank(list(range(k))) == 0  # the shape's own order
    # the first position is the most significant digit
    assert M.perm_rank([1, 0, 2]) == 2 and M.perm_rank([0, 2, 1]) == 1 and M.perm_rank([2, 1, 0]) == 5
    assert M.perm_order(12, math.factorial(12) - 1) == list(range(11, -1, -1))


def test_rank_widths():
    # bl(k! - 2): the rank minus 1 is at most k! - 2; two items need no bits
    assert [M.perm_bits(k) for k in range(2, 13)] == [0, 3, 5, 7, 10, 13, 16, 19, 22, 26, 29]


def first_node_symbol(msg: bytes) -> int:
    return B.BitReader(msg, 1).sym(D.codes["node"][M.NC_DOC])


def tag(key: tuple, order) -> bytes:
    """A start tag (self-closed) of shape key's element with its items in order."""
    out = [key[0]]
    for i in order:
        it = key[1 + i]
        if it[0] == "x":
            out.append(f"xmlns{':' + it[1] if it[1] else ''}='{it[2]}'")
        else:
            out.append(f"{it[1]}='v{i}'")
    return ("<" + " ".join(out) + "/>").encode()


def writable(key: tuple) -> bool:
    """Whether a lone tag of key is well-formed without a context: its prefixes
    (element and attributes) are xml or declared in the tag."""
    declared = {it[1] for it in key[1:] if it[0] == "x"} | {"xml"}
    names = [key[0]] + [it[1] for it in key[1:] if it[0] == "a"]
    return all(":" not in n or n.split(":", 1)[0] in declared for n in names)


PERMUTABLE = [(j, s) for j, s in enumerate(D.shapes) if M.PERM_MIN <= len(s) - 1 <= M.PERM_MAX and writable(s)]


def test_every_permutable_shape_in_a_random_order():
    """Each static shape of 2-12 items in a random other order: PERMUTED, the
    first shape of that set of items, the rank of the order, both backends byte
    for byte, and the tag decoded in the order written."""
    assert len(PERMUTABLE) > 400
    rng = random.Random(8005)
    docs, expect = [], []
    for _j, s in PERMUTABLE:
        k = len(s) - 1
        order = list(range(k))
        while order == list(range(k)):
            rng.shuffle(order)
        key = (s[0],) + tuple(s[1 + i] for i in order)
        docs.append(tag(s, order))
        expect.append(key)
    msgs, xml = coded_alike(docs, exact=True)  # the documents themselves come back
    used = 0
    for m, key in zip(msgs, expect):
        if key in D.shape_map:  # the order is another static shape's: that shape's symbol
            assert first_node_symbol(m) == M.N_SHAPE + D.shape_map[key]
            continue
        j = D.perm_map[M.perm_key(key)]
        assert j == min(i for i, s in enumerate(D.shapes) if M.perm_key(s) == M.perm_key(key))
        r = B.BitReader(m, 1)
        assert r.sym(D.codes["node"][M.NC_DOC]) == M.N_PERMUTED
        assert r.sym(D.codes["node"][M.NC_DOC]) == M.N_SHAPE + j
        k = len(key) - 1
        order = [D.shapes[j].index(it) - 1 for it in key[1:]]
        assert r.read(M.perm_bits(k)) + 1 == M.perm_rank(order) >= 1
        used += 1
    assert used > 300


def test_a_permuted_tag_costs_less_than_a_generic_one():
    # a message in an order no static shape has
    x = b"<message id='m1' type='chat' to='a@b' from='c@d/e'/>"
    key = M.shape_key("message", [("id",), ("type",), ("to",), ("from",)])
    assert key not in D.shape_map and M.perm_key(key) in D.perm_map
    msgs, _ = coded_alike([x])
    assert first_node_symbol(msgs[0]) == M.N_PERMUTED
    # the same tag with one attribute no shape has is generic: its names cost more than PERMUTED's rank
    y = x.replace(b"/>", b" q='r'/>")
    generic, _ = coded_alike([y])
    assert first_node_symbol(generic[0]) == M.N_GENERIC
    assert len(generic[0]) > len(msgs[0]) + 3


def test_permuted_inside_an_element_of_a_node_class_and_from_the_cache():
    """PERMUTED coded through a class table (8.3) and its shape symbol in the node
    table; the second tag of that order comes from the shape cache."""
    item = b"<item jid='a@b' subscription='both' name='A'/>"  # an order of roster items
    doc = b"<iq type='result' id='r1'><query xmlns='jabber:iq:roster'>" + item * 3 + b"</query></iq>"
    coded_alike([doc], exact=True)
    coded_alike([doc])


@pytest.mark.parametrize("backend", ["python", "c"])
def test_stream_mode_never_codes_permuted(backend):
    hdr = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='b'>"
    els = [b"<message id='m%d' type='chat' to='a@b' from='c@d/e'/>" % i for i in range(3)]

    def run():
        enc = stream.StreamEncoder()
        frames = [enc.open(hdr)] + [enc.element(e) for e in els]
        return frames, [e.xml for e in stream.StreamDecoder().feed(b"".join(frames))]

    frames, xml = with_backend(backend, run)
    assert xml[1:] == els
    assert with_backend("python" if backend == "c" else "c", run)[0] == frames


def test_stream_decoders_reject_permuted(monkeypatch):
    """A stream message with PERMUTED (made by the reference with its test
    switch): both decoders fail at the same offset with the same message."""
    from test_stream_recent import decode

    from xmppbin import encoder as E

    hdr = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='b'>"
    el = b"<message id='m1' type='chat' to='a@b' from='c@d/e'/>"
    monkeypatch.setattr(E, "PERMUTED_IN_STREAMS", True)

    def run():
        enc = stream.StreamEncoder()
        return enc.open(hdr) + enc.element(el)

    data = with_backend("python", run)
    got = decode("python", data)
    assert got[0] is xmppbin.InvalidDataError and got[2].startswith("PERMUTED in stream mode"), got
    assert decode("c", data) == got
