# Minimal hook for the cffi extension (csrc/build_ffi.py); everything else is in pyproject.toml.
import os

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(here, "csrc", "build_ffi.py")):
    setup(cffi_modules=["csrc/build_ffi.py:ffibuilder"])
else:
    setup()
