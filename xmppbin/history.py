"""The string history: per message in stateless mode, the dynamic table in stream mode.

Entries are addressed by recency: index 0 is the newest entry. Without a budget
(stateless messages) the history only grows. With a budget (stream mode, the
HPACK-style dynamic table of spec section 14) every entry costs its UTF-8 length
plus 32 bytes; after an insertion the oldest entries are evicted until the
total fits, and an entry larger than the whole budget empties the table and is
not inserted (RFC 7541 4.4). In stream mode a reference also moves its entry to
the front (index 0): the table is kept in least-recently-used order, so strings
a session keeps repeating (its own JID, the server's domain) stay cheap to
reference however much else passes (spec 14.3).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .model import REF_NEAR

ENTRY_OVERHEAD = 32


class History:
    __slots__ = ("entries", "pos", "serial", "size", "budget", "gone", "last_far")

    def __init__(self, budget: int | None = None) -> None:
        self.entries: deque = deque()  # (string, size), oldest first
        # stateless: string -> serial of its newest entry; with a budget (entries
        # move): string -> number of its entries
        self.pos: dict[str, int] = {}
        self.serial = 0  # serial of the next entry
        self.size = 0
        self.budget = budget
        #: with a budget: called with a string when its last entry leaves the
        #: table (evicted), and with None when the table is emptied (spec 14.3:
        #: the recent values that stop being recallable leave their lists)
        self.gone: Callable[[str | None], None] | None = None
        #: with a budget: the index of the last REF_FAR (spec 14.3, far
        #: references), which the next one is coded relative to
        self.last_far = REF_NEAR

    def far_gamma(self, i: int) -> int:
        """The GAMMA value of a REF_FAR to entry i (i >= REF_NEAR): i - REF_NEAR + 1
        without a budget; with one, the zigzag of i - last_far, plus 1 (spec 14.3)."""
        if self.budget is None:
            return i - REF_NEAR + 1
        d = i - self.last_far
        return (2 * d if d >= 0 else -2 * d - 1) + 1

    def far_index(self, g: int) -> int:
        """The entry index of a REF_FAR whose GAMMA value is g (far_gamma's inverse)."""
        if self.budget is None:
            return g + REF_NEAR - 1
        z = g - 1
        return self.last_far + (z >> 1 if not z & 1 else -((z + 1) >> 1))

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, s: str) -> int | None:
        """Recency index of the newest entry equal to s, or None."""
        p = self.pos.get(s)
        if p is None:
            return None
        if self.budget is None:
            return self.serial - 1 - p
        for i, e in enumerate(reversed(self.entries)):
            if e[0] == s:
                return i
        raise AssertionError("history index out of step")  # pragma: no cover

    def use(self, i: int) -> None:
        """A reference to entry i: with a budget, the entry moves to index 0."""
        if self.budget is not None and i:
            e = self.entries[-1 - i]
            del self.entries[-1 - i]
            self.entries.append(e)

    def get(self, i: int) -> str:
        """Entry i (0 is the newest); the caller checks i < len(self)."""
        return self.entries[-1 - i][0]

    def add(self, s: str) -> None:
        if self.budget is None:
            self.entries.append((s, 0))
        else:
            size = (len(s) if s.isascii() else len(s.encode("utf-8"))) + ENTRY_OVERHEAD
            if size > self.budget:
                self.clear()
                return
            self.entries.append((s, size))
            self.size += size
            self.pos[s] = self.pos.get(s, 0) + 1
            while self.size > self.budget:
                self._evict()
            return
        self.pos[s] = self.serial
        self.serial += 1

    def _evict(self) -> None:
        s, size = self.entries.popleft()
        self.size -= size
        n = self.pos[s] - 1
        if n:
            self.pos[s] = n
        else:
            del self.pos[s]
            if self.gone is not None:
                self.gone(s)

    def clear(self) -> None:
        self.entries.clear()
        self.pos.clear()
        self.size = 0
        if self.gone is not None:
            self.gone(None)
