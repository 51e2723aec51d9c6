"""Space bounds of HAM and sHAM with the constants of our layouts (SPEC section 3).

The paper bounds the occupancy of its Huffman formats through the average
codeword length ``L`` of a Huffman code, ``H <= L < H + 1 <= log2(k) + 1``::

    psi_HAM  <= (1 + log2 k) / B + O(k) / (n m)
    psi_sHAM <= s (1 + log2 k) / B + s * bits_ri / B + (m + 1) / (n m) + O(k) / (n m)

This module writes the same bounds with the exact constants of
:mod:`compactnn.formats.ham` and :mod:`compactnn.formats.sham`, array by array
(the keys of :meth:`~compactnn.formats.MatrixFormat.nbytes_breakdown`):

============== ============================================================== ===========
array          bytes (upper bound)                                            HAM / sHAM
============== ============================================================== ===========
payload        ``ceil(N * Lmax / w) * w / 8``, ``N`` coded symbols, ``w`` the both
               word size (32 or 64), ``Lmax`` a bound on the average codeword
               length: ``max(1, ceil(log2 k))`` from ``k`` alone (a Huffman
               code is never longer on average than the fixed-length code,
               and a lone symbol costs 1 bit), or ``min(that, H + 1)`` with
               the measured entropy ``H``
codebook       ``k * itemsize`` (4 for float32, 8 for float64)                both
decoding_tables ``4 * (maxlen + 1)``, ``maxlen <= max(1, min(k - 1, 32))``   both
column_offsets ``(m + 1) * (4 if N * Lmax < 2**32 else 8)``                   both
indices        ``q * width``, ``width`` = 1, 2 or 4 bytes by ``n``             sHAM
pointers       ``(m + 1) * (4 if q < 2**32 else 8)``                          sHAM
============== ============================================================== ===========

HAM codes all ``N = n m`` entries, its ``k`` symbols include zero when the
matrix has zeros; sHAM codes the ``N = q`` nonzeros, its ``k`` symbols are the
distinct nonzero values.  The bounds assume no codeword had to be shortened to
32 bits (:mod:`compactnn.huffman` halves the counts only for Fibonacci-like
distributions over billions of entries).

Also here: the paper's word-based accounting (``psi_CSC = (2q + m + 1)/(n m)``
and the ICPR forms of the HAM/sHAM bounds), the density below which sHAM is
smaller than HAM (paper form and ours), and the order-0 information content of
a sparse matrix, ``log2 C(nm, q) + q H0(nonzero values)`` bits, the reference of
"bits per nonzero" in the benchmark.
"""
from __future__ import annotations

import math

import numpy as np

from .huffman import MAX_CODE_LEN, code_lengths, entropy_bits

__all__ = [
    "code_bits_bound", "table_entries_bound", "index_bytes", "offset_bytes",
    "ham_bound", "sham_bound", "psi_ham_bound", "psi_sham_bound",
    "psi_csc_words", "psi_ham_paper", "psi_sham_paper", "crossover_density_paper",
    "uniform_level_nbytes", "crossover_density", "sparse_entropy_bits", "matrix_entropy",
]

_U32_MAX = (1 << 32) - 1


