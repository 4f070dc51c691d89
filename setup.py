# The native runtime is built by cffi at install time; everything else is
# in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["runtime/build.py:ffibuilder"])
