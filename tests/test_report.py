"""The benchmark report generator (benchmarks/report.py) in quick mode, so that it cannot
rot: it must write report.md, report.json and the plots, and its figures must be the
ones a direct computation gives. About 20 s (the quick mode's speed run included)."""
from __future__ import annotations

import json
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import _corpus as C  # noqa: E402
import report  # noqa: E402
from conftest import require_shared_corpus  # noqa: E402

import xmppbin  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
# the report measures sizes with the default (C) backend and times both backends itself
SINGLE_BACKEND = True


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    require_shared_corpus()  # the report reads the XEP corpus (benchmarks/_corpus.py: the same file)
    out = tmp_path_factory.mktemp("report")
    rc = report.main(["--quick", "--out", str(out), "--session-stanzas", "2000"])
    assert rc == 0
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_files(quick):
    out, rep = quick
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# xmppbin benchmark report")
    assert set(rep["plots"]) == {"size-buckets.png", "size-streams.png", "speed.png", "scaling-stanza.png",
                                 "scaling-session.png"}
    for p in rep["plots"]:
        data = (out / p).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, p
        assert f"![{p}]({p})" in md
    assert rep["command"] == "python benchmarks/report.py --quick --session-stanzas 2000"
    assert rep["versions"]["xmppbin"] == xmppbin.__version__
    assert set(rep["sizes"]) == {"xep-heldout", "capture-session", "traffic-seed9001"}


def test_sizes_recomputed(quick):
    """xmppbin default and brotli-11 on the traffic sample, summed directly, are the report's figures,
    and the markdown shows them."""
    import brotli

    out, rep = quick
    recs = report.sample(C.load_capture_records(C.TRAFFIC_FIXTURE, dict(xmppbin.DEFAULT_CONTEXT)), 150)
    assert len(recs) == 150
    xml = sum(len(r.xml) for r in recs)
    default = sum(len(xmppbin.Codec(context=r.context).encode(r.xml, open_root=r.open_root)) for r in recs)
    br = sum(len(brotli.compress(r.xml, quality=11)) for r in recs)
    m = rep["sizes"]["traffic-seed9001"]["methods"]
    assert m["xmppbin-default"]["xml_bytes"] == xml
    assert m["xmppbin-default"]["bytes"] == default
    assert m["brotli-11"]["bytes"] == br
    assert m["xmppbin-default"]["pct_of_xml"] == pytest.approx(100 * default / xml)
    # the bucket counts add up to the records, and the buckets' bytes to the aggregate
    b = m["xmppbin-default"]["buckets"]
    assert sum(v["records"] for v in b.values()) == 150
    assert sum(v["bytes"] for v in b.values()) == default
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"| xmppbin default | {default:,} | {100 * default / xml:.1f}% |" in md
    # every method smaller than XML in aggregate on this corpus, and xmppbin below zstd's standard frame
    assert all(0 < v["bytes"] < xml for v in m.values())
    assert m["xmppbin-default"]["bytes"] < m["zstd-19-dict16k"]["bytes"]
    assert rep["sizes"]["traffic-seed9001"]["failures"] == []
    # the classes: each record in one, their sums the aggregates, each class's records the
    # classifier's count on the same sample
    cl = rep["sizes"]["traffic-seed9001"]["classes"]
    assert sum(v["records"] for v in cl.values()) == 150
    assert sum(v["xml_bytes"] for v in cl.values()) == xml
    assert sum(v["xmppbin-default"] for v in cl.values()) == default
    assert sum(v["zstd-19-dict64k-lean"] for v in cl.values()) == m["zstd-19-dict64k-lean"]["bytes"]
    assert {k: v["records"] for k, v in cl.items()} == dict(Counter(C.message_class(r.xml) for r in recs))
    assert "Per message class" in md


@pytest.mark.parametrize("xml, cls", [
    ("<iq type='result'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>" + "iVBORw0KGgo" * 100 + "</BINVAL></PHOTO>"
     "</vCard></iq>", "payload (base64)"),
    ("<iq type='set'><x xmlns='jabber:x:data' type='form'/><query xmlns='jabber:iq:roster'/></iq>", "data form"),
    ("<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>", "roster"),
    ("<iq type='result'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", "disco"),
    ("<message><body>Привет, как дела?</body></message>", "chat (Cyrillic)"),
    ("<message type='groupchat'><body>你好世界</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>",
     "chat (CJK)"),
    ("<message><body>😀😀😀 ok</body></message>", "chat (emoji)"),
    ("<message><body>Wherefore art thou</body></message>", "chat (Latin)"),
    ("<presence to='room@muc/nick'><x xmlns='http://jabber.org/protocol/muc'/></presence>", "MUC"),
    ("<message><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>", "pubsub / PEP"),
    ("<presence/>", "presence"),
    ("<r xmlns='urn:xmpp:sm:3'/>", "other"),
])
def test_message_classes(xml, cls):
    """One class per message, in the order _corpus.message_class documents (a payload before
    a form before a roster; a body before the MUC namespace)."""
    assert C.message_class(xml.encode()) == cls


def test_stream_recomputed(quick):
    """The XEP-0138 zlib-6 stream size of the session capture's first 4 streams, computed here."""
    _, rep = quick
    streams = C.capture_streams(C.SESSION_FIXTURE)
    total = 0
    for _, chunks in sorted(streams.items())[:4]:
        z = zlib.compressobj(6)
        total += sum(len(z.compress(ev.xml)) + len(z.flush(zlib.Z_SYNC_FLUSH)) for ev in C.stream_units(chunks))
    s = rep["streams"]["capture-session"]
    assert s["streams"] == 4 and s["round_trips_ok"]
    assert s["methods"]["zlib-6"]["bytes"] == total
    assert s["methods"]["stream-exact"]["bytes"] < total


def test_peers_and_speed(quick):
    _, rep = quick
    wa = rep["peers"]["whatsapp"]["status"]
    if wa.startswith("ran"):
        w = rep["sizes"]["capture-session"]["whatsapp"]
        assert rep["sizes"]["capture-session"]["methods"]["whatsapp"]["bytes"] > 0
        assert w["conversion_loss"].get("records-with-loss", 0) == 0  # no mixed content in the capture
        assert rep["speed"]["baileys"]["encode_us_per_stanza"] > 0
    else:
        assert wa.startswith("missing: ")
    rows = rep["speed"]["rows"]
    assert rows["lxml parse+serialize"]["speed_vs_lxml"] == 1.0
    assert {"xmppbin encode (c)", "xmppbin decode_many (python)", "xmppbin stream decode (c)",
            "zstd-19 + 16 KiB dict compress", "zlib-6 decompress"} <= set(rows)
    assert all(r["min_s"] > 0 and r["stanzas"] == 200 for r in rows.values())
    pts = rep["scaling"]["session"]["points"]
    assert pts[-1]["stanzas"] == 2000
    # stream mode's state is bounded: the footprint does not grow with the session
    assert max(p["enc_footprint"] for p in pts) < 1 << 20
