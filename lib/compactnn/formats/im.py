"""IM: index map (SPEC section 3).

The codebook (the ``k`` distinct values) and one ``ceil(log2 k)``-bit index
per entry, column-major, packed most-significant-bit first into 32- or 64-bit
words.  With ``k = 1`` the width is 0 and no index is stored.
"""
from __future__ import annotations

import numpy as np

from .. import _native, huffman
from ..errors import FormatError
from . import _coding
from .base import MatrixFormat, expect_array, register, require


@register
class IM(MatrixFormat):
    """Index map: codebook plus fixed-width indices."""

    format = "im"
    display_name = "IM"

    def __init__(self, shape, dtype, values, words, meta):
        super().__init__(shape, dtype, meta)
        self.values, self.words = values, words
        self.width = int(meta["width"])
        self._zero_sym = _coding.zero_symbol(values)
        # the indices' bytes in order, padded, for the branch-free kernels (a cache, not stored)
        self._stream = _native.byte_stream(words) if self.width > 0 else None

    @classmethod
    def _from_dense(cls, W, wordbits: int = 32):
        n, m = W.shape
        W = W + W.dtype.type(0.0)   # -0.0 -> +0.0: one zero symbol, skipped by the product
        values, inverse, counts = _coding.symbolize(np.ascontiguousarray(W.T).reshape(-1))
        k = values.size
        width = int(np.ceil(np.log2(k))) if k > 1 else 0
        codes = np.arange(k, dtype=np.uint32)
        lens = np.full(k, width, dtype=np.uint8)
        words = _native.bits_encode(inverse.astype(np.uint32), codes, lens, n * m * width, wordbits)
        nnz = n * m - _coding.zero_count(values, counts)
        return cls(W.shape, W.dtype, np.ascontiguousarray(values), words,
                   {"nnz": nnz, "width": width, "wordbits": wordbits})

    @property
    def k(self) -> int:
        return int(self.values.size)

    def to_dense(self):
        n, m = self.shape
        if self.width == 0:
            idx = np.zeros(n * m, dtype=np.int64)
        else:
            bits = huffman.unpack_bits(self.words)[: n * m * self.width]
            weights = (1 << np.arange(self.width - 1, -1, -1)).astype(np.int64)
            idx = bits.reshape(n * m, self.width).astype(np.int64) @ weights
        if idx.size and int(idx.max()) >= self.k:
            raise FormatError("IM index out of range")
        return np.ascontiguousarray(self.values[idx].reshape(m, n).T)

    def _arrays(self):
        return {"words": self.words, "values": self.values}

    def _breakdown_map(self):
        return {"words": "payload", "values": "codebook"}

    def _bind_kernel(self):
        return _native.im_product(self.shape[0], self.shape[1], self.words, self.width,
                                  self.values, self._zero_sym, stream=self._stream)

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        n, m = shape
        values = expect_array(arrays, "values", dtype)
        words = expect_array(arrays, "words", (np.uint32, np.uint64))
        _coding.check_values(values)
        require(values.size >= 1, "IM matrix without values")
        width = meta.get("width")
        want = int(np.ceil(np.log2(values.size))) if values.size > 1 else 0
        require(width == want, f"index width {width!r} does not match k={values.size}")
        wb = _coding.wordbits_of(words)
        require(meta.get("wordbits") == wb, "word size mismatch")
        require(words.size == -(-n * m * width // wb), "index stream has the wrong length")
        nnz = meta.get("nnz")
        require(isinstance(nnz, int) and 0 <= nnz <= n * m, "bad nnz in header")
        return cls(shape, dtype, values, words, meta)
