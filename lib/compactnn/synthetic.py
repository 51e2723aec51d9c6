"""Synthetic weight matrices: pruned and quantized like a compressed layer.

The benchmark, the bounds tests and the format-study notebooks need matrices with
a given shape, density ``s`` and number ``k`` of nonzero levels, made the way the
paper's compressed layers are made (SPEC section 2, Pr-CWS): Laplace-distributed
weights (a common model of trained weights), magnitude pruning, then 1-D k-means
on the surviving weights.

Trained layers are not uniform: :func:`skewed_matrix` makes matrices whose rows
and columns have skewed activity (a share of all-zero rows, heavy-tailed column
counts) and few distinct values, like a pruned VGG19 dense layer.
"""
from __future__ import annotations

import numpy as np

__all__ = ["synthetic_matrix", "skewed_matrix", "prune_exact", "lloyd_1d"]


def prune_exact(w: np.ndarray, density: float) -> np.ndarray:
    """Mask keeping exactly ``round(density * w.size)`` entries of largest magnitude.

    Ties at the threshold are broken by position (``argpartition``), so the count
    is exact whatever the values; a percentile threshold would not guarantee it.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    q = int(round(density * w.size))
    mask = np.zeros(w.size, dtype=bool)
    if q == w.size:
        mask[:] = True
    elif q > 0:
        mask[np.argpartition(np.abs(w).reshape(-1), w.size - q)[w.size - q:]] = True
    return mask.reshape(w.shape)


def lloyd_1d(x: np.ndarray, k: int, iters: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means of ``x`` (fallback when :mod:`compactnn.quantize` is unavailable).

    Sorts once, starts from the centres of ``k`` equal-population groups and runs
    Lloyd steps on prefix sums (each step is O(k log len(x))) until the
    assignment no longer changes (a value on a midpoint goes up).  Returns the
    increasing float64 centroids (empty clusters dropped) and one int index per value.
    """
    xs = np.sort(x.astype(np.float64))
    csum = np.concatenate(([0.0], np.cumsum(xs)))
    c = np.unique(xs[((np.arange(k) + 0.5) * xs.size / k).astype(np.int64)])
    prev = None
    for _ in range(iters):
        pos = np.concatenate(([0], np.searchsorted(xs, (c[:-1] + c[1:]) / 2), [xs.size]))
        if prev is not None and np.array_equal(pos, prev):
            break
        cnt = np.diff(pos)
        keep = cnt > 0
        c = ((csum[pos[1:]] - csum[pos[:-1]])[keep] / cnt[keep])
        prev = pos if keep.all() else None
    idx = np.searchsorted((c[:-1] + c[1:]) / 2, x, side="right").astype(np.int32)
    return c, idx


