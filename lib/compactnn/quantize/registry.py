"""Weight-sharing methods by name, so that configurations can select them by string."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UnknownNameError
from .base import Quantizer
from .cws import CWS
from .ecsq import ECSQ
from .pws import PWS
from .reference import REFERENCE_QUANTIZERS, VARIANTS, check_variant
from .uq import UQ

QUANTIZERS: dict[str, type[Quantizer]] = {}


def register_quantizer(cls: type[Quantizer]) -> type[Quantizer]:
    """Class decorator adding a :class:`Quantizer` subclass to :data:`QUANTIZERS` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    QUANTIZERS[cls.name] = cls
    return cls


for _cls in (CWS, PWS, UQ, ECSQ):
    register_quantizer(_cls)


def get_quantizer(name: str, variant: str = "paper") -> type[Quantizer]:
    """The quantizer class registered as ``name`` (case-insensitive).

    Instantiate it with ``k`` and the method's options, e.g.
    ``get_quantizer("cws")(k=32, seed=0).fit(w)``.

    Parameters
    ----------
    name : str
        A key of :data:`QUANTIZERS`.
    variant : {"paper", "reference"}
        ``"paper"``: the method as the paper's text describes it (:data:`QUANTIZERS`).
        ``"reference"``: as the authors' code runs it
        (:data:`~compactnn.quantize.reference.REFERENCE_QUANTIZERS`; the differences are
        listed in :mod:`compactnn.quantize.reference`).

    Raises
    ------
    UnknownNameError
        If no method is registered under ``name`` (the message lists the valid names).
    ValueError
        If ``variant`` is not one of :data:`~compactnn.quantize.reference.VARIANTS`.
    """
    if not isinstance(name, str):
        raise TypeError(f"quantizer name must be a string, got {type(name).__name__}")
    check_variant(variant, VARIANTS)
    try:
        cls = QUANTIZERS[name.lower()]
    except KeyError:
        raise UnknownNameError(
            f"unknown quantizer {name!r}; valid names: {', '.join(sorted(QUANTIZERS))}") from None
    return REFERENCE_QUANTIZERS.get(cls.name, cls) if variant == "reference" else cls


def quantize(w, method: str, k: int, *, seed=0, mask=None, variant: str = "paper",
             **options) -> tuple[np.ndarray, np.ndarray]:
    """Quantize one array with the named method.

    Parameters
    ----------
    w : ndarray of float32 or float64
        Weights, any shape, finite and non-empty.
    method : str
        A key of :data:`QUANTIZERS`: ``"cws"``, ``"pws"``, ``"uq"`` or ``"ecsq"``.
    k : int
        Maximum number of distinct (for Pr-X: nonzero) values.
    seed : int, numpy.random.Generator or None
        Randomness of the method (ignored by the deterministic ones).
    mask : ndarray of bool, optional
        Kept weights. When given, Pr-X semantics: only kept weights are quantized and the
        codebook holds an exact ``0.0``, indexed by every pruned entry (see
        :class:`~compactnn.quantize.base.Quantizer`).
    variant : {"paper", "reference"}
        ``"paper"`` (default): the paper's text; with a mask only the kept weights are
        quantized. ``"reference"``: the authors' code; with a mask the whole pruned
        matrix, zeros included, is quantized and the result multiplied by the mask, CWS
        is mini-batch k-means, UQ rounds onto ``delta * round(w / delta)`` with ``delta``
        from a fixed list, ECSQ stops at an absolute cost change of 1e-3 and takes
        lambda from a fixed list (and may leave more than ``k`` values). See
        :mod:`compactnn.quantize.reference`.
    **options
        Method-specific options (e.g. ``init`` for CWS, ``lam`` for ECSQ; ``net`` or
        ``lambdas`` for the reference ECSQ).

    Returns
    -------
    codebook : ndarray
        Strictly increasing, dtype of ``w``.
    indices : ndarray of int32
        Shape of ``w``; ``codebook[indices]`` is the quantized array.
    """
    return get_quantizer(method, variant)(k, seed, **options).fit(w, mask)


def quantize_layers(layers: Sequence, method: str, k: int, *, masks: Sequence | None = None,
                    unified: bool = True, seed=0, variant: str = "paper",
                    **options) -> list[tuple[np.ndarray, np.ndarray]]:
    """Quantize several layers, with one shared codebook or one codebook each.

    Parameters
    ----------
    layers : sequence of ndarray
        Weights of each layer (float32 or float64, any shapes).
    method, k, variant, **options
        As in :func:`quantize`.
    masks : sequence of ndarray of bool, optional
        One mask per layer (Pr-X semantics, see :func:`quantize`).
    unified : bool
        ``True``: fit ONE codebook on the concatenation of all layers' (kept) weights and
        share it (the 2021 paper's unified quantization); the layers must then have the
        same dtype, and every pair holds the same codebook object. ``False``: fit each
        layer on its own.
    seed : int, numpy.random.Generator or None
        In unified mode the single fit uses ``default_rng(seed)``, so one layer gives the
        same result as :func:`quantize`. In per-layer mode, layer ``i`` uses the ``i``-th
        of ``default_rng(seed).spawn(len(layers))``: independent streams, reproducible.

    Returns
    -------
    list of (codebook, indices)
        One pair per layer, in order.
    """
    cls = get_quantizer(method, variant)
    quantizer = cls(k, seed, **options)
    if unified:
        return quantizer.fit_shared(layers, masks)
    if isinstance(layers, np.ndarray) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty sequence of arrays")
    if masks is None:
        masks = [None] * len(layers)
    elif isinstance(masks, np.ndarray) or not isinstance(masks, Sequence) or len(masks) != len(layers):
        raise ValueError(f"masks must be None or a sequence of {len(layers)} boolean arrays, one per layer")
    rngs = np.random.default_rng(seed).spawn(len(layers))
    return [cls(k, rng, **options).fit(w, m)
            for w, m, rng in zip(layers, masks, rngs)]
