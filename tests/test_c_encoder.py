"""Differential tests: the C encoder (xmppbin._cencoder) against the Python reference.

For every input both must give the same bytes, or raise the same exception
class with the same .offset (and .limit for limit errors); only the wording of
messages may differ.

Inputs: (a) every record of the shared XEP corpus (else the bundled sample) in
default and exact mode, with allow_comments both ways; (b) the spec vectors;
(c) seeded random byte and character mutations of corpus records (markup,
references, quotes, CDATA, comments, non-ASCII, invalid UTF-8, control
characters, BOM / XML declarations, lone surrogates in str input); (d) small
limits, including the canonical-size and output-size checks; (e) hypothesis
documents from tests/test_properties.py; plus the batch API, odd argument
values and concurrent use from threads.

XMPPBIN_DIFF_SCALE=N multiplies the number of random cases (default 1).
The C extension is built by `pip install .` / `pip install -e .` or
`python csrc/build_ffi.py`; without it these tests are skipped (failed under CI).
"""
from __future__ import annotations

import base64
import json
import os
import random
import threading

import pytest
from conftest import require, with_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xmppbin
from xmppbin import encoder as pyencoder
from xmppbin.dictionary import Dictionary, get_dictionary
from xmppbin.errors import LimitExceededError, XmppbinError
from xmppbin.limits import DEFAULT_LIMITS, Limits
from xmppbin.xmlscan import DEFAULT_CONTEXT, STREAM_NS, XML_NS, XMLNS_NS

_cencoder = require("_cencoder")

SINGLE_BACKEND = True  # differential: both implementations are called explicitly

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared", "corpus", "xep-examples.jsonl")
SAMPLE = os.path.join(HERE, "data", "xep-sample.jsonl")
VECTORS = os.path.join(ROOT, "spec", "vectors")
SCALE = max(1, int(os.environ.get("XMPPBIN_DIFF_SCALE", "1")))
D = get_dictionary(1)


# ---- helpers -----------------------------------------------------------------
def outcome(fn, xml, **kw):
    try:
        return ("ok", fn(xml, D, **kw))
    except XmppbinError as e:
        return (type(e).__name__, e.offset, e.limit if isinstance(e, LimitExceededError) else None)


def compare(xml, **kw):
    """None if both encoders agree, else a description of the difference."""
    kw.setdefault("limits", DEFAULT_LIMITS)
    p = outcome(pyencoder.encode, xml, **kw)
    c = outcome(_cencoder.encode, xml, **kw)
    if p == c:
        return None
    shown = {k: v for k, v in kw.items() if k != "limits"}
    return f"xml={xml!r:.400}\n  {kw['limits']} {shown}\n  python: {p!r:.300}\n  C:      {c!r:.300}"


def check_all(cases):
    """cases: iterable of (xml, kwargs); returns the counts of each outcome class."""
    bad = []
    counts: dict = {}
    for xml, kw in cases:
        diff = compare(xml, **kw)
        if diff is not None:
            bad.append(diff)
        else:
            k = outcome(_cencoder.encode, xml, **{"limits": DEFAULT_LIMITS, **kw})[0]
            counts[k] = counts.get(k, 0) + 1
    n = sum(counts.values()) + len(bad)
    assert not bad, f"{len(bad)} of {n} inputs differ; first ones:\n" + "\n".join(bad[:5])
    return counts


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def record_context(rec):
    ctx = dict(DEFAULT_CONTEXT)
    ctx.update(rec.get("assumed_prefixes") or {})
    return ctx


def record_kw(rec, **kw):
    kw.setdefault("context", record_context(rec))
    if rec["kind"] == "stream-header":
        kw.setdefault("open_root", True)
    return kw


@pytest.fixture(scope="module")
def records():
    if os.path.exists(SHARED):
        return load(SHARED)
    if os.environ.get("CI"):
        pytest.fail(f"CI run without the shared corpus at {SHARED}")
    return load(SAMPLE)


# ---- (a) the corpus ----------------------------------------------------------
@pytest.mark.parametrize("exact", [False, True], ids=["default", "exact"])
@pytest.mark.parametrize("allow_comments", [False, True], ids=["strict", "comments"])
def test_corpus(records, exact, allow_comments):
    counts = check_all((r["xml"], record_kw(r, exact=exact, allow_comments=allow_comments)) for r in records)
    assert counts.get("ok", 0) > 0.9 * len(records)


def test_corpus_bytes_and_auto_open_root(records):
    """bytes input, and stream headers with open_root left to the automatic rule."""
    check_all((r["xml"].encode("utf-8"), record_kw(r, open_root=None)) for r in records[::3])
    check_all((r["xml"].encode("utf-8"), record_kw(r, open_root=False, exact=True)) for r in records[1::7])


