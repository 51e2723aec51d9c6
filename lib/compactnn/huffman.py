"""Canonical Huffman codes: construction, description and a reference decoder.

A code over ``k`` symbols is built from the symbols' counts.  It is
*canonical*: only the code lengths matter, and codewords are assigned in
order of (length, symbol), consecutive integers within one length (the
DEFLATE convention).  The decoder therefore needs just

- ``len_count[l]``: the number of codewords of length ``l`` (``l = 0..maxlen``),
- the symbols (their values) listed in canonical order,

from which the C kernels rebuild a ``2**CNN_TABLE_BITS``-entry lookup table on
every call; codewords longer than the table decode through the per-length
first-codeword rule.  Construction is deterministic: ties between equal counts
are broken by symbol index, so the same counts always give the same code.

Lengths are limited to :data:`MAX_CODE_LEN` (32) bits.  Only pathological
count distributions (Fibonacci-like, over billions of entries) exceed it; then
the counts are halved (keeping every count >= 1) until the code fits, which
costs a negligible amount of optimality and is logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = ["CanonicalCode", "build_code", "code_lengths", "entropy_bits", "decode_reference",
           "unpack_bits", "MAX_CODE_LEN"]

log = logging.getLogger(__name__)

MAX_CODE_LEN = 32


def code_lengths(counts: np.ndarray, max_len: int = MAX_CODE_LEN) -> np.ndarray:
    """Huffman code lengths for symbols with the given positive counts.

    Parameters
    ----------
    counts : array of int
        Occurrences of each symbol; all must be >= 1.
    max_len : int
        Longest allowed codeword.

    Returns
    -------
    numpy.ndarray of uint8
        Length of each symbol's codeword.  One symbol gets length 1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1:
        raise ValueError("counts must be one-dimensional")
    k = counts.size
    if k == 0:
        return np.zeros(0, dtype=np.uint8)
    if np.any(counts < 1):
        raise ValueError("every symbol count must be >= 1")
    if k == 1:
        return np.ones(1, dtype=np.uint8)
    if k > (1 << max_len):
        raise ValueError(f"{k} symbols cannot be coded with codewords of at most {max_len} bits")
    if np.all(counts == counts[0]):
        return _equal_lengths(k)
    work = counts.copy()
    while True:
        lengths = _huffman_lengths(work)
        if lengths.max() <= max_len:
            return lengths.astype(np.uint8)
        log.info("Huffman code longer than %d bits; halving counts", max_len)
        work = np.maximum(work >> 1, 1)


def _equal_lengths(k: int) -> np.ndarray:
    # Equal counts (e.g. a matrix whose entries are all distinct): the optimal code
    # is the complete tree with lengths floor/ceil(log2 k), in closed form, which
    # avoids a k-step loop in Python for millions of symbols.
    L = int(np.floor(np.log2(k)))
    if (1 << L) == k:
        return np.full(k, L, dtype=np.uint8)
    n_long = 2 * (k - (1 << L))          # symbols pushed one level down
    lengths = np.full(k, L, dtype=np.uint8)
    lengths[k - n_long:] = L + 1
    return lengths


