"""Capture archives at scale: convert or measure many capture files with a Dask bag.

Converting or measuring an archive larger than one machine is a map over shards (capture
files) followed, for stats, by a sum. This module is that map and sum on a Dask bag; the
scheduling, the workers and their machines are Dask's (``dask.distributed``), nothing
home-made::

    from dask.distributed import Client
    from xmppbin import dask as xd

    client = Client("scheduler:8786")             # or LocalCluster() on one machine
    results = xd.convert(paths, "out/", client=client)   # one .xmb per capture file
    totals = xd.stats(paths, client=client)               # bytes per method, summed

Each task reads one capture file (pcap, pcapng, recorded session JSON Lines or raw stream
dump, detected as by the command line) and returns a small dict; outputs are written
beside the others under ``out_dir`` (a path every worker can reach, e.g. a shared file
system), each to a temporary file renamed when complete. Requires ``dask[distributed]``.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

from . import capture as C
from . import xmb as X

STATS_KEYS = ("units", "xml", "stateless", "stream", "zlib")


def _directions(path: str, fmt: str | None, ports: Iterable[int]) -> list[C.Direction]:
    if fmt is None:
        with open(path, "rb") as f:
            fmt = C.detect(f.read(1 << 16))
    return C.directions(path, fmt, ports)


def convert_file(path: str, out_dir: str, *, fmt: str | None = None, ports: Iterable[int] = C.XMPP_PORTS,
                 exact: bool = True) -> dict[str, Any]:
    """One capture file -> out_dir/NAME.xmb (exact mode by default). Returns a summary:
    input, output, streams, xml_bytes, xmb_bytes, problems (texts), errors (texts)."""
    dirs = _directions(path, fmt, ports)
    name = os.path.splitext(os.path.basename(path))[0] + X.EXTENSION
    out = os.path.join(out_dir, name)
    errors = []
    fd, tmp = tempfile.mkstemp(prefix=".xmppbin-", suffix=".part", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(X.file_head())
            for sid, d in enumerate(dirs):
                blocks, err = X.encode_stream_blocks(sid, dict(d.meta(), source=os.path.basename(path)), d.data,
                                                     exact=exact)
                f.write(blocks)
                if err is not None:
                    errors.append(f"{d.name}: {type(err).__name__}: {err.reason} (stream byte {err.offset + d.start})")
            f.write(X.file_end(len(dirs)))
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return {"input": path, "output": out, "streams": len(dirs), "xml_bytes": sum(len(d.data) for d in dirs),
            "xmb_bytes": os.path.getsize(out), "problems": [f"{d.name}: {p.text}" for d in dirs for p in d.problems],
            "errors": errors}


def stats_file(path: str, *, fmt: str | None = None, ports: Iterable[int] = C.XMPP_PORTS,
               exact: bool = False) -> dict[str, Any]:
    """Bytes of one capture file per method (the columns of ``xmppbin stats`` but zstd),
    summed over its directions, with the file's name and stream count."""
    from .cli import _stats_direction  # the command line's measurement, one copy
    from .xmlscan import DEFAULT_CONTEXT

    opts = {"exact": exact, "context": dict(DEFAULT_CONTEXT), "allow_comments": False}
    tot = dict.fromkeys(STATS_KEYS, 0)
    dirs = _directions(path, fmt, ports)
    for d in dirs:
        row = _stats_direction((d.meta(), d.data, opts))["row"]
        for k in STATS_KEYS:
            tot[k] += row[k]
    return {"files": 1, "streams": len(dirs), **tot}


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in ("files", "streams", *STATS_KEYS)}


def _compute(bag, client):
    return client.compute(bag).result() if client is not None else bag.compute()


def convert(paths: Iterable[str], out_dir: str, *, client=None, **options: Any) -> list[dict[str, Any]]:
    """convert_file over every path (one task each), in the order of paths."""
    import dask.bag as db

    paths = list(paths)
    os.makedirs(out_dir, exist_ok=True)
    bag = db.from_sequence(paths, npartitions=max(1, len(paths))).map(convert_file, out_dir, **options)
    return list(_compute(bag, client))


def stats(paths: Iterable[str], *, client=None, **options: Any) -> dict[str, Any]:
    """stats_file over every path, summed (a tree reduction on the cluster)."""
    import dask.bag as db

    paths = list(paths)
    empty = {"files": 0, "streams": 0, **dict.fromkeys(STATS_KEYS, 0)}
    if not paths:
        return empty
    bag = db.from_sequence(paths, npartitions=max(1, len(paths))).map(stats_file, **options)
    total = bag.fold(_add, _add, initial=empty)
    return dict(_compute(total, client))
