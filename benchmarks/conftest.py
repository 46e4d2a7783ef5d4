"""pytest configuration for the benchmarks: import paths, and a throughput
summary (stanzas/s, MB/s) printed after pytest-benchmark's own table."""
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
    (from the mean time of one pass over the corpus) and in the summary."""

    def record(name: str) -> None:
        info = benchmark.extra_info
        stats = getattr(benchmark, "stats", None)
        mean = stats.stats.mean if stats is not None else None  # None with --benchmark-disable
        if not mean:
            return
        info["stanzas_per_s"] = round(info["stanzas"] / mean, 1)
        info["MB_per_s"] = round(info["xml_bytes"] / mean / 1e6, 3)
        _RESULTS.append({"name": name, "mean_s": mean, **info})

    return record


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    _throughput_summary(terminalreporter)
    _speedup_summary(terminalreporter)


def _throughput_summary(terminalreporter):
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.write_sep("-", "xmppbin corpus throughput (one pass = all records; MB = 10^6 XML bytes)")
    w = max(len(r["name"]) for r in _RESULTS)
    tr.write_line(f"{'benchmark':<{w}}  {'records':>7}  {'XML bytes':>10}  {'mean s':>8}  {'stanzas/s':>10}  "
                  f"{'MB/s':>7}")
    for r in sorted(_RESULTS, key=lambda r: r["mean_s"]):
        tr.write_line(f"{r['name']:<{w}}  {r['stanzas']:>7,}  {r['xml_bytes']:>10,}  {r['mean_s']:>8.4f}  "
                      f"{r['stanzas_per_s']:>10,.0f}  {r['MB_per_s']:>7.2f}")


def _speedup_summary(terminalreporter):
    rows = [r for r in _RESULTS if ": " in r["name"]]
    base = {r["name"].split(": ")[0]: r["mean_s"] for r in rows if r["name"].endswith("lxml fromstring+tostring")}
    if not base:
        return
    tr = terminalreporter
    tr.write_sep("-", "speed-up over lxml fromstring+tostring of the same stanzas (same run)")
    for r in rows:
        ds, what = r["name"].split(": ", 1)
        if ds in base and not what.startswith("lxml"):
            tr.write_line(f"{ds:<8} {what:<22} {r['stanzas'] / r['mean_s']:>12,.0f} stanzas/s  "
                          f"{base[ds] / r['mean_s']:>6.2f}x  ({r.get('backend', '?')} backend)")
