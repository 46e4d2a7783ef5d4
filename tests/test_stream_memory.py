"""Bytes a stream state holds (StreamEncoder/StreamDecoder.footprint(),
xb_stream_footprint): exact differences against hand-computed sizes, growth
with a large unit and release after it, no growth on repeated traffic."""
from __future__ import annotations

import pytest
from conftest import require

import xmppbin
from xmppbin import model as M
from xmppbin import stream

SINGLE_BACKEND = True  # the C backend is selected explicitly (the reference has no footprint)
pytestmark = pytest.mark.usefixtures("c_backend")

require("_xmppbin_c")

HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          b"to='capulet.example' version='1.0'>")
STANZA = (b'<message to="juliet@capulet.example/balcony" from="romeo@montague.example/orchard" '
          b'type="chat" id="m1"><body>Wherefore art thou?</body></message>')


def pair(**kw):
    return stream.StreamEncoder(**kw), stream.StreamDecoder(max_size=kw.get("max_size", 1 << 20))


def run(enc, dec, data: bytes) -> None:
    dec.feed(enc.feed(data))



def test_reference_has_no_footprint():
    enc, dec = pair()
    assert isinstance(enc.footprint(), int) and isinstance(dec.footprint(), int)
    xmppbin._use_backend("python")
    enc, dec = pair()
    assert enc.footprint() is None and dec.footprint() is None


@pytest.mark.parametrize("budget", [4096, 16384, 65536])
def test_table_bytes_are_counted_exactly(budget):
    """Same traffic, two budgets, no eviction in either: the states differ by
    exactly the table's string buffer, 2 x budget + 64 bytes (a compaction
    copies into a new buffer and frees the old one at once), and
    on the decoder's side its copy of the session, 2 x budget bytes (spec
    14.3; the encoder's session window is its copy window, whose size is the
    literals', not the budget's)."""
    data = HEADER + STANZA * 3
    small = pair(table_size=1024)
    big = pair(table_size=budget)
    run(*small, data)
    run(*big, data)
    assert small[0]._c.table() == big[0]._c.table()  # nothing evicted at 1024 either
    for a, b, session in zip(small, big, (0, 2 * (budget - 1024))):
        assert b.footprint() - a.footprint() == (2 * budget + 64) - (2 * 1024 + 64) + session
        # a lower bound by hand: the string buffer, one 16-byte record per entry
        assert b.footprint() >= (2 * budget + 64) + 16 * len(big[0]._c.table())


def test_budget_zero_allocates_no_table():
    none, some = pair(table_size=0), pair(table_size=64)
    run(*none, HEADER + STANZA)
    run(*some, HEADER + STANZA)
    assert none[0]._c.table() == [] and some[0]._c.table() != []
    # 64: one string buffer pair of 2 x 64 + 64 bytes and the entry records
    assert some[0].footprint() - none[0].footprint() >= 2 * (2 * 64 + 64)


def test_large_unit_grows_then_is_released():
    """A 900 KB stanza grows the encoder's buffers; the next message releases
    every one above 64 KiB (encoder) but the session window's (spec 14.3: its
    last `budget` literal bytes, which grow to at most 2 x budget before the
    older half is dropped, and their anchors, 8 bytes each and at most one a
    byte), and the decoder keeps nothing above 256 KiB even right after it."""
    enc, dec = pair(max_size=1 << 21)
    run(enc, dec, HEADER + STANZA * 20)
    e0, d0 = enc.footprint(), dec.footprint()
    big = b"<message><body>" + b"x&amp;" * 150000 + b"</body></message>"
    run(enc, dec, big)
    assert enc.footprint() > e0 + len(big)  # input copy, arena, output
    assert dec.footprint() < d0 + (1 << 18)
    run(enc, dec, STANZA)
    window = 9 * 2 * stream.DEFAULT_TABLE_SIZE
    assert enc.footprint() < e0 + (1 << 16) + window and dec.footprint() < d0 + (1 << 18)
    many = b"<message><body>" + b'<b a="1"/>' * 60000 + b"</body></message>"
    run(enc, dec, many)
    assert enc.footprint() > e0 + 60000 * 80  # one event record per start and end tag
    run(enc, dec, STANZA)
    # each of the encoder's buffers keeps at most 64 KiB (there are 14), but the session window's
    assert enc.footprint() < e0 + 14 * (1 << 16) + window
    assert dec.footprint() < d0 + (1 << 18)


