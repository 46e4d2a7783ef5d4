"""xmppbin: a compact, lossless binary encoding of XMPP stanzas.

    >>> import xmppbin
    >>> data = xmppbin.encode(b"<r xmlns='urn:xmpp:sm:3'/>")
    >>> xmppbin.decode(data)
    b"<r xmlns='urn:xmpp:sm:3'/>"

The format is specified in spec/xmppbin.md. ``decode(encode(x))`` has the XML
infoset of ``x``; with ``exact=True`` it is ``x`` byte for byte.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from . import decoder as _decoder
from . import encoder as _encoder
from .dictionary import Dictionary, get_dictionary
from .errors import (
    DecodeError,
    DecodeLimitError,
    EncodeError,
    EncodeLimitError,
    InvalidDataError,
    LimitExceededError,
    MalformedXMLError,
    RestrictedXMLDecodeError,
    RestrictedXMLEncodeError,
    RestrictedXMLError,
    TrailingDataError,
    TruncatedError,
    UnknownDictionaryError,
    XmppbinError,
    with_index,
)
from .limits import DEFAULT_LIMITS, Limits
from .xmlscan import DEFAULT_CONTEXT, STREAM_NS
from .xmlscan import is_ncname as _is_ncname

__all__ = [
    "Codec", "Decoder", "Encoder", "Limits", "DEFAULT_LIMITS", "DEFAULT_CONTEXT", "STREAM_NS",
    "encode", "decode", "decode_str", "encode_element", "decode_element", "encode_many", "decode_many",
    "backend", "BACKENDS",
    "XmppbinError", "EncodeError", "DecodeError", "MalformedXMLError", "RestrictedXMLError",
    "RestrictedXMLEncodeError", "RestrictedXMLDecodeError", "TruncatedError", "TrailingDataError",
    "UnknownDictionaryError", "InvalidDataError", "LimitExceededError", "EncodeLimitError",
    "DecodeLimitError",
]

__version__ = "0.1.0"
#: dictionary id used by encode() unless told otherwise
DEFAULT_DICTIONARY = 1

BACKENDS = ("c", "python")


class _PythonBackend:
    name = "python"
    encode = staticmethod(_encoder.encode)
    decode = staticmethod(_decoder.decode)

    @staticmethod
    def encode_many(xmls, d, **kw):
        out = []
        for i, x in enumerate(xmls):
            try:
                out.append(_encoder.encode(x, d, **kw))
            except XmppbinError as e:
                raise with_index(e, i) from None
        return out

    @staticmethod
    def decode_many(datas, **kw):
        out = []
        for i, x in enumerate(datas):
            try:
                out.append(_decoder.decode(bytes(x), **kw))
            except XmppbinError as e:
                raise with_index(e, i) from None
        return out


def _c_backend():
    from . import _cdecoder, _cencoder

    class _CBackend:
        name = "c"
        encode = staticmethod(_cencoder.encode)
        decode = staticmethod(_cdecoder.decode)
        encode_many = staticmethod(_cencoder.encode_many)
        decode_many = staticmethod(_cdecoder.decode_many)

    return _CBackend


def _select(name: str):
    """The implementation for a backend name: "c", "python", or "" for the default
    (C if the extension is built, else the pure-Python reference)."""
    if name == "python":
        return _PythonBackend
    if name == "c":
        return _c_backend()  # ImportError if the extension is not built
    if name:
        raise ValueError(f"XMPPBIN_BACKEND must be 'c' or 'python', not {name!r}")
    try:
        return _c_backend()
    except ImportError:
        return _PythonBackend


_impl = _select(os.environ.get("XMPPBIN_BACKEND", ""))
#: which implementation is active: "c" (the C core) or "python" (the reference)
backend: str = _impl.name


def _use_backend(name: str) -> None:
    """Switch the active implementation (tests run the whole suite on both)."""
    global _impl, backend
    _impl = _select(name)
    backend = _impl.name
    if _cfast is not None:
        _cfast.set_enabled(backend == "c")


# The CPython entry point of the C core (csrc/pyfast.c): when it is built (and the
# cffi module too, which it falls back on), install() below makes encode, decode,
# encode_many and decode_many of Encoder and Decoder C methods that code bytes
# directly and call the Python methods defined here for everything else (other
# input types, open_root, errors, the Python backend). Not on PyPy.
_cfast: Any  # an extension module without stubs
try:
    _cfast = importlib.import_module("._xmppbin_fast", __name__)
except ImportError:
    _cfast = None


def _limits(kw: dict) -> Limits:
    if not kw:
        return DEFAULT_LIMITS
    try:
        return Limits(**kw)
    except TypeError:
        bad = sorted(set(kw) - set(Limits.__dataclass_fields__))
        raise TypeError(f"unknown option(s): {', '.join(bad)}") from None


#: attributes holding what was prepared from the others; setting them keeps it
_PREPARED = frozenset(("_fast", "_cenc", "_cdec"))


class _Prepared:
    """Options objects that prepare their options for the backend on first use:
    setting any attribute drops what was prepared, copies and pickles leave it
    out. _cenc / _cdec: the options for the C fast path (an Options object of
    xmppbin._xmppbin_fast, or False when it cannot take them), made by
    _prepare_cenc / _prepare_cdec; _fast: Encoder's prepared cffi path."""

    _fast: tuple | None = None
    _cenc: Any = None
    _cdec: Any = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name not in _PREPARED:
            self._forget()

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name not in _PREPARED:
            self._forget()

    def _forget(self) -> None:
        d = self.__dict__
        d["_fast"] = d["_cenc"] = d["_cdec"] = None
        if _cfast is not None:
            _cfast.forget(self)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in _PREPARED:
            state.pop(name, None)
        return state


