"""CSR, CSC and COO: thin wrappers of SciPy's classical sparse formats.

They share the package's API and benchmark; the product is SciPy's own
(single-threaded), so they are the reference baselines for time.  Explicit
zeros are never stored, and a ``-0.0`` weight is stored as the implicit ``+0.0``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import MatrixFormat, expect_array, register, require


class _ScipySparse(MatrixFormat):
    _scipy_cls = None
    _names: dict[str, str] = {}

    def __init__(self, mat):
        super().__init__(mat.shape, mat.dtype, {"nnz": int(mat.nnz)})
        self._mat = mat

    @classmethod
    def _from_dense(cls, W, **options):
        if options:
            raise TypeError(f"{cls.format} takes no options, got {sorted(options)}")
        mat = cls._scipy_cls(W)
        mat.eliminate_zeros()
        return cls(mat)

    def to_dense(self):
        return self._mat.toarray()

    def _matmat(self, X, threads):
        return np.asarray(X @ self._mat)

    def _breakdown_map(self):
        return dict(self._names)


class _Compressed(_ScipySparse):
    _names = {"data": "payload", "indices": "indices", "indptr": "pointers"}

    def _arrays(self):
        return {"data": self._mat.data, "indices": self._mat.indices, "indptr": self._mat.indptr}

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        data = expect_array(arrays, "data", dtype)
        indices = expect_array(arrays, "indices", (np.int32, np.int64))
        indptr = expect_array(arrays, "indptr", (np.int32, np.int64))
        require(np.isfinite(data).all(), "stored values contain NaN/Inf")
        require(bool(np.all(data != 0)), "an explicit zero is stored")
        require(meta["nnz"] == data.size, "bad nnz in header: not the stored entries")
        n_ptr = (shape[0] if cls.format == "csr" else shape[1]) + 1
        n_idx = shape[1] if cls.format == "csr" else shape[0]
        require(indptr.size == n_ptr, f"indptr has {indptr.size} entries, expected {n_ptr}")
        require(data.size == indices.size, "data and indices lengths differ")
        require(int(indptr[0]) == 0 and int(indptr[-1]) == indices.size, "indptr does not span the indices")
        require(bool(np.all(np.diff(indptr) >= 0)), "indptr is not non-decreasing")
        require(indices.size == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n_idx),
                "index out of range")
        # canonical: indices strictly increase within a row (CSC: column); a repeated
        # index would be summed by the product and counted twice by nnz
        if indices.size > 1:
            first = np.zeros(indices.size, dtype=bool)
            ptr = indptr.astype(np.int64)
            first[ptr[:-1][np.diff(ptr) > 0]] = True
            require(bool(np.all((np.diff(indices.astype(np.int64)) > 0) | first[1:])),
                    "indices are not strictly increasing within a row (CSC: a column)")
        mat = cls._scipy_cls((data, indices, indptr), shape=shape)
        try:
            mat.check_format(full_check=True)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return cls(mat)


@register
class CSR(_Compressed):
    """SciPy CSR: values, column indices, row pointers (``n + 1``)."""

    format = "csr"
    display_name = "CSR (SciPy)"
    threaded = False
    baseline = True
    computable_in_c = False
    _scipy_cls = sp.csr_matrix


@register
class CSC(_Compressed):
    """SciPy CSC: values, row indices, column pointers (``m + 1``)."""

    format = "csc"
    display_name = "CSC (SciPy)"
    threaded = False
    baseline = True
    computable_in_c = False
    _scipy_cls = sp.csc_matrix


@register
class COO(_ScipySparse):
    """SciPy COO: values with their row and column indices."""

    format = "coo"
    display_name = "COO (SciPy)"
    threaded = False
    baseline = True
    computable_in_c = False
    _scipy_cls = sp.coo_matrix
    _names = {"data": "payload", "row": "indices", "col": "indices"}

    def _arrays(self):
        return {"data": self._mat.data, "row": self._mat.row, "col": self._mat.col}

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        data = expect_array(arrays, "data", dtype)
        row = expect_array(arrays, "row", (np.int32, np.int64))
        col = expect_array(arrays, "col", (np.int32, np.int64))
        require(data.size == row.size == col.size, "data, row and col lengths differ")
        require(np.isfinite(data).all(), "stored values contain NaN/Inf")
        require(bool(np.all(data != 0)), "an explicit zero is stored")
        require(meta["nnz"] == data.size, "bad nnz in header: not the stored entries")
        n, m = shape
        require(row.size == 0 or (row.min() >= 0 and row.max() < n), "row index out of range")
        require(col.size == 0 or (col.min() >= 0 and col.max() < m), "column index out of range")
        keys = row.astype(np.int64) * m + col
        require(np.unique(keys).size == keys.size, "duplicate entries")
        return cls(sp.coo_matrix((data, (row, col)), shape=shape))
