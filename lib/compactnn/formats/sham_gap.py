"""sHAM-gap: sHAM with entropy-coded positions instead of row indices.

sHAM spends a fixed-width row index per nonzero (16 bits for a 512-row
layer) plus two ``m + 1`` pointer arrays, which dominate its size at high
sparsity.  Here the positions are Huffman-coded as gaps, so the whole matrix
costs close to the order-0 sparse bound :func:`sparse_entropy_bound_bits`
(``log2 C(nm, q) + q H0(values)``).

Layout (decoded by ``csrc/sham_gap.c``; see ``csrc/sham_gap_code.h``).  The
columns are cut into blocks of ``group`` consecutive columns.  Inside a block,
read column-major, each nonzero is written as a *gap* codeword (the number of
zeros since the previous nonzero of the block, across column boundaries) and
then its *value* codeword; an END codeword closes the block.  So no column
pointers and no per-column offsets are stored: only each block's start bit.
The gap code's alphabet is bounded by ``lit``: gaps below it are literal
symbols, longer ones use one of 32 length classes followed by raw bits
(``v = gap - lit + 1`` in ``[2^j, 2^(j+1))``: class ``j``, then ``j`` bits).
``lit`` is chosen per matrix as the power of two minimising the total size
(stream plus gap table), and ``group`` so that block offsets cost about 1% of
the stream (``group=1`` gives per-column offsets, i.e. column parallelism).

Gap and value codewords are interleaved in one stream, in the order the
product needs them, so one bit position per block is all the decoder keeps.
A nonzero costs one lookup in a pair table (gap and value in one 12-bit
window) where that table covers at least 15/16 of the windows (few values),
else two dependent lookups: the gap table (a long gap's extra bits folded into
its index, or read after it for gaps of up to 16 bits in all, as in DEFLATE
decoders) and the value table.  The product splits
each thread's blocks into four lanes that decode in lockstep into a buffer,
so that the lookups of one lane overlap the others', then sums the buffer
column by column (``csrc/sham_gap_kernel.h``).  It reads a byte copy of the
stream (:func:`compactnn._native.byte_stream`, made when the kernel is bound:
as many bytes again as the payload).

Measured on Laplace weights, magnitude-pruned and quantized to ``k`` levels by
quantiles (512x4096 and 4096x4096, density 0.01 to 0.1, ``k`` = 2, 32, 256):
the total size is 1.011 to 1.038 times the bound.  Per-column offsets
(``group=1``) would cost up to 1.75 times the bound at 1% density on 512x4096,
which is why offsets are per block.  The product's speed against SciPy CSR is
in the README's benchmark table.

Stored arrays:

============= ================ ===============================================
name          category         content
============= ================ ===============================================
words         payload          gap, extra and value codewords, block by block
values        codebook         distinct nonzero values, canonical code order
len_count     decoding_tables  value code: codewords per length
gap_syms      decoding_tables  gap code: symbols in canonical order
gap_len_count decoding_tables  gap code: codewords per length
blk_bits      column_offsets   start bit of each block, plus the end
============= ================ ===============================================

Integer arrays use the smallest unsigned width that holds them (``blk_bits``
at least 32 bits, as in sHAM).  A ``-0.0`` weight is a zero.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _native, huffman
from ..errors import FormatError
from . import _coding
from .base import MatrixFormat, _smallest_uint, expect_array, register, require
from .sham import csc_parts

__all__ = ["SHAMGap", "sparse_entropy_bound_bits"]

#: Extra-bit classes of long gaps (class j carries j raw bits).
N_CLASSES = 32
#: Largest literal-gap threshold tried: it bounds the gap code's alphabet (and table);
#: past a few times the mean gap the size no longer changes.
MAX_LIT = 4096
#: Target share of the block offsets in the total size when ``group`` is automatic.
OFFSET_SHARE = 0.01
_INT_TYPES = (np.uint8, np.uint16, np.uint32)


def sparse_entropy_bound_bits(W: np.ndarray) -> float:
    """Order-0 bound, in bits, of a sparse matrix: ``log2 C(nm, q) + q H0(nonzeros)``.

    The first term counts the sets of ``q`` nonzero positions among ``n m``; the
    second is the empirical entropy of the nonzero values (zero is not a symbol).
    Code tables and offsets are not included.
    """
    W = np.asarray(W)
    N = int(W.size)
    vals = W[W != 0]
    q = int(vals.size)
    if q == 0:
        return 0.0
    pos = (math.lgamma(N + 1) - math.lgamma(q + 1) - math.lgamma(N - q + 1)) / math.log(2)
    _, _, counts = _coding.symbolize(np.ascontiguousarray(vals))
    return max(pos, 0.0) + q * huffman.entropy_bits(counts)


def _gap_symbols(gaps: np.ndarray, lit: int):
    """Gap symbol, extra bits and their count for every gap (see module docstring)."""
    long = gaps >= lit
    v = gaps[long] - lit + 1
    j = (np.frexp(v.astype(np.float64))[1] - 1).astype(np.int64)
    sym = gaps.copy()
    sym[long] = lit + 1 + j
    extra = np.zeros_like(gaps)
    extra[long] = v - (np.int64(1) << j)
    elen = np.zeros(gaps.size, dtype=np.int64)
    elen[long] = j
    return sym, extra, elen


def _gap_cost(gaps: np.ndarray, nblk: int, lit: int) -> int:
    """Bits of the gap code for threshold ``lit``: codewords, extra bits and table."""
    sym, _, elen = _gap_symbols(gaps, lit)
    counts = np.bincount(sym, minlength=lit + 1 + N_CLASSES)
    counts[lit] += nblk
    present = counts[counts > 0]
    if present.size == 0:
        return 0
    lengths = huffman.code_lengths(present).astype(np.int64)
    width = _smallest_uint(lit + N_CLASSES).itemsize * 8
    return int((present * lengths).sum() + elen.sum() + present.size * width
               + 8 * (int(lengths.max()) + 1) * _smallest_uint(present.size).itemsize)


def _auto_group(W: np.ndarray, n: int, m: int) -> int:
    """Smallest power of two of columns per block whose 32-bit offsets cost about
    OFFSET_SHARE of the (estimated) stream, keeping a block's positions below 2^31."""
    if m <= 1:
        return 1
    est = max(sparse_entropy_bound_bits(W), 1.0)
    want = math.ceil(m * 32 / (OFFSET_SHARE * est))
    g = 1 << max(0, (want - 1).bit_length())
    g = min(g, 1 << (m - 1).bit_length())
    while g > 1 and g * max(n, 1) >= 2 ** 31:
        g //= 2
    return g


