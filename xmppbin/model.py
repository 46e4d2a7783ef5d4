"""Symbol alphabets and the shared parts of the coding model (spec/xmppbin.md, "Model").

Everything here is used identically by the encoder, the decoder and the
dictionary generator, so the three cannot drift apart.
"""
from __future__ import annotations

import base64
import binascii
import functools
import math
import re

from .bits import gamma_length

FORMAT_VERSION = 1
KIND_ELEMENT = 0
KIND_STREAM_OPEN = 1
#: an OPEN frame's stream header that keeps the stream state (a restart, spec 14.2)
KIND_RESTART = 2
#: dictionary ids a one-byte message header names in its low two bits (spec 5)
SHORT_HEADER_IDS = (1, 2, 3)


def header(kind: int, exact: bool, dict_id: int) -> bytes:
    """The message header (spec 5): one byte for dictionaries 1-3, else two."""
    b0 = (FORMAT_VERSION << 5) | (kind << 3) | (int(bool(exact)) << 2)
    return bytes((b0 | dict_id,)) if dict_id in SHORT_HEADER_IDS else bytes((b0, dict_id))

# --- node alphabet (content items) -------------------------------------------
N_END = 0
N_TEXT = 1
N_WS_SAME = 2
N_WS_PARENT = 3
N_WS_DEEPER = 4  # 4..11: parent's whitespace plus 1..8 spaces
WS_DEEPER_MAX = 8
N_COMMENT = 12
N_PI = 13
N_GENERIC = 14
N_PERMUTED = 15  # a static shape's items in another order (spec 8.5; stateless only)
N_LOCAL = 16  # 16..47: shape cache entries 0..31
SHAPE_CACHE = 32
N_SHAPE = N_LOCAL + SHAPE_CACHE  # static shapes follow
# PERMUTED (spec 8.5): a shape of PERM_MIN..PERM_MAX items, the order written
# as the rank of its permutation (perm_rank) minus 1 in perm_bits(k) bits
PERM_MIN = 2
PERM_MAX = 12


def perm_bits(k: int) -> int:
    """Width of a PERMUTED rank for a shape of k items: bl(k! - 2) (0 for k = 2)."""
    return (math.factorial(k) - 2).bit_length()


def perm_rank(order: list[int]) -> int:
    """The rank (Lehmer code, first position most significant) of the
    permutation order (order[i]: the shape item written i-th); 0 is the
    shape's own order."""
    k = len(order)
    avail = list(range(k))
    r = 0
    for i in range(k - 1):
        j = avail.index(order[i])
        del avail[j]
        r = r * (k - i) + j
    return r


def perm_key(key: tuple) -> tuple:
    """A shape key's element qname and items in a fixed order (its items as a set)."""
    return (key[0],) + tuple(sorted(key[1:]))


def perm_order(k: int, r: int) -> list[int]:
    """perm_rank's inverse for 0 <= r < k!."""
    digits = []
    for radix in range(2, k + 1):  # the last position's digit first
        digits.append(r % radix)
        r //= radix
    avail = list(range(k))
    return [avail.pop(j) for j in reversed(digits)] + avail

# node contexts
NC_DOC = 0  # document level (around the root element)
NC_START = 1  # first item of an element's content
NC_AFTER_WS = 2  # after a whitespace-only text node
NC_AFTER_ELEM = 3  # after a child element
NC_AFTER_OTHER = 4  # after other text, a comment or a PI
NODE_CONTEXTS = 5
# Stream mode (spec 14.3): node symbols are coded in context c when no prediction
# is available, in c + NC_PREDICTED when one is; there the extra symbol PRED
# (the last symbol of the stream node alphabet) stands for the predicted event.
NC_PREDICTED = NODE_CONTEXTS
# Node classes (spec 8.3): inside an element whose qname is node-contexts[k-1]
# (class k >= 1), a stateless message codes a node symbol of context c >= 1
# first in the table nodecls[(k-1) * NODECLS_CONTEXTS + c - 1], whose alphabet
# is N_ESCAPE and the class's NODE_CLASS_SYMS listed node symbols (local
# symbol i + 1 for the i-th); N_ESCAPE is followed by the symbol in node[c].
NODECLS_CONTEXTS = NODE_CONTEXTS - 1  # START, AFTER_WS, AFTER_ELEM, AFTER_OTHER
NODE_CLASS_SYMS = 31
N_ESCAPE = 0  # local symbol 0 of a nodecls table
NODECLS_MAX_LEN = 8  # the longest code of a nodecls table (a decoder reads one with one 8-bit lookup)

