"""Lossy compression of weights: magnitude pruning and weight sharing (NumPy only).

- :func:`magnitude_mask` — per-layer pruning at a percentile (SPEC section 2, "Pr");
- four weight-sharing methods, each mapping an array to ``(codebook, indices)``:
  CWS (1-D k-means), PWS (unbiased stochastic rounding on quantiles), UQ (uniform grid)
  and ECSQ (entropy-constrained); registered by name in :data:`QUANTIZERS`;
- Pr-X: pass a ``mask`` to quantize only the kept weights, zero staying an exact
  separate codebook value;
- :func:`quantize_layers` — per-layer or unified (one shared codebook) quantization;
- ``variant="paper"`` (default, the paper's text) or ``"reference"`` (the authors'
  code, :mod:`.reference`) for every method and for Pr-X.

Example::

    mask = magnitude_mask(w, 90)
    codebook, idx = quantize(w, "cws", k=32, seed=0, mask=mask)
    pairs = quantize_layers([w1, w2], "pws", k=32, seed=0, unified=True)
"""
from .base import Quantizer
from .cws import CWS
from .ecsq import ECSQ, ecsq_lambda, ecsq_lloyd
from .prune import magnitude_mask, n_pruned
from .pws import PWS
from .reference import (ECSQ_REFERENCE_LAMBDAS, REFERENCE_QUANTIZERS, RULES,
                        UQ_REFERENCE_DELTAS, VARIANTS, distinct_nonzero_values)
from .registry import QUANTIZERS, get_quantizer, quantize, quantize_layers, register_quantizer
from .uq import UQ, uq_step

__all__ = [
    "CWS", "ECSQ", "ECSQ_REFERENCE_LAMBDAS", "PWS", "QUANTIZERS", "REFERENCE_QUANTIZERS",
    "RULES", "UQ", "UQ_REFERENCE_DELTAS", "VARIANTS", "Quantizer",
    "distinct_nonzero_values", "ecsq_lambda", "ecsq_lloyd", "get_quantizer", "magnitude_mask", "n_pruned",
    "quantize", "quantize_layers", "register_quantizer", "uq_step",
]