def test_repeated_traffic_does_not_grow():
    """After warm-up, more units of the same stanza and more streams (OPEN
    resets the state) leave the footprint exactly where it was."""
    enc, dec = pair()
    run(enc, dec, HEADER + STANZA * 50)
    warm = (enc.footprint(), dec.footprint())
    for _ in range(20):
        run(enc, dec, STANZA * 100)
    assert (enc.footprint(), dec.footprint()) == warm
    for i in range(30):  # new streams on the same objects
        run(enc, dec, b"</stream:stream>" + HEADER + STANZA * 50)
        assert (enc.footprint(), dec.footprint()) == warm, i


def test_distinct_values_stay_bounded():
    """10,000 stanzas with distinct ids and bodies: the table evicts, recent
    values hold at most 8 per context, so the footprint after 2,000 stanzas
    is within a few KiB of the one after 10,000."""
    enc, dec = pair(table_size=4096)
    run(enc, dec, HEADER)
    marks = []
    for n in range(10000):
        run(enc, dec, b'<message id="m%d" to="u%d@example.org"><body>text %d %s</body></message>'
            % (n, n % 977, n, b"y" * (n % 300)))
        if n in (1999, 9999):
            marks.append((enc.footprint(), dec.footprint()))
    (e1, d1), (e2, d2) = marks
    assert e2 - e1 < 8192 and d2 - d1 < 8192


@pytest.mark.parametrize("shared", [False, True], ids=["distinct", "shared"])
def test_recent_values_are_bounded_by_the_table(shared):
    """Spec 14.3: a recent value leaves its lists when its entry is evicted,
    and the C core holds a string listed in several contexts once. 8 rounds
    of a long value in each of the 47 attribute contexts (distinct values, or
    one value per round in every context) at a 4 KiB budget: the footprint
    grows by less than 48 KiB (it grew by 1.5 MB when the lists kept their
    own copies after eviction)."""
    from xmppbin.dictionary import get_dictionary

    budget = 4096
    names = sorted({a for a in get_dictionary(1).attr_ctx if ":" not in a and " " not in a})
    assert len(names) == 47
    enc, dec = pair(table_size=budget)
    run(enc, dec, HEADER + STANZA)
    before = (enc.footprint(), dec.footprint())
    for r in range(8):
        for i, a in enumerate(names):
            v = (b"%d-" % r if shared else b"%d-%d-" % (r, i)) + b"v" * (budget - 50)
            run(enc, dec, b"<message %s='%s'/>" % (a.encode(), v))
    run(enc, dec, STANZA)
    after = (enc.footprint(), dec.footprint())
    assert after[0] - before[0] < 48 * 1024 and after[1] - before[1] < 48 * 1024


@pytest.mark.parametrize("exact", [True, False])
def test_shapes_evicted_inside_a_message_outlive_it(exact):
    """A message with more than 32 new shapes evicts, while it is decoded, the
    generic shapes of its own earlier start tags: their names, attribute names
    and namespace URIs are still written after (the C decoder frees evicted
    keys only after the message; an ASan run catches the use after free this
    test was written for). C and the reference give the same frames and XML."""
    inner = b"".join(b'<q%d xmlns="urn:x:%d" attr%d="v"/>' % (i, i, i) for i in range(40))
    msg = b'<message><zz xmlns="urn:first" first="1">' + inner + b"<zz xmlns='urn:first' first='2'/></zz></message>"
    out = {}
    for name in ("c", "python"):
        xmppbin._use_backend(name)
        enc, dec = stream.StreamEncoder(exact=exact), stream.StreamDecoder()
        frames = enc.feed(HEADER + msg + msg)
        out[name] = (frames, [ev.xml for ev in dec.feed(frames)])
    assert out["c"] == out["python"]
    if exact:
        assert out["c"][1] == [HEADER, msg, msg]


