"""The CPython fast path (csrc/pyfast.c, xmppbin._xmppbin_fast) against the Python
reference: Encoder.encode / Decoder.decode / encode_many / decode_many as C methods.

Every result must equal the reference's; every error must have the reference's
class, offset, limit and (batch calls) index, since the fast path hands every
failure to the Python methods. Also: options changed after the first call (the
context in place too), inputs the fast path does not take, backend switches,
large inputs coded without the GIL, and several threads sharing one object.
Without the fast module (PyPy, or not built) these tests are skipped; under CI
on CPython it is required.
"""
from __future__ import annotations

import copy
import pickle
import random
import threading

import pytest
from conftest import require

import xmppbin
from xmppbin import decoder as pydecoder
from xmppbin import encoder as pyencoder
from xmppbin.dictionary import get_dictionary
from xmppbin.errors import LimitExceededError, XmppbinError
from xmppbin.limits import DEFAULT_LIMITS, Limits

SINGLE_BACKEND = True  # switches backends itself
pytestmark = pytest.mark.usefixtures("c_backend")

_xmppbin_fast = require("_xmppbin_fast")

D = get_dictionary(1)



def ref_encode(x, **kw):
    kw.setdefault("limits", DEFAULT_LIMITS)
    return pyencoder.encode(x, D, **kw)


def ref_decode(m, **kw):
    kw.setdefault("limits", DEFAULT_LIMITS)
    return pydecoder.decode(m, **kw)


def outcome(fn, *args, **kw):
    try:
        return ("ok", fn(*args, **kw))
    except XmppbinError as e:
        return (type(e).__name__, e.offset, e.limit if isinstance(e, LimitExceededError) else None,
                getattr(e, "index", None))


def stanzas(sample_records):
    return [r["xml"].encode() for r in sample_records
            if r["kind"] != "stream-header" and not r["assumed_prefixes"] and "<!--" not in r["xml"]]


def test_installed():
    for cls, name in ((xmppbin.Encoder, "encode"), (xmppbin.Encoder, "encode_many"),
                      (xmppbin.Decoder, "decode"), (xmppbin.Decoder, "decode_many")):
        assert type(cls.__dict__[name]).__name__ == "method_descriptor", name
    codec = xmppbin.Codec()
    assert codec.encode.__self__ is codec and "Encode one element" in xmppbin.Codec.encode.__doc__


def test_same_bytes_as_reference(sample_records):
    xs = stanzas(sample_records)
    for opts in ({}, {"exact": True}, {"allow_comments": True}, {"max_string": 64}):
        enc = xmppbin.Encoder(**opts)
        ropts = {k: v for k, v in opts.items() if k != "max_string"}
        limits = Limits(max_string=opts["max_string"]) if "max_string" in opts else DEFAULT_LIMITS
        want = [outcome(ref_encode, x, limits=limits, **ropts) for x in xs]
        assert [outcome(enc.encode, x) for x in xs] == want
        msgs = [w[1] for w in want if w[0] == "ok"]
        dec = xmppbin.Decoder(**{k: v for k, v in opts.items() if k != "exact"})
        assert [dec.decode(m) for m in msgs] == [ref_decode(m, limits=limits) for m in msgs]
        # batch calls (lists and tuples, small and large enough to go without the GIL)
        assert enc.encode_many(msgs and [x for x, w in zip(xs, want) if w[0] == "ok"]) == msgs
        assert dec.decode_many(tuple(msgs)) == [dec.decode(m) for m in msgs]
        assert dec.decode_many(msgs * 30) == [dec.decode(m) for m in msgs] * 30


