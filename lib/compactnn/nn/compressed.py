"""Torch modules whose forward pass runs through a compressed matrix format's kernel.

A :class:`CompressedLinear`, :class:`CompressedConv1d` or :class:`CompressedConv2d`
holds one :class:`~compactnn.formats.MatrixFormat` (the layer's ``(n, m)`` matrix
view, see :mod:`.layers`) plus the bias, and computes ``X @ W + b`` with the
format's own product.  Convolutions go through the im2col view
(``torch.nn.functional.unfold``), whose row order is the one of
:func:`~.layers.weight_matrix`.  Inference only, CPU float32 only.

:func:`to_compressed` returns a copy of a model with its compressed layers replaced.
"""
from __future__ import annotations

import copy
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..formats import FORMATS, MatrixFormat, get_format
from .layers import weight_matrix

__all__ = ["CompressedLinear", "CompressedConv1d", "CompressedConv2d", "to_compressed",
           "set_default_threads", "get_default_threads", "computable_in_c"]

log = logging.getLogger(__name__)

_DEFAULT_THREADS: int | None = None


def set_default_threads(threads: int | None) -> None:
    """Threads of every compressed module whose own ``threads`` is None (None: all cores)."""
    global _DEFAULT_THREADS
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    _DEFAULT_THREADS = None if threads is None else int(threads)


def get_default_threads() -> int | None:
    """The value set by :func:`set_default_threads`."""
    return _DEFAULT_THREADS


def computable_in_c(cls: type[MatrixFormat]) -> bool:
    """Whether a format's product runs in its own C kernel (it binds one)."""
    return cls._bind_kernel is not MatrixFormat._bind_kernel


class _Compressed(nn.Module):
    def __init__(self, matrix: MatrixFormat, bias: torch.Tensor | None, threads: int | None = None):
        super().__init__()
        if not isinstance(matrix, MatrixFormat):
            raise TypeError(f"matrix must be a MatrixFormat, got {type(matrix).__name__}")
        if np.dtype(matrix.dtype) != np.float32:
            raise TypeError(f"compressed modules compute in float32, the matrix is {matrix.dtype}")
        self.matrix = matrix
        self.threads = threads
        if bias is not None:
            bias = bias.detach().to(torch.float32).cpu().clone()
            if bias.shape != (matrix.shape[1],):
                raise ValueError(f"bias of shape {tuple(bias.shape)} for {matrix.shape[1]} outputs")
        self.register_buffer("bias", bias)

    def _check(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        if not torch.is_tensor(x):
            raise TypeError(f"{name} takes a torch tensor, got {type(x).__name__}")
        if x.device.type != "cpu":
            raise RuntimeError(f"{name} runs on the CPU kernels: move the input with x.cpu() "
                               f"(got a tensor on {x.device})")
        if x.dtype != torch.float32:
            raise TypeError(f"{name} takes float32 input, got {x.dtype}")
        if x.requires_grad and torch.is_grad_enabled():
            raise RuntimeError(f"{name} is inference only: run it under torch.no_grad() "
                               "or pass x.detach()")

    def _product(self, x2: torch.Tensor) -> torch.Tensor:
        threads = self.threads if self.threads is not None else _DEFAULT_THREADS
        arr = np.ascontiguousarray(x2.detach().numpy())
        out = torch.from_numpy(np.ascontiguousarray(self.matrix.matmul(arr, threads=threads)))
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        n, m = self.matrix.shape
        return (f"{n}x{m} format={self.matrix.format} nbytes={self.matrix.nbytes} "
                f"psi={self.matrix.psi:.4g} threads={self.threads}")


class CompressedLinear(_Compressed):
    """``y = x W + b`` with ``W`` (``in x out``) stored in a matrix format.

    Parameters
    ----------
    matrix : MatrixFormat
        The ``(in_features, out_features)`` matrix, float32.
    bias : torch.Tensor or None
    threads : int or None
        Kernel threads; None uses :func:`set_default_threads`'s value.
    """

    @classmethod
    def from_module(cls, module: nn.Linear, matrix: MatrixFormat, threads=None) -> "CompressedLinear":
        """Wrap ``matrix`` (the layer's compressed weight) with the layer's bias."""
        if tuple(matrix.shape) != tuple(weight_matrix(module).shape):
            raise ValueError(f"matrix {matrix.shape} does not fit {module}")
        return cls(matrix, module.bias, threads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        n, m = self.matrix.shape
        if x.shape[-1] != n:
            raise ValueError(f"input has {x.shape[-1]} features, the layer takes {n}")
        return self._product(x.reshape(-1, n)).reshape(*x.shape[:-1], m)


class _CompressedConv(_Compressed):
    _dims = 2

    def __init__(self, matrix, bias, kernel_size, stride=1, padding=0, dilation=1,
                 threads=None, pre_pad=None, pad_mode="constant"):
        super().__init__(matrix, bias, threads)
        d = self._dims
        as_tuple = lambda v: tuple(int(a) for a in (v if isinstance(v, (tuple, list)) else (v,) * d))
        self.kernel_size, self.stride = as_tuple(kernel_size), as_tuple(stride)
        self.padding, self.dilation = as_tuple(padding), as_tuple(dilation)
        self.pre_pad, self.pad_mode = pre_pad, pad_mode
        if matrix.shape[0] % int(np.prod(self.kernel_size)):
            raise ValueError(f"matrix of {matrix.shape[0]} rows for a {self.kernel_size} kernel")
        self.in_channels = matrix.shape[0] // int(np.prod(self.kernel_size))

    @classmethod
    def from_module(cls, module, matrix: MatrixFormat, threads=None):
        """Wrap ``matrix`` with the conv layer's bias, stride, padding and dilation."""
        if module.groups != 1:
            raise ValueError(f"{type(module).__name__} with groups={module.groups}: compressed "
                             "convolutions support groups=1 only")
        if tuple(matrix.shape) != tuple(weight_matrix(module).shape):
            raise ValueError(f"matrix {matrix.shape} does not fit {module}")
        pre_pad, mode, padding = None, "constant", module.padding
        if isinstance(padding, str) or module.padding_mode != "zeros":
            pre_pad = tuple(module._reversed_padding_repeated_twice)
            mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
            padding = 0
        return cls(matrix, module.bias, module.kernel_size, module.stride, padding,
                   module.dilation, threads, pre_pad, mode)

    def _conv(self, x4: torch.Tensor, ks, st, pd, dl) -> torch.Tensor:
        b = x4.shape[0]
        n, m = self.matrix.shape
        cols = F.unfold(x4, ks, dilation=dl, padding=pd, stride=st)  # (b, n, L)
        length = cols.shape[2]
        out = self._product(cols.transpose(1, 2).reshape(b * length, n))
        return out.reshape(b, length, m).transpose(1, 2)  # (b, m, L)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if x.dim() != self._dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} takes (batch, {self.in_channels}, ...) input "
                             f"with {self._dims} spatial dims, got shape {tuple(x.shape)}")
        return x if self.pre_pad is None else F.pad(x, self.pre_pad, mode=self.pad_mode)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}")


