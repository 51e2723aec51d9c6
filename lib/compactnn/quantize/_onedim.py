"""Sorted-data helpers shared by the 1-D clustering methods (CWS, ECSQ).

In 1-D, every cluster of a nearest-centroid or entropy-constrained assignment is a
contiguous run of the sorted values, so cluster sums are differences of prefix sums and
one Lloyd step costs O(k log n) instead of O(n k).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


#: Weights larger in magnitude than this are fitted scaled down by a power of two
#: (:func:`fit_scaled`): squares, prefix sums and ranges of values near 1.7e308 overflow.
SCALE_ABOVE = 2.0 ** 400


def range_scale(x: np.ndarray) -> float:
    """Power of two ``s`` with ``max|x * s|`` in ``[0.5, 1)`` when ``max|x| > SCALE_ABOVE``, else ``1.0``.

    Multiplying by a power of two is exact for every value not pushed below the
    normal range (only values ``2**1022`` times smaller than the largest one lose
    bits), so a fit on ``x * s`` and a codebook divided by ``s`` are a fit on ``x``
    in a domain where ``max - min``, squares and sums of many weights stay finite
    and where ECSQ's tolerances, tuned on ordinary weights, apply.
    """
    top = float(np.max(np.abs(x)))
    if not top > SCALE_ABOVE:
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(top)[1])))


def fit_scaled(fit, x: np.ndarray, rng):
    """``fit(x * s, rng)`` with levels divided by ``s`` when ``x`` needs scaling, else ``None``.

    ``fit(x_scaled, rng, s)`` fits the scaled weights (a quantizer's ``_fit_flat``,
    with any parameter in weight units rescaled by ``s``); the caller returns this result when it is
    not ``None``.  Float32 weights never need it (their magnitude is below ``2**128``).
    """
    s = range_scale(x)
    if s == 1.0:
        return None
    levels, idx = fit(x.astype(np.float64) * s, rng, s)
    return np.asarray(levels, dtype=np.float64) / s, idx


class Sorted(NamedTuple):
    """Sorted values with prefix sums of ``xs - shift`` (and of its square, on request).

    The shift (the mean) keeps the prefix sums small, hence their differences accurate.
    """

    xs: np.ndarray
    cs: np.ndarray
    cs2: np.ndarray | None
    shift: float


def prepare(x: np.ndarray, squares: bool = False) -> Sorted:
    xs = np.sort(x).astype(np.float64)  # sorting float32 before the cast is faster
    shift = float(xs.mean())
    d = xs - shift
    cs = np.empty(xs.size + 1)
    cs[0] = 0.0
    np.cumsum(d, out=cs[1:])
    cs2 = None
    if squares:
        cs2 = np.empty(xs.size + 1)
        cs2[0] = 0.0
        np.cumsum(np.square(d, out=d), out=cs2[1:])
    return Sorted(xs, cs, cs2, shift)


def runs(s: Sorted, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the non-empty runs cut by sorted positions ``pos``."""
    starts = np.concatenate(([0], pos))
    ends = np.concatenate((pos, [s.xs.size]))
    nonempty = ends > starts
    return starts[nonempty], ends[nonempty]


def means(s: Sorted, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of each run, clamped to the run's range.

    The clamp only matters at rounding level, but it guarantees that the means of
    disjoint sorted runs (which never split a group of equal values) are strictly
    increasing, which the midpoint and crossover computations rely on.
    """
    c = (s.cs[ends] - s.cs[starts]) / (ends - starts) + s.shift
    return np.clip(c, s.xs[starts], s.xs[ends - 1])


def searchsorted(a: np.ndarray, v: np.ndarray, side: str = "left", cells_per_key: int = 4) -> np.ndarray:
    """``np.searchsorted(a, v, side)`` for sorted ``a`` and many unsorted ``v``, in O(len(v)).

    A binary search per value costs seconds on 16.7M weights (random memory accesses,
    ``log2 k`` of them). Instead, the range of ``a`` is cut into ``cells_per_key * len(a)``
    equal cells; a table gives, for each cell, the answer at the start of the cell before
    it (a lower bound, safe against rounding in the cell computation), and each value
    then steps up while the next key is below it (``<=`` for ``side="right"``). Few keys
    share a cell, so few vectorised steps are needed. Returns int64.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.size < 8 or v.size < (1 << 15) or not a[0] < a[-1]:
        return np.searchsorted(a, v, side=side).astype(np.int64)
    g = cells_per_key * a.size
    h = (a[-1] - a[0]) / g
    # value in cell c (-1 .. g after clipping) -> table[c + 1], the answer at the start
    # of cell c - 1; cell -1 (below a[0]) -> minus infinity
    edges = a[0] + (np.arange(g + 2) - 2.0) * h
    edges[0] = -np.inf
    table = np.searchsorted(a, edges, side=side)
    cell = np.floor((v - a[0]) / h)
    np.clip(cell, -1, g, out=cell)
    idx = table[cell.astype(np.int64) + 1]
    padded = np.append(a, np.inf)
    below = np.less if side == "left" else np.less_equal
    todo = np.flatnonzero(below(padded[idx], v))
    while todo.size:  # step up the few values whose cell holds keys below them
        idx[todo] += 1
        todo = todo[below(padded[idx[todo]], v[todo])]
    return idx
