"""The command line, run as a user would (a subprocess)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import xmppbin

SINGLE_BACKEND = True  # the subprocesses run the default backend whatever the parameter says
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "data", "xep-sample.jsonl")


def run(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "xmppbin.cli", *args], input=stdin, capture_output=True,
                          cwd=os.path.dirname(HERE))


def test_encode_decode_pipe():
    xml = b"<message to='a@b.example'><body>hi \xc3\xa9</body></message>"
    r = run("encode", stdin=xml)
    assert r.returncode == 0 and r.stdout == xmppbin.encode(xml)
    r2 = run("decode", stdin=r.stdout)
    assert r2.returncode == 0 and r2.stdout == xml
    r3 = run("encode", "--hex", "--exact", stdin=b'<a x="1" />')
    assert r3.stdout.strip() == xmppbin.encode(b'<a x="1" />', exact=True).hex().encode()
    assert run("decode", "--hex", stdin=r3.stdout).stdout == b'<a x="1" />'


def test_errors_exit_nonzero_with_message():
    r = run("encode", stdin=b"<a>")
    assert r.returncode == 1 and b"MalformedXMLError" in r.stderr and b"byte 0" in r.stderr
    r = run("decode", stdin=b"\x20")
    assert r.returncode == 1 and b"TruncatedError" in r.stderr


def test_context_option():
    xml = b"<db:verify from='a' to='b' id='1'>k</db:verify>"
    assert run("encode", stdin=xml).returncode == 1
    r = run("encode", "--context", "db=jabber:server:dialback", stdin=xml)
    assert r.returncode == 0
    assert run("decode", "--context", "db=jabber:server:dialback", stdin=r.stdout).stdout == xml


def test_stats_on_sample():
    r = run("stats", SAMPLE)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "stanza" in out and "all" in out
    # the sample holds every XEP example with an XML comment: they are not restricted XML,
    # reported as not counted (with the reason), not as a failure
    with open(SAMPLE) as f:
        comments = sum("<!--" in json.loads(line)["xml"] for line in f)
    assert comments == 51
    assert out.splitlines()[-1] == (
        f"not counted: {comments} records with XML comments (not restricted XML, RFC 6120 11.1: XMPP streams "
        "cannot carry them; --allow-comments counts them)")
    assert "rejected" not in out and r.stderr == b""
    r = run("stats", "--allow-comments", SAMPLE)
    assert r.returncode == 0 and "not counted" not in r.stdout.decode()
    assert r.stdout.decode().splitlines()[-1].split()[:2] == ["all", str(672 + comments)]


def test_convert_round_trips(tmp_path):
    out = tmp_path / "out.jsonl"
    r = run("convert", SAMPLE, "-o", str(out), "--exact", "--allow-comments")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == sum(1 for _ in open(SAMPLE))
    for rec in recs:
        ctx = dict(xmppbin.DEFAULT_CONTEXT, **(rec.get("assumed_prefixes") or {}))
        data = base64.b64decode(rec["xmppbin"])
        assert xmppbin.decode(data, context=ctx, allow_comments=True) == rec["xml"].encode()
