"""compactnn: compact representations of convolutional neural networks.

Reproduces Marinò, Petrini, Malchiodi, Frasca (2021), *Compact representations of
convolutional neural networks via weight pruning and quantization*:

- lossy compression (:mod:`compactnn.quantize`): magnitude pruning and weight
  sharing (CWS, PWS, UQ, ECSQ), with retraining in :mod:`compactnn.nn`;
- lossless formats (:mod:`compactnn.formats`): dense, CSR, CSC, COO, IM, HAM and
  sHAM (and more), all computing ``X @ W`` directly on the compressed data.
"""
from .errors import CompactnnError, FormatError, KernelError, UnknownNameError, UsageError

__version__ = "0.1.0"

__all__ = ["CompactnnError", "FormatError", "KernelError", "UnknownNameError", "UsageError", "__version__"]
