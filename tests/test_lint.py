"""The type checker and the linter, as CI runs them (their configuration is in
pyproject.toml): `mypy xmppbin` and `ruff check .` must pass."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINGLE_BACKEND = True  # the tools read the source; the active backend does not matter


def _run(*args: str) -> None:
    p = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}"


def test_mypy() -> None:
    _run("mypy", "xmppbin")


def test_ruff() -> None:
    _run("ruff", "check", ".")
