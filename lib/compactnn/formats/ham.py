"""HAM: Huffman Address Map (SPEC section 3).

All ``n m`` entries, zero included, are Huffman-coded column by column into
one stream of ``wordbits``-bit words (32 or 64; the last word zero-padded).
Stored arrays:

========== ================ ===================================================
name       category         content
========== ================ ===================================================
words      payload          the bit stream
values     codebook         the distinct values, in canonical code order
len_count  decoding_tables  number of codewords of each length (canonical code)
col_bits   column_offsets   start bit of each column, plus the end (m + 1)
========== ================ ===================================================

The product decodes each column's ``n`` symbols in C, table-driven (a run of
zero codewords and the following symbol per lookup), skipping zeros, and
columns are split across threads by their bit lengths.
"""
from __future__ import annotations

import numpy as np

from .. import _native
from . import _coding
from .base import MatrixFormat, register, require


@register
class HAM(MatrixFormat):
    """Huffman Address Map: every entry Huffman-coded, column-major."""

    format = "ham"
    display_name = "HAM"
    meta_fields = ("nnz", "wordbits")

    def __init__(self, shape, dtype, values, len_count, words, col_bits, meta):
        super().__init__(shape, dtype, meta)
        self.values = values
        self.len_count = len_count
        self.words = words
        self.col_bits = col_bits
        self._col_bits64 = col_bits.astype(np.int64)
        self._zero_sym = _coding.zero_symbol(values)
        # the stream's bytes in order, padded: read by the batch-8 kernel (a cache, not stored)
        self._stream = _native.byte_stream(words)

    @classmethod
    def _from_dense(cls, W, wordbits: int = 32):
        n, m = W.shape
        W = W + W.dtype.type(0.0)   # -0.0 -> +0.0: one zero symbol, skipped by the product
        stream = _coding.encode_segments(np.ascontiguousarray(W.T).reshape(-1),
                                         np.full(m, n, dtype=np.int64), wordbits)
        nnz = n * m - _coding.zero_count(stream.values, stream.counts)
        return cls(W.shape, W.dtype, stream.values, stream.len_count, stream.words,
                   _coding.narrow_offsets(stream.seg_bits), {"nnz": nnz, "wordbits": wordbits})

    @property
    def wordbits(self) -> int:
        return _coding.wordbits_of(self.words)

    @property
    def k(self) -> int:
        """Number of distinct values (Huffman symbols)."""
        return int(self.values.size)

    def to_dense(self):
        n, m = self.shape
        sym = _native.huff_decode_segments(self.words, self.len_count, self.k, self._col_bits64,
                                           np.arange(m + 1, dtype=np.int64) * n)
        return np.ascontiguousarray(self.values[sym].reshape(m, n).T)

    def _arrays(self):
        return {"words": self.words, "values": self.values, "len_count": self.len_count,
                "col_bits": self.col_bits}

    def _breakdown_map(self):
        return {"words": "payload", "values": "codebook", "len_count": "decoding_tables",
                "col_bits": "column_offsets"}

    def payload_bits(self) -> int:
        """Bits of codewords actually written (without the final padding)."""
        return int(self._col_bits64[-1])

    def _bind_kernel(self):
        return _native.ham_product(self.shape[0], self.words, self._col_bits64, self.len_count,
                                   self.values, self._zero_sym, stream=self._stream)

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        n, m = shape
        values, len_count, words, col_bits, off = _coding.expect_stream(arrays, dtype, meta, m)
        require(values.size >= 1, "HAM matrix without symbols")
        _coding.check_plus_zero(values)
        # every codeword has at least one bit: a column shorter than n bits cannot hold n entries
        require(m == 0 or int(np.diff(off).min()) >= n, "a column's bit length cannot hold n entries")
        # the whole stream is decoded once (O(file), bounded memory): it must hold exactly
        # n codewords per column, and nnz must be the entries that are not zero
        counts = _coding.symbol_counts(words, len_count, values.size, off, n)
        nnz = n * m - int(counts[values == 0].sum())
        require(meta["nnz"] == nnz, f"bad nnz in header: {meta['nnz']}, the stream holds {nnz}")
        return cls(shape, dtype, values, len_count, words, col_bits, meta)