def _quantize(vals: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The values replaced by their k-means centroid (CWS when the package has it)."""
    try:
        from .quantize import quantize
    except ImportError:  # the quantize package is optional here
        c, idx = lloyd_1d(vals, k)
        return c.astype(vals.dtype)[idx]
    codebook, idx = quantize(vals, "cws", k=k, seed=seed)
    return codebook[idx]


def synthetic_matrix(n: int, m: int, density: float, k: int, seed: int = 0,
                     dtype=np.float32) -> np.ndarray:
    """An ``n x m`` Laplace matrix pruned to ``density`` with ``k`` nonzero levels.

    Parameters
    ----------
    n, m : int
        Rows (inputs) and columns (outputs).
    density : float
        Fraction of nonzero entries, in ``[0, 1]``; exactly ``round(density*n*m)``
        entries are nonzero (the largest in magnitude).  ``1`` means no pruning.
    k : int
        Number of quantization levels of the nonzeros (1-D k-means; fewer levels
        result when there are fewer than ``k`` nonzeros or clusters empty out).
    seed : int
        Seed of the weights and of the k-means initialisation.
    dtype : float32 or float64

    Returns
    -------
    numpy.ndarray of shape (n, m)
    """
    dtype = _check_matrix_args(n, m, k, dtype)
    rng = np.random.default_rng(seed)
    w = rng.laplace(scale=0.05, size=(n, m)).astype(dtype)
    mask = prune_exact(w, density)
    full = bool(mask.all())
    kept = w.reshape(-1) if full else w[mask]
    if kept.size == 0:
        return np.zeros((n, m), dtype=dtype)
    vals = _quantize(kept, k, seed)
    # A centroid that is exactly zero (or -0.0) would silently lower the nonzero
    # count; replace it by the smallest normal number, a level of its own.
    vals[vals == 0] = np.finfo(dtype).tiny
    if full:
        return vals.reshape(n, m)
    out = np.zeros((n, m), dtype=dtype)
    out[mask] = vals
    return out


def _column_counts(rng, q: int, m: int, cap: int, sigma: float) -> np.ndarray:
    """``m`` counts summing to ``q``, each at most ``cap``, lognormal(0, sigma) weights.

    A multinomial draw on the weights; what a column gets beyond ``cap`` goes
    to the columns with room, again in proportion to their weights.
    """
    w = rng.lognormal(0.0, sigma, size=m) if sigma > 0 else np.ones(m)
    counts = rng.multinomial(q, w / w.sum())
    while True:
        excess = int(np.maximum(counts - cap, 0).sum())
        if excess == 0:
            return counts
        counts = np.minimum(counts, cap)
        room = counts < cap
        extra = rng.multinomial(excess, w * room / (w * room).sum())
        counts = counts + extra


def skewed_matrix(n: int, m: int, density: float, k: int = 3, seed: int = 0, *,
                  empty_rows: float = 0.5, column_sigma: float = 1.4, row_sigma: float = 1.0,
                  dtype=np.float32) -> np.ndarray:
    """An ``n x m`` pruned, quantized matrix with the skew of a trained layer.

    Made to look like a VGG19 dense layer (512 x 4096) pruned to 99 %: about
    half of the rows entirely zero, column counts from 0 to about 150 with
    median 2, and 3 distinct values; at 98 % the same picture with twice the
    nonzeros.  The defaults give that picture at ``density=0.01``.

    Parameters
    ----------
    n, m : int
        Rows (inputs) and columns (outputs).
    density : float
        Fraction of nonzero entries, in ``[0, (1 - empty_rows)]``; exactly
        ``round(density*n*m)`` entries are nonzero.
    k : int
        Number of distinct nonzero values (1-D k-means of Laplace tails, the
        surviving weights of magnitude pruning); fewer when there are fewer
        nonzeros.
    seed : int
        Seed of the positions and values.
    empty_rows : float
        Share of rows held entirely zero, in ``[0, 1)`` (more rows may end up
        empty by chance).  ``round(empty_rows * n)`` rows, chosen at random.
    column_sigma : float
        Shape of the column activity: the expected count of a column is
        proportional to a lognormal(0, ``column_sigma``) weight, so the counts
        are heavy-tailed (median about ``exp(-sigma**2/2)`` times the mean;
        1.4 gives median 2 at mean 5).  ``0`` spreads the nonzeros evenly.
    row_sigma : float
        The same for the rows that are not held empty: in each column the rows
        are drawn without replacement with lognormal(0, ``row_sigma``) weights.
    dtype : float32 or float64

    Returns
    -------
    numpy.ndarray of shape (n, m)
    """
    dtype = _check_matrix_args(n, m, k, dtype)
    if not 0.0 <= empty_rows < 1.0:
        raise ValueError(f"empty_rows must be in [0, 1), got {empty_rows}")
    if column_sigma < 0 or row_sigma < 0:
        raise ValueError(f"column_sigma and row_sigma must be >= 0, got {column_sigma}, {row_sigma}")
    active = n - int(round(empty_rows * n))
    q = int(round(density * n * m))
    if not 0.0 <= density <= 1.0 or q > active * m:
        raise ValueError(f"density must be in [0, {active / n if n else 1:g}] with "
                         f"empty_rows={empty_rows:g}, got {density}")
    out = np.zeros((n, m), dtype=dtype)
    if q == 0:
        return out
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=active, replace=False))
    counts = _column_counts(rng, q, m, active, column_sigma)
    # Weighted sampling without replacement per column (Gumbel top-k): the
    # rows with the largest log-weight + Gumbel key; a column takes its first
    # counts[j] rows in key order.
    logw = rng.normal(0.0, row_sigma, size=active) if row_sigma > 0 else np.zeros(active)
    keys = logw[:, None] + rng.gumbel(size=(active, m))
    rank = np.empty((active, m), dtype=np.int32)
    order = np.argsort(-keys, axis=0)
    np.put_along_axis(rank, order, np.arange(active, dtype=np.int32)[:, None].repeat(m, 1), axis=0)
    del keys, order
    mask = np.zeros((n, m), dtype=bool)
    mask[rows] = rank < counts[None, :]
    # Values: the tails beyond a pruning threshold of Laplace weights, k-means'd.
    mag = 0.05 * (3.0 + rng.exponential(size=q))
    vals = (np.where(rng.random(q) < 0.5, -mag, mag)).astype(dtype)
    vals = _quantize(vals, k, seed)
    vals[vals == 0] = np.finfo(dtype).tiny
    out[mask] = vals
    return out


def _check_matrix_args(n: int, m: int, k: int, dtype) -> np.dtype:
    """The checks both generators make of shape, ``k`` and dtype; returns the dtype."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if n < 0 or m < 0:
        raise ValueError(f"shape must be non-negative, got {(n, m)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return dtype
