"""xmppbin.encode / decode / encode_many / decode_many, the module-level functions.

Called with default options they take the C fast path of the Codec methods
(csrc/pyfast.c, Function): no Python frame runs between the caller and C. Every
other call (options, other input types, errors, the Python backend) behaves as
the Python functions they stand for, whose name, docstring and signature they
show. Results and errors must equal those of Codec() methods, on both backends.
"""
from __future__ import annotations

import copy
import inspect
import os
import pickle
import platform
import pydoc
import random
import sys
import types

import pytest

import xmppbin
from xmppbin.errors import LimitExceededError, XmppbinError

PKG = os.path.dirname(os.path.abspath(xmppbin.__file__))
try:
    from xmppbin import _xmppbin_fast  # noqa: F401

    FAST = True
except ImportError:  # pragma: no cover - depends on the build
    if os.environ.get("CI") and platform.python_implementation() == "CPython":
        raise
    FAST = False

X = b"<message to='romeo@montague.lit' type='chat'><body>Hi</body></message>"
SIGNATURES = {
    "encode": "(xml: 'bytes | str', *, exact: 'bool' = False, open_root: 'bool | None' = None, "
              "**options: 'Any') -> 'bytes'",
    "decode": "(data: 'bytes', **options: 'Any') -> 'bytes'",
    "encode_many": "(xmls: 'Iterable[bytes | str]', *, exact: 'bool' = False, **options: 'Any') -> 'list[bytes]'",
    "decode_many": "(datas: 'Iterable[bytes]', **options: 'Any') -> 'list[bytes]'",
}
DOCS = {
    "encode": "Encode one XMPP element. See Encoder for the options.",
    "decode": "Decode one message to UTF-8 XML. See Decoder for the options.",
    "encode_many": "Encode many elements in one call. See Encoder for the options.",
    "decode_many": "Decode many messages in one call. See Decoder for the options.",
}


def outcome(fn, *args, **kw):
    try:
        return ("ok", fn(*args, **kw))
    except XmppbinError as e:
        return (type(e).__name__, e.offset, e.limit if isinstance(e, LimitExceededError) else None,
                getattr(e, "index", None))
    except TypeError as e:
        return ("TypeError", str(e))


def package_frames(fn, *args, **kw) -> list[str]:
    """The xmppbin Python functions entered while fn(*args, **kw) runs."""
    seen = []

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(PKG):
            seen.append(frame.f_code.co_name)

    sys.setprofile(prof)
    try:
        fn(*args, **kw)
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_look_like_the_python_functions(name):
    """help(), inspect.signature(), the docstring and the names are those of the
    Python function; pickling and copying keep the object."""
    f = getattr(xmppbin, name)
    assert str(inspect.signature(f)) == SIGNATURES[name]
    assert f.__doc__ == DOCS[name] and inspect.getdoc(f) == DOCS[name]
    assert (f.__name__, f.__qualname__, f.__module__) == (name, name, "xmppbin")
    assert inspect.isroutine(f) and inspect.getmodule(f) is xmppbin
    text = pydoc.render_doc(f, renderer=pydoc.plaintext)
    assert text.split("\n", 2)[2] == f"{name}{SIGNATURES[name]}\n    {DOCS[name]}\n"
    assert pickle.loads(pickle.dumps(f)) is f and copy.copy(f) is f and copy.deepcopy(f) is f
    if FAST:
        assert isinstance(f.__wrapped__, types.FunctionType) and f.__wrapped__.__name__ == name
        assert repr(f) == repr(f.__wrapped__)


@pytest.mark.skipif(not FAST, reason="the C fast path is not built (PyPy)")
def test_default_calls_run_no_python_code():
    """With the C backend, a call without options goes straight into C (once the
    default Codec has prepared its options); with the Python backend, and with
    options, the Python functions run."""
    prev = xmppbin.backend
    try:
        xmppbin._use_backend("c")
        data = xmppbin.encode(X)
        datas = xmppbin.encode_many([X, X])
        xmppbin.decode(data)
        xmppbin.decode_many(datas)
        assert package_frames(xmppbin.encode, X) == []
        assert package_frames(xmppbin.decode, data) == []
        assert package_frames(xmppbin.encode_many, [X, X]) == []
        assert package_frames(xmppbin.decode_many, datas) == []
        # the methods of a Codec, for comparison: the same
        codec = xmppbin.Codec()
        codec.encode(X)
        assert package_frames(codec.encode, X) == []
        # options: the Python function
        assert package_frames(xmppbin.encode, X, exact=True)[0] == "encode"
        assert package_frames(xmppbin.decode, data, max_depth=3)[0] == "decode"
        xmppbin._use_backend("python")
        assert "encode" in package_frames(xmppbin.encode, X)  # xmppbin/encoder.py
        assert xmppbin.encode(X) == data and xmppbin.decode(data) == X
        assert xmppbin.encode_many([X, X]) == datas and xmppbin.decode_many(datas) == [X, X]
    finally:
        xmppbin._use_backend(prev)


def test_same_results_and_errors_as_codec_methods(sample_records):
    """On the active backend (the suite runs on both): every result and error
    (class, offset, limit, index; TypeError messages) is the Codec method's."""
    rnd = random.Random(9)
    xs = [r["xml"].encode() for r in sample_records
          if r["kind"] != "stream-header" and not r["assumed_prefixes"] and "<!--" not in r["xml"]][:200]
    bad = [x[: rnd.randrange(len(x))] for x in xs[:60]] + [b"<a>&bogus;</a>", b"", b"<a>\xff</a>"]
    codec = xmppbin.Codec()
    inputs = xs + bad + [x.decode() for x in xs[:20]] + [bytearray(xs[0]), 12, None]
    for x in inputs:
        assert outcome(xmppbin.encode, x) == outcome(codec.encode, x), x
    msgs = [codec.encode(x) for x in xs]
    corrupt = [m[: rnd.randrange(len(m))] for m in msgs[:60]] + [m + b"\0" for m in msgs[:10]]
    for m in msgs + corrupt + [bytearray(msgs[0]), memoryview(msgs[1]), "text", 5]:
        assert outcome(xmppbin.decode, m) == outcome(codec.decode, m), m
    for make in (lambda: xs, lambda: tuple(xs), lambda: iter(xs), lambda: xs[:5] + [b"<a>"] + xs[5:],
                 lambda: [x.decode() for x in xs[:9]], lambda: 7):
        assert outcome(xmppbin.encode_many, make()) == outcome(codec.encode_many, make())
    for items in (msgs, tuple(msgs), msgs[:3] + [msgs[3][:2]] + msgs, [bytearray(m) for m in msgs[:4]], 3):
        assert outcome(xmppbin.decode_many, items) == outcome(codec.decode_many, items)
    # keyword options and argument errors: as the Python functions
    assert xmppbin.encode(xs[0], exact=True) == xmppbin.Codec(exact=True).encode(xs[0])
    assert outcome(xmppbin.encode, xs[0], max_depth=1) == outcome(xmppbin.Codec(max_depth=1).encode, xs[0])
    assert outcome(xmppbin.encode, xs[0], bogus=1) == ("TypeError", "unknown option(s): bogus")
    assert outcome(xmppbin.encode) == ("TypeError", "encode() missing 1 required positional argument: 'xml'")
    assert outcome(xmppbin.decode, msgs[0], msgs[0])[0] == "TypeError"
    assert outcome(xmppbin.encode, xml=xs[0]) == ("ok", msgs[0])
