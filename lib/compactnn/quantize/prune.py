"""Magnitude pruning by percentile, one layer at a time (SPEC section 2, "Pr")."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._checks import check_percentile, check_weights


def n_pruned(size: int, p: float) -> int:
    """Number of entries :func:`magnitude_mask` prunes in a layer of ``size`` entries.

    It is ``floor(p * size / 100)``, computed exactly (``Fraction``) so that e.g.
    ``p=70, size=10`` gives 7 and not 6 through a rounding error.
    """
    return math.floor(Fraction(check_percentile(p)) * size / 100)


def magnitude_mask(w, p: float) -> np.ndarray:
    """Boolean mask of the weights that survive magnitude pruning at percentile ``p``.

    Parameters
    ----------
    w : ndarray of float32 or float64
        The weights of one layer, any shape, finite and non-empty.
    p : float
        Percentile in ``[0, 100)``; ``p = 0`` keeps everything.

    Returns
    -------
    ndarray of bool, same shape as ``w``
        ``True`` where the weight is kept.

    Raises
    ------
    TypeError
        If ``w`` is not a float array or ``p`` is not a real number.
    ValueError
        If ``p`` is outside ``[0, 100)``, ``w`` is empty or holds NaN/Inf.

    Notes
    -----
    The percentile is the empirical one: exactly ``floor(p * n / 100)`` entries with the
    smallest ``|w|`` are pruned (``n = w.size``), so the density after pruning is known
    exactly, which the space bounds of the formats rely on. Ties are broken
    deterministically: among entries whose magnitude equals the threshold, those that
    come first in C (row-major) order are pruned first. Because ``p < 100``, at least
    one weight always survives. Entries that are already zero have the smallest
    magnitude, so re-pruning a pruned layer at a higher ``p`` keeps them pruned.
    """
    w = check_weights(w)
    k = n_pruned(w.size, p)
    mask = np.ones(w.shape, dtype=bool)
    if k == 0:
        return mask
    mag = np.abs(w).ravel()
    # O(n) selection of the k-th smallest magnitude instead of a full argsort: this runs
    # on every layer of VGG19 (16.7M weights in the largest one).
    threshold = np.partition(mag, k - 1)[k - 1]
    below = mag < threshold
    flat = mask.reshape(-1)
    flat[below] = False
    n_ties = k - int(np.count_nonzero(below))
    flat[np.flatnonzero(mag == threshold)[:n_ties]] = False
    return mask
