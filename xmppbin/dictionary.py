"""Token dictionaries: the static tables a message is coded against.

A dictionary is the token lists of spec/tokens-v<N>.txt plus the Huffman code
lengths of spec/codes-v<N>.txt. The generated module ``xmppbin._dict_v1`` holds
both for id 1.
"""
from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from . import model as M
from .bits import MAX_CODE_LENGTH, HuffmanCode, check_code_lengths
from .errors import UnknownDictionaryError

#: prefix of the tables of the stream code set in spec/codes-v<N>.txt
STREAM_SET = "stream."


def table_sizes(d: Dictionary) -> dict[str, tuple[int, int]]:
    """(number of contexts, alphabet size) of every Huffman table."""
    return {
        "node": (M.NODE_CONTEXTS, M.N_SHAPE + len(d.shapes)),
        "prefix": (1, 1 + len(d.prefixes)),
        "name": (M.NAME_CONTEXTS, 1 + len(d.names)),
        "aitem": (1, M.A_NAME + len(d.names)),
        "ns": (1, 1 + len(d.namespaces)),
        "value": (M.VC_FIXED + len(d.attr_contexts) + len(d.text_contexts), M.V_TOKEN + len(d.values)),
        "char": (M.CHAR_CONTEXTS, 256),
        "nodecls": (M.NODECLS_CONTEXTS * len(d.node_contexts), 1 + M.NODE_CLASS_SYMS),
    }