def test_errors_are_the_reference_errors(sample_records):
    rnd = random.Random(5)
    xs = stanzas(sample_records)[:150]
    bad = [x[: rnd.randrange(len(x))] for x in xs] + [x.replace(b">", b"<", 1) for x in xs[:20]]
    bad += [b"<a>\xff</a>", b"<a>&bogus;</a>", b"<!--c--><a/>", b"", b"<a xmlns:p='urn:p' p:x='1' x='2'/>"]
    enc = xmppbin.Codec(max_depth=4)
    for x in bad:
        assert outcome(enc.encode, x) == outcome(ref_encode, x, limits=Limits(max_depth=4)), x
    msgs = [ref_encode(x) for x in xs]
    corrupt = [m[: rnd.randrange(len(m))] for m in msgs]
    for m in msgs[:50]:
        b = bytearray(m)
        b[rnd.randrange(2, len(b))] ^= 1 << rnd.randrange(8)
        corrupt.append(bytes(b))
    corrupt += [m + b"\0" for m in msgs[:10]] + [b"", b"\x20", b"\xff\x01"]
    dec = xmppbin.Codec(max_size=300)
    for m in corrupt:
        assert outcome(dec.decode, m) == outcome(ref_decode, m, limits=Limits(max_size=300)), m
    # batch calls: the first failure, with its index, also past a large prefix
    for k in (0, 7, len(xs) - 1):
        items = list(xs)
        items[k] = b"<a>"
        got = outcome(xmppbin.encode_many, items * 3)
        assert got == ("MalformedXMLError", 0, None, k)
        ms = list(msgs) * 40
        ms[k + 3000] = msgs[k][:1]
        assert outcome(xmppbin.decode_many, ms) == ("TruncatedError", 1, None, k + 3000)


def test_other_inputs_take_the_python_path():
    x = "<message to='a@b/c'><body>héllo</body></message>"
    want = ref_encode(x)
    enc = xmppbin.Encoder()
    assert enc.encode(x) == enc.encode(x.encode()) == enc.encode(bytearray(x.encode())) == want
    assert enc.encode(memoryview(x.encode())) == want
    assert enc.encode(x.encode(), open_root=None) == want
    with pytest.raises(TypeError):
        enc.encode(["<a/>"])
    with pytest.raises(TypeError):
        enc.encode()
    assert enc.encode_many([x, x.encode(), bytearray(x.encode())]) == [want] * 3
    assert enc.encode_many(iter([x.encode()])) == [want]
    dec = xmppbin.Decoder()
    assert dec.decode(bytearray(want)) == dec.decode(memoryview(want)) == dec.decode(want)
    assert dec.decode_many(iter([want, bytearray(want)])) == [dec.decode(want)] * 2
    with pytest.raises(TypeError):
        dec.decode("text")
    with pytest.raises(TypeError):
        dec.decode_many([want, "text"])


def test_options_follow_changes():
    x = b"<iq xmlns:p='urn:p' type='get'><p:q a='1'/><c:x xmlns:c='urn:c'/><d:y/></iq>"
    enc = xmppbin.Codec()
    f = enc.encode  # bound before the changes
    with pytest.raises(xmppbin.MalformedXMLError):
        f(x)  # d is unbound
    enc.context["d"] = "urn:d"  # in place
    ctx = dict(xmppbin.DEFAULT_CONTEXT, d="urn:d")
    assert f(x) == ref_encode(x, context=ctx)
    enc.exact = True
    assert f(x) == ref_encode(x, context=ctx, exact=True)
    assert enc.decode(f(x)) == x
    enc.context["d"] = "urn:other"
    assert f(x) == ref_encode(x, context=dict(ctx, d="urn:other"), exact=True)
    enc.context = {"": "jabber:server", "d": "urn:d"}
    assert f(x) == ref_encode(x, context={"": "jabber:server", "d": "urn:d"}, exact=True)
    enc.limits = Limits(max_size=10)
    with pytest.raises(xmppbin.EncodeLimitError):
        f(x)
    # a context the fast path cannot take (not str): the Python path decides
    enc.limits = DEFAULT_LIMITS
    enc.context["d"] = 5
    assert outcome(f, x) == outcome(ref_encode, x, context={"": "jabber:server", "d": 5}, exact=True)
    enc.context["d"] = "urn:d\udc00"  # a lone surrogate: surrogatepass on the Python path
    assert outcome(f, x) == outcome(ref_encode, x, context={"": "jabber:server", "d": "urn:d\udc00"}, exact=True)


def test_backend_switch_and_copies():
    x = b"<presence from='a@b/c'><show>away</show></presence>"
    enc = xmppbin.Codec(exact=True)
    first = enc.encode(x)
    xmppbin._use_backend("python")
    assert enc.encode(x) == first and enc.decode(first) == x
    xmppbin._use_backend("c")
    assert enc.encode(x) == first
    for other in (pickle.loads(pickle.dumps(enc)), copy.copy(enc), copy.deepcopy(enc)):
        assert "_cenc" not in other.__getstate__()
        assert other.encode(x) == first and other.decode(first) == x


