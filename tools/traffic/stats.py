"""What a capture holds: a table of connections, stanzas, namespaces, scripts and sizes.

    python -m tools.traffic.stats CAPTURE.jsonl [--json OUT]

Works on any capture in the JSONL format of README.md (generated or recorded).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tools.traffic"  # noqa: A001

from lxml import etree  # noqa: E402

from . import split  # noqa: E402

SIZE_BUCKETS = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
CLIENT = "jabber:client"


def script_of(ch: str) -> str:
    """A coarse Unicode script bucket from the character's name and category."""
    o = ord(ch)
    cat = unicodedata.category(ch)
    if ch in "\u200d\ufe0f\ufe0e" or 0x1F3FB <= o <= 0x1F3FF or 0x1F1E6 <= o <= 0x1F1FF or o == 0x20E3:
        return "Emoji"
    if cat == "So" or 0x1F000 <= o <= 0x1FAFF:
        return "Emoji"
    if cat[0] in "ZPNSC":  # spaces, punctuation, digits, symbols, controls
        return "Common"
    name = unicodedata.name(ch, "")
    first = name.split(" ")[0] if name else "UNKNOWN"
    if first in ("CJK", "KANGXI", "IDEOGRAPHIC"):
        return "Han"
    if first in ("HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HALFWIDTH"):
        return "Kana"
    if first == "HANGUL":
        return "Hangul"
    if first in ("LATIN",):
        return "Latin"
    return first.capitalize()


def _wrap(u) -> etree._Element:
    decl = "".join(f' xmlns="{v}"' if k == "" else f' xmlns:{k}="{v}"' for k, v in u.context.items())
    return etree.fromstring(f"<w{decl}>".encode() + u.data + b"</w>")[0]


def capture_stats(path: str | Path) -> dict:
    header, chunks = split.read_capture(path)
    streams = split.reassemble(chunks)
    units = {k: split.split_stream(v) for k, v in streams.items()}
    st: dict = {
        "file": str(path), "file_bytes": Path(path).stat().st_size, "server": header.get("server"),
        "client": header.get("client"), "seed": header.get("seed"),
        "connections": len({c["conn"] for c in chunks}), "chunks": len(chunks),
        "bytes": {d: sum(len(c["bytes"]) for c in chunks if c["dir"] == d) for d in ("c2s", "s2c")},
        "reads": {d: sum(1 for c in chunks if c["dir"] == d) for d in ("c2s", "s2c")},
        "duration_s": chunks[-1]["t"] if chunks else 0.0,
    }
    kinds: Counter = Counter()
    stanza_kinds: Counter = Counter()
    nonzas: Counter = Counter()
    ns_count: Counter = Counter()
    ns_bytes: Counter = Counter()
    scripts: Counter = Counter()
    sizes: list[int] = []
    text_bytes = 0
    b64_bytes = 0
    body_count = 0
    for (_conn, _d), us in units.items():
        for u in us:
            kinds[u.kind] += 1
            if u.kind != "element":
                continue
            sizes.append(len(u.data))
            el = _wrap(u)
            q = etree.QName(el)
            if split.is_stanza(u):
                default_type = ("normal" if q.localname == "message"
                                else "available" if q.localname == "presence" else "?")
                stanza_kinds[f"{q.localname} {el.get('type') or default_type}"] += 1
            else:
                nonzas[f"{{{q.namespace}}}{q.localname}" if q.namespace else q.localname] += 1
            for child in el.iter():
                if not isinstance(child.tag, str):
                    continue
                ns = etree.QName(child).namespace
                if child is el or ns is None:
                    continue
                parent_ns = etree.QName(child.getparent()).namespace if child.getparent() is not None else None
                if ns != parent_ns and ns != CLIENT:
                    ns_count[ns] += 1
                    ns_bytes[ns] += len(etree.tostring(child))
                t = (child.text or "").strip()
                if len(t) >= 64 and _is_b64(t):
                    b64_bytes += len(t)
            for b in el.iter(f"{{{CLIENT}}}body"):
                body_count += 1
                for ch in b.text or "":
                    n = len(ch.encode("utf-8"))
                    scripts[script_of(ch)] += n
                    text_bytes += n
    sizes.sort()
    hist = Counter()
    for s in sizes:
        for lim in SIZE_BUCKETS:
            if s <= lim:
                hist[f"<= {lim}"] += 1
                break
        else:
            hist[f"> {SIZE_BUCKETS[-1]}"] += 1

    def pct(p: float) -> int:
        return sizes[min(len(sizes) - 1, int(p * len(sizes)))] if sizes else 0

    st.update({
        "units": dict(kinds), "stanzas": dict(stanza_kinds.most_common()), "nonzas": dict(nonzas.most_common()),
        "namespaces": {ns: [n, ns_bytes[ns]] for ns, n in ns_count.most_common()},
        "bodies": body_count, "body_bytes": text_bytes, "body_bytes_by_script": dict(scripts.most_common()),
        "base64_bytes": b64_bytes, "element_sizes": {f"p{int(p * 100)}": pct(p) for p in (0.5, 0.9, 0.99)}
        | {"max": sizes[-1] if sizes else 0, "mean": round(sum(sizes) / len(sizes), 1) if sizes else 0},
        "size_histogram": {k: hist[k] for k in [f"<= {x}" for x in SIZE_BUCKETS] + [f"> {SIZE_BUCKETS[-1]}"]},
    })
    return st


