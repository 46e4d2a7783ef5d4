# Minimal hook for the C extensions (csrc/build_ffi.py); everything else is in pyproject.toml.
import os
import sys

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(here, "csrc", "build_ffi.py")):
    sys.path.insert(0, os.path.join(here, "csrc"))
    import build_ffi  # noqa: E402

    build_ffi.drop_inplace_build()  # it would shadow the module built here
    setup(
        cffi_modules=["csrc/build_ffi.py:ffibuilder"],
        ext_modules=[build_ffi.fast_extension()] if build_ffi.fast_wanted() else [],
    )
else:
    setup()
