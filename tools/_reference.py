"""Import xmppbin's pure-Python reference modules without the package's __init__.

The generators (gen_tables.py, gen_dictionary.py) need the format's rules
(xmppbin/model.py) and the reference coder, never a codec: but importing the
package builds its default codec from the generated tables (xmppbin/_dict_v1.py,
the C core), which are stale or refused exactly when a change of the format
(a new table, another number of contexts) is being generated. Registering a
bare package module first lets ``from xmppbin.model import ...`` load the
submodules alone, so a stale table never stops its own regeneration.
"""
from __future__ import annotations

import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bare_package() -> None:
    """Make ``xmppbin`` a package without __init__ code (no effect if it is imported already)."""
    if "xmppbin" in sys.modules:
        return
    pkg = types.ModuleType("xmppbin")
    pkg.__path__ = [os.path.join(ROOT, "xmppbin")]
    sys.modules["xmppbin"] = pkg