def _is_b64(t: str) -> bool:
    try:
        base64.b64decode(t, validate=True)
        return True
    except ValueError:
        return False


def format_table(st: dict, top: int = 30) -> str:
    out = []
    w = out.append
    tot = st["bytes"]["c2s"] + st["bytes"]["s2c"]
    w(f"capture: {st['file']} ({st['file_bytes']:,} bytes on disk)")
    w(f"server: {st['server']}, client: {st['client']}, seed: {st['seed']}")
    w(f"connections: {st['connections']}, reads: {st['chunks']:,} "
      f"(c2s {st['reads']['c2s']:,}, s2c {st['reads']['s2c']:,}), duration {st['duration_s']:.1f} s")
    w(f"payload bytes: {tot:,} (c2s {st['bytes']['c2s']:,}, s2c {st['bytes']['s2c']:,})")
    w("units: " + ", ".join(f"{k} {v:,}" for k, v in sorted(st["units"].items())))
    w("")
    w("| stanza | count |")
    w("|---|---:|")
    for k, v in st["stanzas"].items():
        w(f"| {k} | {v:,} |")
    w("")
    w("| nonza | count |")
    w("|---|---:|")
    for k, v in list(st["nonzas"].items())[:top]:
        w(f"| {k} | {v:,} |")
    w("")
    w(f"| namespace (top {top}, by elements) | elements | bytes |")
    w("|---|---:|---:|")
    for k, (n, b) in list(st["namespaces"].items())[:top]:
        w(f"| {k} | {n:,} | {b:,} |")
    w(f"({len(st['namespaces'])} namespaces in all)")
    w("")
    w(f"chat text: {st['bodies']:,} bodies, {st['body_bytes']:,} UTF-8 bytes")
    w("| script | bytes | share |")
    w("|---|---:|---:|")
    for k, v in st["body_bytes_by_script"].items():
        w(f"| {k} | {v:,} | {100 * v / max(1, st['body_bytes']):.1f}% |")
    w("")
    w(f"base64 text (element texts of >= 64 base64 characters: avatars, photos, OMEMO): {st['base64_bytes']:,} bytes")
    es = st["element_sizes"]
    w(f"top-level element sizes: median {es['p50']}, p90 {es['p90']}, p99 {es['p99']}, "
      f"max {es['max']:,}, mean {es['mean']}")
    w("| size (bytes) | elements |")
    w("|---|---:|")
    for k, v in st["size_histogram"].items():
        w(f"| {k} | {v:,} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    st = capture_stats(args.capture)
    print(format_table(st), end="")
    if args.json:
        args.json.write_text(json.dumps(st, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
