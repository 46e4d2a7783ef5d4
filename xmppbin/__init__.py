"""xmppbin: a compact, lossless binary encoding of XMPP stanzas.

    >>> import xmppbin
    >>> data = xmppbin.encode(b"<r xmlns='urn:xmpp:sm:3'/>")
    >>> xmppbin.decode(data)
    b"<r xmlns='urn:xmpp:sm:3'/>"

The format is specified in spec/xmppbin.md. ``decode(encode(x))`` has the XML
infoset of ``x``; with ``exact=True`` it is ``x`` byte for byte.
"""
from __future__ import annotations

from typing import Any, Mapping

from . import decoder as _decoder
from . import encoder as _encoder
from .dictionary import get_dictionary
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
)
from .limits import DEFAULT_LIMITS, Limits
from .xmlscan import DEFAULT_CONTEXT, STREAM_NS

__all__ = [
    "Codec", "Decoder", "Encoder", "Limits", "DEFAULT_LIMITS", "DEFAULT_CONTEXT", "STREAM_NS",
    "encode", "decode", "decode_str", "encode_element", "decode_element", "backend",
    "XmppbinError", "EncodeError", "DecodeError", "MalformedXMLError", "RestrictedXMLError",
    "RestrictedXMLEncodeError", "RestrictedXMLDecodeError", "TruncatedError", "TrailingDataError",
    "UnknownDictionaryError", "InvalidDataError", "LimitExceededError", "EncodeLimitError",
    "DecodeLimitError",
]

__version__ = "0.1.0"
#: which implementation is active: "python" (the reference) until the C core lands
backend = "python"
#: dictionary id used by encode() unless told otherwise
DEFAULT_DICTIONARY = 1


def _limits(kw: dict) -> Limits:
    if not kw:
        return DEFAULT_LIMITS
    try:
        return Limits(**kw)
    except TypeError:
        bad = sorted(set(kw) - set(Limits.__dataclass_fields__))
        raise TypeError(f"unknown option(s): {', '.join(bad)}") from None


class Encoder:
    """Encodes XML with fixed options; reusable and safe to share between threads.

    context: namespace bindings inherited from the stream header (prefix -> URI,
    "" for the default namespace); default DEFAULT_CONTEXT, i.e. jabber:client
    and the stream prefix. Limits are keyword arguments (max_size, max_depth,
    max_attributes, max_string, max_elements).
    """

    def __init__(
        self,
        *,
        exact: bool = False,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        dictionary: int = DEFAULT_DICTIONARY,
        **limits: int,
    ) -> None:
        self.exact = bool(exact)
        self.context = dict(DEFAULT_CONTEXT if context is None else context)
        self.allow_comments = bool(allow_comments)
        self.limits = _limits(limits)
        self.dictionary = get_dictionary(dictionary)

    def encode(self, xml: bytes | str, *, open_root: bool | None = None) -> bytes:
        """Encode one element (or, with open_root, a stream header left open)."""
        return _encoder.encode(
            xml,
            self.dictionary,
            exact=self.exact,
            limits=self.limits,
            context=self.context,
            allow_comments=self.allow_comments,
            open_root=open_root,
        )

    def encode_element(self, el: Any) -> bytes:
        """Encode an lxml element (serialized by lxml, so lxml's lexical choices apply)."""
        from lxml import etree

        return self.encode(etree.tostring(el, encoding="utf-8", with_tail=False))


class Decoder:
    """Decodes messages with fixed options; reusable and safe to share between threads."""

    def __init__(
        self,
        *,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        **limits: int,
    ) -> None:
        self.context = dict(DEFAULT_CONTEXT if context is None else context)
        self.allow_comments = bool(allow_comments)
        self.limits = _limits(limits)

    def decode(self, data: bytes) -> bytes:
        """The UTF-8 XML of one message."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        return _decoder.decode(data, limits=self.limits, context=self.context, allow_comments=self.allow_comments)

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


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


class Codec(Encoder, Decoder):
    """Both directions with one set of options."""

    def __init__(self, **options: Any) -> None:
        Encoder.__init__(self, **options)


def encode(xml: bytes | str, *, exact: bool = False, open_root: bool | None = None, **options: Any) -> bytes:
    """Encode one XMPP element. See Encoder for the options."""
    return Encoder(exact=exact, **options).encode(xml, open_root=open_root)


def decode(data: bytes, **options: Any) -> bytes:
    """Decode one message to UTF-8 XML. See Decoder for the options."""
    return Decoder(**options).decode(data)


def decode_str(data: bytes, **options: Any) -> str:
    return Decoder(**options).decode_str(data)


def encode_element(el: Any, **options: Any) -> bytes:
    return Encoder(**options).encode_element(el)


def decode_element(data: bytes, **options: Any) -> Any:
    return Decoder(**options).decode_element(data)
