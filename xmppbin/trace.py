"""What a message is made of: the items the reference decoder reads, with their bits.

``xmppbin dump --items`` uses this: the pure-Python reference decoder runs with a
tracing subclass (the module's ``_Decoder`` is swapped for the duration of a
``tracing()`` block), which records every name, prefix, namespace and value it reads:
how (a dictionary token, a literal, a dynamic-table hit, a recent value, a typed value
such as a UUID or an integer), the string, and the bits it took, nested as read (a
literal name reads its characters as a value).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import decoder as _decoder
from . import model as M
from .bits import BitReader

_VALUE_KINDS = {
    M.V_LIT: "literal", M.V_EMPTY: "empty", M.V_INT: "integer", M.V_UUID_L: "uuid", M.V_UUID_U: "UUID",
    M.V_HEX_L: "hex", M.V_HEX_U: "HEX", M.V_B64: "base64", M.V_JID_LD: "jid l@d", M.V_JID_DR: "jid d/r",
    M.V_JID_LDR: "jid l@d/r", M.V_EXTEND: "recent+suffix",
}


def value_kind(s: int) -> str:
    if M.V_REF <= s <= M.V_REF_FAR:
        return "table hit"
    if M.V_RECENT <= s < M.V_EXTEND:
        return "recent hit"
    if s >= M.V_TOKEN:
        return "token"
    return _VALUE_KINDS.get(s, f"symbol {s}")


@dataclass
class Item:
    depth: int
    what: str       # name | prefix | namespace | value
    how: str        # token | literal | table hit | ...
    bits: int
    text: str


class _Reader(BitReader):
    __slots__ = ("first",)
    first: int | None

    def sym(self, code) -> int:
        s = super().sym(code)
        if self.first is None:
            self.first = s
        return s


class TracingDecoder(_decoder._Decoder):
    """The reference decoder, recording what it reads into ``TracingDecoder.items``."""

    items: list[Item] = []
    _depth = 0

    def __init__(self, data: bytes, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        r = _Reader(self.r.data, 0)
        r.pos, r.end, r.first = self.r.pos, self.r.end, None
        self.r = r

    def _traced(self, what: str, fn, *args: Any) -> Any:
        r = self.r
        assert isinstance(r, _Reader)
        start, saved = r.pos, r.first
        r.first = None
        idx = len(TracingDecoder.items)
        item = Item(TracingDecoder._depth, what, "", 0, "")
        TracingDecoder.items.append(item)
        TracingDecoder._depth += 1
        try:
            out = fn(*args)
        finally:
            TracingDecoder._depth -= 1
        first = r.first
        r.first = saved if saved is not None else first
        if first is None:
            how = "?"
        elif what == "value":
            how = value_kind(first)
        else:
            how = "literal" if first == 0 else "token"
        item.how, item.bits, item.text = how, r.pos - start, out
        assert TracingDecoder.items[idx] is item
        return out

    def prefix(self) -> str:
        return self._traced("prefix", super().prefix)

    def name(self, ctx: int) -> str:
        return self._traced("name", super().name, ctx)

    def ns(self) -> str:
        return self._traced("namespace", super().ns)

    def _value1(self, vctx: int, secret: bool, recall: bool) -> str:
        return self._traced("value", super()._value1, vctx, secret, recall)


@contextlib.contextmanager
def tracing() -> Iterator[list[Item]]:
    """The reference decoder traced within the block (the caller makes the Python
    backend active); yields the list the items are appended to (clear it as needed)."""
    saved = _decoder._Decoder
    TracingDecoder.items = []
    _decoder._Decoder = TracingDecoder  # type: ignore[misc]
    try:
        yield TracingDecoder.items
    finally:
        _decoder._Decoder = saved  # type: ignore[misc]


def format_items(items: list[Item], indent: str = "      ") -> str:
    lines = []
    for it in items:
        text = it.text if len(it.text) <= 60 else it.text[:57] + "..."
        lines.append(f"{indent}{it.bits:>5} bits  {'  ' * it.depth}{it.what:<9} {it.how:<13} {text!r}")
    return "\n".join(lines)