class Encoder(_Prepared):
    """Encodes XML with fixed options; reusable and safe to share between threads.

    context: namespace bindings inherited from the stream header (prefix -> URI,
    "" for the default namespace); default DEFAULT_CONTEXT, i.e. jabber:client
    and the stream prefix. Limits are keyword arguments (max_size, max_depth,
    max_attributes, max_string, max_elements).
    """

    exact: bool
    context: dict[str, str]
    allow_comments: bool
    limits: Limits
    dictionary: Dictionary

    def __init__(
        self,
        *,
        exact: bool = False,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        dictionary: int = DEFAULT_DICTIONARY,
        **limits: int,
    ) -> None:
        exact = bool(exact)
        ctx = _context(context)
        allow_comments = bool(allow_comments)
        lim = _limits(limits)
        try:
            dic = get_dictionary(dictionary)
        except UnknownDictionaryError:
            raise ValueError(f"unknown dictionary id {dictionary!r}") from None
        # as plain attributes (not through __setattr__, which only matters later)
        d = self.__dict__
        d["exact"] = exact
        d["context"] = ctx
        d["allow_comments"] = allow_comments
        d["limits"] = lim
        d["dictionary"] = dic

    # _fast: what the active backend prepared for these options, made by the
    # second encode() (a single call gains nothing from it): (backend, copy of
    # the context, encode function, then what the C backend's shortest path
    # needs, else Nones). Dropped whenever an attribute is set; not used once
    # the backend or the context has changed. (With xmppbin._xmppbin_fast,
    # encode(bytes) does not get here: see _install_fast.)
    #: _fast after the first encode(): never valid, so the next one prepares
    _FIRST_CALL = (None,) * 8

    def encode(self, xml: bytes | str, *, open_root: bool | None = None) -> bytes:
        """Encode one element (or, with open_root, a stream header left open)."""
        p = self._fast
        if p is not None and p[0] is _impl and p[1] == self.context:
            if open_root is None and type(xml) is bytes and p[3] is not None:
                # the C backend's shortest path, inline: this thread's encoder,
                # if its options are these, straight to C (see _cencoder.prepare)
                try:
                    st = p[3].state
                except AttributeError:
                    return p[2](xml, None)
                if st[3] is p[4]:
                    n = p[5](st[0], xml, len(xml))
                    if 0 <= n <= p[6]:
                        return st[4][:n]
                    return p[7](st, n)
            return p[2](xml, open_root)
        if p is None:
            self.__dict__["_fast"] = self._FIRST_CALL
            return _impl.encode(
                xml,
                self.dictionary,
                exact=self.exact,
                limits=self.limits,
                context=self.context,
                allow_comments=self.allow_comments,
                open_root=open_root,
            )
        return self._prepare_encode()(xml, open_root)

    def _prepare_encode(self):
        impl = _impl
        ctx = self.context
        kw: dict[str, Any] = dict(exact=self.exact, limits=self.limits, context=ctx, allow_comments=self.allow_comments)
        fast = None
        if impl.name == "c":
            from . import _cencoder

            f, fast = _cencoder.prepare(self.dictionary, **kw)
        else:
            d = self.dictionary

            def f(xml, open_root):
                return impl.encode(xml, d, open_root=open_root, **kw)

        self._fast = (impl, dict(ctx), f) + (fast or (None,) * 5)
        return f

    def encode_many(self, xmls: Iterable[bytes | str]) -> list[bytes]:
        """Encode many elements in one call (one FFI crossing with the C backend).
        The first invalid input raises its error; the message names its index."""
        return _impl.encode_many(
            list(xmls),
            self.dictionary,
            exact=self.exact,
            limits=self.limits,
            context=self.context,
            allow_comments=self.allow_comments,
        )

    def encode_element(self, el: Any) -> bytes:
        """Encode an lxml element (serialized by lxml, so lxml's lexical choices apply)."""
        from lxml import etree

        return self.encode(etree.tostring(el, encoding="utf-8", with_tail=False))


