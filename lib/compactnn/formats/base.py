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

A file bounds what loading it can cost (checked in :mod:`._limits` before any
array is inflated): header integers are JSON integers, the version is one this
package knows, each dimension is below ``2**31``, and the extent
``n*m + n + m`` (what ``to_dense`` allocates, what a product's output and the
O(nm) formats' work grow with) is at most ``$COMPACTNN_MAX_ENTRIES`` (default
``2**34``) and at most ``2**26 + $COMPACTNN_MAX_ENTRIES_PER_BYTE`` (default
``2**16``) times the bytes of the stored arrays.  Each archive member's size
in the zip directory, and its own ``.npy`` header, must match the array the
header lists, and all members together inflate to at most ``2**26`` bytes plus
``$COMPACTNN_MAX_INFLATE_RATIO`` (default 16) times the archive's size; the
header fields are exactly the format's integer fields (``nnz``, ``wordbits``,
...) and ``nnz`` must be the count the arrays imply; only the arrays the
format stores may be present.
Past a limit, ``FormatError`` names it and the variable that raises it.
Only regular files are opened (a FIFO or a device is refused at once).
"""
from __future__ import annotations

import abc
import hashlib
import json
import os
import stat
import sys
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import _native
from ..errors import FormatError, KernelError, UnknownNameError
from ._limits import FILE_MAGIC, FILE_VERSION, check_header as _check_header
from ._limits import check_meta as _check_meta
from ._limits import read_archive as _read_archive

__all__ = ["MatrixFormat", "FORMATS", "register", "get_format", "check_weights",
           "default_threads", "BREAKDOWN_KEYS"]

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


def _torch_tensor(X: Any) -> bool:
    """Whether ``X`` is a torch tensor (without importing torch: formats never depend on it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def _weights_from(W: Any) -> Any:
    """A scipy.sparse matrix, a torch tensor or another format as a NumPy array, converted once."""
    if isinstance(W, np.ndarray):
        return W
    if _torch_tensor(W):
        torch = sys.modules["torch"]
        if W.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"weights must be float32 or float64, got {W.dtype}")
        return W.detach().cpu().numpy()
    if callable(getattr(W, "toarray", None)):  # scipy.sparse matrices and arrays, MatrixFormat
        return W.toarray()
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
    #: The integer header fields (``meta``) a file of this format has, no more, no less.
    meta_fields: ClassVar[tuple[str, ...]] = ("nnz",)
    #: Stops NumPy from treating instances as arrays, so ``X @ W`` reaches __rmatmul__.
    __array_ufunc__ = None

    def __init__(self, shape: tuple[int, int], dtype: np.dtype, meta: dict | None = None):
        self._shape = (int(shape[0]), int(shape[1]))
        self._dtype = np.dtype(dtype)
        self._meta = dict(meta or {})

    # ---- construction -------------------------------------------------------
    @classmethod
    def from_dense(cls, W: np.ndarray, **options) -> "MatrixFormat":
        """Store the matrix ``W`` (float32 or float64, finite) exactly.

        Parameters
        ----------
        W : ndarray, scipy.sparse matrix or array, torch tensor or MatrixFormat, shape (n, m)
            Weights, rows are inputs and columns outputs.  Sparse input, tensors
            (detached, copied to the CPU) and other formats are converted to one
            dense NumPy array first; its dtype is kept.
        **options
            Format-specific options (e.g. ``wordbits`` for Huffman formats).
        """
        return cls._from_dense(check_weights(_weights_from(W)), **options)

    @classmethod
    @abc.abstractmethod
    def _from_dense(cls, W: np.ndarray, **options) -> "MatrixFormat": ...

    @abc.abstractmethod
    def to_dense(self) -> np.ndarray:
        """The stored matrix as a dense array, bit-identical to the input."""

    def toarray(self) -> np.ndarray:
        """The stored matrix as a dense array: :meth:`to_dense` under scipy.sparse's name."""
        return self.to_dense()

    def to_scipy(self, kind: str = "csr"):
        """The stored matrix as a ``scipy.sparse`` array: ``kind`` is ``"csr"`` or ``"csc"``.

        Same shape, dtype and values; explicit zeros are not stored, so its
        ``nnz`` is this matrix's :attr:`nnz`.
        """
        import scipy.sparse as sp

        makers = {"csr": sp.csr_array, "csc": sp.csc_array}
        if kind not in makers:
            raise ValueError(f"kind must be 'csr' or 'csc', got {kind!r}")
        out = makers[kind](self.to_dense())
        out.eliminate_zeros()
        return out

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"a {type(self).__name__} matrix is not converted implicitly to a NumPy "
                        "array (it may be large); call .to_dense() (or .toarray())")

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

    def explain(self) -> dict:
        """Tables, arrays and bit strings of this (small) matrix: see :mod:`compactnn.formats.explain`."""
        from .explain import explain
        return explain(self)

    # ---- product --------------------------------------------------------------
    def matmul(self, X: Any, threads: int | None = None) -> np.ndarray:
        """``X @ W`` for ``X`` of shape ``(b, n)`` or ``(n,)``.

        ``X`` is cast to the matrix's dtype (float input only).  ``threads``
        defaults to :func:`default_threads`.
        """
        threads = default_threads() if threads is None else _native._threads(threads)
        n, m = self.shape
        if type(X) is np.ndarray and X.ndim == 2 and X.dtype == self.dtype \
                and X.shape[1] == n and X.flags.c_contiguous:
            X2 = X  # the common call (a batch in the matrix's dtype): nothing to check or copy
        else:
            if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
                raise TypeError("X must be a dense array")
            X = np.asarray(X)
            if X.dtype.kind != "f":
                raise TypeError(f"X must be a float array, got {X.dtype}")
            if X.ndim not in (1, 2):
                raise ValueError(f"X must be 1-D (n,) or 2-D (b, n), got ndim={X.ndim}")
            if X.shape[-1] != n:
                raise ValueError(f"shape mismatch in X @ W: X has {X.shape[-1]} columns, W has {n} "
                                 f"rows (W is {n}x{m})")
            X2 = np.ascontiguousarray(X.reshape(X.shape[0] if X.ndim == 2 else 1, n),
                                      dtype=self.dtype)
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
        kernel = self._kernel
        if kernel is None:
            return X @ self.to_dense()
        return kernel(_native.transpose(X), threads).T

    def __rmatmul__(self, X: Any) -> np.ndarray:
        if type(X) is np.ndarray and X.dtype != object:
            return self.matmul(X)
        if isinstance(X, MatrixFormat):
            return NotImplemented
        if _torch_tensor(X):
            return self._torch_matmul(X)
        try:
            X = np.asarray(X)
        except Exception:
            return NotImplemented
        if X.dtype == object:
            return NotImplemented
        return self.matmul(X)

    def _torch_matmul(self, X: Any):
        """``X @ W`` for a torch tensor ``X``: a tensor of X's dtype, on X's device."""
        torch = sys.modules["torch"]
        if X.requires_grad and torch.is_grad_enabled():
            raise ValueError("X requires grad, but the product of a stored matrix is inference "
                             "only: compute it under torch.no_grad() or pass X.detach()")
        Xc = X.detach().cpu()
        if Xc.dtype == torch.bfloat16:  # NumPy has no bfloat16
            Xc = Xc.to(torch.float32)
        out = self.matmul(Xc.numpy())
        return torch.from_numpy(out).to(device=X.device, dtype=X.dtype)

    def __matmul__(self, other: Any):
        # W @ Y has no kernel: the formats are stored for X @ W (the C kernels
        # compute W^T @ X^T), so say which side is supported.
        raise TypeError(f"W @ Y is not supported: a {type(self).__name__} matrix W computes "
                        "X @ W (the matrix on the right); for W @ Y use W.to_dense() @ Y")

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

        The file is written to a unique temporary file in the target folder
        (:func:`compactnn._files.write_with`) and renamed, so an interrupted save
        never leaves a truncated file and racing saves leave one complete file.
        """
        from .._files import write_with

        arrays = self._arrays()
        header = self._header(arrays)
        header["sha256"] = self._digest(header, arrays)
        payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
        payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **payload)

        write_with(path, write)

    @staticmethod
    def load(path: str | os.PathLike) -> "MatrixFormat":
        """Read a matrix written by :meth:`save`, whatever its format.

        Only a regular file is opened; the header is read and checked before any
        array is inflated, and each array's size in the archive must match the
        header (see the module docstring for the size limits).

        Raises
        ------
        TypeError
            ``path`` is not a path.
        FormatError
            The file is not a regular file, is truncated, corrupted, of another
            version, lies about its sizes, exceeds the size limits, or its arrays
            are inconsistent with each other.
        """
        if hasattr(path, "read") and hasattr(path, "seek"):  # an open binary file
            return MatrixFormat._from_file_parts(*MatrixFormat._read_zip(path, repr(path)), repr(path))
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str, os.PathLike or binary file, got {type(path).__name__}")
        where = str(path)
        if not stat.S_ISREG(os.stat(path).st_mode):  # FileNotFoundError propagates
            raise FormatError(f"{where}: not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the stat
                raise FormatError(f"{where}: not a regular file")
            header, arrays = MatrixFormat._read_zip(f, where)
        return MatrixFormat._from_file_parts(header, arrays, where)

    @staticmethod
    def _read_zip(f, where: str):
        try:
            start = f.tell()
            archive_bytes = f.seek(0, os.SEEK_END) - start
            f.seek(start)
            with zipfile.ZipFile(f) as z:
                return _read_archive(z, where, archive_bytes)
        except FormatError:
            raise
        except (Exception,) as exc:  # zip, zlib, npy and JSON errors alike
            raise FormatError(f"{where}: unreadable matrix file ({type(exc).__name__}: {exc})") from None

    @staticmethod
    def _from_file_parts(header: Any, arrays: dict[str, np.ndarray], where: str) -> "MatrixFormat":
        cls, shape, dtype, meta, spec = _check_header(header, where)
        if set(spec) != set(arrays):
            raise FormatError(f"{where}: stored arrays do not match the header")
        for name, a in arrays.items():
            s = spec[name]
            if a.dtype.str != s["dtype"] or list(a.shape) != s["shape"]:
                raise FormatError(f"{where}: array {name!r} has dtype/shape {a.dtype}/{a.shape}, "
                                  f"header says {s}")
        body = {k: v for k, v in header.items() if k != "sha256"}
        if header.get("sha256") != MatrixFormat._digest(body, arrays):
            raise FormatError(f"{where}: checksum mismatch (file corrupted)")
        try:
            _check_meta(cls, shape, meta)
            M = cls._from_arrays(shape, dtype, meta, arrays)
        except FormatError as exc:
            raise FormatError(f"{where}: {exc}") from None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, MemoryError,
                KernelError) as exc:
            raise FormatError(f"{where}: inconsistent {cls.format} arrays "
                              f"({type(exc).__name__}: {exc})") from None
        expected = set(M._arrays())
        if set(arrays) != expected:
            raise FormatError(f"{where}: {cls.format} stores arrays {sorted(expected)}, "
                              f"the file has {sorted(arrays)}")
        return M

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
