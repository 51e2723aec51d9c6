"""The base class of the weight-sharing methods and the Pr-X (mask) convention.

A method subclasses :class:`Quantizer` and implements only :meth:`Quantizer._fit_flat`,
which sees a 1-D, finite, non-empty array and returns float64 levels plus an index per
value. Everything the methods have in common lives here: validation, the cast of the
codebook to the weights' dtype, dropping unused levels, the exact zero of Pr-X, and the
unified (shared-codebook) mode.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ._checks import check_k, check_mask, check_weights


def finalize(levels: np.ndarray, idx: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Cast sorted float64 ``levels`` to ``dtype``; keep only used, distinct levels.

    The cast to float32 may merge two close levels, and a method may produce levels that
    no value maps to; both are removed here, so every codebook entry is used and the
    codebook is strictly increasing. ``-0.0`` becomes ``+0.0``.
    """
    cast = np.asarray(levels, dtype=np.float64).astype(dtype) + dtype.type(0.0)
    used = np.bincount(idx, minlength=cast.size) > 0
    # Rounding is monotone, so levels that the cast made equal are adjacent.
    distinct = np.concatenate(([True], cast[1:] != cast[:-1]))
    group = np.cumsum(distinct) - 1
    group_used = np.bincount(group[used], minlength=group[-1] + 1) > 0
    level_map = (np.cumsum(group_used) - 1).astype(np.int32)[group]
    return cast[distinct][group_used], level_map[idx]


def add_zero(codebook: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Insert an exact ``0.0`` in ``codebook`` (once) and remap ``idx``.

    Returns the new codebook, the remapped indices and the index of zero. A level that
    is already exactly zero merges with the inserted one.
    """
    zero = codebook.dtype.type(0.0)
    with_zero = np.union1d(codebook, np.array([zero], dtype=codebook.dtype)) + zero
    remap = np.searchsorted(with_zero, codebook).astype(np.int32)
    return with_zero, remap[idx], int(np.searchsorted(with_zero, zero))


@dataclasses.dataclass(frozen=True)
class Quantizer:
    """Base class of the weight-sharing methods.

    Parameters
    ----------
    k : int
        Maximum number of distinct values (for Pr-X: of nonzero values).
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Source of randomness, passed to :func:`numpy.random.default_rng` at every
        :meth:`fit`, so that fitting twice with an integer seed gives the same result.
        Deterministic methods ignore it. ``None`` draws fresh entropy.

    Notes
    -----
    Output convention, shared by all methods: ``codebook`` is strictly increasing, has the
    input's float dtype, and every entry is used by at least one weight (except the zero
    added by Pr-X, which is always present); ``indices`` is int32 with the input's shape
    and ``codebook[indices]`` is the quantized array.

    **Pr-X convention.** When a ``mask`` is given, only the kept weights
    (``mask == True``) are quantized, into at most ``k`` levels; then ``0.0`` is added to
    the codebook exactly once and every pruned entry indexes it. The codebook therefore
    always contains ``0.0`` when a mask is given, even if nothing was pruned, and has at
    most ``k + 1`` entries. If a level fitted on the kept weights is exactly ``0.0`` it
    merges with that zero. A mask that prunes everything gives the codebook ``[0.0]``.
    """

    k: int
    seed: object = 0

    name: ClassVar[str] = ""
    #: Levels are cluster means (CWS, ECSQ): clipped to the data's range after fitting.
    levels_are_means: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_k(self.k)

    # -- to implement -------------------------------------------------------------
    def _fit_flat(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Fit ``x`` (1-D, finite, non-empty, float32/64) with at most ``self.k`` levels.

        Returns sorted float64 levels and an integer index into them for each value.
        """
        raise NotImplementedError

    # -- public -------------------------------------------------------------------
    def fit(self, w, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """Quantize one array.

        Parameters
        ----------
        w : ndarray of float32 or float64
            Weights, any shape, finite and non-empty.
        mask : ndarray of bool, optional
            Kept weights (Pr-X convention, see the class notes).

        Returns
        -------
        codebook : ndarray, dtype of ``w``
        indices : ndarray of int32, shape of ``w``
        """
        return self.fit_shared([w], None if mask is None else [mask])[0]

    def fit_shared(self, layers: Sequence, masks: Sequence | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Fit ONE codebook on all ``layers`` together and share it (unified mode).

        The codebook is fitted on the concatenation of the layers' weights (only the kept
        ones when ``masks`` is given). All layers must have the same dtype. Returns one
        ``(codebook, indices)`` pair per layer; the codebook object is the same for all.
        """
        arrays, masks = _check_layers(layers, masks)
        dtype = arrays[0].dtype
        if masks is None:
            parts = [a.reshape(-1) for a in arrays]
        else:
            parts = [a[m] for a, m in zip(arrays, masks)]
        x = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if x.size:
            levels, idx = self._fit_flat(x, np.random.default_rng(self.seed))
            if self.levels_are_means:
                # Means computed from prefix sums can land a rounding error outside the
                # data's range; levels stay within it (finalize merges levels made equal).
                levels = np.clip(levels, float(x.min()), float(x.max()))
            codebook, idx = finalize(levels, np.asarray(idx), dtype)
        else:  # every weight pruned
            codebook, idx = np.zeros(0, dtype=dtype), np.zeros(0, dtype=np.int32)
        zero_at = 0
        if masks is not None:
            codebook, idx, zero_at = add_zero(codebook, idx)
        out, start = [], 0
        for a, part, m in zip(arrays, parts, masks if masks is not None else [None] * len(arrays)):
            piece = idx[start:start + part.size]
            start += part.size
            if m is None:
                out.append((codebook, piece.reshape(a.shape)))
            else:
                full = np.full(a.shape, zero_at, dtype=np.int32)
                full[m] = piece
                out.append((codebook, full))
        return out


def _check_layers(layers: Sequence, masks: Sequence | None):
    if isinstance(layers, np.ndarray) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty sequence of arrays")
    arrays = [check_weights(w, name=f"layer {i}") for i, w in enumerate(layers)]
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(
            f"all layers must share one dtype for a shared codebook, got {sorted(map(str, dtypes))}")
    if masks is None:
        return arrays, None
    if isinstance(masks, np.ndarray) or not isinstance(masks, Sequence) or len(masks) != len(arrays):
        raise ValueError(f"masks must be None or a sequence of {len(arrays)} boolean arrays, one per layer")
    return arrays, [check_mask(m, a.shape, name=f"mask {i}") for i, (a, m) in enumerate(zip(arrays, masks))]
