from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
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


def require_shared_corpus() -> None:
    """../shared/corpus beside the checkout: CI has it, and there its absence is an error;
    elsewhere (a fresh clone alone) the test is skipped."""
    if not os.path.exists(SHARED):
        if os.environ.get("CI"):
            pytest.fail(f"CI run without the shared corpus at {SHARED}")
        pytest.skip("../shared/corpus is not beside this checkout")


@pytest.fixture(scope="session")
def shared_records() -> list[dict]:
    """The whole shared corpus (require_shared_corpus)."""
    require_shared_corpus()
    return load(SHARED)


def require(name: str):
    """xmppbin's compiled module `name` (e.g. "_cstream"), for a test module that needs it.
    Without the build the test module is skipped, except under CI, where the build is
    required (the fast module on CPython only: PyPy has none)."""
    try:
        return importlib.import_module("xmppbin." + name)
    except ImportError as exc:  # pragma: no cover - depends on the build
        fast = name == "_xmppbin_fast"
        if os.environ.get("CI") and (not fast or platform.python_implementation() == "CPython"):
            raise
        what = "fast module" if fast else "C extension"
        pytest.skip(f"{what} not built ({exc}); run: python csrc/build_ffi.py", allow_module_level=True)


def require_live_xmpp(purpose: str) -> None:
    """A real Prosody and slixmpp, for tests that run live sessions: without them the test is
    skipped, except under CI, where they are required (.ci/run installs both)."""
    why = None
    if shutil.which("prosody") is None or shutil.which("prosodyctl") is None:
        why = "prosody is not installed (apt-get install prosody; .ci/run installs it)"
    else:
        try:
            import slixmpp  # noqa: F401
        except ImportError:
            why = "slixmpp is not installed (pip install -e '.[traffic]')"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI must {purpose}: {why}")
        pytest.skip(why)


def with_backend(name: str, fn):
    """fn() with backend `name` active, the previous one restored after."""
    import xmppbin

    previous = xmppbin.backend
    xmppbin._use_backend(name)
    try:
        return fn()
    finally:
        xmppbin._use_backend(previous)


def coded_alike(docs, **options) -> tuple[list[bytes], list[bytes]]:
    """The reference's messages of docs and their decoded XML, after checking
    that the C encoder gives the same messages and the C decoder the same XML
    (in exact mode: the documents themselves)."""
    import xmppbin

    msgs = with_backend("python", lambda: [xmppbin.encode(x, **options) for x in docs])
    assert with_backend("c", lambda: [xmppbin.encode(x, **options) for x in docs]) == msgs
    xml = with_backend("python", lambda: [xmppbin.decode(m) for m in msgs])
    assert with_backend("c", lambda: [xmppbin.decode(m) for m in msgs]) == xml
    if options.get("exact"):
        assert [x.decode() for x in xml] == [d if isinstance(d, str) else d.decode() for d in docs]
    return msgs, xml


def available_backends() -> list[str]:
    """Backends the suite runs on: both when the C extension is built. Under CI the
    C backend is required (a missing extension must not silently skip half the suite)."""
    import xmppbin

    names = []
    for name in xmppbin.BACKENDS:
        try:
            xmppbin._select(name)
        except ImportError:
            if os.environ.get("CI"):
                import xmppbin._xmppbin_c  # noqa: F401  (the extension must be built under CI)
            continue
        names.append(name)
    return names


BACKENDS = available_backends()


def pytest_generate_tests(metafunc):
    """Every test runs once per backend, unless its module sets SINGLE_BACKEND
    (differential C-vs-Python modules, which use both explicitly)."""
    if "backend_name" in metafunc.fixturenames:
        single = getattr(metafunc.module, "SINGLE_BACKEND", False)
        metafunc.parametrize("backend_name", BACKENDS[:1] if single else BACKENDS, scope="session")


@pytest.fixture
def c_backend():
    """The C backend active during a test, the previous one restored after:
    modules that test the C core alone use it for every test
    (pytestmark = pytest.mark.usefixtures("c_backend"))."""
    import xmppbin

    previous = xmppbin.backend
    xmppbin._use_backend("c")
    yield
    xmppbin._use_backend(previous)


@pytest.fixture(autouse=True)
def _active_backend(backend_name):
    import xmppbin

    previous = xmppbin.backend
    xmppbin._use_backend(backend_name)
    yield backend_name
    xmppbin._use_backend(previous)
