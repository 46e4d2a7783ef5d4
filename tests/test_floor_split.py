"""benchmarks/floor_split.py (issue 11's per-stanza floor targets, by size bucket and
class), so that it cannot rot. The real floor needs pyppmd and ../shared; here a
stand-in floor module (cost = a quarter of the text, priming recorded) takes its place,
and every figure the script reports is checked against a direct computation."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import xmppbin

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import _corpus as C  # noqa: E402
import floor_split  # noqa: E402

RECORDS = [
    {"xep": "0045", "xml": "<iq type='get' id='a1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"},
    {"xep": "0045", "xml": "<message><body>" + "held out " * 20 + "</body></message>"},
    {"xep": "0060", "xml": "<iq type='result'><!-- a comment --><x/></iq>"},  # restricted XML
    {"xep": "0060", "xml": "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
     "prefixes": ["stream"]},
    {"xep": "0030", "xml": "<presence/>" + " " * 600},
    {"xep": "0001", "xml": "<iq type='set'><training-only/></iq>"},
]

FAKE_FLOOR = '''
import json, re
from fake_floor_records import RECORDS_JSON
DEFAULT_TRAIN = "train.jsonl"
PRIMED = []
KNOWN_PREFIXES = {"stream": "http://etherx.jabber.org/streams"}
RECORDS = json.loads(RECORDS_JSON)
def load(path, keep=None):
    assert path == DEFAULT_TRAIN
    return [r for r in RECORDS if keep is None or keep(r)]
def bucket(n):
    return "<128" if n < 128 else "128-512" if n < 512 else "512-2K" if n < 2048 else ">2K"
def klass(xml):
    return re.match(r"\\s*<([\\w:.-]+)", xml).group(1)
class Primed:
    def __init__(self, train):
        PRIMED.append(train)
    def cost(self, x):
        return len(x) // 4 + 1
'''


def _direct(records, context_of):
    rows = []
    for r in records:
        x = r["xml"].encode()
        try:
            n = len(xmppbin.encode(x, context=context_of(r)))
        except xmppbin.RestrictedXMLError:
            n = len(xmppbin.encode(x, context=context_of(r), allow_comments=True))
        rows.append((len(x), n, len(x) // 4 + 1))
    return rows


def test_xep_split_and_capture_match_direct_computation(tmp_path, capsys, monkeypatch):
    fake = tmp_path / "floor.py"
    fake.write_text(FAKE_FLOOR)
    (tmp_path / "fake_floor_records.py").write_text(f"RECORDS_JSON = {json.dumps(RECORDS)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "fs.json"
    assert floor_split.main(["--floor", str(fake), "--capture", str(C.SESSION_FIXTURE), "--json", str(out),
                             "--classes", "3"]) == 0
    rep = json.loads(out.read_text())
    printed = capsys.readouterr().out
    # the XEP split: the held-out records (XEP % 5 == 0), the one with a comment coded
    # with allow_comments and counted apart
    F = floor_split.load_floor(str(fake))
    held = [r for r in RECORDS if int(r["xep"]) % 5 == 0]
    rows = _direct(held, lambda r: floor_split.context_of(r, F))
    s = rep["xep_split"]
    assert s["all"]["records"] == len(held) == 5
    assert s["all"]["xmppbin"] == sum(n for _, n, _ in rows)
    assert s["all"]["floor"] == sum(f for _, _, f in rows)
    assert s["all"]["xml"] == sum(x for x, _, _ in rows)
    assert s["accepted"]["records"] == 4  # all but the one with a comment
    assert "rejected (allow_comments)        1 records" in printed
    # buckets partition the records; each bucket's sums are its records'
    assert sum(b["records"] for b in s["buckets"].values()) == 5
    for name, b in s["buckets"].items():
        sel = [row for row in rows if F.bucket(row[0]) == name]
        want = (len(sel), sum(n for _, n, _ in sel), sum(f for *_, f in sel))
        assert (b["records"], b["xmppbin"], b["floor"]) == want
    assert s["buckets"]["512-2K"]["records"] == 1 and s["buckets"]["128-512"]["records"] == 1
    # classes: at most 3, the largest loss to the floor first
    losses = [c["xmppbin"] - c["floor"] for c in s["classes"].values()]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    # the capture: its top-level elements without the stream headers, each in its
    # stream's context, against the model primed on the whole (fake) corpus
    recs = [r for r in C.load_capture_records(C.SESSION_FIXTURE) if r.kind != "stream-header"]
    c = rep["capture"]["all"]
    assert c["records"] == len(recs) > 100
    assert c["floor"] == sum(len(r.xml) // 4 + 1 for r in recs)
    ctx = [{**xmppbin.DEFAULT_CONTEXT, **(r.assumed_prefixes or {})} for r in recs]
    assert c["xmppbin"] == sum(len(xmppbin.encode(r.xml, context=x)) for r, x in zip(recs, ctx))
    assert f"= {c['xmppbin'] / c['floor']:.3f}x" in printed
