from __future__ import annotations

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

SAMPLE = os.path.join(HERE, "data", "xep-sample.jsonl")
SHARED = os.path.join(ROOT, "..", "shared", "corpus", "xep-examples.jsonl")


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def record_context(rec: dict) -> dict:
    import xmppbin

    ctx = dict(xmppbin.DEFAULT_CONTEXT)
    ctx.update(rec.get("assumed_prefixes") or {})
    return ctx


@pytest.fixture(scope="session")
def sample_records() -> list[dict]:
    return load(SAMPLE)


@pytest.fixture(scope="session")
def shared_records() -> list[dict]:
    """The whole shared corpus. CI has it beside the checkout; there, absence is an error."""
    if not os.path.exists(SHARED):
        if os.environ.get("CI"):
            pytest.fail(f"CI run without the shared corpus at {SHARED}")
        pytest.skip("../shared/corpus is not beside this checkout")
    return load(SHARED)
