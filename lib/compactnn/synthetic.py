"""Synthetic weight matrices: pruned and quantized like a compressed layer.

The benchmark, the bounds tests and the format-study notebooks need matrices with
a given shape, density ``s`` and number ``k`` of nonzero levels, made the way the
paper's compressed layers are made (SPEC section 2, Pr-CWS): Laplace-distributed
weights (a common model of trained weights), magnitude pruning, then 1-D k-means
on the surviving weights.
"""
from __future__ import annotations

import numpy as np

__all__ = ["synthetic_matrix", "prune_exact", "lloyd_1d"]


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
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if n < 0 or m < 0:
        raise ValueError(f"shape must be non-negative, got {(n, m)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
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