def _huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Two-queue Huffman construction on counts sorted stably (ties by symbol index)."""
    k = counts.size
    order = np.argsort(counts, kind="stable")
    leaf_w = counts[order].tolist()
    parent = [0] * (2 * k - 1)
    node_w: list[int] = []                 # internal node weights, created in order
    i = j = 0                              # next leaf, next internal node
    for new in range(k - 1):
        picked = []
        for _ in range(2):
            if i < k and (j >= len(node_w) or leaf_w[i] <= node_w[j]):
                picked.append(i)
                i += 1
            else:
                picked.append(k + j)
                j += 1
        a, b = picked
        wa = leaf_w[a] if a < k else node_w[a - k]
        wb = leaf_w[b] if b < k else node_w[b - k]
        node_w.append(wa + wb)
        parent[a] = parent[b] = k + new
    depth = [0] * (2 * k - 1)
    for node in range(2 * k - 3, -1, -1):  # the root (2k-2) has depth 0
        depth[node] = depth[parent[node]] + 1
    lengths = np.empty(k, dtype=np.int64)
    lengths[order] = depth[:k]
    return lengths


@dataclass(frozen=True)
class CanonicalCode:
    """A canonical Huffman code.

    Attributes
    ----------
    lengths : ndarray of uint8
        Codeword length of each symbol (in the caller's symbol order).
    order : ndarray of int64
        Symbols in canonical order: ``order[i]`` is the symbol with canonical index ``i``.
    rank : ndarray of int64
        Inverse of ``order``: canonical index of each symbol.
    len_count : ndarray of uint32
        Number of codewords of each length ``0..maxlen`` (``len_count[0] == 0``).
    codes : ndarray of uint32
        Codeword of each *canonical index*, right-aligned.
    """

    lengths: np.ndarray
    order: np.ndarray
    rank: np.ndarray
    len_count: np.ndarray
    codes: np.ndarray

    @property
    def maxlen(self) -> int:
        return int(self.len_count.size - 1)

    @property
    def canonical_lengths(self) -> np.ndarray:
        """Codeword length of each canonical index (uint8)."""
        return self.lengths[self.order]

    def average_length(self, counts: np.ndarray) -> float:
        counts = np.asarray(counts, dtype=np.float64)
        return float((counts * self.lengths).sum() / counts.sum()) if counts.sum() else 0.0


def from_lengths(lengths: np.ndarray) -> CanonicalCode:
    """The canonical code with the given codeword lengths (symbol order)."""
    lengths = np.asarray(lengths, dtype=np.uint8)
    k = lengths.size
    order = np.lexsort((np.arange(k), lengths)).astype(np.int64)
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    maxlen = int(lengths.max()) if k else 0
    len_count = np.bincount(lengths, minlength=maxlen + 1).astype(np.uint32)
    if k:
        len_count[0] = 0
    first = np.zeros(maxlen + 1, dtype=np.uint64)
    offset = np.zeros(maxlen + 1, dtype=np.int64)
    code = 0
    off = 0
    for l in range(1, maxlen + 1):
        code = (code + (int(len_count[l - 1]) if l > 1 else 0)) << 1
        first[l] = code
        offset[l] = off
        off += int(len_count[l])
    canon_len = lengths[order].astype(np.int64)
    idx = np.arange(k, dtype=np.int64)
    codes = (first[canon_len].astype(np.int64) + (idx - offset[canon_len])).astype(np.uint32)
    return CanonicalCode(lengths=lengths, order=order, rank=rank, len_count=len_count, codes=codes)


def build_code(counts: np.ndarray, max_len: int = MAX_CODE_LEN) -> CanonicalCode:
    """Canonical Huffman code for symbols with the given counts (all >= 1)."""
    return from_lengths(code_lengths(counts, max_len))


def entropy_bits(counts: np.ndarray) -> float:
    """Empirical order-0 entropy, in bits per symbol, of a count vector."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts / total
    return float(-(p * np.log2(p)).sum())


def unpack_bits(words: np.ndarray) -> np.ndarray:
    """The stream of a word array as a uint8 array of bits, most significant first."""
    words = np.asarray(words)
    if words.dtype == np.uint32:
        big = words.astype(">u4")
    elif words.dtype == np.uint64:
        big = words.astype(">u8")
    else:
        raise TypeError(f"words must be uint32 or uint64, got {words.dtype}")
    return np.unpackbits(big.view(np.uint8))


def decode_reference(words: np.ndarray, len_count: np.ndarray, start: int, count: int):
    """Decode ``count`` canonical-index symbols from bit ``start``, one bit at a time.

    A deliberately plain decoder (no tables) used to check the C decoder.

    Returns
    -------
    (list of int, int)
        The canonical indices and the bit position after the last codeword.
    """
    bits = unpack_bits(words)
    len_count = [int(c) for c in len_count]
    maxlen = len(len_count) - 1
    first, offset = [0] * (maxlen + 1), [0] * (maxlen + 1)
    code = off = 0
    for l in range(1, maxlen + 1):
        code = (code + (len_count[l - 1] if l > 1 else 0)) << 1
        first[l], offset[l] = code, off
        off += len_count[l]
    out, pos = [], start
    for _ in range(count):
        code = 0
        for l in range(1, maxlen + 2):
            if l > maxlen or pos >= bits.size:
                raise ValueError("invalid codeword or end of stream")
            code = (code << 1) | int(bits[pos])
            pos += 1
            if 0 <= code - first[l] < len_count[l]:
                out.append(offset[l] + code - first[l])
                break
    return out, pos
