"""ECSQ: entropy-constrained scalar quantization (Chou, Lookabaugh and Gray, 1989).

Lloyd-like iterations minimise, per weight, ``|w - c_j|^2 - lam * log2(p_j)``: squared
error plus ``lam`` times the ideal code length of the cluster, ``p_j`` being the fraction
of weights in cluster ``j``. Unpopular clusters get expensive and empty out, so the
assignment ends up with low entropy (short Huffman codes in HAM/sHAM).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import NamedTuple

import numpy as np

from . import _onedim
from ._checks import check_k, check_mask, check_weights
from .base import Quantizer, finalize

log = logging.getLogger(__name__)


def _crossovers(c: np.ndarray, b: np.ndarray) -> np.ndarray:
    # (w - c_i)^2 + b_i = (w - c_j)^2 + b_j, solved for w (c_i < c_j)
    return (c[:-1] + c[1:]) / 2 + (b[1:] - b[:-1]) / (2 * (c[1:] - c[:-1]))


def _envelope(c: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clusters of minimal cost somewhere, and the points where the winner changes.

    Each cost ``(w - c_j)^2 + b_j`` is a parabola of the same curvature, so each cluster
    wins on one interval (possibly empty), in the order of ``c``: the assignment is a
    set of thresholds, as for k-means. A cluster whose left crossover is not before its
    right one never wins strictly; all such clusters are removed at once (each removal
    is safe on its own) until the crossovers increase. ``c`` must increase strictly.
    """
    idx = np.arange(c.size)
    while idx.size > 2:
        x = _crossovers(c[idx], b[idx])
        bad = np.flatnonzero(x[:-1] >= x[1:])
        if bad.size == 0:
            return idx, x
        idx = np.delete(idx, bad + 1)
    return idx, _crossovers(c[idx], b[idx])


class Result(NamedTuple):
    """Outcome of one ECSQ run on sorted data."""

    levels: np.ndarray  # float64, increasing, one per non-empty cluster
    thresholds: np.ndarray  # a value v goes to active cluster searchsorted(thresholds, v)
    remap: np.ndarray  # active cluster -> index into levels
    entropy: float  # bits per weight of the final assignment
    cost: float  # mean squared error + lam * entropy
    converged: bool  # stopped by the k target or the cost threshold, not by max_iter

    @property
    def n_clusters(self) -> int:
        return self.levels.size

    def assign(self, x: np.ndarray) -> np.ndarray:
        return self.remap[_onedim.searchsorted(self.thresholds, x, side="left")]


def _equal_groups(s: _onedim.Sorted, g: int) -> tuple[np.ndarray, np.ndarray]:
    """``g`` groups of (nearly) equal population; runs of equal values are not split.

    With at most ``g`` distinct values, one group per value instead, so that data with
    at most ``k`` distinct values is reproduced exactly.
    """
    n = s.xs.size
    changes = np.flatnonzero(s.xs[1:] != s.xs[:-1]) + 1
    if changes.size < g:
        return _onedim.runs(s, changes)
    cuts = np.round(np.linspace(0, n, g + 1)[1:-1]).astype(np.int64)
    cuts = np.unique(np.searchsorted(s.xs, s.xs[cuts], side="left"))
    return _onedim.runs(s, cuts[cuts > 0])


def run_sorted(s: _onedim.Sorted, k: int, lam: float, *, start_factor: int = 3,
               tol: float = 1e-6, max_iter: int = 1000) -> Result:
    """ECSQ on prepared sorted data (see :func:`ecsq_lloyd` for the rules)."""
    n = s.xs.size
    starts, ends = _equal_groups(s, start_factor * k)
    c, m = _onedim.means(s, starts, ends), ends - starts
    cost_prev = math.inf
    for _ in range(max_iter):
        active, thr = _envelope(c, -lam * np.log2(m / n))
        pos = np.searchsorted(s.xs, thr, side="right")  # values on a threshold go down
        counts = np.diff(np.concatenate(([0], pos, [n])))
        remap = (np.cumsum(counts > 0) - 1).astype(np.int32)
        starts, ends = _onedim.runs(s, pos)
        c, m = _onedim.means(s, starts, ends), ends - starts
        dsum = s.cs[ends] - s.cs[starts]
        distortion = max(float(np.sum((s.cs2[ends] - s.cs2[starts]) - dsum * dsum / m)), 0.0) / n
        p = m / n
        entropy = float(-np.sum(p * np.log2(p))) + 0.0  # no -0.0 for one cluster
        cost = distortion + lam * entropy
        if c.size <= k or (cost_prev < math.inf and cost_prev - cost <= tol * cost_prev):
            return Result(c, thr, remap, entropy, cost, True)
        cost_prev = cost
    # The tuner runs many lambdas, some slow near the k boundary: not worth a warning.
    log.debug("ECSQ: no convergence in %d iterations (lam=%g, %d clusters)", max_iter, lam, c.size)
    return Result(c, thr, remap, entropy, cost, False)


