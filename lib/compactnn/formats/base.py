"""The base class every matrix format derives from, and the format registry.

A format stores an ``n x m`` weight matrix ``W`` (``n`` inputs, ``m`` outputs)
and computes ``X @ W`` for ``X`` of shape ``(b, n)`` or ``(n,)`` directly from
its stored arrays.  ``@`` is written once here: it validates the operands and
calls the format's ``_matmat``; formats only supply the arrays and the kernel.

Files are NumPy ``.npz`` archives read with ``allow_pickle=False``: one entry
per stored array plus a JSON header (format tag, version, shape, dtype,
metadata, each array's dtype and shape, and a SHA-256 over header and arrays).
:meth:`MatrixFormat.load` checks all of it and the format's structural
invariants before any kernel sees the data, and raises
:class:`~compactnn.errors.FormatError` on any mismatch.
"""
from __future__ import annotations

import abc
import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import FormatError, UnknownNameError

__all__ = ["MatrixFormat", "FORMATS", "register", "get_format", "check_weights",
           "default_threads", "BREAKDOWN_KEYS"]

FILE_MAGIC = "compactnn-matrix"
FILE_VERSION = 1

#: Categories of :meth:`MatrixFormat.nbytes_breakdown`, in display order.
BREAKDOWN_KEYS = ("payload", "indices", "pointers", "codebook", "decoding_tables",
                  "column_offsets")

FORMATS: dict[str, type["MatrixFormat"]] = {}


def register(cls: type["MatrixFormat"]) -> type["MatrixFormat"]:
    """Class decorator: make a format available by its ``format`` name."""
    name = cls.format
    if name in FORMATS and FORMATS[name] is not cls:
        raise ValueError(f"format {name!r} registered twice")
    FORMATS[name] = cls
    return cls


def get_format(name: str) -> type["MatrixFormat"]:
    """The format class registered under ``name`` (e.g. ``"sham"``)."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"unknown format {name!r}; available: {', '.join(sorted(FORMATS))}") from None


def default_threads() -> int:
    """Worker threads used by ``@``: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_weights(W: Any) -> np.ndarray:
    """Validate a weight matrix: 2-D, float32 or float64, all values finite."""
    if not isinstance(W, np.ndarray):
        if hasattr(W, "toarray"):
            raise TypeError("W must be a dense numpy array; convert sparse input with .toarray()")
        W = np.asarray(W)
    if W.dtype not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, got {W.dtype}")
    if W.ndim != 2:
        raise ValueError(f"weights must be a 2-D matrix (n inputs x m outputs), got ndim={W.ndim}")
    finite = np.isfinite(W)
    if not finite.all():
        bad = np.argwhere(~finite)
        i, j = bad[0]
        raise ValueError(f"weights contain {len(bad)} NaN/Inf value(s), first at ({i}, {j}): {W[i, j]}")
    return W


def _smallest_uint(max_value: int) -> np.dtype:
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"{max_value} does not fit in 64 bits")


