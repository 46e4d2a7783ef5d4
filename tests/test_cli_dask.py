"""xmppbin.dask: convert and measure several capture files on a dask.distributed
LocalCluster with two workers."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from xmppbin import capture as C
from xmppbin import xmb as X

distributed = pytest.importorskip("dask.distributed")
from xmppbin import dask as xd  # noqa: E402

SINGLE_BACKEND = True
HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "data", "capture-session.jsonl")


def _decode_all(path: str) -> dict[tuple[str, str], bytes]:
    metas: dict[int, dict] = {}
    out: dict[int, list[bytes]] = {}
    with open(path, "rb") as f:
        X.read_streams(f, lambda sid, m: metas.__setitem__(sid, m),
                       lambda sid, evs: out.setdefault(sid, []).extend(e.xml for e in evs), lambda sid, e: None)
    return {(metas[s]["conn"], metas[s]["dir"]): b"".join(v) for s, v in out.items()}


def test_convert_and_stats_on_a_local_cluster(tmp_path):
    _, chunks = C.read_capture(SESSION)
    streams = C.reassemble(chunks)
    a = tmp_path / "a.jsonl"
    shutil.copy(SESSION, a)
    b = tmp_path / "b.xml"
    b.write_bytes(streams[(3, "s2c")])
    c = tmp_path / "c.jsonl"  # the first 200 reads and half of the next: ends inside a unit
    with open(SESSION, encoding="utf-8") as src:
        lines = [line for _, line in zip(range(202), src)]
    last = json.loads(lines[-1])
    last["data"] = last["data"][:len(last["data"]) // 2]
    c.write_text("".join(lines[:-1]) + json.dumps(last) + "\n", encoding="utf-8")
    paths = [str(a), str(b), str(c)]
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        res = xd.convert(paths, str(out), client=client)
        tot = xd.stats(paths, client=client)
    assert [r["input"] for r in res] == paths
    assert [os.path.basename(r["output"]) for r in res] == ["a.xmb", "b.xmb", "c.xmb"]
    assert _decode_all(res[0]["output"]) == {(str(k[0]), k[1]): v for k, v in streams.items()}
    assert _decode_all(res[1]["output"]) == {("1", "in"): streams[(3, "s2c")]}
    assert res[0]["problems"] == [] and res[0]["errors"] == [] and res[0]["streams"] == 8
    # the cut capture: its unfinished last units are reported, the rest is exact
    cut = _decode_all(res[2]["output"])
    assert len(res[2]["problems"]) == 1 and "are an unfinished unit: left out" in res[2]["problems"][0]
    assert res[2]["problems"][0].startswith(f"{last['conn']}/{last['dir']}: ")
    for (conn, d), data in cut.items():
        assert streams[(int(conn), d)].startswith(data)
    # the cluster's sum is the sum of the files measured here
    local = [xd.stats_file(p) for p in paths]
    assert tot == {k: sum(s[k] for s in local) for k in tot}
    assert tot["files"] == 3 and tot["streams"] == 8 + 1 + local[2]["streams"]
    assert local[0]["xml"] == sum(map(len, streams.values()))
