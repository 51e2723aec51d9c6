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


#: Indices read at a time when a loaded file is counted (a multiple of 64: word-aligned).
_COUNT_CHUNK = 1 << 20


def _index_counts(words: np.ndarray, width: int, total: int, k: int) -> np.ndarray:
    """Occurrences of each of the ``k`` values among ``total`` stored indices.

    Read :data:`_COUNT_CHUNK` indices at a time (bounded memory); an index >= k
    is a :class:`FormatError`.
    """
    counts = np.zeros(k, dtype=np.int64)
    if width == 0:
        counts[0] = total
        return counts
    wb = _coding.wordbits_of(words)
    weights = (1 << np.arange(width - 1, -1, -1)).astype(np.int64)
    per_words = _COUNT_CHUNK * width // wb
    for first in range(0, total, _COUNT_CHUNK):
        count = min(_COUNT_CHUNK, total - first)
        w0 = first // _COUNT_CHUNK * per_words
        bits = huffman.unpack_bits(words[w0:w0 + per_words])[: count * width]
        idx = bits.reshape(count, width).astype(np.int64) @ weights
        if int(idx.max()) >= k:
            raise FormatError("IM index out of range")
        counts += np.bincount(idx, minlength=k)
    return counts


@register
class IM(MatrixFormat):
    """Index map: codebook plus fixed-width indices."""

    format = "im"
    display_name = "IM"
    meta_fields = ("nnz", "width", "wordbits")

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
        _coding.check_plus_zero(values)
        width = meta.get("width")
        want = int(np.ceil(np.log2(values.size))) if values.size > 1 else 0
        require(width == want, f"index width {width!r} does not match k={values.size}")
        wb = _coding.wordbits_of(words)
        require(meta.get("wordbits") == wb, "word size mismatch")
        require(words.size == -(-n * m * width // wb), "index stream has the wrong length")
        counts = _index_counts(words, width, n * m, values.size)
        nnz = n * m - int(counts[values == 0].sum())
        require(meta["nnz"] == nnz, f"bad nnz in header: {meta['nnz']}, the indices give {nnz}")
        return cls(shape, dtype, values, words, meta)
