"""Argument validation shared by the pruning and weight-sharing functions.

Every public entry point calls these first, so that the numerical code below them can
assume finite, non-empty float arrays and a valid ``k``.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_weights(w, name: str = "w") -> np.ndarray:
    """Return ``w`` as an ndarray after checking dtype, size and finiteness.

    Raises
    ------
    TypeError
        If the dtype is not float32 or float64 (integers and float16 are refused
        rather than silently converted: the codebook dtype follows the input).
    ValueError
        If the array is empty or holds NaN or Inf.
    """
    arr = np.asarray(w)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to prune or quantize")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return arr


def check_k(k) -> int:
    """Return ``k`` as an int; it must be an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1 (number of quantization levels), got {k}")
    return int(k)


def check_percentile(p) -> float:
    """Return ``p`` as a float; it must lie in [0, 100)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number, got {type(p).__name__}")
    if not (0 <= p < 100):  # also rejects NaN
        raise ValueError(f"p must lie in [0, 100), got {p}")
    return p


def check_mask(mask, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a boolean ndarray of the given shape."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}, the weights have shape {tuple(shape)}")
    return arr
