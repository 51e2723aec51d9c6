# Only registers the cffi extension; all metadata lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["lib/compactnn/_build_native.py:ffibuilder"])