def _block_gaps(W: np.ndarray, group: int):
    """Gaps of the nonzeros (block-wise, column-major), their values and blocks."""
    n, m = W.shape
    rows, cb, vals = csc_parts(W)
    cols = np.repeat(np.arange(m, dtype=np.int64), np.diff(cb))
    blk = cols // group
    pos = (cols - blk * group) * n + rows
    prev = np.empty_like(pos)
    prev[:1] = -1
    prev[1:] = pos[:-1]
    prev[np.flatnonzero(np.diff(blk)) + 1] = -1
    return pos - prev - 1, vals, blk


def _narrow(a: np.ndarray) -> np.ndarray:
    return a.astype(_smallest_uint(int(a.max()) if a.size else 0))


@register
class SHAMGap(MatrixFormat):
    """sHAM with Huffman-coded row gaps: stream, codebook, two code tables, block offsets."""

    format = "sham_gap"
    display_name = "sHAM-gap"
    meta_fields = ("nnz", "wordbits", "group", "lit")

    def __init__(self, shape, dtype, values, len_count, gap_syms, gap_len_count, words,
                 blk_bits, meta):
        super().__init__(shape, dtype, meta)
        self.values, self.len_count = values, len_count
        self.gap_syms, self.gap_len_count = gap_syms, gap_len_count
        self.words, self.blk_bits = words, blk_bits
        # Kernel-side views (fixed widths), derived from the stored arrays.
        self._blk_bits64 = blk_bits.astype(np.int64)
        self._len_count32 = len_count.astype(np.uint32)
        self._gap_len_count32 = gap_len_count.astype(np.uint32)
        self._gap_syms32 = gap_syms.astype(np.uint32)

    @classmethod
    def _from_dense(cls, W, wordbits: int = 32, group: int | None = None,
                    lit: int | None = None):
        """Options: ``wordbits`` (32/64), ``group`` (columns per block, default
        automatic), ``lit`` (literal-gap threshold, default the smallest size)."""
        if wordbits not in (32, 64):
            raise ValueError(f"wordbits must be 32 or 64, got {wordbits}")
        n, m = W.shape
        if group is None:
            group = _auto_group(W, n, m)
        if isinstance(group, bool) or not isinstance(group, (int, np.integer)) or group < 1:
            raise ValueError(f"group must be a positive int, got {group!r}")
        group = int(group)
        if group * n > 2 ** 31:
            raise ValueError(f"group * n = {group * n} exceeds 2**31 positions per block")
        nblk = -(-m // group)
        gaps, vals, blk = _block_gaps(W, group)
        if lit is None:
            top = min(MAX_LIT, 1 << int(gaps.max() if gaps.size else 0).bit_length())
            cands = [1 << i for i in range(top.bit_length())]
            lit = min(cands, key=lambda t: (_gap_cost(gaps, nblk, t), t))
        if isinstance(lit, bool) or not isinstance(lit, (int, np.integer)) or not 1 <= lit <= 2 ** 31:
            raise ValueError(f"lit must be an int in [1, 2**31], got {lit!r}")
        lit = int(lit)

        # Gap code over the symbols present (END once per block).
        gsym, extra, elen = _gap_symbols(gaps, lit)
        gcounts = np.bincount(gsym, minlength=lit + 1 + N_CLASSES)
        gcounts[lit] += nblk
        present = np.flatnonzero(gcounts)
        gcode = huffman.build_code(gcounts[present]) if present.size else huffman.build_code([])
        local = np.zeros(gcounts.size, dtype=np.int64)
        local[present] = np.arange(present.size)
        g_code_of = gcode.codes[gcode.rank].astype(np.int64) if present.size else np.zeros(0, np.int64)
        g_len_of = gcode.lengths.astype(np.int64)

        # Value code.
        distinct, inverse, vcounts = _coding.symbolize(vals)
        vcode = huffman.build_code(vcounts)
        v_code_of = vcode.codes[vcode.rank].astype(np.int64)
        v_len_of = vcode.lengths.astype(np.int64)

        # Items: per nonzero (gap, extra, value), per block an END after its nonzeros.
        q = vals.size
        idx = 3 * np.arange(q, dtype=np.int64) + blk
        per_blk = np.bincount(blk, minlength=nblk)
        nz_end = np.cumsum(per_blk)
        end_idx = 3 * nz_end + np.arange(nblk)
        nitems = 3 * q + nblk
        codes = np.zeros(nitems, dtype=np.int64)
        lens = np.zeros(nitems, dtype=np.int64)
        gl = local[gsym]
        codes[idx], lens[idx] = g_code_of[gl], g_len_of[gl]
        codes[idx + 1], lens[idx + 1] = extra, elen
        codes[idx + 2], lens[idx + 2] = v_code_of[inverse], v_len_of[inverse]
        if nblk:
            codes[end_idx], lens[end_idx] = g_code_of[local[lit]], g_len_of[local[lit]]
        cum = np.zeros(nitems + 1, dtype=np.int64)
        np.cumsum(lens, out=cum[1:])
        starts = np.concatenate(([0], end_idx + 1)) if nblk else np.zeros(1, np.int64)
        blk_bits = cum[starts]
        words = _native.bits_encode(np.arange(nitems, dtype=np.uint32), codes.astype(np.uint32),
                                    lens.astype(np.uint8), int(cum[-1]), wordbits)
        meta = {"nnz": int(q), "wordbits": wordbits, "group": group, "lit": lit}
        return cls(W.shape, W.dtype, np.ascontiguousarray(distinct[vcode.order]),
                   _narrow(vcode.len_count), _narrow(present[gcode.order]),
                   _narrow(gcode.len_count), words, _coding.narrow_offsets(blk_bits), meta)

    # ---- description ------------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of distinct nonzero values (value-code symbols)."""
        return int(self.values.size)

    @property
    def group(self) -> int:
        """Columns per independently decodable block."""
        return int(self._meta["group"])

    @property
    def lit(self) -> int:
        """Gaps below this are literal symbols of the gap code."""
        return int(self._meta["lit"])

    @property
    def wordbits(self) -> int:
        return _coding.wordbits_of(self.words)

    def payload_bits(self) -> int:
        """Bits of codewords actually written (without the final padding)."""
        return int(self._blk_bits64[-1])

    def _arrays(self):
        return {"words": self.words, "values": self.values, "len_count": self.len_count,
                "gap_syms": self.gap_syms, "gap_len_count": self.gap_len_count,
                "blk_bits": self.blk_bits}

    def _breakdown_map(self):
        return {"words": "payload", "values": "codebook", "len_count": "decoding_tables",
                "gap_syms": "decoding_tables", "gap_len_count": "decoding_tables",
                "blk_bits": "column_offsets"}

    # ---- decoding and product ---------------------------------------------------
    def _decode(self):
        n, m = self.shape
        return _native.sham_gap_decode(n, m, self.group, self.words, self._blk_bits64,
                                       self._gap_len_count32, self._gap_syms32, self.lit,
                                       self._len_count32, self.k, self.nnz)

    def to_dense(self):
        n, m = self.shape
        pos, sym = self._decode()
        Wt = np.zeros(n * m, dtype=self.dtype)
        Wt[pos] = self.values[sym]
        return np.ascontiguousarray(Wt.reshape(m, n).T)

    def _bind_kernel(self):
        n, m = self.shape
        return _native.sham_gap_product(n, m, self.group, self.words, self._blk_bits64,
                                        self._gap_len_count32, self._gap_syms32, self.lit,
                                        self._len_count32, self.values)

    @classmethod
    def _from_arrays(cls, shape, dtype, meta, arrays):
        n, m = shape
        values = expect_array(arrays, "values", dtype)
        len_count = expect_array(arrays, "len_count", _INT_TYPES)
        gap_syms = expect_array(arrays, "gap_syms", _INT_TYPES)
        gap_len_count = expect_array(arrays, "gap_len_count", _INT_TYPES)
        words = expect_array(arrays, "words", (np.uint32, np.uint64))
        blk_bits = expect_array(arrays, "blk_bits", (np.uint32, np.uint64))

        group, lit, nnz = meta["group"], meta["lit"], meta["nnz"]   # integers (checked by load)
        require(1 <= group and group * max(n, 1) <= 2 ** 31,
                f"bad group {group!r} in header (at most 2**31 positions per block)")
        require(1 <= lit <= 2 ** 31, f"bad lit {lit!r} in header")
        # each nonzero costs a gap and a value codeword of at least one bit each: a
        # larger nnz is a lie, refused before the decoder allocates nnz positions
        require(2 * nnz <= words.size * _coding.wordbits_of(words),
                f"bad nnz in header: {nnz} nonzeros cannot fit a stream of {words.size} words")
        require(meta.get("wordbits") == _coding.wordbits_of(words), "word size mismatch")
        _coding.check_values(values)
        require(bool(np.all(values != 0)), "sHAM-gap codebook contains zero")
        _coding.check_code(len_count, values.size)
        _coding.check_code(gap_len_count, gap_syms.size)
        require(gap_syms.size == np.unique(gap_syms).size, "gap symbols repeat")
        require(gap_syms.size == 0 or int(gap_syms.max()) <= lit + N_CLASSES,
                "gap symbol out of range")
        nblk = -(-m // group)
        _coding.check_offsets(blk_bits, nblk, words.size * _coding.wordbits_of(words), "blk_bits")
        require(nblk == 0 or bool(np.any(gap_syms == lit)), "gap code lacks the END symbol")
        require(nnz == 0 or values.size >= 1, "nonzeros without symbols")
        M = cls(shape, dtype, values, len_count, gap_syms, gap_len_count, words, blk_bits, meta)
        try:
            M._decode()  # the whole stream: every gap, row and block end (O(q), in C)
        except FormatError as exc:
            raise FormatError(f"the stream does not decode to the header's nnz={nnz} "
                              f"nonzeros ({exc})") from None
        return M
