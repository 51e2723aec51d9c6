"""UQ: uniform quantization with the finest step that leaves at most k values."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._checks import check_k, check_weights
from . import _onedim
from .base import Quantizer


def _grid_index(v: np.ndarray, lo: float, delta: float) -> np.ndarray:
    """Grid index of each value, ``floor((v - lo) / delta + 0.5)`` (round half up).

    Kept as float64 (integral values, exact below 2**53) to save a conversion pass.
    """
    return np.floor((v - lo) / delta + 0.5)


def _count_levels(xs: np.ndarray, lo: float, delta: float, cap: int) -> int:
    """Occupied grid levels for sorted ``xs``, counting at most ``cap + 1``.

    Jumps from one occupied level to the next with a binary search, so the cost is
    O(k log n) instead of O(n): the step search evaluates this some 60 times.
    Floating-point edge effects can make the count off by one; :func:`uq_step` checks
    the chosen step exactly.
    """
    n, i, count = xs.size, 0, 0
    while i < n and count <= cap:
        count += 1
        j = math.floor((xs[i] - lo) / delta + 0.5)
        i = max(int(np.searchsorted(xs, lo + (j + 0.5) * delta, side="left")), i + 1)
    return count


def _exact_levels(xs: np.ndarray, lo: float, delta: float) -> np.ndarray:
    g = _grid_index(xs, lo, delta)  # non-decreasing since xs is sorted
    return g[np.concatenate(([True], g[1:] != g[:-1]))]


def uq_step(x, k: int, *, max_halvings: int = 24, rtol: float = 1e-9) -> tuple[float, float]:
    """Grid ``(delta, lo)`` of UQ: levels are ``lo + j * delta`` for integers ``j``.

    In the SPEC's notation ``delta * round((w + c) / delta) - c`` this is ``c = -lo``. The
    grid is anchored at the smallest value (``lo = min(x)``, represented exactly), and
    ``delta`` is the smallest step, found by bisection in log scale, for which at most
    ``k`` grid levels are occupied. Start: ``delta = (max - min) / (k - 1)`` always
    leaves at most ``k`` levels; the search goes down to that step divided by
    ``2**max_halvings`` (reached only when the data has at most ``k`` clumps).
    Occupied levels are counted, not spanned ones, so empty stretches of the range
    (e.g. the gap around zero left by pruning) cost no levels. With ``k = 1`` the single
    level is the midrange ``(min + max) / 2`` (our choice; it minimises the largest
    error) and ``delta`` is infinite.
    """
    x, k = check_weights(x, name="x"), check_k(k)
    return _search_step(np.sort(x.ravel()).astype(np.float64), k, max_halvings, rtol)


def _search_step(xs: np.ndarray, k: int, max_halvings: int = 24, rtol: float = 1e-9) -> tuple[float, float]:
    lo, hi_val = float(xs[0]), float(xs[-1])
    if hi_val == lo:
        return math.inf, lo
    if k == 1:
        return math.inf, (lo + hi_val) / 2
    hi = (hi_val - lo) / (k - 1)
    low = hi / 2.0 ** max_halvings
    if _count_levels(xs, lo, low, k) <= k:
        hi = low
    else:
        while hi / low - 1 > rtol:
            mid = math.sqrt(hi * low)
            if _count_levels(xs, lo, mid, k) <= k:
                hi = mid
            else:
                low = mid
    # The jump count may be off by one at level boundaries: enlarge the step until the
    # exact count (same formula as the final assignment) is within k.
    while _exact_levels(xs, lo, hi).size > k:
        hi *= 1 + 1e-6
    return hi, lo


@dataclasses.dataclass(frozen=True)
class UQ(Quantizer):
    """Uniform quantization: values on the grid ``lo + delta * j``, at most ``k`` of them.

    Parameters
    ----------
    k : int
        Maximum number of distinct values.
    seed : ignored
        UQ is deterministic; the parameter exists for a uniform interface.

    Notes
    -----
    The grid and step search are described in :func:`uq_step`. A weight goes to the
    nearest level, ties rounding up (``floor(t + 0.5)``, not NumPy's round-half-even,
    so that the search and the final assignment agree). Only occupied levels enter the
    codebook, so consecutive codebook entries differ by integer multiples of ``delta``.
    """

    name = "uq"

    def _fit_flat(self, x, rng):
        scaled = _onedim.fit_scaled(lambda xs, r, s: self._fit_flat(xs, r), x, rng)
        if scaled is not None:
            return scaled
        xs = np.sort(x).astype(np.float64)  # sorting float32 first is faster
        delta, lo = _search_step(xs, self.k)
        if math.isinf(delta):
            return np.array([lo]), np.zeros(x.size, dtype=np.intp)
        levels = _exact_levels(xs, lo, delta)
        g = _grid_index(x.astype(np.float64), lo, delta)
        return lo + levels * delta, _onedim.searchsorted(levels, g)