# --- generic start tags ---------------------------------------------------------
P_LITERAL = 0  # prefix alphabet: 0 = literal, 1 + i = prefixes[i]
NM_LITERAL = 0  # name alphabet: 0 = literal, 1 + i = names[i]
NMC_ELEMENT = 0
NMC_ATTR = 1
NAME_CONTEXTS = 2
A_END = 0  # attribute item alphabet
A_XMLNS = 1
A_XMLNS_PREFIX = 2
A_PREFIXED = 3
A_LITERAL = 4
A_NAME = 5  # 5 + i = unprefixed attribute names[i]
NS_LITERAL = 0  # namespace alphabet: 0 = literal, 1 + i = namespaces[i]

# --- values -----------------------------------------------------------------------
V_LIT = 0
V_EMPTY = 1
V_INT = 2
V_UUID_L = 3
V_UUID_U = 4
V_HEX_L = 5
V_HEX_U = 6
V_B64 = 7
V_JID_LD = 8
V_JID_DR = 9
V_JID_LDR = 10
V_REF = 11  # 11..26: history entries 0..15
REF_NEAR = 16
V_REF_FAR = V_REF + REF_NEAR  # 27, then gamma(index - 15)
V_RECENT = V_REF_FAR + 1  # 28..35: stream mode, the k-th most recent value of the same value context (14.3)
RECENT = 8  # values each context remembers
RECENT_BITS = 3  # bits of the recent-value index of EXTEND
V_EXTEND = V_RECENT + RECENT  # 36: stream mode, a prefix of a recent value of the context + literal suffix
V_TOKEN = V_EXTEND + 1  # 37 + i = values[i]

# char symbols of a copy (spec 8.11), bytes no literal holds (no XML Char):
COPY = 1  # from the window after the prior, by its distance
COPY_STR = 2  # from the start of a prior string, by the string's index
COPY_INNER = 3  # from another inner anchor of the prior (one that starts no string), by its index
COPY_MIN = 4  # shortest copy; its length is coded as GAMMA(len - COPY_MIN + 1)
COPY_CANDIDATES = 16  # earlier positions an encoder examines per byte (8.11)
# the key of the prior's inner anchors (8.11): an encoder looks a literal's anchor
# after its first byte up in the prior by the 6 bytes from it, among the last 4
# inner anchors of the prior with that key
PRIOR_INNER_KEY = 6
PRIOR_INNER_CANDIDATES = 4
# a stateless message is searched for copies of its own literals (8.11) from this
# many value bytes on (the prior text in every message); every stream message is
# searched in full (its literals join the session window)
COPY_MIN_MESSAGE = 768
# A copy starts only at an anchor of its literal (8.11): a position that is a multiple
# of 16 (0 included), or a byte that is no UTF-8 continuation byte after a byte that is
# no ASCII letter or digit.
ANCHOR_AFTER = bytes(0 if chr(b).isascii() and chr(b).isalnum() else 1 for b in range(256))


def is_anchor(s: bytes, i: int) -> bool:
    return i % 16 == 0 or (ANCHOR_AFTER[s[i - 1]] == 1 and s[i] & 0xC0 != 0x80)


# value contexts: 8 fixed ones, then attribute contexts, then text contexts
VC_OTHER_ATTR = 0
VC_OTHER_TEXT = 1
VC_NSURI = 2
VC_NAME = 3
VC_JID_LOCAL = 4
VC_JID_DOMAIN = 5
VC_JID_RESOURCE = 6
VC_MISC = 7
VC_FIXED = 8

HEX_MIN = 6
B64_MIN = 8
B64_LAYOUT_MIN = 34  # bytes: a B64 value this long (48 characters or more) has the wrapped bit (spec 8.6)
INT_MAX_BITS = 64


