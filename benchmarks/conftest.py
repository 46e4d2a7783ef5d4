"""pytest configuration for the benchmarks: import paths, and a throughput
summary (stanzas/s, MB/s) printed after pytest-benchmark's own table.

The summary is computed from the *minimum* time of one pass over the rounds,
not the mean: on a shared machine the mean of a few rounds varies by 2x from
run to run, while the minimum over many rounds (the run least disturbed by
other load) is stable; ratios of minima taken in the same run compare the
methods under the same conditions."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (str(HERE.parent), str(HERE)):  # the xmppbin package (repo root) and _corpus
    if p not in sys.path:
        sys.path.insert(0, p)

_RESULTS: list[dict] = []


@pytest.fixture
def record_throughput(benchmark):
    """Call after benchmark.pedantic(...): stores stanzas/s and MB/s in extra_info
    (from the minimum time of one pass over the corpus, see the module docstring)
    and in the summary."""

    def record(name: str) -> None:
        info = benchmark.extra_info
        stats = getattr(benchmark, "stats", None)
        best = stats.stats.min if stats is not None else None  # None with --benchmark-disable
        if not best:
            return
        info["stanzas_per_s"] = round(info["stanzas"] / best, 1)
        info["MB_per_s"] = round(info["xml_bytes"] / best / 1e6, 3)
        _RESULTS.append({"name": name, "min_s": best, "rounds": len(stats.stats.data), **info})

    return record


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    _throughput_summary(terminalreporter)
    _speedup_summary(terminalreporter)
    _stream_summary(terminalreporter)


def _throughput_summary(terminalreporter):
    if not _RESULTS:
        return
    tr = terminalreporter
    rounds = sorted({r["rounds"] for r in _RESULTS})
    tr.write_sep("-", "xmppbin corpus throughput from the MIN time of one pass over "
                 f"{'/'.join(map(str, rounds))} rounds (one pass = all records; MB = 10^6 XML bytes)")
    w = max(len(r["name"]) for r in _RESULTS)
    tr.write_line(f"{'benchmark':<{w}}  {'records':>7}  {'XML bytes':>10}  {'min ms':>8}  {'stanzas/s':>10}  "
                  f"{'MB/s':>7}  backend")
    for r in sorted(_RESULTS, key=lambda r: r["min_s"]):
        tr.write_line(f"{r['name']:<{w}}  {r['stanzas']:>7,}  {r['xml_bytes']:>10,}  {r['min_s'] * 1e3:>8.3f}  "
                      f"{r['stanzas_per_s']:>10,.0f}  {r['MB_per_s']:>7.2f}  {r.get('backend', '?')}")


def _speedup_summary(terminalreporter):
    rows = [r for r in _RESULTS if ": " in r["name"]]
    base = {r["name"].split(": ")[0]: r["min_s"] for r in rows if r["name"].endswith("lxml fromstring+tostring")}
    if not base:
        return
    tr = terminalreporter
    tr.write_sep("-", "speed-up over lxml fromstring+tostring of the same stanzas (same run; "
                 "ratio of MIN times over the rounds)")
    for r in rows:
        ds, what = r["name"].split(": ", 1)
        if ds in base and not what.startswith("lxml"):
            tr.write_line(f"{ds:<8} {what:<22} {r['stanzas'] / r['min_s']:>12,.0f} stanzas/s  "
                          f"{r['MB_per_s']:>7.2f} MB/s  {base[ds] / r['min_s']:>6.2f}x  "
                          f"({r.get('backend', '?')} backend)")


def _stream_summary(terminalreporter):
    """test_bench_stream.py: stream rows over the batch rows of the same dataset
    (ratios of MB/s, from MIN times of this run)."""
    rows = {r["name"]: r for r in _RESULTS if r.get("dataset") and r["name"].startswith(r["dataset"] + ": ")}
    pairs = [("stream encode (TCP reads)", "encode_many (units)", 0.5),
             ("stream decode (whole)", "decode_many (units)", 0.5),
             ("stream decode (1 byte/feed)", "decode_many (units)", 0.1)]
    lines = []
    for ds in sorted({r["dataset"] for r in rows.values()}, key=lambda d: [r["dataset"] for r in _RESULTS].index(d)):
        for what, base, target in pairs:
            a, b = rows.get(f"{ds}: {what}"), rows.get(f"{ds}: {base}")
            if a and b:
                ratio = a["MB_per_s"] / b["MB_per_s"]
                lines.append(f"{ds:<18} {what:<28} {a['MB_per_s']:>8.2f} MB/s / {base:<20} {b['MB_per_s']:>8.2f} "
                             f"MB/s = {ratio:>6.3f}x  (target >= {target}x: {'met' if ratio >= target else 'NOT met'})")
    if lines:
        terminalreporter.write_sep("-", "stream mode over the batch calls on the same units (MB/s ratios, same run)")
        for line in lines:
            terminalreporter.write_line(line)
