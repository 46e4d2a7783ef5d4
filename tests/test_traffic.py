"""Generated traffic (tools/traffic): the committed held-out capture and, where Prosody
is installed (always under CI), a small live capture.

The fixture tests/data/traffic-seed9001.jsonl needs neither Prosody nor slixmpp:
its every connection direction must round-trip byte for byte through xmppbin's
stream mode fed in the recorded TCP reads, its content must be what the seeded
plan says, and it must hold the scenarios the generator promises.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import require_live_xmpp
from lxml import etree

from xmppbin import stream as S

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.traffic import pcap, split, stats  # noqa: E402
from tools.traffic.plan import Plan, digest_of, plan_digest  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "traffic-seed9001.jsonl"
FIXTURE_SEED = 9001

NS = {
    "c": "jabber:client", "roster": "jabber:iq:roster", "muc": "http://jabber.org/protocol/muc#user",
    "reply": "urn:xmpp:reply:0", "correct": "urn:xmpp:message-correct:0", "react": "urn:xmpp:reactions:0",
    "retract": "urn:xmpp:message-retract:1", "receipts": "urn:xmpp:receipts",
    "cs": "http://jabber.org/protocol/chatstates", "markers": "urn:xmpp:chat-markers:0",
    "omemo": "eu.siacs.conversations.axolotl", "sfs": "urn:xmpp:sfs:0", "meta": "urn:xmpp:file:metadata:0",
    "hash": "urn:xmpp:hashes:2", "sims": "urn:xmpp:sims:1", "jingle": "urn:xmpp:jingle:1",
    "mam": "urn:xmpp:mam:2", "rsm": "http://jabber.org/protocol/rsm", "sm": "urn:xmpp:sm:3",
    "ping": "urn:xmpp:ping", "info": "http://jabber.org/protocol/disco#info", "csi": "urn:xmpp:csi:0",
    "idle": "urn:xmpp:idle:1", "vu": "vcard-temp:x:update", "caps": "http://jabber.org/protocol/caps",
    "ps": "http://jabber.org/protocol/pubsub", "ev": "http://jabber.org/protocol/pubsub#event",
    "upload": "urn:xmpp:http:upload:0", "admin": "http://jabber.org/protocol/muc#admin",
    "owner": "http://jabber.org/protocol/muc#owner", "oid": "urn:xmpp:occupant-id:0", "delay": "urn:xmpp:delay",
    "og": "https://ogp.me/ns#", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "vcard": "vcard-temp",
    "blocking": "urn:xmpp:blocking",
    "carbons": "urn:xmpp:carbons:2", "jmi": "urn:xmpp:jingle-message:0",
}


def round_trip(chunks: list[bytes]) -> bytes:
    """Encode the reads one by one in exact stream mode, decode each frame batch as it
    comes, and return the XML the decoder gave back."""
    enc, dec = S.StreamEncoder(exact=True), S.StreamDecoder()
    out = []
    for c in chunks:
        out += dec.feed(enc.feed(c))
    out += dec.feed(enc.flush())
    dec.close()
    return b"".join(e.xml for e in out)


def by_direction(chunks: list[dict]) -> dict[tuple[int, str], list[bytes]]:
    d: dict[tuple[int, str], list[bytes]] = {}
    for c in chunks:
        d.setdefault((c["conn"], c["dir"]), []).append(c["bytes"])
    return d


def elements(chunks: list[dict]):
    """(conn, dir, lxml element) of every top-level element."""
    out = []
    for (conn, d), us in split.split_capture(chunks).items():
        for u in us:
            if u.kind == "element":
                out.append((conn, d, stats._wrap(u)))
    return out


def xp(els, path: str, direction: str | None = None) -> list:
    hits = []
    for _c, d, el in els:
        if direction is None or d == direction:
            hits += el.xpath(path, namespaces=NS)
    return hits


def planned_bodies(header: dict) -> set[str]:
    p = Plan(header["seed"], header["clients"])
    bodies = set()
    for _ in range(header["rounds"]):
        for a in p.next_round():
            if "body" in a.args:
                bodies.add(a.args["body"])
    return bodies


@pytest.fixture(scope="module")
def fixture():
    return split.read_capture(FIXTURE)


@pytest.fixture(scope="module")
def fixture_elements(fixture):
    return elements(fixture[1])


# ---------------------------------------------------------------------------
# the committed capture
# ---------------------------------------------------------------------------

def test_fixture_file(fixture):
    size = FIXTURE.stat().st_size
    assert 1_000_000 <= size <= 3_000_000
    header, chunks = fixture
    assert header["capture"] == "xmppbin-session" and header["version"] == 1
    assert header["seed"] == FIXTURE_SEED and header["generator"] == "tools/traffic"
    assert header["steps_failed"] == {} and header["prosody_modules_missing"] == []
    last = 0.0
    for c in chunks:
        assert c["dir"] in ("c2s", "s2c") and c["bytes"] and c["t"] >= last
        last = c["t"]
    conns = {c["conn"] for c in chunks}
    assert conns == set(range(1, len(conns) + 1)) and len(conns) >= 20


def test_fixture_round_trips_in_stream_mode(fixture):
    _, chunks = fixture
    dirs = by_direction(chunks)
    assert len(dirs) >= 40
    for key, cs in dirs.items():
        assert round_trip(cs) == b"".join(cs), key


def test_fixture_content_is_the_seeds(fixture, fixture_elements):
    header, _ = fixture
    assert header["faker"] == __import__("faker").VERSION  # pinned in pyproject.toml
    assert header["plan_digest"] == plan_digest(header["seed"], header["clients"], header["rounds"])
    assert header["plan_digest"] != plan_digest(header["seed"] + 1, header["clients"], header["rounds"])
    planned = planned_bodies(header)
    sent = [b.text for b in xp(fixture_elements, "self::c:message/c:body", "c2s")]
    # every body a client sent is in the plan, except the generator's fixed fallbacks
    # (room greetings made at setup, OMEMO/retraction fallback texts, file URLs)
    others = [b for b in sent if b not in planned]
    assert len(sent) - len(others) >= 0.8 * len(sent)
    for b in others:
        assert b.startswith(("https://upload.localhost/", "I sent you an OMEMO", "This person attempted")) \
            or b.rsplit(" #", 1)[-1].isdigit(), b


def test_fixture_scenarios(fixture_elements):
    els = fixture_elements
    c2s, s2c = "c2s", "s2c"
    # a roster of 200+ contacts with groups and every subscription state
    big = [q for q in xp(els, "self::c:iq[@type='result']/roster:query", s2c) if len(q) >= 200]
    assert big
    subs = {i.get("subscription") for q in big for i in q}
    assert {"both", "to", "from", "none"} <= subs
    assert any(i.get("ask") == "subscribe" for q in big for i in q)
    assert any(len(i) for q in big for i in q)  # <group>
    # a room with 20+ occupants, history on join, subject, config form, affiliations, occupant ids
    occupants: dict[str, set] = {}
    for p in xp(els, "self::c:presence[not(@type)][muc:x]", s2c):
        room, _, nick = p.get("from").partition("/")
        occupants.setdefault(room, set()).add(nick)
    assert max(len(v) for v in occupants.values()) >= 20
    assert xp(els, "self::c:message[@type='groupchat'][c:body]/delay:delay", s2c)
    assert xp(els, "self::c:message[@type='groupchat']/c:subject[text()]", s2c)
    assert xp(els, "self::c:iq[@type='set']/owner:query/*[local-name()='x'][@type='submit']", c2s)
    assert xp(els, "self::c:iq/admin:query/admin:item[@affiliation]", c2s)
    assert xp(els, "self::c:message[@type='groupchat']/oid:occupant-id", s2c)
    # chat features
    for path in ("reply:reply", "correct:replace", "react:reactions/react:reaction", "retract:retract",
                 "receipts:request", "cs:composing", "markers:displayed", "omemo:encrypted/omemo:header/omemo:key",
                 "sfs:file-sharing/meta:file/hash:hash[@algo='sha-256']", "*/sims:media-sharing",
                 "rdf:Description/og:title", "jmi:propose"):
        assert xp(els, f"self::c:message/{path}", c2s), path
    assert xp(els, "self::c:message/receipts:received", s2c)
    assert xp(els, "self::c:message/carbons:received", s2c)
    # presence: caps, avatar hash, idle; CSI
    assert xp(els, "self::c:presence/caps:c", c2s) and xp(els, "self::c:presence/vu:x/vu:photo[text()]", c2s)
    assert xp(els, "self::c:presence/idle:idle", c2s)
    assert xp(els, "self::csi:inactive", c2s)
    # PEP: avatar made with Pillow, bookmarks/nick/OMEMO; notifications
    data = xp(els, "self::c:iq/ps:pubsub/ps:publish[@node='urn:xmpp:avatar:data']/ps:item/*", c2s)
    import base64
    assert data and all(base64.b64decode(d.text)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0") for d in data)
    nodes = {p.get("node") for p in xp(els, "self::c:iq/ps:pubsub/ps:publish", c2s)}
    assert {"http://jabber.org/protocol/nick", "eu.siacs.conversations.axolotl.devicelist"} <= nodes
    assert any(n.startswith("eu.siacs.conversations.axolotl.bundles:") for n in nodes)
    assert xp(els, "self::c:message/ev:event/ev:items", s2c)
    # Jingle, upload slot, MAM pages of 50, stream management resumption, pings, disco, vCard
    actions = {j.get("action") for j in xp(els, "self::c:iq/jingle:jingle", c2s)}
    assert {"session-initiate", "session-terminate"} <= actions
    assert xp(els, "self::c:iq[@type='result']/upload:slot", s2c)
    assert xp(els, "self::c:iq/mam:query/rsm:set/rsm:max[text()='50']", c2s)
    assert xp(els, "self::c:message/mam:result", s2c)
    assert xp(els, "self::sm:resume", c2s) and xp(els, "self::sm:resumed", s2c)
    assert xp(els, "self::c:iq[@type='get']/ping:ping", c2s)
    assert xp(els, "self::c:iq[@type='result']/info:query/info:identity[@category='server']", s2c)
    assert xp(els, "self::c:iq[@type='result']/info:query/info:identity[@category='client']", s2c)
    assert xp(els, "self::c:iq/vcard:vCard/vcard:PHOTO/vcard:BINVAL", c2s)
    # offline delivery to the users who log in late
    assert xp(els, "self::c:message[@type='chat'][c:body]/delay:delay[@from='localhost']", s2c)


def test_fixture_scripts(fixture):
    st = stats.capture_stats(FIXTURE)
    by = st["body_bytes_by_script"]
    for script in ("Latin", "Cyrillic", "Han", "Kana", "Hangul", "Arabic", "Hebrew", "Devanagari", "Greek",
                   "Thai", "Emoji"):
        assert by.get(script, 0) > 0, script
    assert sum(by.values()) == st["body_bytes"]
    assert sum(st["size_histogram"].values()) == st["units"]["element"]
    assert sum(st["stanzas"].values()) + sum(st["nonzas"].values()) == st["units"]["element"]
    assert st["bytes"]["c2s"] + st["bytes"]["s2c"] == sum(len(c["bytes"]) for c in fixture[1])


def test_stats_table(fixture):
    text = stats.format_table(stats.capture_stats(FIXTURE))
    assert "| Han |" in text and "| message groupchat |" in text and "connections: " in text
    out = subprocess.run([sys.executable, "-m", "tools.traffic.stats", str(FIXTURE)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout == text


def test_script_buckets():
    assert [stats.script_of(c) for c in "aЖ漢かカ한ﾊ عאअα ๑1👍\u200d\U0001F3FD\U0001F1EF"] == [
        "Latin", "Cyrillic", "Han", "Kana", "Kana", "Hangul", "Kana", "Common", "Arabic", "Hebrew", "Devanagari",
        "Greek", "Common", "Common", "Common", "Emoji", "Emoji", "Emoji", "Emoji"]


def test_pcap_of_fixture(fixture, tmp_path):
    header, chunks = fixture
    p = tmp_path / "f.pcap"
    n = pcap.write_pcap(p, [(c["conn"], c["dir"], c["t"], c["bytes"]) for c in chunks], 1_800_000_000.0)
    assert n >= 2 * len(chunks)
    assert pcap.read_pcap_streams(p) == split.reassemble(chunks)
    import dpkt
    with open(p, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            assert ip.src == ip.dst == b"\x7f\x00\x00\x01" and ts >= 1_800_000_000.0
            # checksums as computed by dpkt on a fresh copy of the same packet
            tcp = ip.data
            want_ip, want_tcp = ip.sum, tcp.sum
            ip.sum = 0
            tcp.sum = 0
            again = dpkt.ip.IP(bytes(ip))
            assert (again.sum, again.data.sum) == (want_ip, want_tcp)


def test_plan_is_deterministic():
    a, b = Plan(3, 7), Plan(3, 7)
    ra = [a.next_round() for _ in range(40)]
    rb = [b.next_round() for _ in range(40)]
    assert [x.as_json() for r in ra for x in r] == [x.as_json() for r in rb for x in r]
    assert digest_of(a, ra) == digest_of(b, rb)
    kinds = {x.kind for r in ra for x in r}
    assert {"chat", "groupchat", "omemo", "jingle", "mam", "file", "pep", "login", "sm-resume"} <= kinds
    assert plan_digest(4, 7, 40) != digest_of(a, ra)


# ---------------------------------------------------------------------------
# a small live capture (Prosody + slixmpp)
# ---------------------------------------------------------------------------


# session scope: the captures do not depend on the backend, so they are made once, not once
# per backend (pytest orders the tests by backend and would set up a module fixture twice)
@pytest.fixture(scope="session")
def live(tmp_path_factory):
    require_live_xmpp("make a live capture")
    runs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"live{k}")
        r = subprocess.run([sys.executable, "-m", "tools.traffic", "--seed", "5", "--size", "600KB", "--clients", "6",
                            "--max-seconds", "40", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                           timeout=150)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
        runs.append(out)
    return runs


def test_live_capture_round_trips(live):
    for out in live:
        header, chunks = split.read_capture(out / "capture.jsonl")
        assert header["seed"] == 5 and header["steps_failed"] == {}
        # past the setup (about 320 KB for 6 clients): every scenario kind, both late logins
        # (rounds 6 and 15) and the stream resumption (round 17) were played
        assert header["rounds"] >= 18
        assert {"chat", "groupchat", "omemo", "jingle", "mam", "file", "login", "sm-resume"} <= set(header["actions"])
        dirs = by_direction(chunks)
        assert len(dirs) >= 10
        for key, cs in dirs.items():
            data = b"".join(cs)
            assert round_trip(cs) == data, key
            assert (out / "raw" / f"{key[0]:03d}-{key[1]}.bin").read_bytes() == data
        assert pcap.read_pcap_streams(out / "capture.pcap") == split.reassemble(chunks)
        recs = [json.loads(line) for line in open(out / "stanzas.jsonl", encoding="utf-8")]
        assert recs == split.corpus_records(chunks)
        assert (out / "stats.txt").read_text(encoding="utf-8") == stats.format_table(
            stats.capture_stats(out / "capture.jsonl"))


def test_live_capture_content_is_deterministic(live):
    heads, sent, kinds = [], [], []
    for out in live:
        header, chunks = split.read_capture(out / "capture.jsonl")
        heads.append(header)
        assert header["plan_digest"] == plan_digest(5, 6, header["rounds"])
        els = elements(chunks)
        per_conn: dict[int, list[str]] = {}
        for conn, d, el in els:
            if d == "c2s":
                for b in el.xpath("self::c:message/c:body", namespaces=NS):
                    per_conn.setdefault(conn, []).append(b.text)
        sent.append(per_conn)
        kinds.append(Counter(etree.QName(el).localname + " " + (el.get("type") or "")
                             for _c, d, el in els if d == "c2s"))
    # timing decides how many rounds fit in the size (one more or less), not what they say:
    # each connection sends the same bodies in the same order, up to where the shorter run ends
    common = set(sent[0]) & set(sent[1])
    assert len(common) >= 5
    for conn in common:
        a, b = sent[0][conn], sent[1][conn]
        n = min(len(a), len(b))
        assert n and a[:n] == b[:n], conn
    for k in kinds:
        assert {"message chat", "message groupchat", "iq get", "iq set", "iq result", "presence ",
                "presence unavailable"} <= set(k)
    c0, c1 = heads[0]["connections"], heads[1]["connections"]
    assert all(c0[n] == c1[n] for n in set(c0) & set(c1)) and len(set(c0) & set(c1)) >= 8