# --- literal byte contexts (spec 8.1, "Char contexts") ------------------------------
# ASCII bytes are in groups: bytes whose next byte is alike share one
# (tools/gen_char_groups.py chose them from the literal values of the XEP training
# split and of generated traffic). Every byte 0x00-0x7F is in one.
ASCII_GROUP_COUNT = 16
ASCII_GROUPS = (
    b'\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f#(+ABDEFGHIJKLMNOPQRSUVWXY_z\x7f',
    b'\t\n !")*,>]^|',
    b"$&';<=?CZ[\\`qty{}~",
    b'%-/:T',
    b'.@',
    b'0123456789',
    b'a',
    b'bjmpwx',
    b'ch',
    b'dfgkrv',
    b'e',
    b'iu',
    b'l',
    b'n',
    b'o',
    b's',
)
ASCII_GROUP = bytes(next(i for i, g in enumerate(ASCII_GROUPS) if b in g) for b in range(128))

# The context of an ASCII byte's successor also depends on the byte before it:
# its class p is 0 at the start of the literal, 1 + the group of an ASCII byte,
# PAIR_CLASSES - 1 after any other byte. ASCII_SPLITS[g][p] is the subset of p
# for group g (tools/gen_char_groups.py --splits 32 chose them as it chose the groups);
# the contexts after an ASCII byte are numbered from 1, group by group, subset
# by subset.
PAIR_CLASSES = 2 + ASCII_GROUP_COUNT
ASCII_SPLITS = (
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 1, 0, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    (0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0),
    (0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
)
_ASCII_BASE = tuple(1 + sum(1 + max(s) for s in ASCII_SPLITS[:g]) for g in range(ASCII_GROUP_COUNT))
ASCII_CONTEXTS = sum(1 + max(s) for s in ASCII_SPLITS)
# ASCII_NEXT[p][b]: the context after ASCII byte b whose byte before is of class p
ASCII_NEXT = tuple(bytes(_ASCII_BASE[ASCII_GROUP[b]] + ASCII_SPLITS[ASCII_GROUP[b]][p] for b in range(128))
                   for p in range(PAIR_CLASSES))
# ASCII_CONTEXT_GROUP[c - 1]: the group of the ASCII byte that led to context c
ASCII_CONTEXT_GROUP = bytes(g for g in range(ASCII_GROUP_COUNT) for _ in range(1 + max(ASCII_SPLITS[g])))

# The context of a literal byte is the state of a small automaton over the bytes
# before it in the string: 0 before the first byte; 1..ASCII_CONTEXTS after an
# ASCII byte (by its group and the class of the byte before it); then, for UTF-8,
# the script of the last complete character (by its lead byte), the lead byte
# group while the first continuation byte is due, and the lead group while a
# later continuation byte of a 3- or 4-byte character is due.
CC_FIRST = 0
# after a complete non-ASCII character: lead byte ranges, then "invalid"
CHAR_SCRIPTS = ((0xC2, 0xC3), (0xC4, 0xCD), (0xCE, 0xCF), (0xD0, 0xD3), (0xD4, 0xD6), (0xD7, 0xD7),
                (0xD8, 0xDB), (0xDC, 0xDF), (0xE0, 0xE0), (0xE1, 0xE1), (0xE2, 0xE2), (0xE3, 0xE3),
                (0xE4, 0xE9), (0xEA, 0xED), (0xEE, 0xEF), (0xF0, 0xF4))
CC_SCRIPT = 1 + ASCII_CONTEXTS  # 33 + i: after a character whose lead byte is in CHAR_SCRIPTS[i]
CC_INVALID = CC_SCRIPT + len(CHAR_SCRIPTS)  # 49: after a byte that starts no UTF-8 character
# first continuation byte due: lead byte ranges
CHAR_LEADS = ((0xC2, 0xC2), (0xC3, 0xC3), (0xC4, 0xC5), (0xC6, 0xCD), (0xCE, 0xCE), (0xCF, 0xCF),
              (0xD0, 0xD0), (0xD1, 0xD1), (0xD2, 0xD3), (0xD4, 0xD4), (0xD5, 0xD5), (0xD6, 0xD6),
              (0xD7, 0xD7), (0xD8, 0xD8), (0xD9, 0xD9), (0xDA, 0xDB), (0xDC, 0xDF), (0xE0, 0xE0),
              (0xE1, 0xE1), (0xE2, 0xE2), (0xE3, 0xE3), (0xE4, 0xE9), (0xEA, 0xED), (0xEE, 0xEF),
              (0xF0, 0xF0), (0xF1, 0xF4))
CC_LEAD = CC_INVALID + 1  # 50 + i: after lead byte in CHAR_LEADS[i]
# second continuation byte of a 3-byte character, by lead byte range; then the
# second and third continuation bytes of a 4-byte character
CHAR_MIDS = ((0xE0, 0xE0), (0xE1, 0xE1), (0xE2, 0xE2), (0xE3, 0xE3), (0xE4, 0xE9), (0xEA, 0xED), (0xEE, 0xEF))
CC_MID = CC_LEAD + len(CHAR_LEADS)  # 76 + i
CC_MID4 = CC_MID + len(CHAR_MIDS)  # 83: second continuation byte of a 4-byte character
CC_LAST4 = CC_MID4 + 1  # 84: third continuation byte of a 4-byte character
CC_OLD = CC_LAST4 + 1  # 85: the contexts above; then the tracked bytes' and the listed pairs'

# Tracked bytes and listed pairs (spec 8.1): after a tracked ASCII byte a the
# context is CC_TRACKED + its index in CHAR_TRACKED, after the listed pair a b
# (a tracked) CC_PAIR + the pair's index in CHAR_PAIRS: an order-2 context for
# the commonest two-byte contexts of literal text, order 1 for their first
# bytes. tools/gen_char_groups.py --pairs 171 chose them (the byte pairs of
# literal values of the XEP training split and of generated traffic, by the
# bytes that follow them), so that the contexts are 256 in all.
CHAR_TRACKED = b' \nesalcohritnd.mf@v-b20pugxk1y'
CHAR_PAIRS = (
    b'  ', b'\n ', b'er', b'st', b'al', b'lo', b'ca', b'os', b'ho', b'on', b'oc', b'lh',
    b'en', b're', b'co', b'in', b'e.', b'an', b'e ', b'or', b'le', b'es', b'at', b'ce',
    b'ti', b'th', b'he', b'te', b'nc', b't/', b'ar', b'li', b'de', b'.l', b'mp', b'se',
    b'fe', b'nd', b'ra', b'nf', b'is', b'@l', b'it', b'io', b'me', b'@c', b' t', b'et',
    b'ri', b'ch', b'om', b'am', b'ic', b've', b't ', b'-0', b'be', b'nt', b's ', b'no',
    b'el', b'di', b'ma', b'ne', b'ha', b'll', b'to', b'n ', b'ot', b'ro', b'ex', b'im',
    b'ed', b' a', b'-1', b'20', b'0@', b'ns', b'ng', b'pl', b'ur', b'ou', b'ad', b'pp',
    b'ge', b'r ', b'sa', b'. ', b'ta', b'si', b'.c', b' s', b'na', b'rs', b'us', b'00',
    b'xm', b'so', b'ss', b'il', b'mi', b'd ', b'xa', b'id', b'ke', b'ea', b's.', b'ab',
    b'la', b'tt', b'ol', b'1@', b'as', b'pe', b'o ', b'ie', b'ac', b'hi', b'.m', b'od',
    b'e-', b'rt', b'sh', b' o', b'a.', b'mo', b'12', b' c', b'ut', b'ec', b'.1', b'ia',
    b' i', b'n.', b' m', b'ck', b'pr', b'y ', b'ub', b'po', b'.b',
)
CC_TRACKED = CC_OLD
CC_PAIR = CC_TRACKED + len(CHAR_TRACKED)
CHAR_CONTEXTS = CC_PAIR + len(CHAR_PAIRS)  # 256
_TRACKED_CTX = {b: CC_TRACKED + i for i, b in enumerate(CHAR_TRACKED)}
_PAIR_CTX = {(p[0], p[1]): CC_PAIR + i for i, p in enumerate(CHAR_PAIRS)}
# CHAR_LAST[ctx - CC_OLD]: the byte that led to a tracked-byte or pair context
CHAR_LAST = CHAR_TRACKED + bytes(p[1] for p in CHAR_PAIRS)


def pair_class(ctx: int) -> int:
    """The class p (ASCII_NEXT) of the byte that led to context ctx < CC_OLD: 0 for
    none (the start), 1 + its group for an ASCII byte, PAIR_CLASSES - 1 for any other
    (_char_next maps a context >= CC_OLD to one below CC_OLD first)."""
    if ctx == CC_FIRST:
        return 0
    if ctx <= ASCII_CONTEXTS:
        return 1 + ASCII_CONTEXT_GROUP[ctx - 1]
    return PAIR_CLASSES - 1


def _range_index(ranges, b: int) -> int:
    for i, (lo, hi) in enumerate(ranges):
        if lo <= b <= hi:
            return i
    return -1


def _char_next(ctx: int, b: int) -> int:
    """The context after byte b, coded in context ctx (spec 8.1)."""
    if ctx >= CC_OLD:
        k = _PAIR_CTX.get((CHAR_LAST[ctx - CC_OLD], b))
        if k is not None:
            return k
    k = _TRACKED_CTX.get(b)
    if k is not None:
        return k
    if ctx >= CC_OLD:  # as after the same ASCII byte at the start: only its group matters below
        ctx = ASCII_NEXT[0][CHAR_LAST[ctx - CC_OLD]]
    if 0x80 <= b <= 0xBF and ctx >= CC_LEAD:  # an expected continuation byte
        if ctx < CC_MID:
            lead = CHAR_LEADS[ctx - CC_LEAD][0]
            if lead < 0xE0:
                return CC_SCRIPT + _range_index(CHAR_SCRIPTS, lead)
            if lead < 0xF0:
                return CC_MID + _range_index(CHAR_MIDS, lead)
            return CC_MID4
        if ctx < CC_MID4:
            return CC_SCRIPT + _range_index(CHAR_SCRIPTS, CHAR_MIDS[ctx - CC_MID][0])
        if ctx == CC_MID4:
            return CC_LAST4
        return CC_SCRIPT + _range_index(CHAR_SCRIPTS, 0xF0)
    if b < 0x80:  # anything else starts a character
        return ASCII_NEXT[pair_class(ctx)][b]
    i = _range_index(CHAR_LEADS, b)
    return CC_INVALID if i < 0 else CC_LEAD + i


# CHAR_NEXT[ctx][b]: the context of the byte after b, b coded in context ctx
CHAR_NEXT = tuple(bytes(_char_next(c, b) for b in range(256)) for c in range(CHAR_CONTEXTS))


def char_context_after(bs: bytes | bytearray) -> int:
    """The context after the bytes bs of a literal (CC_FIRST for none)."""
    ctx = CC_FIRST
    nxt = CHAR_NEXT
    for b in bs:
        ctx = nxt[ctx][b]
    return ctx

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INT_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_HEXL_RE = re.compile(r"[0-9a-f]+")
_HEXU_RE = re.compile(r"[0-9A-F]+")
_B64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
JID_WS = frozenset(" \t\r\n")  # a JID-packed string contains none of these


def uuid_kind(s: str) -> int:
    """V_UUID_L / V_UUID_U if s is a UUID in one letter case, else -1."""
    if len(s) != 36 or _UUID_RE.fullmatch(s) is None:
        return -1
    if s == s.lower():
        return V_UUID_L
    if s == s.upper():
        return V_UUID_U
    return -1


def int_value(s: str) -> int:
    """The integer for a canonical decimal string below 2**64, else -1."""
    if len(s) > 20 or _INT_RE.fullmatch(s) is None:
        return -1
    n = int(s)
    return n if n < (1 << INT_MAX_BITS) else -1


def hex_kind(s: str) -> int:
    if len(s) < HEX_MIN:
        return -1
    if _HEXL_RE.fullmatch(s):
        return V_HEX_L
    if _HEXU_RE.fullmatch(s):
        return V_HEX_U
    return -1


def b64_bytes(s: str) -> bytes | None:
    """Decoded bytes if s is canonical padded base64 (re-encodes to itself), else None."""
    if len(s) < B64_MIN or len(s) % 4 or _B64_RE.fullmatch(s) is None:
        return None
    try:
        raw = base64.b64decode(s, validate=True)
    except binascii.Error:
        return None
    return raw if base64.b64encode(raw).decode("ascii") == s else None


# B64 layout (spec 8.6): a base64 body wrapped in lines, with whitespace around it.
# A whitespace string WS() is GAMMA(len + 1), then each character by this prefix code.
WS_CODE = {" ": (0b0, 1), "\n": (0b10, 2), "\t": (0b110, 3), "\r": (0b111, 3)}
_WS_RUN_RE = re.compile(r"[ \t\r\n]+")


def ws_cost(w: str) -> int:
    """Bits of WS(w)."""
    return gamma_length(len(w) + 1) + sum(WS_CODE[c][1] for c in w)


def b64_layout(s: str):
    """(raw, lead, width, sep, trail) if s is canonical padded base64 of at least
    B64_MIN characters with a layout (spec 8.6): lead and trail the maximal runs of
    whitespace at its ends, the rest lines of width characters (the last 1..width)
    separated by one whitespace string sep; width 0 and sep "" for one line. None
    when s has no whitespace (b64_bytes tells then) or is not of this shape."""
    if len(s) < B64_MIN or not any(c in JID_WS for c in s):
        return None
    body = s.strip(" \t\r\n")
    lead = s[: len(s) - len(s.lstrip(" \t\r\n"))]
    trail = s[len(lead) + len(body):]
    runs = _WS_RUN_RE.split(body)
    if len(runs) == 1:
        width, sep = 0, ""
    else:
        seps = _WS_RUN_RE.findall(body)
        width, sep = len(runs[0]), seps[0]
        if any(x != sep for x in seps) or any(len(x) != width for x in runs[:-1]) or len(runs[-1]) > width:
            return None
    raw = b64_bytes("".join(runs))
    if raw is None:
        return None
    return raw, lead, width, sep, trail


def b64_layout_cost(lead: str, width: int, sep: str, trail: str) -> int:
    """Bits of the layout after the wrapped bit (spec 8.6)."""
    c = ws_cost(lead) + gamma_length(width + 1) + ws_cost(trail)
    if width:
        c += 1 + (0 if sep == lead else ws_cost(sep))
    return c


def jid_split(s: str):
    """(symbol, local, domain, resource) for a JID-shaped string, else None.

    The split is purely lexical and always reversible: local is the text before
    the first '@' of the part before the first '/'; no validation, no case change.
    """
    if not s or any(c in JID_WS for c in s):
        return None
    slash = s.find("/")
    bare, res = (s, None) if slash < 0 else (s[:slash], s[slash + 1 :])
    at = bare.find("@")
    local, domain = (None, bare) if at < 0 else (bare[:at], bare[at + 1 :])
    if not domain or local == "" or res == "":
        return None
    if local is None and res is None:
        return None
    if res is None:
        return (V_JID_LD, local, domain, None)
    if local is None:
        return (V_JID_DR, None, domain, res)
    return (V_JID_LDR, local, domain, res)


def is_ws_only(s: str) -> bool:
    """Whitespace-only text eligible for the indentation symbols (no CR)."""
    return bool(s) and not s.strip(" \t\n") and "\r" not in s


#: stream mode (spec 14.3): the shape cache's bytes are bounded by max(budget, SHAPE_BYTES_MIN)
SHAPE_BYTES_MIN = 4096


@functools.lru_cache(maxsize=4096)
def shape_cost(key: tuple) -> int:
    """Bytes a shape cache entry counts in stream mode (spec 14.3): the UTF-8
    lengths of the element qname, of every item's qname (``xmlns``,
    ``xmlns:p`` for a namespace declaration) and of every declared URI, + 32."""
    n = len(key[0].encode("utf-8")) + 32
    for it in key[1:]:
        if it[0] == "x":
            n += (5 if it[1] == "" else 6 + len(it[1].encode("utf-8"))) + len(it[2].encode("utf-8"))
        else:
            n += len(it[1].encode("utf-8"))
    return n


def shape_key(name: str, items) -> tuple:
    """Identity of a start tag without attribute values.

    items are (qname, value, ...) tuples; namespace declarations are part of the
    shape with their URI, attributes with their name only.
    """
    key: list[str | tuple[str, ...]] = [name]
    for it in items:
        a = it[0]
        if a == "xmlns":
            key.append(("x", "", it[1]))
        elif a.startswith("xmlns:"):
            key.append(("x", a[6:], it[1]))
        else:
            key.append(("a", a))
    return tuple(key)
