"""The weight-sharing methods as the authors' code runs them (the ``"reference"`` variant).

The paper's text (SPEC sections 2 and 4) and the code that produced its tables (the ICPR
2020 ``compressionNN`` package and the 2021 ``sHAM`` package) differ in four places that
concern quantization; :data:`VARIANTS` names the two behaviours and
:func:`~compactnn.quantize.quantize` selects one with ``variant=``:

1. **Pr-X** (every method). Paper: only the kept weights are quantized, zero stays an
   exact separate level, so a "k = 32" layer keeps 32 nonzero values. Reference: the
   quantizer runs on the whole pruned matrix, zeros included, and the result is
   multiplied by the mask (``centers[idx] * mask``). With 97% zeros most quantile
   endpoints (PWS) and most k-means centroids (CWS) land on or next to zero, so only a
   few distinct nonzero values remain, and kept weights rounded onto the zero level
   become zeros.
2. **CWS**. Paper: exact 1-D k-means (Lloyd to a fixed point). Reference: scikit-learn's
   ``MiniBatchKMeans(batch_size=100000, init_size=3k, random_state=42)``.
3. **UQ**. Paper: the finest step that leaves at most ``k`` occupied levels on a grid
   anchored at the minimum. Reference: ``delta * round(w / delta)`` (offset ``b = 0``,
   so zero is always a level), ``delta`` scanned upward over the fixed list
   :data:`UQ_REFERENCE_DELTAS` (1e-4, 6e-4, ..., 1.0001; step 5e-4) and the first one
   leaving at most ``k`` distinct values taken; ``delta = 1`` if none does.
4. **ECSQ**. Paper: relative stopping threshold and ``lambda`` tuned until ``k``
   clusters remain. Reference: the cost ``(w - c)^2 - lambda ln p`` with the natural
   log, ``3k`` equal-population starting groups, a stop as soon as the cost decreases by
   at most ``1e-3`` (absolute, so after about two passes on weight-scale data) or at most
   ``k`` clusters remain, and ``lambda`` picked from a fixed per-network list
   (:data:`ECSQ_REFERENCE_LAMBDAS`); it typically leaves 1.4-3x ``k`` clusters.

PWS has no difference of its own: its reference variant differs only by item 1. The
retraining rule (items 5) lives in :mod:`compactnn.nn.compress` (``rule=``); the
training recipes (item 6) in :mod:`compactnn.nn.recipes`.

Where the authors' code has a bug that only destroys information (an ECSQ loop counter
that breaks before the first pass, a ``1e-10`` added to every weight change) it is not
reproduced; the non-accumulating 2021 codebook update is offered by name
(``rule="reference-2021"``).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np

from . import _onedim
from .base import Quantizer, _check_layers, add_zero
from .ecsq import _envelope
from .pws import PWS
from .uq import _count_levels

__all__ = ["VARIANTS", "RULES", "UQ_REFERENCE_DELTAS", "ECSQ_REFERENCE_LAMBDAS",
           "ReferenceCWS", "ReferencePWS", "ReferenceUQ", "ReferenceECSQ",
           "REFERENCE_QUANTIZERS", "check_variant", "distinct_nonzero_values"]

#: Quantization variants: the paper's text (default) and the authors' code.
VARIANTS = ("paper", "reference")

#: Codebook rules during retraining, see :class:`compactnn.nn.compress.CompressionHook`.
RULES = ("paper", "reference", "reference-2021")

#: The step list of the authors' UQ: ``m / 10**6`` for ``m`` in ``range(100, 10**6 + 500, 500)``.
UQ_REFERENCE_DELTAS: tuple[float, ...] = tuple(m / 10**6 for m in range(100, 10**6 + 500, 500))

#: The authors' ECSQ lambda lists, in the order they are tried, per network and for
#: ECSQ without ("ecsq") and with ("pr-ecsq") pruning. VGG19: the 2021
#: ``performance_eval/VGG19/compression.py``; DeepDTA: ``.../DeepDTA/compression.py``.
ECSQ_REFERENCE_LAMBDAS: dict[str, dict[str, tuple[float, ...]]] = {
    "vgg19": {
        "ecsq": (1e-10, 7.5e-11, 5e-11, 2.5e-11, 1e-11, 7.5e-12, 5e-12, 2.5e-12, 1e-12,
                 7.5e-13, 5e-13, 2.5e-13, 1e-13),
        "pr-ecsq": (1e-10, 7.5e-11, 5e-11, 2.5e-11, 1e-11, 7.5e-12, 5e-12, 2.5e-12, 1e-12),
    },
    "deepdta": {
        "ecsq": (0.05, 0.04, 0.03, 0.02, 0.01, 0.008, 0.0065, 0.005, 0.001, 0.0008, 0.0005,
                 0.0002, 0.0001),
        "pr-ecsq": (0.05, 0.04, 0.03, 0.02, 0.01, 0.008, 0.0065, 0.005, 0.001, 0.0008,
                    0.0005, 0.0002, 0.0001),
    },
}


def check_variant(variant: str, allowed: Sequence[str] = VARIANTS, what: str = "variant") -> str:
    """Return ``variant`` if it is one of ``allowed``; raise ``ValueError`` otherwise."""
    if variant not in allowed:
        raise ValueError(f"unknown {what} {variant!r}; valid: {', '.join(allowed)}")
    return variant


def distinct_nonzero_values(w) -> int:
    """Number of distinct nonzero values in an array (e.g. one compressed layer's weights).

    This is what the Pr-X variants differ in: the paper's Pr-CWS at ``k = 32`` keeps 32,
    the reference one a handful.
    """
    a = np.asarray(w)
    return int(np.unique(a[a != 0]).size)


class _ReferencePrX(Quantizer):
    """Pr-X as the authors run it: quantize the pruned matrix, zeros included, then mask."""

    def fit_shared(self, layers: Sequence, masks: Sequence | None = None):
        arrays, masks = _check_layers(layers, masks)
        if masks is None:
            return super().fit_shared(arrays)
        zero = arrays[0].dtype.type(0.0)
        pruned = [np.where(m, a, zero) for a, m in zip(arrays, masks)]
        pairs = super().fit_shared(pruned)
        codebook, _, zero_at = add_zero(pairs[0][0], np.zeros(0, dtype=np.int32))
        remap = np.searchsorted(codebook, pairs[0][0]).astype(np.int32)
        idx = []
        for (_, i), m in zip(pairs, masks):
            i = remap[i]
            i[~m] = zero_at  # centers[idx] * mask
            idx.append(i)
        used = np.zeros(codebook.size, dtype=bool)
        for i in idx:
            used[np.unique(i)] = True
        used[zero_at] = True  # Pr-X convention: the exact zero is always in the codebook
        level_map = (np.cumsum(used) - 1).astype(np.int32)
        codebook = codebook[used]
        return [(codebook, level_map[i]) for i in idx]


@dataclasses.dataclass(frozen=True)
class ReferencePWS(_ReferencePrX, PWS):
    """PWS, reference variant: the paper's PWS, with the reference Pr-X (zeros included).

    Without a mask it equals :class:`~compactnn.quantize.PWS` (the ICPR code's intervals
    are the ``i / (k - 1)`` quantiles too). With a mask the quantiles are taken over the
    whole pruned matrix, so at 97% pruning and ``k = 32`` all interior endpoints are zero
    and the kept weights are rounded, at random, onto ``{min, 0, max}``.
    """

    name = "pws"


@dataclasses.dataclass(frozen=True)
class ReferenceCWS(_ReferencePrX):
    """CWS, reference variant: scikit-learn mini-batch k-means, as in the authors' code.

    Parameters
    ----------
    k : int
        Number of clusters.
    seed : ignored
        The authors fix the random state (``random_state``) instead.
    batch_size, init_size, random_state : int or None
        ``MiniBatchKMeans`` options; ``init_size=None`` means ``3 * k`` (the reference).
    n_init : int
        Initialisations of the k-means++ seeding (3, scikit-learn's old default).

    Notes
    -----
    Paper variant (:class:`~compactnn.quantize.CWS`): exact 1-D Lloyd iterations to a
    fixed point. Here the centroids are those of ``MiniBatchKMeans`` (cast to float32 as
    the reference does), deduplicated and sorted; every weight goes to its nearest
    centroid (ties to the lower one). With a mask, the reference Pr-X: the clustering
    sees the pruned matrix with its zeros, and with 97% zeros the k-means++ seeds drawn
    from ``3k`` samples are nearly all zero, so a few centroids remain apart from zero.
    """

    batch_size: int = 100_000
    init_size: int | None = None
    random_state: int | None = 42
    n_init: int = 3

    name = "cws"
    levels_are_means = True

    def _fit_flat(self, x, rng):
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(n_clusters=self.k, batch_size=self.batch_size,
                             init_size=self.init_size or 3 * self.k,
                             random_state=self.random_state, n_init=self.n_init)
        with warnings.catch_warnings():  # fewer distinct values than clusters is expected here
            warnings.simplefilter("ignore")
            km.fit(x.reshape(-1, 1))
        c = np.unique(km.cluster_centers_.astype(np.float32).ravel().astype(np.float64))
        if c.size == 1:
            return c, np.zeros(x.size, dtype=np.intp)
        return c, _onedim.searchsorted((c[:-1] + c[1:]) / 2, x.astype(np.float64), side="left")


@dataclasses.dataclass(frozen=True)
class ReferenceUQ(_ReferencePrX):
    """UQ, reference variant: ``delta * round(w / delta)`` with ``delta`` from a fixed list.

    Parameters
    ----------
    k : int
        Maximum number of distinct values, zero included.
    seed : ignored
    deltas : tuple of float
        Steps tried in order; the first leaving at most ``k`` distinct values is used,
        ``1.0`` if none does. Default :data:`UQ_REFERENCE_DELTAS`.

    Notes
    -----
    Paper variant (:class:`~compactnn.quantize.UQ`): grid anchored at the minimum and the
    finest step with at most ``k`` occupied levels (bisection). Reference: offset
    ``b = 0``, so ``0.0`` is always a grid point (any weight within ``delta / 2`` of zero
    becomes zero), and the steps form a coarse absolute list, so the chosen grid usually
    uses far fewer than ``k`` levels (about 400 of 1024 on N(0, 0.03) weights). Rounding
    is NumPy's (half to even), as in the reference. With a mask, the reference Pr-X
    (zeros counted among the ``k`` values).
    """

    deltas: tuple[float, ...] = UQ_REFERENCE_DELTAS

    name = "uq"

    def _fit_flat(self, x, rng):
        xs = np.sort(x).astype(np.float64)
        chosen = 1.0
        for delta in self.deltas:
            # Cheap jump count first; the exact count (same rounding as the result) decides.
            if _count_levels(xs, 0.0, delta, self.k) > self.k + 1:
                continue
            if np.unique(np.round(xs / delta)).size <= self.k:
                chosen = delta
                break
        g = np.round(x.astype(np.float64) / chosen)
        levels, idx = np.unique(g, return_inverse=True)
        return levels * chosen, idx.reshape(-1)


@dataclasses.dataclass(frozen=True)
class ReferenceECSQ(_ReferencePrX):
    """ECSQ, reference variant: absolute stopping threshold and lambda from a fixed list.

    Parameters
    ----------
    k : int
        Wanted number of clusters; the run starts from ``3 * k`` equal-population groups
        and stops once at most ``k`` are non-empty (rarely reached: see the notes).
    seed : ignored
    lam : float or None
        Entropy weight (natural-log code length). ``None``: picked from ``lambdas``.
    lambdas : tuple of float or None
        Candidates, tried in order (largest first). ``None``: the list of
        :data:`ECSQ_REFERENCE_LAMBDAS` for ``net`` ("pr-ecsq" when a mask is given).
    net : {"vgg19", "deepdta"}
        Which network's list to use.
    tol : float
        Stop when the cost decreases by at most this (absolute; 1e-3 in the reference).
    max_iter : int
        Safety cap on the passes (the reference has none).

    Notes
    -----
    Paper variant (:class:`~compactnn.quantize.ECSQ`): relative threshold ``1e-6`` and
    ``lambda`` tuned until at most (ideally exactly) ``k`` clusters remain. Reference:
    each pass assigns every weight to ``argmin_j (w - c_j)^2 - lam ln p_j`` (ties to the
    lowest cluster), then recomputes means and populations; it stops when the mean cost
    has dropped by at most ``tol`` or at most ``k`` clusters are non-empty. The lambda
    choice follows the authors' ``tune_lambda``: the first candidate whose run leaves at
    least ``k`` clusters, or the previous one if that was closer to ``k``; the last
    candidate if none does. The VGG19 lambdas (1e-13 to 1e-10) are negligible against
    squared weights, so the result keeps most of the ``3k`` starting groups: more than
    ``k`` levels, which breaks the "at most ``k``" guarantee of the paper variant.
    """

    lam: float | None = None
    lambdas: tuple[float, ...] | None = None
    net: str = "vgg19"
    tol: float = 1e-3
    max_iter: int = 1000

    name = "ecsq"
    levels_are_means = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lambdas is None and self.net not in ECSQ_REFERENCE_LAMBDAS:
            raise ValueError(f"no reference ECSQ lambda list for {self.net!r}; "
                             f"known: {', '.join(ECSQ_REFERENCE_LAMBDAS)}")

    def fit_shared(self, layers, masks=None):
        if self.lam is None and self.lambdas is None:
            lambdas = ECSQ_REFERENCE_LAMBDAS[self.net]["ecsq" if masks is None else "pr-ecsq"]
            return dataclasses.replace(self, lambdas=lambdas).fit_shared(layers, masks)
        return super().fit_shared(layers, masks)

    def _run(self, s: _onedim.Sorted, lam: float):
        n = s.xs.size
        groups = np.array_split(np.arange(n), 3 * self.k)
        starts = np.array([g[0] for g in groups if g.size])
        ends = np.array([g[-1] + 1 for g in groups if g.size])
        c = (s.cs[ends] - s.cs[starts]) / (ends - starts) + s.shift
        m = (ends - starts).astype(np.float64)
        cost_prev = math.inf
        for _ in range(self.max_iter):
            b = -lam * np.log(m / n)
            # Equal centroids (e.g. groups of pruned zeros): the one of lowest cost, then
            # lowest index, wins every weight, as argmin does.
            order = np.lexsort((np.arange(c.size), b, c))
            first = np.concatenate(([True], c[order][1:] != c[order][:-1]))
            keep = order[first]
            active, thr = _envelope(c[keep], b[keep])
            winners = keep[active]
            pos = np.searchsorted(s.xs, thr, side="right")
            st = np.concatenate(([0], pos))
            en = np.concatenate((pos, [n]))
            cnt = en - st
            full = cnt > 0
            cw, bw = c[winners][full], b[winners][full]
            st, en, cnt = st[full], en[full], cnt[full]
            s1 = s.cs[en] - s.cs[st]
            s2 = s.cs2[en] - s.cs2[st]
            d = cw - s.shift
            cost = float(np.sum(s2 - 2 * d * s1 + cnt * d * d + cnt * bw)) / n
            c = np.clip(s1 / cnt + s.shift, s.xs[st], s.xs[en - 1])
            m = cnt.astype(np.float64)
            if cost_prev - cost <= self.tol or c.size <= self.k:
                break
            cost_prev = cost
        # a value v goes to active cluster searchsorted(thr, v, "left") (threshold values
        # go down), then to its index among the non-empty ones
        return c, thr, (np.cumsum(full) - 1).astype(np.intp)

    def _fit_flat(self, x, rng):
        s = _onedim.prepare(x, squares=True)
        if self.lam is not None:
            lam = float(self.lam)
        else:
            lam, best_gap = self.lambdas[-1], math.inf
            for i, cand in enumerate(self.lambdas):
                n_c = self._run(s, cand)[0].size
                if n_c >= self.k:
                    closer = abs(n_c - self.k) <= best_gap or i == 0
                    lam = cand if closer else self.lambdas[i - 1]
                    break
                best_gap = abs(n_c - self.k)
        c, thr, remap = self._run(s, lam)
        return c, remap[_onedim.searchsorted(thr, x.astype(np.float64), side="left")]


#: Reference classes by method name (see :func:`compactnn.quantize.quantize`).
REFERENCE_QUANTIZERS: dict[str, type[Quantizer]] = {
    "cws": ReferenceCWS, "pws": ReferencePWS, "uq": ReferenceUQ, "ecsq": ReferenceECSQ,
}