# ---- (b) spec vectors --------------------------------------------------------
def _vectors(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)["vectors"]


def _encode_kw(options):
    kw = dict(options)
    limits = {k: kw.pop(k) for k in list(kw) if k in Limits.__dataclass_fields__}
    kw["limits"] = Limits(**limits) if limits else DEFAULT_LIMITS
    kw.pop("dictionary", None)
    return kw


@pytest.mark.parametrize("v", _vectors("valid.json"), ids=lambda v: v["name"])
def test_valid_vector(v):
    kw = _encode_kw(v["options"])
    assert _cencoder.encode(v["xml"], D, **kw).hex() == v["binary"]
    assert compare(v["xml"], **kw) is None


@pytest.mark.parametrize("v", _vectors("invalid-xml.json"), ids=lambda v: v["name"])
def test_invalid_xml_vector(v):
    xml = v["xml"] if v["xml"] is not None else bytes.fromhex(v["xml_hex"])
    with pytest.raises(xmppbin.EncodeError) as ei:
        _cencoder.encode(xml, D, limits=DEFAULT_LIMITS)
    assert type(ei.value).__name__ == v["error"]
    assert ei.value.offset == v["offset"]
    assert compare(xml) is None


# ---- (c) mutations -----------------------------------------------------------
TOKENS = [
    b"<", b"&", b"'", b'"', b">", b"]]>", b"]]", b"</", b"/>", b"<![CDATA[", b"<!--", b"-->", b"--", b"<?", b"?>",
    b"<?pi x?>", b"<!-- c -->", b"<![CDATA[x]]>", b"&amp;", b"&lt;", b"&#x41;", b"&#65;", b"&#0;", b"&#x0;",
    b"&#xD800;", b"&#1114112;", b"&#x110000;", b"&#9;", b"&#13;", b"&#x1F600;", b"&foo;", b"&nbsp;", b"&#x;",
    b"&#;", b"&;", b"&a b;", b"&a:b;", b"&#12a;", b"&#X41;", b" ", b"\t", b"\r", b"\n", b"\r\n", b"=", b":",
    b"xmlns", b"xmlns:", b"xmlns='", b" xmlns=''", b" xmlns:p='u'", b" xmlns:p=''", b" xmlns:xml='u'",
    b" xmlns:xmlns='u'", (" xmlns:p='" + XML_NS + "'").encode(), (" xmlns='" + XMLNS_NS + "'").encode(),
    b" p:a='1'", b" a='1'", b' a="1"', b" xml:lang='en'", b"<x/>", b"</x>", b"<x>", b"<p:x/>", b"stream:",
    ("<stream:stream xmlns:stream='" + STREAM_NS + "'>").encode(), b"xml:", b"\xef\xbb\xbf",
    b"<?xml version='1.0'?>", b'<?xml version="1.0" encoding="UTF-8"?>', b"<?xml version='1.0' encoding='latin1'?>",
    b"<?xml version='1.0' standalone='yes'?>", b"<?xml  ?>", b"<?XML x?>", b"<?xml-stylesheet x?>",
    b"<!DOCTYPE x>", b"<!ELEMENT", "é".encode(), "€".encode(), "😀".encode(), "\u1680".encode(), "\u00a0".encode(),
    "\u3000".encode(), "\u2028".encode(), "\u00b7".encode(), "\u0300".encode(), "\u203f".encode(), "\ufffe".encode(),
    "\uffff".encode(), "\u0085".encode(), b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\x80", b"\x00", b"\x01", b"\x0b", b"\x1f", b"\x7f",
]
TEXT_TOKENS = ["\ud800", "\udfff", "a\udc80b", "é", "😀", "&", "<", "]]>", "\r", "'"]


