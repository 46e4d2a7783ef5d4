"""Limits enforced identically by every backend (spec/xmppbin.md, "Limits")."""
from __future__ import annotations

from dataclasses import dataclass, fields

#: Defaults. A value N is accepted; N + 1 is rejected.
MAX_SIZE = 1 << 20  # XML bytes (encode input, decode output) and binary input bytes
MAX_DEPTH = 128  # element nesting depth; the root element has depth 1
MAX_ATTRIBUTES = 128  # attributes + namespace declarations on one element
MAX_STRING = 1 << 20  # UTF-8 bytes in one text node, attribute value, name or comment
MAX_ELEMENTS = 65536  # elements in one message


@dataclass(frozen=True)
class Limits:
    max_size: int = MAX_SIZE
    max_depth: int = MAX_DEPTH
    max_attributes: int = MAX_ATTRIBUTES
    max_string: int = MAX_STRING
    max_elements: int = MAX_ELEMENTS

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1 or v > (1 << 31) - 1:
                raise ValueError(f"{f.name} must be an int in 1..2**31-1, got {v!r}")


DEFAULT_LIMITS = Limits()
