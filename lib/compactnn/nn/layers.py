"""Which layers of a network are compressed, and their weights as matrices.

The paper treats every compressible layer as a matrix ``W`` with ``n`` rows
(inputs) and ``m`` columns (outputs), the layer computing ``X W``:

- dense (``nn.Linear``, weight ``(out, in)``): ``W = weight.T``, shape ``(in, out)``;
- conv (``nn.Conv1d``/``nn.Conv2d``/``nn.Conv3d``, weight ``(out, in, *kernel)``):
  the im2col view ``W = weight.reshape(out, -1).T``, shape ``(in*kh*kw, out)``,
  rows ordered channel-major as ``torch.nn.functional.unfold`` orders them.

Both views share memory with ``weight``. Embeddings, biases and batch-norm
parameters are not compressed (they count as float32 in the occupancy).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["KINDS", "LayerRef", "compressible_layers", "weight_matrix", "set_weight_matrix"]

#: The two families of compressible layers, each with its own p, k and codebook.
KINDS = ("dense", "conv")

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.Linear):
        return "dense"
    if isinstance(module, _CONV):
        return "conv"
    return None


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """The ``(n, m)`` matrix view of a dense or conv layer's weight.

    Parameters
    ----------
    module : nn.Linear or nn.Conv1d/2d/3d

    Returns
    -------
    torch.Tensor
        A view (no copy) of ``module.weight``; writing to it writes the weight.
    """
    if _kind(module) is None:
        raise TypeError(f"not a dense or conv layer: {type(module).__name__}")
    w = module.weight
    return w.reshape(w.shape[0], -1).T


def set_weight_matrix(module: nn.Module, matrix) -> None:
    """Write an ``(n, m)`` matrix (tensor or array) into a layer's weight."""
    view = weight_matrix(module)
    matrix = torch.as_tensor(matrix, dtype=view.dtype, device=view.device)
    if matrix.shape != view.shape:
        raise ValueError(f"matrix of shape {tuple(matrix.shape)} for a layer of shape {tuple(view.shape)}")
    with torch.no_grad():
        view.copy_(matrix)


@dataclass(frozen=True)
class LayerRef:
    """One compressible layer of a model.

    Attributes
    ----------
    name : str
        Qualified module name (``model.get_submodule(name)``).
    kind : str
        ``"dense"`` or ``"conv"``.
    module : nn.Module
        The layer itself.
    """

    name: str
    kind: str
    module: nn.Module

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)``: inputs (rows) by outputs (columns) of the matrix view."""
        w = self.module.weight
        return (w[0].numel(), w.shape[0])

    def matrix(self) -> torch.Tensor:
        """The weight as an ``(n, m)`` view, see :func:`weight_matrix`."""
        return weight_matrix(self.module)


def compressible_layers(model: nn.Module) -> dict[str, list[LayerRef]]:
    """The model's dense and conv layers, in definition order.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    dict
        ``{"dense": [LayerRef, ...], "conv": [LayerRef, ...]}``.
    """
    out: dict[str, list[LayerRef]] = {kind: [] for kind in KINDS}
    for name, module in model.named_modules():
        kind = _kind(module)
        if kind is not None:
            out[kind].append(LayerRef(name, kind, module))
    return out
