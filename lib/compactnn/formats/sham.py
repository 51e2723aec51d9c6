"""sHAM: sparse Huffman Address Map (SPEC section 3).

A CSC layout whose nonzero values are Huffman-coded (zero is not a symbol).
Stored arrays:

========== ================ ===================================================
name       category         content
========== ================ ===================================================
words      payload          codewords of the nonzeros, column by column
ri         indices          row of each nonzero (uint8/16/32: smallest that fits n)
cb         pointers         column pointers into ri (m + 1; uint32 when q fits)
values     codebook         distinct nonzero values, canonical code order
len_count  decoding_tables  codewords per length (canonical code)
col_bits   column_offsets   start bit of each column's codewords, plus the end
========== ================ ===================================================

A ``-0.0`` weight is a zero (stored implicitly as ``+0.0``), as in SciPy.
"""
from __future__ import annotations

import numpy as np

from .. import _native
from . import _coding
from .base import MatrixFormat, _smallest_uint, expect_array, register, require


def csc_parts(W: np.ndarray):
    """Row indices, column pointers (int64) and values of W's nonzeros, column-major."""
    n, m = W.shape
    Wt = W.T
    cols, rows = np.nonzero(Wt)
    vals = np.ascontiguousarray(Wt[cols, rows])
    cb = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=m), out=cb[1:])
    return rows, cb, vals


@register
class SHAM(MatrixFormat):
    """Sparse HAM: CSC with Huffman-coded nonzero values."""

    format = "sham"
    display_name = "sHAM"
    meta_fields = ("nnz", "wordbits")

    def __init__(self, shape, dtype, values, len_count, words, col_bits, ri, cb, meta):
        super().__init__(shape, dtype, meta)
        self.values, self.len_count, self.words = values, len_count, words
        self.col_bits, self.ri, self.cb = col_bits, ri, cb
        self._col_bits64 = col_bits.astype(np.int64)
        self._cb64 = cb.astype(np.int64)
        # the stream's bytes in order, padded: read by the batch-8 kernel (a cache, not stored)
        self._stream = _native.byte_stream(words)

    @classmethod
    def _from_dense(cls, W, wordbits: int = 32):
        n, m = W.shape
        rows, cb, vals = csc_parts(W)
        stream = _coding.encode_segments(vals, np.diff(cb), wordbits)
        ri = rows.astype(_smallest_uint(max(n - 1, 0)))
        return cls(W.shape, W.dtype, stream.values, stream.len_count, stream.words,
                   _coding.narrow_offsets(stream.seg_bits), ri, _coding.narrow_offsets(cb),
                   {"nnz": int(vals.size), "wordbits": wordbits})

    @property
    def nnz(self) -> int:
        return int(self.ri.size)

    @property
    def k(self) -> int:
        """Number of distinct nonzero values (Huffman symbols)."""
        return int(self.values.size)

    @property
    def wordbits(self) -> int:
        return _coding.wordbits_of(self.words)

    def payload_bits(self) -> int:
        return int(self._col_bits64[-1])

    def to_dense(self):
        n, m = self.shape
        sym = _native.huff_decode_segments(self.words, self.len_count, self.k, self._col_bits64,
                                           self._cb64)
        W = np.zeros((n, m), dtype=self.dtype)
        cols = np.repeat(np.arange(m), np.diff(self._cb64))
        W[self.ri.astype(np.int64), cols] = self.values[sym]
        return W

    def _arrays(self):
        return {"words": self.words, "ri": self.ri, "cb": self.cb, "values": self.values,
                "len_count": self.len_count, "col_bits": self.col_bits}

    def _breakdown_map(self):
        return {"words": "payload", "ri": "indices", "cb": "pointers", "values": "codebook",
                "len_count": "decoding_tables", "col_bits": "column_offsets"}

    def _bind_kernel(self):
        # The product reads private arrays (the byte stream, the offsets, the
        # column pointers, and this copy of the code), so one checked product
        # here, which compares every column's offset with the position of its
        # first codeword, stands for every later one: those check only where
        # their lanes start and end (the kernel's ``verified``) and store no
        # position per codeword.
        n = self.shape[0]
        args = (n, self.words, self._col_bits64, self.len_count.copy(), self.values, self.ri,
                self._cb64)
        _native.sham_product(*args, stream=self._stream)(np.zeros((n, 1), self.dtype), 1)
        return _native.sham_product(*args, stream=self._stream, verified=True)

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        n, m = shape
        values, len_count, words, col_bits, _ = _coding.expect_stream(arrays, dtype, meta, m)
        ri = expect_array(arrays, "ri", (np.uint8, np.uint16, np.uint32))
        cb = expect_array(arrays, "cb", (np.uint32, np.uint64))
        require(bool(np.all(values != 0)), "sHAM codebook contains zero")
        cb64 = _coding.check_offsets(cb, m, ri.size, "cb")
        require(int(cb64[-1]) == ri.size, "column pointers do not cover the row indices")
        require(ri.size == 0 or int(ri.max()) < n, "row index out of range")
        # rows strictly increase within each column (a repeated row would be summed by
        # the product but overwritten by to_dense)
        if ri.size > 1:
            step = np.diff(ri.astype(np.int64))
            first = np.zeros(ri.size, dtype=bool)
            first[cb64[:-1][np.diff(cb64) > 0]] = True
            require(bool(np.all((step > 0) | first[1:])), "row indices not increasing within a column")
        require(ri.size == 0 or values.size >= 1, "nonzeros without symbols")
        require(meta.get("nnz") == ri.size, "bad nnz in header")
        return cls(shape, dtype, values, len_count, words, col_bits, ri, cb, meta)