class CompressedConv2d(_CompressedConv):
    """A 2-D convolution (groups = 1) through the im2col view of a compressed matrix."""

    _dims = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._prepare(x)
        h, w = x.shape[2:]
        oh, ow = ((s + 2 * p - d * (k - 1) - 1) // t + 1 for s, p, d, k, t in
                  zip((h, w), self.padding, self.dilation, self.kernel_size, self.stride))
        out = self._conv(x, self.kernel_size, self.stride, self.padding, self.dilation)
        return out.reshape(x.shape[0], -1, oh, ow)


class CompressedConv1d(_CompressedConv):
    """A 1-D convolution (groups = 1): the 2-D im2col view of a height-1 input."""

    _dims = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._prepare(x)
        return self._conv(x.unsqueeze(2), (1, *self.kernel_size), (1, *self.stride),
                          (0, *self.padding), (1, *self.dilation))


_WRAPPERS = {nn.Linear: CompressedLinear, nn.Conv1d: CompressedConv1d, nn.Conv2d: CompressedConv2d}


def _build(W: np.ndarray, choice: str) -> MatrixFormat:
    if choice != "smallest":
        return get_format(choice).from_dense(W)
    best = None
    for name, cls in sorted(FORMATS.items()):
        if not computable_in_c(cls):
            continue
        try:
            M = cls.from_dense(W)
        except (ValueError, TypeError) as exc:  # a format that cannot hold this matrix
            log.debug("format %s skipped: %s", name, exc)
            continue
        if best is None or M.nbytes < best.nbytes:
            best = M
    if best is None:
        raise ValueError("no C-computable format can store this matrix")
    return best


def to_compressed(model: nn.Module, hook=None, formats="smallest", threads: int | None = None) -> nn.Module:
    """A copy of ``model`` with its compressed layers running on compressed formats.

    Parameters
    ----------
    model : nn.Module
    hook : CompressionHook or None
        Its layers are replaced; None replaces every ``nn.Linear``, ``nn.Conv1d``
        and ``nn.Conv2d``.
    formats : str or dict
        A format name, ``"smallest"`` (per layer, the fewest bytes among the
        formats whose product runs in C), or a dict layer name -> either;
        layers missing from the dict use ``"smallest"``.
    threads : int or None
        Kernel threads of every new module.

    Returns
    -------
    nn.Module
        The copy, in eval mode; the original model is not changed.
    """
    out = copy.deepcopy(model).eval()
    if hook is not None:
        names = [lc.name for lc in hook.layers]
    else:
        names = [n for n, m in out.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d,
                                                                     nn.Conv3d))]
    if isinstance(formats, dict):
        unknown = sorted(set(formats) - set(names))
        if unknown:
            raise ValueError(f"formats names layers that are not compressed: {', '.join(unknown)}")
    for name in names:
        module = out.get_submodule(name)
        wrapper = _WRAPPERS.get(type(module))
        if wrapper is None:
            raise TypeError(f"layer {name!r}: no compressed module for {type(module).__name__}")
        choice = formats.get(name, "smallest") if isinstance(formats, dict) else formats
        W = weight_matrix(module).detach().cpu().numpy().astype(np.float32)
        new = wrapper.from_module(module, _build(np.ascontiguousarray(W), choice), threads)
        parent, _, attr = name.rpartition(".")
        setattr(out.get_submodule(parent) if parent else out, attr, new)
        log.debug("layer %s -> %r", name, new.matrix)
    return out