def test_subclass_overrides():
    class Mine(xmppbin.Codec):
        def encode(self, xml, **kw):
            return b"!" + super().encode(xml, **kw)

    assert Mine().encode(b"<a/>") == b"!" + ref_encode(b"<a/>")


def test_module_functions_and_other_dictionaries():
    x = b"<message><body>x</body></message>"
    assert xmppbin.encode(x) == ref_encode(x)
    assert xmppbin.decode(xmppbin.encode(x)) == x
    assert xmppbin.encode(x, exact=True) == ref_encode(x, exact=True)
    assert xmppbin.encode_many([x]) == [ref_encode(x)]
    assert xmppbin.decode_many([ref_encode(x)], max_depth=3) == [x]


def test_large_inputs_and_threads():
    """One Codec shared by threads, with inputs small enough to keep the GIL and
    large enough (over 64 KiB) to be coded without it, single and batch calls."""
    rnd = random.Random(11)
    small = [f"<message id='m{i}' to='u{i}@example.com/r'><body>{'x' * (i + 1)}</body></message>".encode()
             for i in range(40)]
    big = [("<a>" + "".join(f"<b n='{rnd.random()}'>{rnd.getrandbits(99):x}</b>" for _ in range(3000 + k))
            + "</a>").encode() for k in range(3)]
    assert all(len(b) > 64 * 1024 for b in big)
    xs = small + big
    want = [ref_encode(x) for x in xs]
    assert any(len(w) > 16 * 1024 for w in want)
    codec = xmppbin.Codec()
    errors = []

    def work(k):
        try:
            for r in range(4):
                order = list(range(len(xs)))
                random.Random(k * 10 + r).shuffle(order)
                for i in order:
                    if codec.encode(xs[i]) != want[i] or codec.decode(want[i]) != xs[i]:
                        errors.append(i)
                if codec.encode_many(xs) != want or codec.decode_many(want) != xs:
                    errors.append("batch")
                try:
                    codec.encode(b"<a>" + xs[-1])
                except xmppbin.MalformedXMLError as e:
                    if e.offset != 0:
                        errors.append(("error", e.offset))
                else:
                    errors.append("no error")
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]


def test_gil_released_for_large_inputs():
    """Another thread runs Python code while one large input is being encoded: with
    the GIL held it could only run until the call starts (a switch interval)."""
    import sys
    import time

    big = ("<a>" + "<b x='1'>text</b>" * 400000 + "</a>").encode()  # 7 MB
    codec = xmppbin.Codec(max_size=1 << 24, max_elements=1 << 20)
    want = codec.encode(big)
    margin = 2 * sys.getswitchinterval()
    for _ in range(3):
        ticks = []
        stop = threading.Event()

        def ticker(stop: threading.Event, ticks: list) -> None:
            while not stop.is_set():
                ticks.append(time.perf_counter())

        t = threading.Thread(target=ticker, args=(stop, ticks))
        t.start()
        try:
            time.sleep(0.01)
            t0 = time.perf_counter()
            got = codec.encode(big)
            t1 = time.perf_counter()
        finally:
            stop.set()
            t.join()
        assert got == want
        if t1 - t0 > 4 * margin and any(t0 + margin < x < t1 - margin for x in ticks):
            return
    pytest.fail("no other thread ran during the large calls")


def test_objects_freed_and_made_again():
    """The C path remembers the last object used; a new one (perhaps at the same
    address) must get its own options, and alternating objects theirs."""
    x = b"<a xmlns:p='urn:p' b='1'><p:b/> x </a>"
    want = {exact: ref_encode(x, exact=exact) for exact in (False, True)}
    for i in range(60):
        c = xmppbin.Codec(exact=bool(i % 2))
        assert c.encode(x) == want[bool(i % 2)]
        assert c.decode(want[True]) == x
        del c
    a, b = xmppbin.Encoder(), xmppbin.Encoder(exact=True)
    for _ in range(5):
        assert (a.encode(x), b.encode(x), a.encode(x)) == (want[False], want[True], want[False])
        assert a.encode_many([x]) == [want[False]] and b.encode_many([x]) == [want[True]]
