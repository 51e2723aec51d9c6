"""Helpers shared by the Huffman-coded formats (HAM, sHAM and their variants)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _native, huffman
from .base import expect_array, require

_UINT_OF = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def symbolize(values: np.ndarray):
    """Distinct values by bit pattern (so -0.0 and 0.0 stay distinct).

    Returns ``(distinct values, inverse indices, counts)``, distinct values in
    increasing bit order (as ``np.unique``).  A quantized layer has few distinct
    values: a hash table then finds them in one pass (12x faster than
    ``np.unique``'s sort on a 512 x 4096 matrix with 32 levels); with many
    distinct values (judged on a sample of 1,024) the hash table is the slower
    one, and ``np.unique`` is used.
    """
    bits = values.view(_UINT_OF[values.dtype]).reshape(-1)
    if bits.size >= 4096 and np.unique(bits[::bits.size // 1024]).size <= 256:
        import pandas as pd

        codes, uniq = pd.factorize(bits, sort=False)
        order = np.argsort(uniq)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        inverse = rank[codes]
        return uniq[order].view(values.dtype), inverse, np.bincount(inverse, minlength=uniq.size)
    uniq, inverse, counts = np.unique(bits, return_inverse=True, return_counts=True)
    return uniq.view(values.dtype), inverse.reshape(-1), counts


@dataclass
class HuffmanStream:
    """A sequence of values Huffman-coded into one stream, cut into segments."""

    values: np.ndarray      # distinct values, canonical order
    len_count: np.ndarray   # uint32, codewords per length
    words: np.ndarray       # uint32 or uint64 stream
    seg_bits: np.ndarray    # int64, start bit of each segment + end of the last
    counts: np.ndarray      # occurrences of each value (canonical order)
    total_bits: int


def encode_segments(values: np.ndarray, seg_sizes: np.ndarray, wordbits: int) -> HuffmanStream:
    """Huffman-code ``values`` (1-D) in order; ``seg_sizes`` symbols per segment."""
    if wordbits not in (32, 64):
        raise ValueError(f"wordbits must be 32 or 64, got {wordbits}")
    distinct, inverse, counts = symbolize(values)
    code = huffman.build_code(counts)
    sym = code.rank[inverse].astype(np.uint32)
    canon_len = code.canonical_lengths
    lens = canon_len[sym] if sym.size else np.zeros(0, dtype=np.uint8)
    cum = np.zeros(lens.size + 1, dtype=np.int64)
    np.cumsum(lens, out=cum[1:])
    bounds = np.zeros(len(seg_sizes) + 1, dtype=np.int64)
    np.cumsum(seg_sizes, out=bounds[1:])
    seg_bits = cum[bounds]
    total = int(cum[-1])
    words = _native.bits_encode(sym, code.codes, canon_len, total, wordbits)
    return HuffmanStream(values=np.ascontiguousarray(distinct[code.order]),
                         len_count=code.len_count, words=words, seg_bits=seg_bits,
                         counts=counts[code.order], total_bits=total)


def narrow_offsets(offsets: np.ndarray) -> np.ndarray:
    """Store non-negative offsets in uint32 when they fit (uint64 otherwise)."""
    top = int(offsets[-1]) if offsets.size else 0
    return offsets.astype(np.uint32 if top <= np.iinfo(np.uint32).max else np.uint64)


def check_code(len_count: np.ndarray, nsym: int) -> None:
    """Structural checks of a canonical code description (Kraft, totals, lengths)."""
    require(len_count.size <= huffman.MAX_CODE_LEN + 1, "code lengths exceed 32 bits")
    if nsym == 0:
        require(int(len_count.sum()) == 0, "code describes symbols but there are none")
        return
    require(len_count.size >= 2 and int(len_count[0]) == 0, "malformed code length table")
    require(int(len_count.sum()) == nsym, "code length table does not match the symbol count")
    kraft = sum(int(c) << (len_count.size - 1 - l) for l, c in enumerate(len_count) if l)
    require(kraft <= 1 << (len_count.size - 1), "code lengths violate the Kraft inequality")


def check_offsets(offsets: np.ndarray, count: int, total_bits: int, what: str) -> np.ndarray:
    """Validate ``count + 1`` non-decreasing offsets from 0 within ``total_bits``; return int64."""
    require(offsets.size == count + 1, f"{what} has {offsets.size} entries, expected {count + 1}")
    off = offsets.astype(np.int64)
    require(int(off[0]) == 0, f"{what} does not start at 0")
    require(bool(np.all(np.diff(off) >= 0)), f"{what} is not non-decreasing")
    require(int(off[-1]) <= total_bits, f"{what} points past the end of the stream")
    return off


def check_values(values: np.ndarray) -> None:
    require(bool(np.isfinite(values).all()), "stored values contain NaN/Inf")


def check_plus_zero(values: np.ndarray) -> None:
    """A stored zero is ``+0.0`` (``from_dense`` maps ``-0.0`` to it, so products skip it)."""
    require(not bool(np.any((values == 0) & np.signbit(values))), "-0.0 is stored; a zero is +0.0")


def zero_symbol(values: np.ndarray) -> int:
    """Index of the +0.0 value (all bits zero) in ``values``, or -1."""
    hit = np.flatnonzero(values.view(_UINT_OF[values.dtype]) == 0)
    return int(hit[0]) if hit.size else -1


def zero_count(values: np.ndarray, counts: np.ndarray) -> int:
    """Occurrences of zero, +0.0 and -0.0 alike (both are zero entries for ``nnz``)."""
    return int(counts[values == 0].sum())


#: Symbols decoded at a time when a loaded stream is counted (bounds the memory of a load).
COUNT_CHUNK = 1 << 22


def symbol_counts(words: np.ndarray, len_count: np.ndarray, nsym: int, seg_bits: np.ndarray,
                  per_seg: int) -> np.ndarray:
    """Occurrences of each canonical symbol in a stream of segments of ``per_seg`` symbols.

    Segment ``i`` is bits ``seg_bits[i]:seg_bits[i+1]`` (int64) and must end exactly
    there.  The stream is decoded :data:`COUNT_CHUNK` symbols at a time, so counting
    a loaded matrix costs O(its stream) time and bounded memory.
    """
    nseg = seg_bits.size - 1
    counts = np.zeros(max(nsym, 1), dtype=np.int64)
    if nseg <= 0 or per_seg == 0:
        return counts[:nsym]
    if per_seg <= COUNT_CHUNK:
        step = max(1, COUNT_CHUNK // per_seg)
        for s0 in range(0, nseg, step):
            s1 = min(nseg, s0 + step)
            sym = _native.huff_decode_segments(words, len_count, nsym, seg_bits[s0:s1 + 1],
                                               np.arange(s1 - s0 + 1, dtype=np.int64) * per_seg)
            counts += np.bincount(sym, minlength=counts.size)[:counts.size]
        return counts[:nsym]
    for s in range(nseg):       # long segments: decode each in pieces
        bit, left = int(seg_bits[s]), per_seg
        while left:
            sym, bit = _native.huff_decode(words, len_count, nsym, bit, min(left, COUNT_CHUNK))
            left -= sym.size
            counts += np.bincount(sym, minlength=counts.size)[:counts.size]
        require(bit == int(seg_bits[s + 1]), "a column's codewords do not end at its offset")
    return counts[:nsym]


def wordbits_of(words: np.ndarray) -> int:
    return 32 if words.dtype == np.uint32 else 64


def expect_stream(arrays: dict, dtype, meta: dict, m: int):
    """The Huffman-stream arrays of a stored HAM or sHAM matrix, checked.

    Returns ``(values, len_count, words, col_bits, col_bits as int64)`` after checking
    dtypes, finite values, the code description, the word size against the header
    and the ``m + 1`` column offsets against the stream length.
    """
    values = expect_array(arrays, "values", dtype)
    len_count = expect_array(arrays, "len_count", np.uint32)
    words = expect_array(arrays, "words", (np.uint32, np.uint64))
    col_bits = expect_array(arrays, "col_bits", (np.uint32, np.uint64))
    check_values(values)
    check_code(len_count, values.size)
    require(meta.get("wordbits") == wordbits_of(words), "word size mismatch")
    off = check_offsets(col_bits, m, words.size * wordbits_of(words), "col_bits")
    return values, len_count, words, col_bits, off