def tune_sorted(s: _onedim.Sorted, k: int, *, rtol: float = 1e-3, max_steps: int = 60,
                **options) -> tuple[float, Result]:
    """Tune ``lam`` so that at most (ideally exactly) ``k`` clusters remain; see :func:`ecsq_lambda`."""
    if _equal_groups(s, options.get("start_factor", 3) * k)[0].size <= k:
        return 0.0, run_sorted(s, k, 0.0, **options)  # few distinct values: plain k-means
    # lam multiplies bits while the distortion is in squared weight units: start from
    # the variance so that the search is scale-free.
    n = s.xs.size
    hi = float(s.cs2[-1] / n - (s.cs[-1] / n) ** 2)
    r_hi, lo = run_sorted(s, k, hi, **options), 0.0
    if r_hi.n_clusters <= k:
        for _ in range(max_steps):  # bracket from above: shrink until too many clusters
            r = run_sorted(s, k, hi / 4, **options)
            if r.n_clusters > k:
                lo = hi / 4
                break
            hi, r_hi = hi / 4, r
    else:
        for _ in range(max_steps):  # bracket from below: grow until few enough
            lo, hi = hi, hi * 4
            r_hi = run_sorted(s, k, hi, **options)
            if r_hi.n_clusters <= k:
                break
        else:
            raise RuntimeError(f"ECSQ: no lambda up to {hi:g} leaves at most {k} clusters")
    for _ in range(max_steps):  # bisection in log scale
        if r_hi.n_clusters == k or lo == 0.0 or hi / lo - 1 <= rtol:
            break
        mid = math.sqrt(lo * hi)
        r = run_sorted(s, k, mid, **options)
        if r.n_clusters <= k:
            hi, r_hi = mid, r
        else:
            lo = mid
    return hi, r_hi


@dataclasses.dataclass(frozen=True)
class ECSQ(Quantizer):
    """Entropy-constrained scalar quantization with at most ``k`` levels.

    Parameters
    ----------
    k : int
        Maximum number of levels; the iterations start from ``start_factor * k``
        equal-population groups and stop once at most ``k`` clusters are non-empty.
    seed : ignored
        ECSQ is deterministic.
    lam : float or None
        Weight of the code length, in squared weight units per bit. ``None`` (default):
        tuned by :func:`ecsq_lambda` so that at most (ideally exactly) ``k`` clusters
        remain. A given ``lam`` that leaves more than ``k`` clusters is an error.
    tol : float
        Stop when the cost improves by less than ``tol`` times its previous value.
    max_iter : int
        Cap on the iterations of one run.
    start_factor : int
        Initial number of groups per wanted level (3 in the reference).

    Notes
    -----
    See :func:`ecsq_lloyd` for the iteration and :func:`ecsq_lambda` for the tuning
    (relative precision 0.1%). The result may have fewer than ``k`` levels. A warning is
    logged if the final run stopped at ``max_iter``.
    """

    lam: float | None = None
    tol: float = 1e-6
    max_iter: int = 1000
    start_factor: int = 3

    name = "ecsq"
    levels_are_means = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lam is not None and not (self.lam >= 0 and math.isfinite(self.lam)):
            raise ValueError(f"lam must be None or a finite number >= 0, got {self.lam}")

    def _options(self) -> dict:
        return dict(tol=self.tol, max_iter=self.max_iter, start_factor=self.start_factor)

    def _fit_flat(self, x, rng):
        def fit(xs, r, s):   # lam is in squared weight units
            q = self if self.lam is None else dataclasses.replace(self, lam=float(self.lam) * s * s)
            return q._fit_flat(xs, r)

        scaled = _onedim.fit_scaled(fit, x, rng)
        if scaled is not None:
            return scaled
        s = _onedim.prepare(x, squares=True)
        if self.lam is None:
            try:
                lam, r = tune_sorted(s, self.k, **self._options())
            except RuntimeError:
                # Few weights (<= start_factor * k): the start groups are single values
                # of equal population, which the entropy term cannot tell apart, so no
                # lambda merges them. Plain 1-D k-means is ECSQ's lambda -> 0 limit.
                from .cws import CWS

                log.info("ECSQ: %d weights cannot be merged to %d clusters by lambda; "
                         "using 1-D k-means", x.size, self.k)
                return CWS(k=self.k, seed=self.seed)._fit_flat(x, rng)
        else:
            r = run_sorted(s, self.k, float(self.lam), **self._options())
            if r.n_clusters > self.k:
                raise ValueError(f"ECSQ with lam={self.lam:g} leaves {r.n_clusters} > k={self.k} "
                                 "clusters; use a larger lam, or lam=None to tune it")
            lam = self.lam
        if not r.converged:
            log.warning("ECSQ: stopped after max_iter=%d iterations (lam=%g, %d clusters)",
                        self.max_iter, lam, r.n_clusters)
        return r.levels, r.assign(x)