# ---- the shape cache's bytes are bounded by max(budget, 4096) (spec 14.3) ----
def run_both(budget: int, data: bytes, exact: bool = True):
    """Frames and decoded units of data with both backends (asserted equal), and
    the reference encoder's and decoder's shape caches after it."""
    out = {}
    for name in ("c", "python"):
        xmppbin._use_backend(name)
        enc, dec = stream.StreamEncoder(exact=exact, table_size=budget), stream.StreamDecoder()
        frames = enc.feed(data)
        units = [ev.xml for ev in dec.feed(frames)]
        out[name] = (frames, units)
        if name == "python":
            caches = (list(enc._s.state.cache), list(dec._s.state.cache))
    assert out["c"] == out["python"]
    if exact:
        assert b"".join(out["c"][1]) == data
    return out["c"][0], caches


@pytest.mark.parametrize("budget", [0, 4096, 6000])
def test_shape_bytes_limit_fits_and_one_more_evicts(budget):
    """After <message><x a.../></message> the cache is [x, message, y, stream]:
    the header's entry is evicted; with the rest costing exactly the bound y
    stays (the last message codes it LOCAL), one byte more evicts y too (the
    last message codes it GENERIC, which evicts x)."""
    bound = max(budget, 4096)
    y = b"<message><y b='1'/></message>"
    costs = {"message": 32 + 7, "y": 32 + 1 + 1}

    def data(n: int) -> bytes:
        return HEADER + y + b"<message><x %s='1'/></message>" % (b"a" * n) + y

    n = bound - costs["message"] - costs["y"] - (32 + 1)  # x's cost: 32 + len("x") + n
    fits, (ecache, dcache) = run_both(budget, data(n))
    assert ecache == dcache
    assert [k[0] for k in ecache] == ["y", "message", "x"]  # the header's entry went, y stayed (LOCAL)
    assert sum(M.shape_cost(k) for k in ecache) == bound
    over, (ecache, dcache) = run_both(budget, data(n + 1))
    assert ecache == dcache
    # y was evicted by x; coming back as a new entry (GENERIC) it evicted x in turn
    assert [k[0] for k in ecache] == ["y", "message"]
    assert len(over) > len(fits) + 1


def test_a_shape_larger_than_the_bound_empties_the_cache():
    msg = b"<message><z %s='1'/></message>" % (b"q" * 5000)
    frames, (ecache, dcache) = run_both(4096, HEADER + msg + msg + msg)
    assert ecache == dcache == []
    _, (ecache, _) = run_both(4096, HEADER + msg + b"<message/>")
    assert [k[0] for k in ecache] == ["message"]


def test_count_limit_still_applies():
    inner = b"".join(b"<q%d/>" % i for i in range(40))
    _, (ecache, dcache) = run_both(16384, HEADER + b"<message>" + inner + b"</message>")
    assert len(ecache) == len(dcache) == M.SHAPE_CACHE


def test_adversarial_shapes_keep_the_footprint_bounded():
    """32 distinct start tags with 20 KB attribute names per message: the caches
    keep at most max(budget, 4096) bytes of shapes, so once the message's own
    buffers are released (next message) the footprint is back within 64 KiB of
    an ordinary stream's (it held 32 x 20 KB of keys on each side before)."""
    enc, dec = pair(table_size=4096)
    run(enc, dec, HEADER + STANZA * 5)
    e0, d0 = enc.footprint(), dec.footprint()
    for r in range(3):
        inner = b"".join(b"<t%d %s='v'/>" % (i, b"n" * 20000 + b"%d" % r) for i in range(32))
        run(enc, dec, b"<message>" + inner + b"</message>")
        run(enc, dec, STANZA)
        assert enc.footprint() < e0 + (1 << 16) and dec.footprint() < d0 + (1 << 16), r
