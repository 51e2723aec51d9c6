"""PWS: probabilistic weight sharing (the ICPR paper's "PQ"), an unbiased stochastic rounding."""
from __future__ import annotations

import dataclasses

import numpy as np

from . import _onedim
from .base import Quantizer


def sorted_quantiles(xs: np.ndarray, k: int) -> np.ndarray:
    """``np.quantile(xs, np.linspace(0, 1, k))`` for sorted ``xs``, bit for bit, in O(k).

    NumPy's default ("linear") method, written out on the already sorted values:
    ``numpy.quantile`` partitions around every requested index, which costs tens of
    seconds for ``k >= 65536`` on 262k weights. Same interpolation (NumPy's ``_lerp``),
    same result dtype.
    """
    q = np.linspace(0.0, 1.0, k)
    n = xs.size
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    gamma = virtual - prev
    lo = prev.astype(np.intp)
    hi = lo + 1
    top = virtual >= n - 1
    lo[top], hi[top] = n - 1, n - 1
    a, b = xs[lo], xs[hi]
    diff = np.subtract(b, a)
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5, casting="unsafe")
    return out


@dataclasses.dataclass(frozen=True)
class PWS(Quantizer):
    """Probabilistic weight sharing: unbiased stochastic rounding onto quantile levels.

    Parameters
    ----------
    k : int
        Number of levels; the ``k - 1`` intervals have the ``i / (k - 1)`` quantiles of
        the weights as endpoints (``i = 0 .. k-1``, so the minimum and maximum are levels).
    seed : int, Generator or None
        Seed of the random rounding.

    Notes
    -----
    A weight ``w`` in ``[a, b]`` becomes ``b`` with probability ``(w - a) / (b - a)`` and
    ``a`` otherwise, so ``E[w'] = w``. The quantiles use NumPy's default (linear
    interpolation). They are first cast to the weights' dtype and deduplicated, and the
    probabilities are computed against these cast levels, so the result is unbiased
    with respect to the codebook actually returned. A weight equal to an interior
    endpoint falls in the interval to its right and, having probability 0 of moving,
    stays put. With ``k = 1`` there is no interval: every weight becomes the mean (the
    only single value that keeps the sum of the weights unbiased); this choice is ours.
    """

    name = "pws"

    def _fit_flat(self, x, rng):
        scaled = _onedim.fit_scaled(lambda xs, r, s: self._fit_flat(xs, r), x, rng)
        if scaled is not None:
            return scaled
        if self.k == 1:
            return np.array([np.mean(x, dtype=np.float64)]), np.zeros(x.size, dtype=np.intp)
        edges = sorted_quantiles(np.sort(x), self.k).astype(x.dtype)
        edges = np.unique(edges).astype(np.float64)
        if edges.size == 1:  # constant weights
            return edges, np.zeros(x.size, dtype=np.intp)
        xf = x.astype(np.float64)
        j = np.clip(_onedim.searchsorted(edges, xf, side="right") - 1, 0, edges.size - 2)
        a, b = edges[j], edges[j + 1]
        up = rng.random(x.size) < (xf - a) / (b - a)
        return edges, j + up

