"""Errors raised by :mod:`compactnn.data`.

They sit under :class:`compactnn.errors.CompactnnError` and, where it fits, under
the matching built-in, so callers can catch either.
"""
from __future__ import annotations

import pickle

from ..errors import CompactnnError


class DataError(CompactnnError):
    """Base class of the data-set errors."""


class MissingDataError(DataError, FileNotFoundError):
    """Files of a full data set are not in the cache and downloading was not asked for."""


class DownloadError(DataError, RuntimeError):
    """A download failed (no network, server error, timeout)."""


class ChecksumError(DataError, ValueError):
    """A file's SHA-256 differs from the pinned or recorded value."""


class DataFormatError(DataError, ValueError):
    """A data file is not in the expected upstream format (bad header, truncated, ...)."""


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """A pickle asked for something other than a plain NumPy array, or is not verified."""
