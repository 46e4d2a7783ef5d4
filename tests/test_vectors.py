"""spec/vectors: exact bytes in both directions, and the error class and offset of every invalid input."""
from __future__ import annotations

import json
import os

import pytest

import xmppbin

VEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "spec", "vectors")


def vectors(name):
    with open(os.path.join(VEC, name), encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["format_version"] == 1 and doc["dictionary"] == 1
    return doc["vectors"]


def test_vector_counts():
    n = sum(len(vectors(f)) for f in ("valid.json", "invalid-binary.json", "invalid-xml.json"))
    assert n >= 40
    assert len(vectors("valid.json")) >= 30


@pytest.mark.parametrize("v", vectors("valid.json"), ids=lambda v: v["name"])
def test_valid_vector(v):
    opts = dict(v["options"])
    data = bytes.fromhex(v["binary"])
    assert xmppbin.encode(v["xml"], **opts).hex() == v["binary"]
    dec = {k: opts[k] for k in ("context", "allow_comments") if k in opts}
    out = xmppbin.decode(data, **dec)
    assert out.decode("utf-8") == v["decoded"]
    if opts.get("exact"):
        assert v["decoded"] == v["xml"]


@pytest.mark.parametrize("v", vectors("stream.json"), ids=lambda v: v["name"])
def test_stream_vector(v):
    """Stream mode (spec 14): the frames of a whole XML stream, and back."""
    from xmppbin import stream

    xml = v["xml"].encode("utf-8")
    assert stream.encode_stream([xml], **v["options"]).hex() == v["frames"]
    half = len(xml) // 2  # any chunking gives the same frames
    assert stream.encode_stream([xml[:half], xml[half:]], **v["options"]).hex() == v["frames"]
    assert stream.decode_stream(bytes.fromhex(v["frames"])).decode("utf-8") == v["decoded"]
    if v["options"].get("exact"):
        assert v["decoded"] == v["xml"]


@pytest.mark.parametrize("v", vectors("invalid-binary.json"), ids=lambda v: v["name"])
def test_invalid_binary_vector(v):
    with pytest.raises(xmppbin.DecodeError) as ei:
        xmppbin.decode(bytes.fromhex(v["binary"]), **v["options"])
    assert type(ei.value).__name__ == v["error"]
    assert ei.value.offset == v["offset"]
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("v", vectors("invalid-xml.json"), ids=lambda v: v["name"])
def test_invalid_xml_vector(v):
    xml = v["xml"] if v["xml"] is not None else bytes.fromhex(v["xml_hex"])
    with pytest.raises(xmppbin.EncodeError) as ei:
        xmppbin.encode(xml)
    assert type(ei.value).__name__ == v["error"]
    assert ei.value.offset == v["offset"]


def test_vectors_are_up_to_date():
    """The checked-in vectors are exactly what tools/gen_vectors.py produces."""
    import subprocess
    import sys

    tool = os.path.join(os.path.dirname(VEC), "..", "tools", "gen_vectors.py")
    r = subprocess.run([sys.executable, tool, "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_generated_tables_are_up_to_date():
    import subprocess
    import sys

    tool = os.path.join(os.path.dirname(VEC), "..", "tools", "gen_tables.py")
    r = subprocess.run([sys.executable, tool, "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_spec_worked_example():
    """spec section 12 spells one message bit by bit: its input, its bytes, and the
    bit string of its symbols (the table's `bits` column, in order) are what the
    encoder produces and the decoder reads back, so the example cannot go stale."""
    import re

    with open(os.path.join(os.path.dirname(VEC), "xmppbin.md"), encoding="utf-8") as f:
        spec = f.read()
    sec = spec[spec.index("## 12. Worked example"):spec.index("## 13.")]
    xml = re.search(r"Input \(default mode, default context\):\s*`([^`]+)`", sec).group(1).encode()
    msg = bytes.fromhex(re.search(r"\*\*`([0-9a-f ]+)`\*\*", sec).group(1))
    rows = re.findall(r"^\| \d+ \| (\d+) \|.*\| (\d+) \| `([01]+)` \|$", sec, re.M)
    assert len(rows) == 10
    bits = "".join(b for _, _, b in rows)
    assert [int(at) for at, _, _ in rows] == [sum(len(b) for _, _, b in rows[:i]) for i in range(len(rows))]
    assert all(int(n) == len(b) for _, n, b in rows)
    assert xmppbin.encode(xml) == msg
    assert xmppbin.decode(msg) == xml
    body = "".join(f"{c:08b}" for c in msg[1:])
    assert body.startswith(bits) and set(body[len(bits):]) <= {"0"} and len(body) - len(bits) < 8
