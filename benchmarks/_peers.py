"""Peers of the benchmark report that run in another runtime: WhatsApp's binary node
codec (the npm package baileys, its lib/WABinary, run by node) and EXI.

A peer runs only when its toolchain is present; otherwise the report says what is
missing and what was tried (PeerMissing carries that text).
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
CACHE = PEERS / ".cache"  # gitignored: npm downloads land here at run time


class PeerMissing(Exception):
    """A peer cannot run here; the message says why and what was tried."""


# --------------------------------------------------------------------------- baileys

BAILEYS_DIR = PEERS / "baileys"
WABINARY_FILES = ("encode.js", "decode.js", "constants.js", "jid-utils.js")


def baileys_version() -> str:
    return json.loads((BAILEYS_DIR / "package.json").read_text())["dependencies"]["baileys"]


def node_version() -> str | None:
    node = shutil.which("node")
    if not node:
        return None
    return subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def ensure_wabinary() -> Path:
    """The directory of Baileys' lib/WABinary (the pinned version), fetched with
    `npm pack` into benchmarks/peers/.cache on first use.

    `npm install baileys` does not work from these machines: baileys depends on
    git-hosted packages (@whiskeysockets/eslint-config, libsignal from GitHub), and
    neither `--omit=optional --omit=dev --ignore-scripts` nor an older version avoids
    them. The codec itself (encode.js, decode.js, constants.js, jid-utils.js) needs
    only node's own util and zlib, so the registry tarball is unpacked and those four
    files are loaded directly."""
    if not shutil.which("node"):
        raise PeerMissing("node not found on PATH")
    version = baileys_version()
    dest = CACHE / f"baileys-{version}" / "WABinary"
    if all((dest / f).is_file() for f in WABINARY_FILES):
        return dest
    npm = shutil.which("npm")
    if not npm:
        raise PeerMissing("npm not found on PATH (needed once to fetch baileys)")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([npm, "pack", f"baileys@{version}", "--pack-destination", str(CACHE)],
                           capture_output=True, text=True, cwd=CACHE, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PeerMissing(f"`npm pack baileys@{version}` failed: {e}") from None
    tgz = CACHE / f"baileys-{version}.tgz"
    if r.returncode != 0 or not tgz.is_file():
        raise PeerMissing(f"`npm pack baileys@{version}` failed: {r.stderr.strip()[-300:]}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as t:
        for f in WABINARY_FILES:
            member = t.extractfile(f"package/lib/WABinary/{f}")
            if member is None:
                raise PeerMissing(f"baileys@{version} has no lib/WABinary/{f}")
            (dest / f).write_bytes(member.read())
    return dest


# XML -> WhatsApp node. The node form is {tag, attrs, content}: content is a string, a
# list of nodes, or absent. What it cannot hold, counted per record by xml_to_node:
#   mixed-text      non-whitespace text beside child elements (text, tails)
#   whitespace      whitespace-only text between child elements (indentation)
#   comment-pi      comments and processing instructions
# Kept: element and attribute names as written (prefix:local), namespace declarations
# as xmlns / xmlns:p attributes where they were declared, attribute order, text of
# text-only elements. Not kept by construction, as in xmppbin's default mode: quote
# style, entity/character references, whitespace inside tags, empty-element form.
LOSS_KINDS = ("mixed-text", "whitespace", "comment-pi")


def xml_to_node(wrapped: bytes) -> tuple[dict, set[str]]:
    """The node of the first element inside a wrapper document (tests/infoset.wrap),
    and the set of LOSS_KINDS that happened."""
    decls: dict = {}
    pending: list = []
    root = None
    for ev, obj in etree.iterparse(io.BytesIO(wrapped), events=("start-ns", "start"), remove_comments=False,
                                   remove_pis=False, resolve_entities=False):
        if ev == "start-ns":
            pending.append(obj)
        else:
            if root is None:
                root = obj
            decls[obj] = pending
            pending = []
    assert root is not None
    el = next(c for c in root if isinstance(c.tag, str))
    lost: set[str] = set()

    def conv(e) -> dict:
        ns = dict(e.nsmap)
        attrs: dict[str, str] = {}
        for p, u in decls[e]:
            attrs[f"xmlns:{p}" if p else "xmlns"] = u
        for k, v in e.attrib.items():
            if k.startswith("{"):
                uri, local = k[1:].split("}", 1)
                pfx = "xml" if uri == "http://www.w3.org/XML/1998/namespace" else next(
                    (p for p, u in ns.items() if u == uri and p), None)
                k = f"{pfx}:{local}"
            attrs[k] = v
        tag = e.tag.split("}", 1)[1] if e.tag.startswith("{") else e.tag
        if e.prefix:
            tag = f"{e.prefix}:{tag}"
        kids = [c for c in e]
        node: dict = {"tag": tag, "attrs": attrs, "content": None}
        if kids:
            texts = [e.text or ""] + [c.tail or "" for c in kids]
            if any(t.strip() for t in texts):
                lost.add("mixed-text")
            elif any(texts):
                lost.add("whitespace")
            elems = [c for c in kids if isinstance(c.tag, str)]
            if len(elems) != len(kids):
                lost.add("comment-pi")
            node["content"] = [conv(c) for c in elems] if elems else (None if not e.text else e.text)
        elif e.text:
            node["content"] = e.text
        return node

    return conv(el), lost


def node_to_xml(node: dict) -> bytes:
    """The XML a node stands for (to check what the conversion kept, by infoset)."""
    def ser(n: dict) -> str:
        a = "".join(f" {k}={quoteattr(v)}" for k, v in n["attrs"].items())
        c = n["content"]
        if c is None:
            return f"<{n['tag']}{a}/>"
        inner = "".join(ser(x) for x in c) if isinstance(c, list) else escape(c)
        return f"<{n['tag']}{a}>{inner}</{n['tag']}>"

    return ser(node).encode("utf-8")


def run_baileys(nodes: list[dict], rounds: int = 1, timeout: float = 600) -> tuple[list[dict], dict]:
    """Per node {size, ok, error} and the timing summary from benchmarks/peers/baileys/wabinary.js."""
    wab = ensure_wabinary()
    node = shutil.which("node")
    assert node
    data = "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in nodes)
    r = subprocess.run([node, str(BAILEYS_DIR / "wabinary.js"), str(wab), str(rounds)], input=data,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"wabinary.js failed: {r.stderr[-2000:]}")
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    summary = lines.pop()
    if len(lines) != len(nodes):
        raise RuntimeError(f"wabinary.js answered {len(lines)} lines for {len(nodes)} nodes")
    return lines, summary