class Decoder(_Prepared):
    """Decodes messages with fixed options; reusable and safe to share between threads."""

    def __init__(
        self,
        *,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        **limits: int,
    ) -> None:
        self.context = _context(context)
        self.allow_comments = bool(allow_comments)
        self.limits = _limits(limits)

    def decode(self, data: bytes) -> bytes:
        """The UTF-8 XML of one message."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        return _impl.decode(data, limits=self.limits, context=self.context, allow_comments=self.allow_comments)

    def decode_many(self, datas: Iterable[bytes]) -> list[bytes]:
        """Decode many messages in one call; the first invalid one raises."""
        datas = list(datas)
        for x in datas:
            if not isinstance(x, (bytes, bytearray, memoryview)):
                raise TypeError(f"data must be bytes, not {type(x).__name__}")
        return _impl.decode_many(datas, limits=self.limits, context=self.context, allow_comments=self.allow_comments)

    def decode_str(self, data: bytes) -> str:
        return self.decode(data).decode("utf-8")

    def decode_element(self, data: bytes) -> Any:
        """An lxml element; prefixes of the context stay resolvable."""
        from lxml import etree

        xml = self.decode(data)
        decls = "".join(
            f" xmlns='{_attr(uri)}'" if not p else f" xmlns:{p}='{_attr(uri)}'" for p, uri in self.context.items()
        )
        wrapper = etree.fromstring(f"<xmppbin-context{decls}>".encode() + xml + b"</xmppbin-context>")
        el = wrapper[0]
        wrapper.remove(el)
        return el


def _context(context: Mapping[str, str] | None) -> dict:
    if context is None:
        return dict(DEFAULT_CONTEXT)
    out = {}
    for p, uri in dict(context).items():
        if not isinstance(p, str) or not isinstance(uri, str):
            raise TypeError("context maps prefix strings to namespace URI strings")
        if p and not _is_ncname(p):
            raise ValueError(f"context prefix {p!r} is not an NCName")
        out[p] = uri
    return out


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


class Codec(Encoder, Decoder):
    """Both directions with one set of options."""

    def __init__(self, **options: Any) -> None:
        Encoder.__init__(self, **options)


def _prepare_cenc(self: Encoder) -> Any:
    """The fast path's options of an Encoder (stored as its _cenc), or False if it
    cannot take them: another dictionary, a context that is not a dict of str."""
    o = False
    try:
        ctx, lim = self.context, self.limits
        if self.dictionary is _D1 and type(ctx) is dict:
            o = _cfast.Options(self.exact, self.allow_comments, lim.max_size, lim.max_depth, lim.max_attributes,
                               lim.max_string, lim.max_elements, ctx)
    except Exception:
        o = False
    self.__dict__["_cenc"] = o
    return o


def _prepare_cdec(self: Decoder) -> Any:
    """The fast path's options of a Decoder (stored as its _cdec), or False."""
    o = False
    try:
        ctx, lim = self.context, self.limits
        if type(ctx) is dict:
            o = _cfast.Options(False, self.allow_comments, lim.max_size, lim.max_depth, lim.max_attributes,
                               lim.max_string, lim.max_elements, ctx)
    except Exception:
        o = False
    self.__dict__["_cdec"] = o
    return o


