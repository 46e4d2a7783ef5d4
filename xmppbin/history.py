"""The string history: per message in stateless mode, the dynamic table in stream mode.

Entries are addressed by recency: index 0 is the newest entry. Without a budget
(stateless messages) the history only grows. With a budget (stream mode, the
HPACK-style dynamic table of spec section 14) every entry costs its UTF-8 length
plus 32 bytes; after an insertion the oldest entries are evicted until the
total fits, and an entry larger than the whole budget empties the table and is
not inserted (RFC 7541 4.4).
"""
from __future__ import annotations

from collections import deque

ENTRY_OVERHEAD = 32


class History:
    __slots__ = ("entries", "pos", "serial", "size", "budget")

    def __init__(self, budget: int | None = None) -> None:
        self.entries: deque = deque()  # (string, size), oldest first
        self.pos: dict[str, int] = {}  # string -> serial of its newest entry
        self.serial = 0  # serial of the next entry
        self.size = 0
        self.budget = budget

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, s: str) -> int | None:
        """Recency index of the newest entry equal to s, or None."""
        p = self.pos.get(s)
        return None if p is None else self.serial - 1 - p

    def get(self, i: int) -> str | None:
        return self.entries[-1 - i][0] if i < len(self.entries) else None

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
        self.pos[s] = self.serial
        self.serial += 1
        if self.budget is not None:
            while self.size > self.budget:
                self._evict()

    def _evict(self) -> None:
        oldest = self.serial - len(self.entries)
        s, size = self.entries.popleft()
        self.size -= size
        if self.pos.get(s) == oldest:
            del self.pos[s]

    def clear(self) -> None:
        self.entries.clear()
        self.pos.clear()
        self.size = 0
        # serials keep counting: indices are relative, so nothing else changes