def mutate(rng, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        p = rng.randint(0, len(data))
        tok = rng.choice(TOKENS) if rng.random() < 0.85 else bytes([rng.randrange(256)])
        if op == 0:
            data[p:p] = tok
        elif op == 1 and data:
            del data[p : p + rng.randint(1, 6)]
        elif data:
            data[p : p + rng.randint(1, len(tok))] = tok
    return bytes(data)


def mutate_str(rng, text: str) -> str:
    for _ in range(rng.randint(1, 2)):
        p = rng.randint(0, len(text))
        text = text[:p] + rng.choice(TEXT_TOKENS) + text[p + rng.randrange(2) :]
    return text


def mutation_cases(records, seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        r = rng.choice(records)
        kw = record_kw(
            r,
            exact=rng.random() < 0.5,
            allow_comments=rng.random() < 0.5,
            open_root=rng.choice([None, None, True, False]),
        )
        if rng.random() < 0.1:
            yield mutate_str(rng, r["xml"]), kw
        else:
            yield mutate(rng, r["xml"].encode("utf-8")), kw


@pytest.mark.parametrize("seed", range(4))
def test_mutations(records, seed):
    counts = check_all(mutation_cases(records, 1000 + seed, 2500 * SCALE))
    # the mutations reach both accepted and rejected inputs of every class
    assert counts.get("ok", 0) > 100 and counts.get("MalformedXMLError", 0) > 100, counts


def test_handwritten_edge_cases():
    cases = [
        b"", b" ", b"<", b"<a", b"<a/", b"<a/>", b"<a></a>", b"<a></b>", b"</a>", b"<a/><b/>", b"<a/>x", b"x<a/>",
        b" \r\n<a/>\r\n ", b"<a>\r\n</a>", b"<a b='\r\n\t'/>", b"<a b='&#13;&#10;&#9;'/>", b"<a>]]></a>",
        b"<a>]]&gt;</a>", b"<a><![CDATA[]]]]><![CDATA[>]]></a>", b"<a><![CDATA[x</a>", b"<![CDATA[x]]><a/>",
        b"<a>&#x10FFFF;&#xFFFE;</a>", b"<a>&#00000065;</a>", b"<a>&#" + b"9" * 5000 + b";</a>",
        b"<a b='1' b='2'/>", b"<a xmlns:p='u' xmlns:q='u' p:b='1' q:b='2'/>", b"<a xmlns:p='' />",
        b"<p:a/>", b"<xmlns:a/>", b"<a xmlns:xmlns='x'/>", b"<a xml:lang='en'/>", b"<a xmlns:xml='x'/>",
        b"<a b=c/>", b"<a b='c'd='e'/>", b"<a  b = 'c' />", b"<a:b:c/>", b"<a:/>", b"<:a/>", b"<a.b-c_d/>",
        b"<-a/>", "<\u00e9/>".encode(), "<a\u00b7/>".encode(), "<\u00b7/>".encode(), b"<?xml version='1.0'?><a/>",
        b"\xef\xbb\xbf<?xml version='1.0'?><a/>", b"\xef\xbb\xbf<a/>", b" <?xml version='1.0'?><a/>",
        b"<?xml version='1.0' encoding='utf8'?><a/>", b"<?xml version='1.0' encoding='UTF-16'?><a/>",
        b"<?xml version='2.0'?><a/>", b"<?xml version='1.0'><a/>", b"<?xml?><a/>", b"<?xmlx?><a/>",
        b"<a><?pi?></a>", b"<a><?p:i x?></a>", b"<a><?pi\tx?></a>", b"<a><?pix?></a>", b"<a><?pi@?></a>",
        b"<a><!-- x -- y --></a>", b"<a><!----></a>", b"<a><!---></a>", b"<a><!-- x ---></a>",
        b"<a><!DOCTYPE></a>", b"<a><!x></a>", b"<stream:stream xmlns:stream='" + STREAM_NS.encode() + b"'>",
        b"<stream:stream xmlns:stream='" + STREAM_NS.encode() + b"'> ", b"<stream xmlns='" + STREAM_NS.encode() + b"'>",
        b"<stream:stream>", b"<a>", b"<a><b>", b"<a>text", b"<a>&bad;", b"<a b='&x;'/>", b"<a b='&;'/>",
        b"<a b=']]>&x y;'/>", b"<a>&#x41</a>", b"<a>&\xc2\xa0;</a>", "<a>&a\u1680b;</a>".encode(),
        "<a>&a\u3000;</a>".encode(), b"<a>\x00</a>", b"<a>\xef\xbf\xbe</a>", b"<a>\xed\xa0\x80</a>",
        b"<a b='<'/>", b"<a b='x", b"<a b='x'", b"<a b", b"<a b=", b"<a b='1'/ >", b"<a></a >", b"<a></a\n>",
        b"<a></ a>", b"<a>" * 3 + b"</a>" * 3,
    ]
    for exact in (False, True):
        for ac in (False, True):
            for orr in (None, True, False):
                check_all((x, dict(exact=exact, allow_comments=ac, open_root=orr)) for x in cases)
    check_all((x.decode("utf-8", "surrogateescape"), {}) for x in cases)


# ---- (d) limits --------------------------------------------------------------
def limit_cases(records, seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        r = rng.choice(records)
        x = r["xml"].encode("utf-8")
        exact = rng.random() < 0.5
        lim = {}
        which = rng.randrange(6)
        if which == 0:
            lim["max_string"] = rng.choice([1, 2, 3, 4, 5, 8, 12, 20, 40, 80])
        elif which == 1:
            lim["max_depth"] = rng.randint(1, 4)
        elif which == 2:
            lim["max_attributes"] = rng.randint(1, 4)
        elif which == 3:
            lim["max_elements"] = rng.randint(1, 6)
        else:
            lim["max_size"] = max(1, len(x) + rng.randint(-3, 3) if which == 4 else rng.randint(1, len(x) + 2))
        yield x, record_kw(r, exact=exact, allow_comments=True, limits=Limits(**lim))


@pytest.mark.parametrize("seed", range(2))
def test_limits(records, seed):
    counts = check_all(limit_cases(records, 2000 + seed, 1500 * SCALE))
    assert counts.get("EncodeLimitError", 0) > 200, counts


def _size_cases(records):
    """max_size around the canonical (default-mode output) size and the message size."""
    for r in records:
        x = r["xml"].encode("utf-8")
        for exact in (False, True):
            kw = record_kw(r, exact=exact, allow_comments=True)
            try:
                msg = pyencoder.encode(x, D, limits=DEFAULT_LIMITS, **kw)
                sc = pyencoder.scan(x, DEFAULT_LIMITS, kw["context"], True, kw.get("open_root"), exact)
                canon = pyencoder.canonical_size(sc)
            except XmppbinError:
                continue
            for m in {len(x), len(x) + 1, canon - 1, canon, canon + 1, len(msg) - 1, len(msg)}:
                if m >= 1:
                    yield x, dict(kw, limits=Limits(max_size=m))


def test_size_checks(records):
    counts = check_all(_size_cases(records[::5]))
    assert counts.get("EncodeLimitError", 0) > 50, counts


def test_output_size_check():
    """Messages longer than their input: only the output-size check rejects them."""
    cases = []
    for x in [b"<a/>", b"<x:y xmlns:x='u'/>", b"<zz/>", b"<a b='c'/>", b"<a >\t</a >", b"<q\n/>"]:
        for exact in (False, True):
            out = pyencoder.encode(x, D, exact=exact, limits=DEFAULT_LIMITS)
            for m in range(max(1, len(x) - 1), len(out) + 2):
                cases.append((x, dict(exact=exact, limits=Limits(max_size=m))))
    counts = check_all(cases)
    assert counts.get("EncodeLimitError", 0) > 0


def test_canonical_size_check():
    """Escaping makes the default-mode output longer than the input."""
    cases = []
    for x in [b"<a b=\"''''\"/>", b"<a>&lt;&lt;&gt;</a>", b"<a b='\t\t'/>", b"<a>\r\r</a>", b"<a/>"]:
        for m in range(len(x) - 1, 6 * len(x) + 2):
            for exact in (False, True):
                cases.append((x, dict(exact=exact, limits=Limits(max_size=m))))
    counts = check_all(cases)
    assert counts.get("EncodeLimitError", 0) > 10


def test_deep_and_wide():
    deep = b"<a>" * 200 + b"x" + b"</a>" * 200
    wide = b"<a " + b" ".join(b"a%d='%d'" % (i, i) for i in range(300)) + b"/>"
    dup = b"<a " + b" ".join(b"a%d='%d'" % (i, i) for i in range(40)) + b" a7='x'/>"
    nsdup = (
        b"<a xmlns:p='u' xmlns:q='u' "
        + b" ".join(b"p:a%d='%d'" % (i, i) for i in range(40))
        + b" q:a33='x'/>"
    )
    many = b"<r>" + b"<i/>" * 1000 + b"</r>"
    for x in (deep, wide, dup, nsdup, many):
        for lim in (DEFAULT_LIMITS, Limits(max_depth=199, max_attributes=299, max_elements=999),
                    Limits(max_depth=1000, max_attributes=1000, max_elements=100000)):
            for exact in (False, True):
                assert compare(x, exact=exact, limits=lim) is None


# ---- values and packing ------------------------------------------------------
VALUES = [
    "", "0", "00", "1", "42", "18446744073709551615", "18446744073709551616", "99999999999999999999",
    "123456", "abcdef", "ABCDEF", "abcDEF", "deadbeefcafe", "0123456789", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4F89-11d3-9a0c-0305e82c3301",
    "12345678-1234-1234-1234-123456789012", "SGVsbG8gd29ybGQh", "SGVsbG8=", "SGVsbA==", "SGVsbB==",
    "SGVsbG9=", "QUJDRA", "abcdefgh", "a@b", "a@b/c", "b/c", "a@a", "a@a/a", "@b", "a@", "a/", "/b",
    "a@b@c/d/e", "x y@z", "romeo@montague.lit/orchard", "juliet@capulet.lit", "capulet.lit/balcony",
    "é@ü/ö", "\U0001f600", "a\tb", "get", "result", "chat", "en", "http://jabber.org/protocol/disco#info",
]


def test_packed_values():
    xs = []
    for v in VALUES:
        esc = v.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
        xs.append(f"<a b='{esc}' c='{esc}'>{esc}<x v='{esc}'/>{esc}</a>")
        xs.append(f"<iq to='{esc}' from='{esc}' id='{esc}'><body>{esc}</body></iq>")
    xs.append("<a>" + "".join(f"<i v='{v.replace('&', '&amp;').replace('<', '&lt;')}'/>" for v in VALUES * 3) + "</a>")
    for exact in (False, True):
        check_all((x, dict(exact=exact)) for x in xs)


def test_base64_groups_at_every_bit_offset():
    """B64 bodies are written 8 groups (48 bits) at a time straight to the
    output, and wrapped ones 4 groups per put: every length from 1 to 40
    bytes (so every count of groups left for the slower loops and every
    padding), bare and in lines, after a prefix of 0 to 9 letters (so the
    bits before the body end at different offsets within a byte and a word),
    coded as the reference codes them."""
    rng = random.Random(64)
    xs = []
    for n in range(1, 41):
        b = base64.b64encode(bytes(rng.randrange(256) for _ in range(n))).decode()
        lines = "\n ".join(b[i : i + 8] for i in range(0, len(b), 8))
        for k in range(10):
            pre = "abcdefghij"[:k]
            xs += [f"<a p='{pre}' v='{b}'/>", f"<a p='{pre}'>{b}</a>", f"<a p='{pre}'>\n {lines}\n</a>"]
    assert sum(x.endswith("=</a>") for x in xs) > 0 and sum("\n" in x for x in xs) == 400
    for exact in (False, True):
        check_all((x, dict(exact=exact)) for x in xs)


def test_history_far_references_and_shape_cache():
    parts = [f"<e{i % 40} a='v{i % 23}' b='w{i}'>t{i % 17}</e{i % 40}>" for i in range(400)]
    x = "<r>" + "".join(parts) + "</r>"
    for exact in (False, True):
        assert compare(x, exact=exact) is None


def test_whitespace_symbols():
    xs = [
        "<a>\n  <b>\n    <c/>\n  </b>\n</a>",
        "<a>\n <b>\n         <c/>\n </b>\n</a>",
        "<a>\t<b>\t\t<c/>\t</b>\t</a>",
        "<a>\r\n  <b/>\r\n</a>",
        "<a> <b> <c> </c> </b> </a>",
        "\n<a>\n<b/>\n</a>\n",
        "  \n<a>\n  <b/>\n</a>\n\t",
    ]
    for exact in (False, True):
        check_all((x, dict(exact=exact)) for x in xs)


def test_exact_styles():
    xs = [
        '<a b="1" c="2"><d e="3"/></a>',
        "<a b='1' c=\"2\"><d e='3' /></a>",
        "<a><b></b><c></c><d/></a>",
        "<a><b /><c /><d/></a>",
        "<a>&apos;&quot;'\"&gt;></a>",
        "<a b='&gt;' c='>' d=\"&apos;\" e='&quot;'/>",
        "<a>]]&gt;&gt;</a>",
        "<a b = '1'\n c\t=\"2\"  ></a  >",
        "<?xml version='1.0'?>\n<a/>\n",
        "\ufeff<a>&#x41;<![CDATA[<>]]></a>",
    ]
    for ac in (False, True):
        check_all((x, dict(exact=True, allow_comments=ac)) for x in xs)


# ---- contexts and odd arguments ---------------------------------------------
def test_contexts():
    xs = [
        "<p:a/>", "<a p:b='1'/>", "<a xmlns:p='u' p:b='1' b='2'/>", "<a q:b='1' b='2'/>", "<stream:stream>",
        "<stream>", "<s:stream>", "<a r:x='1' s:x='2'/>", "<a xmlns='' r:x='1' x='2'/>",
    ]
    contexts = [
        DEFAULT_CONTEXT, {}, {"p": "u"}, {"q": ""}, {"": STREAM_NS}, {"s": STREAM_NS, "stream": "x"},
        {"r": "u", "s": "u"}, {"r": 1, "s": 1}, {"r": None, "s": 2}, {"r": "", "x": ""}, {1: "u", "p": "u"},
        {"xml": "other"}, {"xmlns": "u"}, {"p\udc80": "u", "q": "\udc80"},
    ]
    for ctx in contexts:
        for orr in (None, True):
            check_all((x, dict(context=ctx, open_root=orr)) for x in xs)


def test_argument_handling():
    x = "<r xmlns='urn:xmpp:sm:3'/>"
    ref = pyencoder.encode(x, D, limits=DEFAULT_LIMITS)
    assert _cencoder.encode(x, D, limits=DEFAULT_LIMITS) == ref
    assert _cencoder.encode(x.encode(), D, limits=DEFAULT_LIMITS) == ref
    assert _cencoder.encode(bytearray(x.encode()), D, limits=DEFAULT_LIMITS) == ref
    assert _cencoder.encode(memoryview(x.encode()), D, limits=DEFAULT_LIMITS) == ref
    for bad in (None, 1, ["<a/>"]):
        with pytest.raises(TypeError):
            _cencoder.encode(bad, D, limits=DEFAULT_LIMITS)
    # open_root and flags by truth value, as in the reference
    s = "<stream:stream xmlns:stream='" + STREAM_NS + "'>"
    for orr in (0, 1, "", "x", None, True, False):
        for flag in (0, 1, None):
            assert compare(s, open_root=orr, exact=bool(flag), allow_comments=flag) is None
            assert compare("<a/>", open_root=orr, allow_comments=flag) is None
    # a context changed in place between calls is seen
    ctx = {"p": "u"}
    assert compare("<p:a/>", context=ctx) is None
    del ctx["p"]
    assert compare("<p:a/>", context=ctx) is None
    ctx["p"] = "v"
    assert compare("<p:a/>", context=ctx) is None


def test_other_dictionary_goes_to_the_reference():
    t = D
    boot = Dictionary(1, t.prefixes, t.names, t.namespaces, t.values, t.attr_contexts, t.text_contexts, t.shapes, None)
    x = "<message to='a@b'><body>hi</body></message>"
    assert _cencoder.encode(x, boot, limits=DEFAULT_LIMITS) == pyencoder.encode(x, boot, limits=DEFAULT_LIMITS)
    assert _cencoder.encode_many([x, x], boot, limits=DEFAULT_LIMITS) == [
        pyencoder.encode(x, boot, limits=DEFAULT_LIMITS)
    ] * 2


# ---- (e) hypothesis documents ------------------------------------------------
import test_properties as tp  # noqa: E402  (tests/ is on the path, as for test_stream)


@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hypothesis_documents(data):
    tree = data.draw(tp.element())
    lx = data.draw(tp.lexical())
    xml = tp.serialize(tree, lx, random.Random(lx["seed"])).encode("utf-8")
    for exact in (False, True):
        assert compare(xml, exact=exact, context=tp.CTX) is None
    # and a mutation of it
    rng = random.Random(lx["seed"])
    assert compare(mutate(rng, xml), exact=rng.random() < 0.5, context=tp.CTX) is None


# ---- batch API ---------------------------------------------------------------
def test_encode_many(records):
    rs = [r for r in records[:400] if not r.get("assumed_prefixes") and r["kind"] != "stream-header"]
    xs = [r["xml"] for r in rs]
    good = []
    for x in xs:
        try:
            pyencoder.encode(x, D, limits=DEFAULT_LIMITS, allow_comments=True)
            good.append(x)
        except XmppbinError:
            pass
    for exact in (False, True):
        many = _cencoder.encode_many(good, D, limits=DEFAULT_LIMITS, exact=exact, allow_comments=True)
        assert many == [pyencoder.encode(x, D, limits=DEFAULT_LIMITS, exact=exact, allow_comments=True) for x in good]
    assert _cencoder.encode_many([], D, limits=DEFAULT_LIMITS) == []
    mixed = [good[0], good[1].encode(), bytearray(good[2].encode())]
    assert _cencoder.encode_many(mixed, D, limits=DEFAULT_LIMITS, allow_comments=True) == [
        pyencoder.encode(x, D, limits=DEFAULT_LIMITS, allow_comments=True) for x in mixed
    ]


def test_encode_many_errors():
    xs = ["<a/>", "<b/>", "<a><b></a>", "<c/>"]
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        _cencoder.encode_many(xs, D, limits=DEFAULT_LIMITS)
    assert ei.value.index == 2 and ei.value.offset == 6 and "message 2" in str(ei.value)
    with pytest.raises(xmppbin.EncodeLimitError) as ei:
        _cencoder.encode_many(["<a/>", "<aaaa/>"], D, limits=Limits(max_string=3))
    assert ei.value.index == 1 and ei.value.limit == "max_string" and ei.value.offset == 0
    with pytest.raises(xmppbin.MalformedXMLError) as ei:
        _cencoder.encode_many(["<a/>", "<a>\ud800</a>"], D, limits=DEFAULT_LIMITS)
    assert ei.value.index == 1 and ei.value.offset == 3
    with pytest.raises(TypeError):
        _cencoder.encode_many(["<a/>", 5], D, limits=DEFAULT_LIMITS)
    # the encoder is usable after a failed batch
    assert _cencoder.encode_many(["<a/>"], D, limits=DEFAULT_LIMITS) == [
        pyencoder.encode("<a/>", D, limits=DEFAULT_LIMITS)
    ]


def test_large_output_and_buffer_reuse():
    """A message longer than the glue's output buffer, then small ones again."""
    big = "<a>" + "".join(f"<b{i} v='{'x' * (i % 50)}{i}'>{i * 7919}</b{i}>" for i in range(8000)) + "</a>"
    for exact in (False, True):
        assert compare(big, exact=exact) is None
        assert compare("<a/>", exact=exact) is None
    many = _cencoder.encode_many([big, "<a/>", big], D, limits=DEFAULT_LIMITS)
    assert many == [pyencoder.encode(x, D, limits=DEFAULT_LIMITS) for x in (big, "<a/>", big)]


def test_threads(records):
    xs = [r["xml"] for r in records[:300] if r["kind"] != "stream-header" and not r.get("assumed_prefixes")]
    want = [outcome(pyencoder.encode, x, limits=DEFAULT_LIMITS, allow_comments=True) for x in xs]
    errors = []

    def work(k):
        try:
            for _ in range(3):
                for x, w in zip(xs[k::2], want[k::2]):
                    got = outcome(_cencoder.encode, x, limits=DEFAULT_LIMITS, allow_comments=True)
                    if got != w:
                        errors.append((x, got, w))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k % 2,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_public_api_uses_it():
    """With the C backend selected, xmppbin.encode gives the reference bytes."""
    prev = xmppbin.backend
    try:
        xmppbin._use_backend("c")
        x = "<message to='romeo@montague.lit'><body>hi</body></message>"
        assert xmppbin.encode(x) == pyencoder.encode(x, D, limits=DEFAULT_LIMITS)
        want = pyencoder.encode(x, D, limits=DEFAULT_LIMITS, exact=True)
        assert xmppbin.encode_many([x, x], exact=True) == [want] * 2
    finally:
        xmppbin._use_backend(prev)


# ---- the prepared path of xmppbin.Encoder (Encoder.encode, _cencoder.prepare) ----
def _both(fn):
    """fn() under each backend, as outcomes (bytes, or the error class and offset)."""
    prev = xmppbin.backend
    out = []
    try:
        for b in ("python", "c"):
            xmppbin._use_backend(b)
            try:
                out.append(("ok", fn()))
            except XmppbinError as e:
                out.append((type(e).__name__, e.offset))
    finally:
        xmppbin._use_backend(prev)
    return out


def test_encoder_follows_option_changes():
    """An Encoder prepares its options at the first encode(); later changes of its
    attributes, or of its context in place, apply as with the reference."""
    x = "<iq xmlns:p='urn:p' type='get'><p:q a='1'/> <c:x xmlns:c='urn:c'/></iq>"

    def run():
        enc = xmppbin.Codec()
        f = enc.encode  # bound before the options change
        out = [enc.encode(x)]
        enc.exact = True
        out.append(f(x))
        enc.context["c"] = "urn:other"
        out.append(enc.encode(x))
        enc.context = {"": "jabber:server"}
        out.append(enc.encode(x))
        del enc.context[""]
        out.append(enc.encode(x))
        enc.limits = Limits(max_size=10)
        try:
            enc.encode(x)
        except XmppbinError as e:
            out.append((type(e).__name__, e.offset))
        enc.allow_comments = True
        enc.limits = DEFAULT_LIMITS
        out.append(enc.encode(x.replace("</iq>", "<!--c--></iq>")))
        return out

    p, c = _both(run)
    assert p == c and p[0] == "ok"


def test_encoder_inputs_and_open_root():
    """str, bytearray, memoryview and invalid input through the prepared path."""
    x = "<message to='juliet@capulet.lit/balcony'><body>héllo</body></message>"
    header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x'>"

    def run():
        enc = xmppbin.Encoder()
        out = [enc.encode(x), enc.encode(x.encode()), enc.encode(bytearray(x.encode())),
               enc.encode(memoryview(x.encode())), enc.encode(header, open_root=True), enc.encode(header),
               enc.encode("<a/>", open_root=False)]
        for bad in ("<a>", b"<a>\xff</a>", "<a>\ud800</a>", b"<a>" + b"x" * (1 << 17) + b"</b>"):
            try:
                enc.encode(bad)
            except XmppbinError as e:
                out.append((type(e).__name__, e.offset))
        try:
            enc.encode(["<a/>"])
        except TypeError:
            out.append("TypeError")
        return out

    p, c = _both(run)
    assert p == c


def test_encoder_long_message():
    """A message longer than the per-thread output buffer of the prepared path."""
    rng = random.Random(7)
    x = "<a>" + "".join(f"<b n='{rng.random()}'>{rng.getrandbits(160):x}</b>" for i in range(3000)) + "</a>"

    def run():
        enc = xmppbin.Encoder()
        return [enc.encode(x), enc.encode(x.encode())]

    p, c = _both(run)
    assert p == c and len(c[1][0]) > 1 << 16


def test_encoder_several_encoders_and_threads():
    """Encoders with different options alternate on the same thread, and one
    encoder is shared by several threads."""
    xs = ["<r xmlns='urn:xmpp:sm:3'/>", "<iq type='get' id='a1'><q xmlns='urn:x'>t</q></iq>",
          "<message to='a@b/c'><body> x </body></message>"]
    prev = xmppbin.backend
    try:
        xmppbin._use_backend("c")
        a, b = xmppbin.Encoder(), xmppbin.Encoder(exact=True)
        want_a = [pyencoder.encode(x, D, limits=DEFAULT_LIMITS) for x in xs]
        want_b = [pyencoder.encode(x, D, limits=DEFAULT_LIMITS, exact=True) for x in xs]
        for _ in range(3):
            assert [a.encode(x) for x in xs] == want_a
            assert [b.encode(x.encode()) for x in xs] == want_b
        errors = []

        def work():
            for _ in range(200):
                for x, w in zip(xs, want_a):
                    if a.encode(x.encode()) != w:
                        errors.append(x)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
    finally:
        xmppbin._use_backend(prev)


def test_encoder_copy_and_pickle():
    import copy
    import pickle

    x = "<presence from='a@b/c'><show>away</show></presence>"
    enc = xmppbin.Codec(exact=True)
    first = enc.encode(x)
    for other in (pickle.loads(pickle.dumps(enc)), copy.copy(enc), copy.deepcopy(enc)):
        assert other.encode(x) == first
        other.context["q"] = "urn:q"
        assert other.encode(x) == first
    assert enc.encode(x) == first


def test_encode_many_error_order():
    """The first failing input decides the error, also when a later one cannot
    even be converted (a lone surrogate, a wrong type)."""
    cases = [["<a/>", "<a>", "<a>\ud800</a>"], ["<a/>", "<a>\ud800</a>", "<a>"], ["<a>", 5], ["<a/>", 5],
             [b"<a/>", bytearray(b"<b/>"), "<c/>", memoryview(b"<d>")]]
    prev = xmppbin.backend
    try:
        for xs in cases:
            got = []
            for b in ("python", "c"):
                xmppbin._use_backend(b)
                try:
                    got.append(("ok", xmppbin.encode_many(xs)))
                except XmppbinError as e:
                    got.append((type(e).__name__, e.offset, getattr(e, "index", None)))
                except TypeError:
                    got.append("TypeError")
            assert got[0] == got[1], (xs, got)
    finally:
        xmppbin._use_backend(prev)


# ---- the price table of a stateless encoder (encode.c, facts/lit_price) -----
def _jid_messages(n: int, seed: int) -> list[bytes]:
    """Messages whose from/to JIDs come from pools of several sizes: more distinct
    strings than the table's 512 slots (so slots are taken over, also by a JID's
    own parts between pricing the JID and its parts), many of them repeated."""
    rnd = random.Random(seed)
    users = [f"user{i}" for i in range(900)] + ["juliet", "romeo", "nurse"]
    hosts = ["capulet.lit", "montague.lit", "example.org"] + [f"h{i}.example" for i in range(300)]
    res = ["balcony", "orchard", "phone", "desk"] + [f"r{i:04x}" for i in range(400)]

    def jid() -> str:
        j = f"{rnd.choice(users[:rnd.choice([3, 40, 903])])}@{rnd.choice(hosts[:rnd.choice([3, 303])])}"
        return j + (f"/{rnd.choice(res[:rnd.choice([4, 404])])}" if rnd.random() < 0.7 else "")

    out = []
    for i in range(n):
        body = rnd.choice(["hi", "user1@capulet.lit", jid(), "0123456789abcdef"])
        out.append(f"<message from='{jid()}' to='{jid()}' id='m{i % 50}' type='chat'><body>{body}</body>"
                   f"<x xmlns='urn:x' jid='{jid()}'/></message>".encode())
    return out


def test_stateless_output_independent_of_earlier_calls():
    """A stateless encoder keeps plain prices of short strings between calls
    (a performance table): every message must still be what the reference (which
    keeps nothing) and a new encoder give, in calls one by one and in batches."""
    docs = _jid_messages(3000, 7)
    ref = [pyencoder.encode(x, D, limits=DEFAULT_LIMITS) for x in docs]

    def run():
        c = xmppbin.Codec()
        assert [c.encode(x) for x in docs] == ref
        assert xmppbin.Codec().encode_many(docs) == ref
        assert [xmppbin.Codec().encode(x) for x in docs[-200:]] == ref[-200:]
        assert [c.encode(x) for x in reversed(docs)] == ref[::-1]
        assert [_cencoder.encode(x, D, limits=DEFAULT_LIMITS) for x in docs] == ref

    with_backend("c", run)
