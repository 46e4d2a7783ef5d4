"""Round trips on real corpora: infoset-equal in default mode (checked by lxml), byte-equal in exact mode."""
from __future__ import annotations

from collections import Counter

from conftest import record_context
from infoset import infoset

import xmppbin


def roundtrip_corpus(records) -> Counter:
    counts: Counter = Counter()
    failures = []
    for rec in records:
        xml = rec["xml"].encode("utf-8")
        ctx = record_context(rec)
        op = rec["kind"] == "stream-header"
        where = f"XEP-{rec['xep']} example {rec['example']}.{rec['n']}"
        try:
            data = xmppbin.encode(xml, context=ctx, open_root=op)
        except xmppbin.RestrictedXMLError:
            counts["restricted"] += 1
            if "<!--" not in rec["xml"]:
                failures.append(f"{where}: restricted error without a comment")
            allow = True
        else:
            allow = False
            out = xmppbin.decode(data, context=ctx)
            if infoset(out, ctx, op) != infoset(xml, ctx, op):
                failures.append(f"{where}: default mode changed the infoset")
            counts["default-ok"] += 1
        # with allow_comments every record must round-trip in both modes
        data = xmppbin.encode(xml, context=ctx, open_root=op, allow_comments=allow)
        out = xmppbin.decode(data, context=ctx, allow_comments=allow)
        if infoset(out, ctx, op) != infoset(xml, ctx, op):
            failures.append(f"{where}: default mode (allow_comments={allow}) changed the infoset")
        exact = xmppbin.encode(xml, context=ctx, open_root=op, allow_comments=allow, exact=True)
        if xmppbin.decode(exact, context=ctx, allow_comments=allow) != xml:
            failures.append(f"{where}: exact mode is not byte-exact")
        else:
            counts["exact-ok"] += 1
        counts["records"] += 1
    assert not failures, "\n".join(failures[:20])
    return counts


def test_sample_corpus_roundtrip(sample_records):
    c = roundtrip_corpus(sample_records)
    with_comments = sum("<!--" in r["xml"] for r in sample_records)
    assert c["records"] == len(sample_records)
    assert c["restricted"] == with_comments > 0
    assert c["default-ok"] == len(sample_records) - with_comments
    assert c["exact-ok"] == len(sample_records)


def test_shared_corpus_roundtrip(shared_records):
    c = roundtrip_corpus(shared_records)
    with_comments = sum("<!--" in r["xml"] for r in shared_records)
    print(f"\ncorpus: {dict(c)}")
    assert c["records"] == len(shared_records) == 5504
    assert c["restricted"] == with_comments == 51
    assert c["default-ok"] == 5453
    assert c["exact-ok"] == 5504


def test_decode_is_canonical_and_stable(sample_records):
    """Default-mode output is a fixed point: encoding it again gives the same bytes."""
    for rec in sample_records[:200]:
        if "<!--" in rec["xml"]:
            continue
        ctx = record_context(rec)
        op = rec["kind"] == "stream-header"
        data = xmppbin.encode(rec["xml"], context=ctx, open_root=op)
        out = xmppbin.decode(data, context=ctx)
        assert xmppbin.encode(out, context=ctx, open_root=op) == data
        assert xmppbin.decode(xmppbin.encode(out, context=ctx, open_root=op, exact=True), context=ctx) == out