def _install_fast() -> None:
    """Make the four methods C entry points (csrc/pyfast.c) if both extensions are built;
    the methods defined above stay their fallback for everything else."""
    global _cfast, _D1
    if _cfast is None:
        return
    try:
        _c_backend()
    except ImportError:  # the fast path relies on the cffi module for the rest
        _cfast = None
        return
    _D1 = get_dictionary(1)
    for cls, name, prep in ((Encoder, "encode", _prepare_cenc), (Encoder, "encode_many", _prepare_cenc),
                            (Decoder, "decode", _prepare_cdec), (Decoder, "decode_many", _prepare_cdec)):
        _cfast.install(cls, name, cls.__dict__[name], prep)
    _cfast.set_enabled(backend == "c")


_D1: Any = None
_install_fast()
#: for the module-level functions called without options
_DEFAULT_CODEC = Codec()


def encode(xml: bytes | str, *, exact: bool = False, open_root: bool | None = None, **options: Any) -> bytes:
    """Encode one XMPP element. See Encoder for the options."""
    if exact is False and open_root is None and not options:
        return _DEFAULT_CODEC.encode(xml)
    return Encoder(exact=exact, **options).encode(xml, open_root=open_root)


def decode(data: bytes, **options: Any) -> bytes:
    """Decode one message to UTF-8 XML. See Decoder for the options."""
    if not options:
        return _DEFAULT_CODEC.decode(data)
    return Decoder(**options).decode(data)


def decode_str(data: bytes, **options: Any) -> str:
    return Decoder(**options).decode_str(data)


def encode_element(el: Any, **options: Any) -> bytes:
    return Encoder(**options).encode_element(el)


def decode_element(data: bytes, **options: Any) -> Any:
    return Decoder(**options).decode_element(data)


def encode_many(xmls: Iterable[bytes | str], *, exact: bool = False, **options: Any) -> list[bytes]:
    """Encode many elements in one call. See Encoder for the options."""
    if exact is False and not options:
        return _DEFAULT_CODEC.encode_many(xmls)
    return Encoder(exact=exact, **options).encode_many(xmls)


def decode_many(datas: Iterable[bytes], **options: Any) -> list[bytes]:
    """Decode many messages in one call. See Decoder for the options."""
    if not options:
        return _DEFAULT_CODEC.decode_many(datas)
    return Decoder(**options).decode_many(datas)


if _cfast is not None:
    # With one positional argument (the calls above that take no options) these
    # are the C methods of _DEFAULT_CODEC, without a Python frame in between;
    # every other call goes to the Python functions above, whose name, docstring
    # and signature they show (see Function in csrc/pyfast.c).
    encode = _cfast.function("encode", encode, _DEFAULT_CODEC)
    decode = _cfast.function("decode", decode, _DEFAULT_CODEC)
    encode_many = _cfast.function("encode_many", encode_many, _DEFAULT_CODEC)
    decode_many = _cfast.function("decode_many", decode_many, _DEFAULT_CODEC)
