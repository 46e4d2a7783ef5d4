"""cffi build script of the C core (API mode): the module xmppbin._xmppbin_c.

    python csrc/build_ffi.py                      # build xmppbin/_xmppbin_c*.so in place
    XMPPBIN_SANITIZE=1 python csrc/build_ffi.py   # the same with ASan + UBSan

setup.py picks up ``ffibuilder`` (cffi_modules=["csrc/build_ffi.py:ffibuilder"]),
so ``pip install .`` compiles the same sources with the same flags.

Environment:
    XMPPBIN_SANITIZE=1   add -fsanitize=address,undefined (run Python with
                         LD_PRELOAD=$(gcc -print-file-name=libasan.so) and
                         ASAN_OPTIONS=detect_leaks=0)
    XMPPBIN_CFLAGS       extra compiler flags (split on whitespace)
    XMPPBIN_LDFLAGS      extra linker flags (e.g. --coverage with XMPPBIN_CFLAGS=--coverage)
"""
from __future__ import annotations

import os
import re
import shutil
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULE = "xmppbin._xmppbin_c"
SOURCES = ["csrc/decode.c", "csrc/dict.c", "csrc/scan.c", "csrc/encode.c", "csrc/stream.c"]
HEADERS = ["csrc/xmppbin.h", "csrc/xb_dict.h", "csrc/dict_v1.h", "csrc/xb_enc.h", "csrc/xb_stream.h", "csrc/stream_dec.h"]


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
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
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


# setuptools runs the build from the project root
ffibuilder = make_builder(absolute=os.path.abspath(os.getcwd()) != ROOT)


def main() -> int:
    tmpdir = os.path.join(ROOT, "build", "cffi")
    so = make_builder(absolute=True).compile(tmpdir=tmpdir, verbose=bool(os.environ.get("XMPPBIN_VERBOSE")))
    dest = os.path.join(ROOT, "xmppbin", os.path.basename(so))
    # a new file, renamed over the old one: processes that have it loaded keep theirs
    tmp = dest + ".tmp"
    shutil.copyfile(so, tmp)
    os.replace(tmp, dest)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