def huffman_lengths(weights: Sequence[int], maxlen: int = MAX_CODE_LENGTH) -> list[int]:
    """Huffman code lengths for positive weights, limited to maxlen by flattening.

    Deterministic: ties in the heap are broken by a sequence number.
    """
    n = len(weights)
    if n == 1:
        return [1]
    w = list(weights)
    while True:
        heap: list[tuple[int, int, tuple[int, ...]]] = [(w[i], i, (i,)) for i in range(n)]
        heapq.heapify(heap)
        depth = [0] * n
        seq = n
        while len(heap) > 1:
            a = heapq.heappop(heap)
            b = heapq.heappop(heap)
            for s in a[2]:
                depth[s] += 1
            for s in b[2]:
                depth[s] += 1
            heapq.heappush(heap, (a[0] + b[0], seq, a[2] + b[2]))
            seq += 1
        if max(depth) <= maxlen:
            return depth
        w = [x // 2 + 1 for x in w]


def encode_lengths(lengths: Sequence[int]) -> str:
    return "".join("0123456789abcdefghijklmnopqrstuvwxyz"[x] for x in lengths)


def decode_lengths(s: str) -> bytes:
    return bytes(int(c, 36) for c in s)


class Dictionary:
    """Token lists, lookup maps and Huffman codes of one dictionary id."""

    def __init__(
        self,
        dict_id: int,
        prefixes: Sequence[str],
        names: Sequence[str],
        namespaces: Sequence[str],
        values: Sequence[str],
        attr_contexts: Sequence[str],
        text_contexts: Sequence[str],
        shapes: Sequence[tuple],
        lengths: Mapping[str, Sequence[str]] | None,
        prior: Sequence[str] = (),
        node_contexts: Sequence[tuple[str, Sequence[int]]] = (),
    ) -> None:
        self.id = dict_id
        #: the prior text (spec 8.11): every copy window starts with it
        self.prior_strings = list(prior)
        self.prior, self.prior_index = prior_text(self.prior_strings)
        self.prior_inner = prior_inner_index(self.prior)
        #: the prior's copy sources (spec 8.11): its strings' starts and its other inner anchors, by index
        self.prior_starts, self.prior_inner_list = prior_sources(self.prior_strings, self.prior_inner)
        self.prior_start_idx = {q: i for i, q in enumerate(self.prior_starts)}
        self.prior_inner_idx = {q: i for i, q in enumerate(self.prior_inner_list)}
        self.prefixes = list(prefixes)
        self.names = list(names)
        self.namespaces = list(namespaces)
        self.values = list(values)
        self.attr_contexts = list(attr_contexts)
        self.text_contexts = list(text_contexts)
        self.shapes = [tuple(s) for s in shapes]
        self.prefix_map = {s: i for i, s in enumerate(self.prefixes)}
        self.name_map = {s: i for i, s in enumerate(self.names)}
        self.ns_map = {s: i for i, s in enumerate(self.namespaces)}
        self.value_map = {s: i for i, s in enumerate(self.values)}
        self.shape_map = {s: i for i, s in enumerate(self.shapes)}
        #: PERMUTED (spec 8.5): the first static shape of each element qname and
        #: set of items, for the shapes of PERM_MIN..PERM_MAX items
        self.perm_map: dict[tuple, int] = {}
        for i, s in enumerate(self.shapes):
            if M.PERM_MIN <= len(s) - 1 <= M.PERM_MAX:
                self.perm_map.setdefault(M.perm_key(s), i)
        self.attr_ctx = {s: M.VC_FIXED + i for i, s in enumerate(self.attr_contexts)}
        #: the element qnames of the "element attribute" entries of attr-contexts (spec 8.5)
        self.pair_elems = frozenset(s.split(" ", 1)[0] for s in self.attr_contexts if " " in s)
        base = M.VC_FIXED + len(self.attr_contexts)
        self.text_ctx = {s: base + i for i, s in enumerate(self.text_contexts)}
        #: node classes (spec 8.3): the qname of class k = 1 + i and its listed node symbols
        self.node_contexts = [(q, list(syms)) for q, syms in node_contexts]
        nsym_node = M.N_SHAPE + len(self.shapes)
        for q, syms in self.node_contexts:
            if len(syms) != M.NODE_CLASS_SYMS or len(set(syms)) != len(syms) or not all(
                0 <= x < nsym_node for x in syms
            ):
                raise ValueError(f"node context {q!r}: {M.NODE_CLASS_SYMS} distinct node symbols expected")
        if len({q for q, _ in self.node_contexts}) != len(self.node_contexts):
            raise ValueError("node contexts: a qname listed twice")
        self.node_cls = {q: 1 + i for i, (q, _) in enumerate(self.node_contexts)}
        #: node_local[k - 1][node symbol] = its local symbol in class k's tables (absent: N_ESCAPE)
        self.node_local = [{x: 1 + j for j, x in enumerate(syms)} for _, syms in self.node_contexts]
        self.sizes = table_sizes(self)
        #: the stream set differs in one table: node, with the predicted contexts and PRED
        self.stream_sizes = dict(self.sizes)
        del self.stream_sizes["nodecls"]  # stream mode codes no node classes (14.3)
        nctx, nsym = self.sizes["node"]
        self.stream_sizes["node"] = (2 * nctx, nsym + 1)
        self.n_pred = nsym  # the PRED node symbol of the stream set
        #: the codes of stateless messages, and of messages coded with a stream's
        #: state (spec 14.3: trained on whole streams; a table of the same shape
        #: the codes file has no "stream." set for uses the stateless one). The
        #: lengths are checked here; a table's HuffmanCode objects are built when
        #: it is first looked up (the C backend never looks them up).
        lens: dict[str, list[bytes]] = {}
        slens: dict[str, list[bytes]] = {}
        for table, (nctx, nsym) in self.sizes.items():
            lens[table] = self._lengths(table, nctx, nsym, lengths)
            if table == "nodecls" and any(
                max(ls) > M.NODECLS_MAX_LEN
                or sum(1 << (M.NODECLS_MAX_LEN - n) for n in ls) != 1 << M.NODECLS_MAX_LEN
                for ls in lens[table]
            ):
                raise ValueError(f"a nodecls code is longer than {M.NODECLS_MAX_LEN} bits or not complete")
            if table not in self.stream_sizes:
                continue
            skey = STREAM_SET + table
            snctx, snsym = self.stream_sizes[table]
            if lengths is None or skey in lengths or (snctx, snsym) != (nctx, nsym):
                slens[skey] = self._lengths(skey, snctx, snsym, lengths)
        self._lens, self._slens = lens, slens
        self.codes: dict[str, list[HuffmanCode]] = _CodeTables(self, False)
        self.stream_codes: dict[str, list[HuffmanCode]] = _CodeTables(self, True)

    def attr_context(self, elem: str, attr: str) -> int:
        """The value context of attribute qname attr of an element with qname elem
        (spec 8.5): the entry "elem attr" of attr-contexts, else the entry attr,
        else VC_OTHER_ATTR."""
        if elem in self.pair_elems:
            c = self.attr_ctx.get(elem + " " + attr)
            if c is not None:
                return c
        return self.attr_ctx.get(attr, M.VC_OTHER_ATTR)

    @staticmethod
    def _lengths(key: str, nctx: int, nsym: int, lengths) -> list[bytes]:
        """The code lengths of table key, one bytes per context, each checked as
        HuffmanCode checks them (check_code_lengths)."""
        if lengths is None or key not in lengths:  # bootstrap: a flat code, used only by the generator
            return [bytes(huffman_lengths([1] * nsym))] * nctx
        ls = [decode_lengths(x) for x in lengths[key]]
        if len(ls) != nctx or any(len(x) != nsym for x in ls):
            raise ValueError(f"code lengths of table {key} do not fit the token lists")
        for c, x in enumerate(ls):
            try:
                check_code_lengths(x)
            except ValueError as e:
                raise ValueError(f"code lengths of table {key}, context {c}: {e}") from None
        return ls


class _CodeTables(dict):
    """The Huffman tables of a dictionary's stateless or stream set by name, each
    built when first looked up (picklable: no closure)."""

    def __init__(self, owner: Dictionary, stream: bool) -> None:
        super().__init__()
        self._owner = owner
        self._stream = stream

    def __missing__(self, table: str) -> list[HuffmanCode]:
        d = self._owner
        key = STREAM_SET + table
        if not self._stream:
            codes = _codes(table, d._lens[table])
        elif key in d._slens:
            codes = _codes(table, d._slens[key])
        elif table not in d.stream_sizes:  # nodecls: stream mode codes no node classes (14.3)
            raise KeyError(table)
        else:  # no stream set of its own: the stateless one
            codes = d.codes[table]
        self[table] = codes
        return codes


def _codes(table: str, ls: list[bytes]) -> list[HuffmanCode]:
    out = []
    for c, x in enumerate(ls):
        code = HuffmanCode(x)
        code.key = (table, c)
        out.append(code)
    return out


def prior_text(strings: Sequence[str]) -> tuple[bytes, dict[bytes, list[int]]]:
    """The prior text P of spec 8.11 (each string's UTF-8 bytes, then 0x00) and
    its anchors by key: the start of each string of COPY_MIN bytes or more, at
    its position in P, in increasing order."""
    out = bytearray()
    index: dict[bytes, list[int]] = {}
    for s in strings:
        b = s.encode("utf-8")
        if not b or 0 in b or M.COPY in b:
            raise ValueError(f"prior string {s!r}: empty, or holds byte 0x00 or 0x01")
        if len(b) >= M.COPY_MIN:
            index.setdefault(b[: M.COPY_MIN], []).append(len(out))
        out += b
        out.append(0)
    return bytes(out), index


def prior_inner_index(prior: bytes) -> dict[bytes, list[int]]:
    """The prior's inner anchors by key (spec 8.11): every position j of the
    prior text that holds an ASCII byte and starts a string or follows a byte
    that is no ASCII letter or digit, with PRIOR_INNER_KEY bytes of its string
    from j on (no 0x00 among them), under those bytes, in increasing order; of
    each key only the last PRIOR_INNER_CANDIDATES."""
    k = M.PRIOR_INNER_KEY
    index: dict[bytes, list[int]] = {}
    for j in range(len(prior) - k + 1):
        b = prior[j]
        if not 0 < b < 0x80 or (j and prior[j - 1] and not M.ANCHOR_AFTER[prior[j - 1]]):
            continue
        key = prior[j : j + k]
        if 0 not in key:
            index.setdefault(key, []).append(j)
    return {key: v[-M.PRIOR_INNER_CANDIDATES :] for key, v in index.items()}


def prior_sources(strings: Sequence[str], inner: dict[bytes, list[int]]) -> tuple[list[int], list[int]]:
    """The copy sources of the prior text of these strings (spec 8.11), each list
    in increasing order: the strings' starts in P, and the inner anchors kept
    (inner: prior_inner_index of P) that start no string."""
    starts = []
    pos = 0
    for x in strings:
        starts.append(pos)
        pos += len(x.encode("utf-8")) + 1
    return starts, sorted({q for v in inner.values() for q in v} - set(starts))


_LOADED: dict[int, Dictionary] = {}


def get_dictionary(dict_id: int, offset: int = 1) -> Dictionary:
    d = _LOADED.get(dict_id)
    if d is not None:
        return d
    if dict_id == 1:
        from . import _dict_v1 as t

        d = Dictionary(
            1, t.PREFIXES, t.NAMES, t.NAMESPACES, t.VALUES, t.ATTR_CONTEXTS, t.TEXT_CONTEXTS, t.SHAPES, t.LENGTHS,
            t.PRIOR, t.NODE_CONTEXTS,
        )
        _LOADED[1] = d
        return d
    raise UnknownDictionaryError(f"unknown dictionary id {dict_id}", offset)
