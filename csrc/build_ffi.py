"""Build script of the C core's two Python entry points:

  xmppbin._xmppbin_c     the core through cffi (API mode): every call, batch calls, PyPy
  xmppbin._xmppbin_fast  a CPython C-API module (csrc/pyfast.c linked with the same core
                         sources) for single and batch calls without Python frames

    python csrc/build_ffi.py                      # build both in place (xmppbin/*.so)
    XMPPBIN_SANITIZE=1 python csrc/build_ffi.py   # the same with ASan + UBSan

setup.py picks up ``ffibuilder`` (cffi_modules=["csrc/build_ffi.py:ffibuilder"]) and
``fast_extension()`` (ext_modules), so ``pip install .`` compiles the same sources with
the same flags. The fast module is optional: it is built only on CPython, and a
failure to build it leaves the cffi module as the only entry point.

Environment:
    XMPPBIN_SANITIZE=1   add -fsanitize=address,undefined (run Python with
                         LD_PRELOAD=$(gcc -print-file-name=libasan.so) and
                         ASAN_OPTIONS=detect_leaks=0)
    XMPPBIN_CFLAGS       extra compiler flags (split on whitespace)
    XMPPBIN_LDFLAGS      extra linker flags (e.g. --coverage with XMPPBIN_CFLAGS=--coverage)
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULE = "xmppbin._xmppbin_c"
FAST_MODULE = "xmppbin._xmppbin_fast"
# in dependency order (csrc/README.md); tools/check_c_deps.py checks it
SOURCES = ["csrc/dict.c", "csrc/util.c", "csrc/dec_out.c", "csrc/scan.c", "csrc/sstate.c", "csrc/encode.c",
           "csrc/serialize.c", "csrc/decode.c", "csrc/stream.c", "csrc/split.c", "csrc/frame.c"]
FAST_SOURCES = ["csrc/pyfast.c"] + SOURCES
HEADERS = ["csrc/xmppbin.h", "csrc/xb_dict.h", "csrc/dict_v1.h", "csrc/xb_enc.h", "csrc/xb_stream.h", "csrc/xb_dec.h",
           "csrc/xb_frame.h"]


def _cdef() -> str:
    with open(os.path.join(HERE, "xmppbin.h"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"/\* CDEF-BEGIN \*/(.*)/\* CDEF-END \*/", text, re.S)
    if m is None:
        raise RuntimeError("csrc/xmppbin.h has no CDEF-BEGIN/CDEF-END section")
    return m.group(1)


def _flags() -> tuple[list[str], list[str]]:
    if sys.platform == "win32":  # MSVC: no GCC-style flags
        return [], []
    # hidden: only the module init functions are exported (no PLT or GOT indirection
    # between the core files, nothing to clash with the other module)
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]
    ldflags: list[str] = []
    if os.environ.get("XMPPBIN_SANITIZE", "") not in ("", "0"):
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        # -fno-wrapv: Python's default -fwrapv would hide signed overflow from UBSan
        cflags += san + ["-fno-omit-frame-pointer", "-fno-wrapv", "-g", "-O1"]
        ldflags += san
    cflags += os.environ.get("XMPPBIN_CFLAGS", "").split()
    ldflags += os.environ.get("XMPPBIN_LDFLAGS", "").split()
    return cflags, ldflags


def make_builder(absolute: bool = False) -> FFI:
    """The FFI builder. Paths are relative to the project root (as setuptools
    wants them) unless absolute is set (for building from another directory)."""

    def path(rel: str) -> str:
        return os.path.join(ROOT, rel) if absolute else rel

    cflags, ldflags = _flags()
    b = FFI()
    b.cdef(_cdef())
    b.set_source(
        MODULE,
        '#include "xmppbin.h"',
        sources=[path(s) for s in SOURCES],
        include_dirs=[path("csrc")],
        depends=[path(h) for h in HEADERS],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return b


def fast_wanted() -> bool:
    """The C-API module is for CPython only (PyPy and others use the cffi module)."""
    return platform.python_implementation() == "CPython"


def fast_extension(absolute: bool = False):
    """The setuptools Extension of xmppbin._xmppbin_fast: csrc/pyfast.c and the core
    sources, with the flags of the cffi module. optional: a compiler error leaves
    the package installable (with the cffi path only)."""
    from setuptools import Extension

    def path(rel: str) -> str:
        return os.path.join(ROOT, rel) if absolute else rel

    cflags, ldflags = _flags()
    return Extension(
        FAST_MODULE,
        sources=[path(s) for s in FAST_SOURCES],
        include_dirs=[path("csrc")],
        depends=[path(h) for h in HEADERS],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
        optional=True,
    )


def _drop_other_builds(module: str, keep: str | None = None) -> None:
    """Remove builds of module (a dotted name) in xmppbin/ under another extension
    suffix than keep: Python imports the first suffix it knows, so a module this
    script built (xmppbin/_xmppbin_c.cpython-311-*.so) would shadow the one pip
    builds (xmppbin/_xmppbin_c.abi3.so), and the reverse."""
    import importlib.machinery

    base = os.path.join(ROOT, "xmppbin", module.rsplit(".", 1)[1])
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = base + suffix
        if p != keep and os.path.exists(p):
            os.remove(p)


def drop_inplace_build() -> None:
    """Before setuptools builds the cffi module (setup.py; it names it
    _xmppbin_c.abi3.so): remove the one this script built in place under the
    interpreter's own suffix, which Python would import instead."""
    import sysconfig

    p = os.path.join(ROOT, "xmppbin", MODULE.rsplit(".", 1)[1] + (sysconfig.get_config_var("EXT_SUFFIX") or ""))
    if os.path.exists(p) and not p.endswith(".abi3.so"):
        os.remove(p)


# setuptools runs the build from the project root
ffibuilder = make_builder(absolute=os.path.abspath(os.getcwd()) != ROOT)


def _install(so: str, module: str) -> str:
    dest = os.path.join(ROOT, "xmppbin", os.path.basename(so))
    # a new file, renamed over the old one: processes that have it loaded keep theirs
    tmp = dest + ".tmp"
    shutil.copyfile(so, tmp)
    os.replace(tmp, dest)
    _drop_other_builds(module, keep=dest)
    return dest


def build_fast(verbose: bool = False) -> str:
    """Build xmppbin._xmppbin_fast under build/fast and return the path of the module."""
    from setuptools import Distribution

    ext = fast_extension(absolute=True)
    ext.optional = False  # building it on purpose: a failure is an error here
    dist = Distribution({"name": "xmppbin-fast", "ext_modules": [ext]})
    dist.script_name = os.path.join(ROOT, "setup.py")
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = os.path.join(ROOT, "build", "fast", "lib")
    cmd.build_temp = os.path.join(ROOT, "build", "fast", "temp")
    cmd.force = True  # the flags (sanitizers) may differ from the last build
    cmd.verbose = verbose
    cmd.ensure_finalized()
    cmd.run()
    return cmd.get_ext_fullpath(FAST_MODULE)


def main() -> int:
    verbose = bool(os.environ.get("XMPPBIN_VERBOSE"))
    tmpdir = os.path.join(ROOT, "build", "cffi")
    so = make_builder(absolute=True).compile(tmpdir=tmpdir, verbose=verbose)
    print(_install(so, MODULE))
    if fast_wanted():
        print(_install(build_fast(verbose), FAST_MODULE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
