"""The C sources have a visible layering: tools/check_c_deps.py finds no cycle in the
graph of which csrc/ file uses which other file's symbols and no header that is a
fragment of one .c file; and the checker itself catches both on tiny synthetic trees."""
from __future__ import annotations

import importlib.util
import io
import os
import sys

SINGLE_BACKEND = True  # about the sources, not a backend

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location("check_c_deps", os.path.join(ROOT, "tools", "check_c_deps.py"))
assert _spec is not None and _spec.loader is not None
deps = importlib.util.module_from_spec(_spec)
sys.modules["check_c_deps"] = deps  # dataclasses look their module up
_spec.loader.exec_module(deps)


def write(d, name: str, text: str) -> None:
    (d / name).write_text(text, encoding="utf-8")


def test_csrc_has_no_cycle_and_no_fragment():
    out = io.StringIO()
    assert deps.check(os.path.join(ROOT, "csrc"), out) == 0, out.getvalue()
    order = [line.split()[0] for line in out.getvalue().splitlines()[1:]]
    # the layers of csrc/README.md, each after what it uses
    for low, high in [("dict.c", "scan.c"), ("util.c", "scan.c"), ("scan.c", "encode.c"), ("sstate.c", "encode.c"),
                      ("sstate.c", "decode.c"), ("dec_out.c", "decode.c"), ("dec_out.c", "serialize.c"),
                      ("serialize.c", "decode.c"), ("encode.c", "stream.c"),
                      ("decode.c", "stream.c")]:
        assert order.index(low) < order.index(high), (low, high, order)


def test_csrc_layers_use_only_lower_layers():
    g = deps.symbol_graph(os.path.join(ROOT, "csrc"))
    assert g.uses["dict.c"] == set()
    assert g.uses["util.c"] == set()
    assert g.uses["scan.c"] <= {"dict.c", "util.c"}
    assert "encode.c" not in g.uses["scan.c"]
    assert g.uses["sstate.c"] <= {"dict.c"}
    assert g.uses["dec_out.c"] == set()
    assert g.uses["encode.c"] <= {"dict.c", "util.c", "scan.c", "sstate.c"}
    assert g.uses["serialize.c"] <= {"dict.c", "dec_out.c"}
    assert g.uses["decode.c"] <= {"dict.c", "sstate.c", "dec_out.c", "serialize.c"}
    assert g.uses["stream.c"] <= {"dict.c", "util.c", "scan.c", "sstate.c", "encode.c", "decode.c"}
    assert "stream.c" not in g.uses["decode.c"] and "stream.c" not in g.uses["sstate.c"]


def test_checker_finds_a_cycle_between_two_files(tmp_path):
    write(tmp_path, "a.c", "int b_fn(void);\nint a_fn(void) { return b_fn() + 1; }\n")
    write(tmp_path, "b.c", "int c_fn(void);\nint b_fn(void) { return c_fn(); }\n")
    write(tmp_path, "c.c", "int a_fn(void);\nint c_fn(void) { return a_fn(); }\n")
    g = deps.symbol_graph(str(tmp_path))
    assert g.uses == {"a.c": {"b.c"}, "b.c": {"c.c"}, "c.c": {"a.c"}}
    assert deps.find_cycle(g.uses) == ["a.c", "b.c", "c.c", "a.c"]
    out = io.StringIO()
    assert deps.check(str(tmp_path), out) == 1
    assert "cycle: a.c -> b.c -> c.c -> a.c" in out.getvalue()
    assert "a.c -> b.c (b_fn)" in out.getvalue()


def test_checker_counts_data_references_not_includes(tmp_path):
    # a.c reads b.c's variable: an edge; b.c includes a header of a.c but uses nothing of it: none
    write(tmp_path, "a.h", "int a_fn(void);\n")
    write(tmp_path, "a.c", "extern int b_var;\nint a_fn(void) { return b_var; }\n")
    write(tmp_path, "b.c", '#include "a.h"\nint b_var = 3;\n')
    g = deps.symbol_graph(str(tmp_path))
    assert g.uses == {"a.c": {"b.c"}, "b.c": set()}
    out = io.StringIO()
    assert deps.check(str(tmp_path), out) == 0
    assert deps.topo_order(g.uses) == ["b.c", "a.c"]


def test_checker_finds_a_fragment_header(tmp_path):
    write(tmp_path, "frag.h", "static int helper2(void) { return helper() + 1; }\n")
    write(tmp_path, "main.c", '/* a comment\n   #include "not.h" */\n#include "ok.h"\n'
                              'static int helper(void) { return 1; }\n#include "frag.h"\n'
                              "int entry(void) { return helper2(); }\n")
    write(tmp_path, "ok.h", "int entry(void);\n")
    assert deps.fragments(str(tmp_path)) == ["main.c:5: frag.h"]
    out = io.StringIO()
    assert deps.check(str(tmp_path), out) == 1
    assert "fragment: main.c:5: frag.h" in out.getvalue()


def _build_ffi():
    spec = importlib.util.spec_from_file_location("build_ffi_under_test", os.path.join(ROOT, "csrc", "build_ffi.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_one_build_of_each_module_is_left(tmp_path, monkeypatch):
    """Python imports the first extension suffix it knows, so a module built in
    place by csrc/build_ffi.py (interpreter suffix) shadowed the one pip builds
    (.abi3.so) and the reverse: each build removes the other's file, and only it."""
    import importlib.machinery
    import sysconfig

    bf = _build_ffi()
    monkeypatch.setattr(bf, "ROOT", str(tmp_path))
    (tmp_path / "xmppbin").mkdir()
    names = {s: tmp_path / "xmppbin" / ("_xmppbin_c" + s) for s in importlib.machinery.EXTENSION_SUFFIXES}
    other = tmp_path / "xmppbin" / ("_xmppbin_fast" + importlib.machinery.EXTENSION_SUFFIXES[0])
    for p in [*names.values(), other]:
        p.write_bytes(b"")
    keep = str(names[".abi3.so"])
    bf._drop_other_builds(bf.MODULE, keep=keep)
    assert sorted(p.name for p in (tmp_path / "xmppbin").iterdir()) == sorted([os.path.basename(keep), other.name])
    for p in names.values():
        p.write_bytes(b"")
    bf.drop_inplace_build()  # setup.py's: only the interpreter-suffix build of the cffi module goes
    inplace = "_xmppbin_c" + sysconfig.get_config_var("EXT_SUFFIX")
    left = sorted(p.name for p in (tmp_path / "xmppbin").iterdir())
    assert left == sorted([p.name for p in names.values() if p.name != inplace] + [other.name])