def ecsq_lambda(w, k: int, *, mask=None, tol: float = 1e-6, max_iter: int = 1000,
                start_factor: int = 3, rtol: float = 1e-3) -> float:
    """Tune ``lam`` so that ECSQ (see :func:`ecsq_lloyd`) leaves about ``k`` clusters.

    Returns a ``lam`` whose run leaves at most ``k`` non-empty clusters, exactly ``k``
    when the search finds one; ``0.0`` when there are at most ``k`` initial groups (few
    distinct values). Only the kept weights are used when ``mask`` is given.

    Notes
    -----
    Because the run stops as soon as ``k`` clusters remain, the number of clusters is
    not monotone in ``lam`` (a large ``lam`` can empty many clusters in one step). The
    search therefore brackets: it starts from the variance of the weights (``lam`` is in
    squared weight units per bit, so this makes it scale-free), divides or multiplies by
    4 until one end leaves more than ``k`` clusters and the other at most ``k``, then
    bisects in log scale until exactly ``k`` clusters remain or the bracket is narrower
    than ``rtol``. The result is the upper end: the smallest ``lam`` that works within
    that bracket, not necessarily the smallest overall.
    """
    w, k = check_weights(w), check_k(k)
    x = w.ravel() if mask is None else w[check_mask(mask, w.shape)]
    if x.size == 0:
        return 0.0
    lam, _ = tune_sorted(_onedim.prepare(x, squares=True), k, rtol=rtol, tol=tol,
                         max_iter=max_iter, start_factor=start_factor)
    return lam


def ecsq_lloyd(w, k: int, lam: float, *, tol: float = 1e-6, max_iter: int = 1000,
               start_factor: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """One ECSQ run at a fixed ``lam``, without the at-most-``k`` guarantee.

    Parameters
    ----------
    w : ndarray of float32 or float64
        Weights, any shape.
    k : int
        Target number of clusters: start from ``start_factor * k`` equal-population
        groups (fewer if there are fewer distinct values) and stop as soon as at most
        ``k`` are non-empty.
    lam : float
        Weight of the code length, ``>= 0``.

    Returns
    -------
    codebook, indices
        As for the other methods, but the codebook may have more than ``k`` levels when
        ``lam`` is too small to empty enough clusters.

    Notes
    -----
    Each iteration assigns every weight to the cluster minimising
    ``(w - c_j)^2 - lam * log2(p_j)`` (ties go to the lower cluster), drops empty
    clusters, then sets ``c_j`` to the mean and ``p_j`` to the fraction of its weights.
    It stops when at most ``k`` clusters remain, when the cost (mean squared error +
    ``lam`` * entropy) improves by less than ``tol`` times its previous value, or after
    ``max_iter`` iterations.

    For a run that is not cut short by the ``k`` target (e.g. ``k = 1``), the entropy of
    the assignment decreases as ``lam`` grows, up to the small differences between the
    local optima Lloyd iterations reach (the exact statement holds for the global
    optimum of the Lagrangian). The early stop at ``k`` breaks this: a larger ``lam``
    may empty more clusters at once and stop at a different point.
    """
    w, k = check_weights(w), check_k(k)
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite number >= 0, got {lam}")
    x = w.ravel()
    r = run_sorted(_onedim.prepare(x, squares=True), k, float(lam), tol=tol,
                   max_iter=max_iter, start_factor=start_factor)
    codebook, idx = finalize(r.levels, r.assign(x), w.dtype)
    return codebook, idx.reshape(w.shape)
