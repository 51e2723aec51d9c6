"""Dense storage: the baseline of ``psi`` and of time ratios (NumPy BLAS product)."""
from __future__ import annotations

import numpy as np

from .base import MatrixFormat, expect_array, register, require


@register
class Dense(MatrixFormat):
    """The matrix as a dense array (``4 n m`` bytes for float32).

    The product is NumPy's ``X @ W`` (BLAS, with BLAS's own threads; the
    ``threads`` argument does not apply).  BLAS multiplies every entry, so for
    an ``X`` with Inf or NaN the product goes through SciPy's sparse product
    instead, which skips the zero weights as every other format does
    (``inf * 0`` never reaches the output).
    """

    format = "dense"
    display_name = "dense (NumPy)"
    baseline = True
    computable_in_c = False

    def __init__(self, W: np.ndarray):
        super().__init__(W.shape, W.dtype, {"nnz": int(np.count_nonzero(W))})
        self._W = W

    @classmethod
    def _from_dense(cls, W, **options):
        if options:
            raise TypeError(f"dense takes no options, got {sorted(options)}")
        return cls(np.array(W, copy=True))

    def to_dense(self):
        return self._W.copy()

    def _arrays(self):
        return {"values": self._W}

    def _breakdown_map(self):
        return {"values": "payload"}

    def _matmat(self, X, threads):
        if np.isfinite(X).all():
            return X @ self._W
        import scipy.sparse as sp

        return np.ascontiguousarray((sp.csc_array(self._W).T @ X.T).T, dtype=self.dtype)

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        W = expect_array(arrays, "values", dtype, ndim=2)
        require(W.shape == tuple(shape), f"values has shape {W.shape}, header says {shape}")
        require(np.isfinite(W).all(), "stored values contain NaN/Inf")
        require(meta["nnz"] == np.count_nonzero(W), "bad nnz in header: not the stored nonzeros")
        return cls(W)