# ---- building blocks -----------------------------------------------------------------
def code_bits_bound(k: int, entropy: float | None = None) -> float:
    """Upper bound on the average Huffman codeword length over ``k`` symbols, in bits.

    ``max(1, ceil(log2 k))`` (``0`` for ``k = 0``); with the measured entropy
    ``entropy`` of the symbols also at most ``entropy + 1``.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if k == 0:
        return 0.0
    fixed = float(max(1, (int(k) - 1).bit_length()))
    return fixed if entropy is None else min(fixed, float(entropy) + 1.0)


def table_entries_bound(k: int) -> int:
    """Upper bound on the entries of ``len_count`` (``maxlen + 1``) for ``k`` symbols."""
    if k <= 0:
        return 1
    return max(1, min(int(k) - 1, MAX_CODE_LEN)) + 1


def index_bytes(n: int) -> int:
    """Bytes of one sHAM row index: the smallest unsigned type holding ``n - 1``."""
    top = max(int(n) - 1, 0)
    for size in (1, 2, 4):
        if top < 1 << (8 * size):
            return size
    raise ValueError(f"sHAM row indices are at most 32 bits; n = {n} is too large")


def offset_bytes(top: float) -> int:
    """Bytes of one offset of an array whose largest value is at most ``top``."""
    return 4 if top <= _U32_MAX else 8


def _payload_bits_bound(count: int, k: int, entropy: float | None) -> int:
    bits = count * code_bits_bound(k, entropy)
    # Rounded up, with a relative margin for the floating-point entropy.
    return int(math.ceil(bits * (1.0 + 1e-12)))


def _words_bytes(bits: int, wordbits: int) -> int:
    if wordbits not in (32, 64):
        raise ValueError(f"wordbits must be 32 or 64, got {wordbits}")
    return -(-bits // wordbits) * (wordbits // 8)


# ---- the bounds of our layouts -------------------------------------------------------
def ham_bound(n: int, m: int, k: int, *, entropy: float | None = None, wordbits: int = 32,
              itemsize: int = 4) -> dict[str, int]:
    """Upper bound on the bytes of each HAM array (keys as in ``nbytes_breakdown``).

    Parameters
    ----------
    n, m : int
        Shape of the matrix.
    k : int
        Distinct values of the matrix, zero included when it occurs (HAM's symbols).
    entropy : float, optional
        Measured order-0 entropy of all ``n m`` entries (bits per entry); gives the
        tighter payload bound ``n m (H + 1)``.
    wordbits : {32, 64}
        Word size of the bit stream.
    itemsize : {4, 8}
        Bytes of one stored value (float32 or float64).
    """
    bits = _payload_bits_bound(n * m, k, entropy)
    return {"payload": _words_bytes(bits, wordbits),
            "codebook": int(k) * itemsize,
            "decoding_tables": 4 * table_entries_bound(k),
            "column_offsets": (m + 1) * offset_bytes(bits)}


def sham_bound(n: int, m: int, q: int, k: int, *, entropy: float | None = None,
               wordbits: int = 32, itemsize: int = 4) -> dict[str, int]:
    """Upper bound on the bytes of each sHAM array (keys as in ``nbytes_breakdown``).

    Parameters
    ----------
    n, m : int
        Shape of the matrix.
    q : int
        Number of nonzeros.
    k : int
        Distinct nonzero values (sHAM's symbols).
    entropy : float, optional
        Measured order-0 entropy of the nonzero values (bits per nonzero).
    wordbits, itemsize
        As in :func:`ham_bound`.
    """
    bits = _payload_bits_bound(q, k, entropy)
    return {"payload": _words_bytes(bits, wordbits),
            "indices": q * index_bytes(n),
            "pointers": (m + 1) * offset_bytes(q),
            "codebook": int(k) * itemsize,
            "decoding_tables": 4 * table_entries_bound(k),
            "column_offsets": (m + 1) * offset_bytes(bits)}


def psi_ham_bound(n: int, m: int, k: int, **options) -> float:
    """Bound on ``psi`` of HAM: ``sum(ham_bound(...)) / (4 n m)``."""
    return sum(ham_bound(n, m, k, **options).values()) / (4.0 * n * m)


def psi_sham_bound(n: int, m: int, s: float, k: int, **options) -> float:
    """Bound on ``psi`` of sHAM at density ``s`` (``q = round(s n m)`` nonzeros)."""
    q = int(round(s * n * m))
    return sum(sham_bound(n, m, q, k, **options).values()) / (4.0 * n * m)


# ---- the paper's word-based accounting -----------------------------------------------
def psi_csc_words(n: int, m: int, q: int) -> float:
    """ICPR accounting of CSC with B-bit entries: ``(2q + m + 1) / (n m)``."""
    return (2.0 * q + m + 1) / (n * m)


def psi_ham_paper(n: int, m: int, k: int, B: int = 32) -> float:
    """ICPR bound ``(1 + log2 k) / B`` plus the two dictionaries, ``6 k B`` bits."""
    return (1.0 + math.log2(max(k, 1))) / B + 6.0 * k / (n * m)


def psi_sham_paper(n: int, m: int, s: float, k: int, B: int = 32, ri_bits: float | None = None) -> float:
    """ICPR bound on sHAM: ``s (1 + log2 k + bits_ri) / B + (m + 1)/(n m) + 6k/(n m)``.

    ``ri_bits`` defaults to ``B`` (one word per row index, the paper's accounting).
    """
    ri = B if ri_bits is None else ri_bits
    return s * (1.0 + math.log2(max(k, 1)) + ri) / B + (m + 1.0) / (n * m) + 6.0 * k / (n * m)


def crossover_density_paper(n: int, m: int, k: int, B: int = 32, ri_bits: float | None = None) -> float:
    """Density below which the paper's sHAM bound is under its HAM bound.

    Solves ``s (1 + log2 k + bits_ri) / B + (m + 1)/(n m) = (1 + log2 k) / B`` for
    ``s`` (the dictionary terms are the same on both sides), clipped to ``[0, 1]``.
    """
    ri = B if ri_bits is None else ri_bits
    lk = 1.0 + math.log2(max(k, 1))
    s = (lk / B - (m + 1.0) / (n * m)) * B / (lk + ri)
    return min(max(s, 0.0), 1.0)


# ---- predicted sizes and crossover of our layouts ------------------------------------
def _uniform_counts(q: int, k: int) -> np.ndarray:
    k = max(1, min(k, q))
    counts = np.full(k, q // k, dtype=np.int64)
    counts[: q % k] += 1
    return counts


def uniform_level_nbytes(n: int, m: int, s: float, k: int, *, wordbits: int = 32,
                         itemsize: int = 4) -> dict[str, int]:
    """Exact total bytes of HAM and sHAM for a matrix whose ``k`` levels are equally used.

    The model matrix has ``q = round(s n m)`` nonzeros spread evenly over ``k``
    levels; the Huffman codes are built from these counts, so the result is what
    the formats store for such a matrix.  Returns ``{"ham": bytes, "sham": bytes}``.
    """
    N = n * m
    q = int(round(s * N))
    nz = _uniform_counts(q, k) if q else np.zeros(0, dtype=np.int64)
    all_counts = np.concatenate([nz, [N - q]]) if q < N else nz
    out = {}
    for name, counts, count in (("ham", all_counts, N), ("sham", nz, q)):
        kk = int(counts.size)
        lengths = code_lengths(counts).astype(np.int64)
        bits = int((lengths * counts).sum())
        maxlen = int(lengths.max()) if kk else 0
        size = {"payload": _words_bytes(bits, wordbits), "codebook": kk * itemsize,
                "decoding_tables": 4 * (maxlen + 1), "column_offsets": (m + 1) * offset_bytes(bits)}
        if name == "sham":
            size |= {"indices": q * index_bytes(n), "pointers": (m + 1) * offset_bytes(q)}
        out[name] = sum(size.values())
    return out


def crossover_density(n: int, m: int, k: int, *, wordbits: int = 32, itemsize: int = 4) -> float:
    """Density below which sHAM is smaller than HAM, for ``k`` equally used levels.

    Bisection on the number of nonzeros with :func:`uniform_level_nbytes`.  About
    ``(1 - 32/n) / bits_ri``: below ``s = 1/2`` HAM spends one bit on every zero and
    one bit more than sHAM on every nonzero, sHAM a row index on every nonzero and a
    32-bit pointer on every column.  (The paper's form, which charges HAM
    ``1 + log2 k`` bits for every entry, zeros included, puts the crossover higher:
    :func:`crossover_density_paper`.)  Returns 0 if sHAM is never smaller, 1 if it
    always is.
    """
    N = n * m

    def diff(q: int) -> int:
        b = uniform_level_nbytes(n, m, q / N, k, wordbits=wordbits, itemsize=itemsize)
        return b["sham"] - b["ham"]

    lo, hi = 1, N
    if diff(lo) >= 0:
        return 0.0
    if diff(hi) < 0:
        return 1.0
    while hi - lo > 1:  # invariant: diff(lo) < 0 <= diff(hi)
        mid = (lo + hi) // 2
        if diff(mid) < 0:
            lo = mid
        else:
            hi = mid
    return hi / N


# ---- information content -------------------------------------------------------------
def sparse_entropy_bits(N: int, q: int, values_entropy: float) -> float:
    """Order-0 information of a sparse matrix: ``log2 C(N, q) + q H0(values)`` bits.

    ``N`` entries of which ``q`` are nonzero, the nonzero values having empirical
    entropy ``values_entropy`` bits.  No code that stores the positions as a subset
    and the values symbol by symbol with one fixed model does better.
    """
    from scipy.special import gammaln
    if not 0 <= q <= N:
        raise ValueError(f"need 0 <= q <= N, got q={q}, N={N}")
    log_binom = (gammaln(N + 1.0) - gammaln(q + 1.0) - gammaln(N - q + 1.0)) / math.log(2.0)
    return float(max(log_binom, 0.0) + q * values_entropy)


def matrix_entropy(W: np.ndarray) -> dict[str, float]:
    """Order-0 statistics of a matrix (``-0.0`` counts as zero).

    Returns ``q`` (nonzeros), ``k_nz`` (distinct nonzero values), ``k_all`` (distinct
    values), ``H_all`` (entropy of all entries, bits per entry), ``H_nz`` (entropy of
    the nonzero values, bits per nonzero) and ``sparse_bits``
    (:func:`sparse_entropy_bits`).
    """
    W = np.asarray(W)
    N = int(W.size)
    nzv = W[W != 0]
    q = int(nzv.size)
    _, counts = np.unique(nzv, return_counts=True)
    all_counts = np.concatenate([counts, [N - q]]) if q < N else counts
    H_nz = entropy_bits(counts)
    return {"q": q, "k_nz": int(counts.size), "k_all": int(all_counts.size),
            "H_all": entropy_bits(all_counts), "H_nz": H_nz,
            "sparse_bits": sparse_entropy_bits(N, q, H_nz)}
