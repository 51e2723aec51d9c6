"""Matrix formats: one base class, one module per format, found by name.

>>> from compactnn.formats import get_format
>>> W = get_format("sham").from_dense(weights)      # doctest: +SKIP
>>> Y = X @ W                                       # doctest: +SKIP
"""
from .base import BREAKDOWN_KEYS, FORMATS, MatrixFormat, check_weights, default_threads, get_format, register
from .dense import Dense
from .scipy_formats import COO, CSC, CSR
from .im import IM
from .ham import HAM
from .sham import SHAM
from .sham_gap import SHAMGap
from .cer import CER, CSER

load = MatrixFormat.load

__all__ = ["MatrixFormat", "FORMATS", "BREAKDOWN_KEYS", "get_format", "register", "check_weights",
           "default_threads", "load", "Dense", "CSR", "CSC", "COO", "IM", "HAM", "SHAM", "SHAMGap",
           "CER", "CSER"]
