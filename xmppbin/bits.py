"""Bit-level I/O (MSB first) and canonical Huffman codes, as in spec/xmppbin.md."""
from __future__ import annotations

from .errors import InvalidDataError, TruncatedError

MAX_CODE_LENGTH = 24
MAX_GAMMA_BITS = 32  # Elias-gamma values are < 2**32


def check_code_lengths(lengths: bytes) -> None:
    """Raise ValueError unless every length is 1..24 and together they leave no
    code over-subscribed (Kraft: the sum of 2^-length is at most 1)."""
    if not lengths or min(lengths) < 1 or max(lengths) > MAX_CODE_LENGTH:
        raise ValueError("code lengths must be 1..24")
    if sum(lengths.count(n) << (MAX_CODE_LENGTH - n) for n in range(1, MAX_CODE_LENGTH + 1)) > 1 << MAX_CODE_LENGTH:
        raise ValueError("code lengths over-subscribe the code space")


class HuffmanCode:
    """A canonical prefix code over symbols 0..n-1 given by their code lengths (1..24).

    Codes are assigned in order of (length, symbol), as in DEFLATE (RFC 1951 3.2.2).
    """

    __slots__ = ("lengths", "codes", "first", "count", "offset", "sorted_syms", "maxlen", "key")

    def __init__(self, lengths: bytes | list[int]) -> None:
        lengths = bytes(lengths)
        check_code_lengths(lengths)
        self.lengths = lengths
        maxlen = max(lengths)
        count = [0] * (maxlen + 1)
        for ln in lengths:
            count[ln] += 1
        order = sorted(range(len(lengths)), key=lambda s: (lengths[s], s))
        codes = [0] * len(lengths)
        first = [0] * (maxlen + 2)
        offset = [0] * (maxlen + 2)
        code = 0
        idx = 0
        for ln in range(1, maxlen + 1):
            first[ln] = code
            offset[ln] = idx
            for _ in range(count[ln]):
                codes[order[idx]] = code
                code += 1
                idx += 1
            code <<= 1
        self.codes = codes
        self.first = first
        self.count = count
        self.offset = offset
        self.sorted_syms = order
        self.maxlen = maxlen
        #: (table name, context) of a dictionary's table (counted by tools/gen_dictionary.py)
        self.key: tuple[str, int] | None = None


def gamma_length(n: int) -> int:
    return 2 * n.bit_length() - 1


class BitWriter:
    __slots__ = ("out", "acc", "nacc", "nbits")

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0
        self.nbits = 0

    def write(self, value: int, n: int) -> None:
        if n == 0:
            return
        self.acc = (self.acc << n) | value
        self.nacc += n
        self.nbits += n
        if self.nacc >= 64:
            extra = self.nacc & 7
            nbytes = self.nacc >> 3
            self.out += (self.acc >> extra).to_bytes(nbytes, "big")
            self.acc &= (1 << extra) - 1
            self.nacc = extra

    def sym(self, code: HuffmanCode, s: int) -> None:
        self.write(code.codes[s], code.lengths[s])

    def gamma(self, n: int) -> None:
        """Elias gamma code of n >= 1."""
        b = n.bit_length()
        self.write(n, 2 * b - 1)

    def getvalue(self) -> bytes:
        pad = -self.nacc & 7
        tail = (self.acc << pad).to_bytes((self.nacc + pad) >> 3, "big") if self.nacc else b""
        return bytes(self.out) + tail


class BitReader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start_byte: int) -> None:
        self.data = data
        self.pos = start_byte * 8
        self.end = len(data) * 8

    @property
    def offset(self) -> int:
        return self.pos >> 3

    def bit(self) -> int:
        p = self.pos
        if p >= self.end:
            raise TruncatedError("message is truncated", len(self.data))
        self.pos = p + 1
        return (self.data[p >> 3] >> (7 - (p & 7))) & 1

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        p = self.pos
        end = p + n
        if end > self.end:
            raise TruncatedError("message is truncated", len(self.data))
        last = (end + 7) >> 3
        v = int.from_bytes(self.data[p >> 3 : last], "big") >> ((last << 3) - end)
        self.pos = end
        return v & ((1 << n) - 1)

    def sym(self, code: HuffmanCode) -> int:
        first = code.first
        count = code.count
        c = 0
        for ln in range(1, code.maxlen + 1):
            c = (c << 1) | self.bit()
            d = c - first[ln]
            if d < count[ln]:
                return code.sorted_syms[code.offset[ln] + d]
        raise InvalidDataError("invalid Huffman code", self.pos >> 3)

    def gamma(self) -> int:
        z = 0
        while self.bit() == 0:
            z += 1
            if z >= MAX_GAMMA_BITS:
                raise InvalidDataError("Elias-gamma value too large", self.pos >> 3)
        return (1 << z) | self.read(z)