class MatrixFormat(abc.ABC):
    """A stored ``n x m`` matrix that computes ``X @ W`` from its own arrays.

    Subclasses set ``format`` and implement ``_from_dense``, ``to_dense``,
    ``_arrays``, ``_breakdown_map``, ``_from_arrays`` and (for speed) ``_matmat``.
    """

    format: ClassVar[str] = ""
    #: Traits read by the benchmark and the report (instead of name sets there):
    #: the name shown in tables and legends; whether the product takes a thread
    #: count (a C kernel's pool, or NumPy's BLAS pool for ``dense``); whether it is
    #: a NumPy/SciPy reference rather than one of the paper's formats; whether the
    #: product runs in this package's C kernels.
    display_name: ClassVar[str] = ""
    threaded: ClassVar[bool] = True
    baseline: ClassVar[bool] = False
    computable_in_c: ClassVar[bool] = True
    #: Stops NumPy from treating instances as arrays, so ``X @ W`` reaches __rmatmul__.
    __array_ufunc__ = None

    def __init__(self, shape: tuple[int, int], dtype: np.dtype, meta: dict | None = None):
        self._shape = (int(shape[0]), int(shape[1]))
        self._dtype = np.dtype(dtype)
        self._meta = dict(meta or {})

    # ---- construction -------------------------------------------------------
    @classmethod
    def from_dense(cls, W: np.ndarray, **options) -> "MatrixFormat":
        """Store the dense matrix ``W`` (float32 or float64, finite) exactly.

        Parameters
        ----------
        W : ndarray, shape (n, m)
            Weights, rows are inputs and columns outputs.
        **options
            Format-specific options (e.g. ``wordbits`` for Huffman formats).
        """
        return cls._from_dense(check_weights(W), **options)

    @classmethod
    @abc.abstractmethod
    def _from_dense(cls, W: np.ndarray, **options) -> "MatrixFormat": ...

    @abc.abstractmethod
    def to_dense(self) -> np.ndarray:
        """The stored matrix as a dense array, bit-identical to the input."""

    # ---- description --------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def nnz(self) -> int:
        """Number of nonzero entries of the stored matrix."""
        return int(self._meta["nnz"])

    @abc.abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """Every stored array by name (what is saved and what is counted)."""

    @abc.abstractmethod
    def _breakdown_map(self) -> dict[str, str]:
        """Category in :data:`BREAKDOWN_KEYS` of each array name."""

    def nbytes_breakdown(self) -> dict[str, int]:
        """Bytes of the stored arrays by category (payload, indices, pointers, ...)."""
        arrays = self._arrays()
        out: dict[str, int] = {}
        for name, cat in self._breakdown_map().items():
            out[cat] = out.get(cat, 0) + int(arrays[name].nbytes)
        return {k: out[k] for k in BREAKDOWN_KEYS if k in out} | {
            k: v for k, v in out.items() if k not in BREAKDOWN_KEYS}

    @property
    def nbytes(self) -> int:
        """Total bytes of every array the product needs."""
        return sum(self.nbytes_breakdown().values())

    @property
    def psi(self) -> float:
        """Occupancy ratio: ``nbytes`` over the bytes of the dense float32 matrix."""
        n, m = self.shape
        return self.nbytes / (4.0 * n * m) if n * m else float("nan")

    def __getstate__(self) -> dict:
        # the bound kernel (``_kernel``) holds C pointers into this object's
        # arrays: copies and pickles leave it out and bind their own on first use
        state = self.__dict__.copy()
        state.pop("_kernel", None)
        return state

    def __repr__(self) -> str:
        n, m = self.shape
        return (f"<{type(self).__name__} {n}x{m} {self.dtype} nnz={self.nnz} "
                f"nbytes={self.nbytes} psi={self.psi:.4g}>")

    # ---- product --------------------------------------------------------------
    def matmul(self, X: Any, threads: int | None = None) -> np.ndarray:
        """``X @ W`` for ``X`` of shape ``(b, n)`` or ``(n,)``.

        ``X`` is cast to the matrix's dtype (float input only).  ``threads``
        defaults to :func:`default_threads`.
        """
        from .._native import _threads  # validation shared with the kernels
        threads = default_threads() if threads is None else _threads(threads)
        if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
            raise TypeError("X must be a dense array")
        X = np.asarray(X)
        if X.dtype.kind != "f":
            raise TypeError(f"X must be a float array, got {X.dtype}")
        if X.ndim not in (1, 2):
            raise ValueError(f"X must be 1-D (n,) or 2-D (b, n), got ndim={X.ndim}")
        n, m = self.shape
        if X.shape[-1] != n:
            raise ValueError(f"shape mismatch in X @ W: X has {X.shape[-1]} columns, W has {n} rows "
                             f"(W is {n}x{m})")
        X2 = np.ascontiguousarray(X.reshape(X.shape[0] if X.ndim == 2 else 1, n), dtype=self.dtype)
        if X2.shape[0] == 0 or m == 0:
            out = np.zeros((X2.shape[0], m), dtype=self.dtype)
        else:
            out = self._matmat(X2, threads)
        return out[0] if X.ndim == 1 else out

    def _bind_kernel(self):
        """This matrix's C product kernel (a ``compactnn._native.Product``), or None.

        Formats with a C kernel return it bound to their arrays; it is built
        once, at the first product (:attr:`_kernel`).
        """
        return None

    @cached_property
    def _kernel(self):
        return self._bind_kernel()

    def _matmat(self, X: np.ndarray, threads: int) -> np.ndarray:
        """``X @ W`` for a C-contiguous ``X`` (b x n) of ``self.dtype``.

        Through the bound C kernel (on ``X^T``) when the format has one, else
        through ``to_dense()``; the NumPy/SciPy wrappers override it.
        """
        if self._kernel is None:
            return X @ self.to_dense()
        from .._native import transpose

        return self._kernel(transpose(X), threads).T

    def __rmatmul__(self, X: Any) -> np.ndarray:
        if isinstance(X, MatrixFormat):
            return NotImplemented
        try:
            X = np.asarray(X)
        except Exception:
            return NotImplemented
        if X.dtype == object:
            return NotImplemented
        return self.matmul(X)

    def __matmul__(self, other: Any):
        # W @ Y is not a product the formats accelerate (they are stored for X @ W).
        return NotImplemented

    # ---- files ---------------------------------------------------------------
    def _header(self, arrays: dict[str, np.ndarray]) -> dict:
        return {
            "magic": FILE_MAGIC,
            "version": FILE_VERSION,
            "format": self.format,
            "shape": list(self.shape),
            "dtype": self.dtype.str,
            "meta": self._meta,
            "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in arrays.items()},
        }

    @staticmethod
    def _digest(header: dict, arrays: dict[str, np.ndarray]) -> str:
        h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for name in sorted(arrays):
            h.update(name.encode())
            h.update(np.ascontiguousarray(arrays[name]).tobytes())
        return h.hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        """Write the matrix to ``path`` (an ``.npz`` archive, no pickle).

        The file is written to a temporary name and renamed, so an interrupted
        save never leaves a truncated file under ``path``.
        """
        arrays = self._arrays()
        header = self._header(arrays)
        header["sha256"] = self._digest(header, arrays)
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
        payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, path)

    @staticmethod
    def load(path: str | os.PathLike) -> "MatrixFormat":
        """Read a matrix written by :meth:`save`, whatever its format.

        Raises
        ------
        FormatError
            The file is truncated, corrupted, of another version, or its arrays
            are inconsistent with each other.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                if "header" not in names:
                    raise FormatError(f"{path}: not a compactnn matrix file (no header)")
                header = json.loads(bytes(z["header"]).decode())
                arrays = {n[2:]: z[n] for n in names if n.startswith("a_")}
        except FormatError:
            raise
        except FileNotFoundError:
            raise
        except (Exception,) as exc:  # zip, zlib, npy and JSON errors alike
            raise FormatError(f"{path}: unreadable matrix file ({type(exc).__name__}: {exc})") from None
        return MatrixFormat._from_file_parts(header, arrays, str(path))

    @staticmethod
    def _from_file_parts(header: Any, arrays: dict[str, np.ndarray], where: str) -> "MatrixFormat":
        if not isinstance(header, dict) or header.get("magic") != FILE_MAGIC:
            raise FormatError(f"{where}: not a compactnn matrix file")
        if header.get("version") != FILE_VERSION:
            raise FormatError(f"{where}: unsupported file version {header.get('version')!r}")
        try:
            cls = get_format(header.get("format"))
        except UnknownNameError as exc:
            raise FormatError(f"{where}: {exc}") from None
        expected = header.get("sha256")
        body = {k: v for k, v in header.items() if k != "sha256"}
        spec = body.get("arrays")
        if not isinstance(spec, dict) or set(spec) != set(arrays):
            raise FormatError(f"{where}: stored arrays do not match the header")
        for name, a in arrays.items():
            s = spec[name]
            if not isinstance(s, dict) or a.dtype.str != s.get("dtype") or list(a.shape) != s.get("shape"):
                raise FormatError(f"{where}: array {name!r} has dtype/shape {a.dtype}/{a.shape}, "
                                  f"header says {s}")
        if expected != MatrixFormat._digest(body, arrays):
            raise FormatError(f"{where}: checksum mismatch (file corrupted)")
        try:
            shape = tuple(int(v) for v in body["shape"])
            dtype = np.dtype(body["dtype"])
            meta = dict(body["meta"])
        except Exception as exc:
            raise FormatError(f"{where}: malformed header ({exc})") from None
        if len(shape) != 2 or min(shape) < 0 or dtype not in (np.float32, np.float64):
            raise FormatError(f"{where}: bad shape {shape} or dtype {dtype}")
        try:
            return cls._from_arrays(shape, dtype, meta, arrays)
        except FormatError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise FormatError(f"{where}: inconsistent {cls.format} arrays ({exc})") from None

    @classmethod
    @abc.abstractmethod
    def _from_arrays(cls, shape: tuple[int, int], dtype: np.dtype, meta: dict,
                     arrays: dict[str, np.ndarray]) -> "MatrixFormat":
        """Rebuild from stored arrays, validating every length and offset."""


def require(cond: bool, message: str) -> None:
    """Raise :class:`FormatError` unless ``cond`` (structural checks in ``_from_arrays``)."""
    if not cond:
        raise FormatError(message)


def expect_array(arrays: dict, name: str, dtypes, ndim: int = 1) -> np.ndarray:
    """Fetch a stored array, checking its dtype and number of dimensions."""
    a = arrays.get(name)
    require(isinstance(a, np.ndarray), f"missing array {name!r}")
    dtypes = tuple(np.dtype(d) for d in (dtypes if isinstance(dtypes, (tuple, list)) else (dtypes,)))
    require(a.dtype in dtypes, f"array {name!r} has dtype {a.dtype}, expected one of {dtypes}")
    require(a.ndim == ndim, f"array {name!r} has {a.ndim} dimensions, expected {ndim}")
    return np.ascontiguousarray(a)
