"""The networks of the paper, plus a small one for the embedded default.

- :class:`VGG19`: the Keras VGG19 of the "cifar-10-cnn" collection as the
  authors modified it (github.com/giosumarin/sHAM): 16 conv 3x3 layers with
  batch norm and ReLU, five max-pools, then a dense block 512 -> 4096 -> 4096 ->
  classes, each dense layer followed by batch norm (the output one too, as in
  the reference), the hidden ones by ReLU and dropout 0.5.
- :class:`DeepDTA`: drug-target affinity regression (Öztürk et al. 2018) with
  the original hyper-parameters.
- :class:`SmallVGG`: a VGG-shaped network small enough to train on two CPU
  cores in about a minute; the embedded default of the pipeline.

Models are found by name with :func:`get_model`.
"""
from __future__ import annotations

import json
import math
from typing import Callable

import torch
from torch import nn

from ..errors import UnknownNameError

__all__ = ["VGG19", "DeepDTA", "SmallVGG", "MODELS", "get_model", "save_model", "load_model",
           "load_conv_weights"]

# Conv widths of VGG19's five blocks ("M" = 2x2 max-pool).
_VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _he_normal(model: nn.Module) -> None:
    """Keras ``he_normal`` on every conv/dense kernel (fan-in), zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _pad_to_multiple(size: int, multiple: int) -> tuple[int, int]:
    """(before, after) zero padding that brings ``size`` to a multiple."""
    target = multiple * math.ceil(size / multiple)
    extra = target - size
    return extra // 2, extra - extra // 2


class VGG19(nn.Module):
    """VGG19 for small images (CIFAR-10, MNIST).

    Parameters
    ----------
    num_classes : int
        Outputs of the last dense layer.
    in_channels : int
        3 for CIFAR-10, 1 for MNIST.
    input_size : int
        Height = width of the input images. The five max-pools need a multiple
        of 32: other sizes are zero-padded symmetrically by the model's first
        layer (``nn.ZeroPad2d``), so MNIST's 28x28 digits become 32x32 with
        2 zero pixels on every side and the data stay 28x28. After the last
        pool the map is 1x1x512, so the dense layers are 512x4096, 4096x4096
        and 4096x``num_classes``.
    dropout : float
        Dropout after each hidden dense layer (0.5 in the reference).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
                 dropout: float = 0.5) -> None:
        super().__init__()
        before, after = _pad_to_multiple(input_size, 32)
        layers: list[nn.Module] = [nn.ZeroPad2d((before, after, before, after))] if after else []
        cin = in_channels
        for v in _VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += _conv_bn_relu(cin, v)
                cin = v
        self.features = nn.Sequential(*layers)
        side = (input_size + before + after) // 32
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(512 * side * side, 4096), nn.BatchNorm1d(4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.BatchNorm1d(4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes), nn.BatchNorm1d(num_classes),
        )
        _he_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)`` (softmax is in the loss)."""
        return self.classifier(self.features(x))


class _Branch(nn.Module):
    """Embedding, three valid 1-D convolutions with ReLU, global max-pool."""

    def __init__(self, vocab_size: int, embed_dim: int, num_filters: int, filter_length: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        widths = (embed_dim, num_filters, 2 * num_filters, 3 * num_filters)
        self.convs = nn.ModuleList(nn.Conv1d(widths[i], widths[i + 1], filter_length)
                                   for i in range(3))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens).transpose(1, 2)  # (batch, embed, length)
        for conv in self.convs:
            h = torch.relu(conv(h))
        return h.amax(dim=2)


class DeepDTA(nn.Module):
    """DeepDTA: affinity of a (ligand SMILES, protein sequence) pair.

    Each input is a sequence of integer character codes (0 = padding). Each
    branch embeds the codes in 128 dimensions and applies three valid 1-D
    convolutions of ``num_filters``, 2x and 3x that many filters, with ReLU,
    then a global max-pool; the two 3*``num_filters`` vectors are concatenated
    and go through dense layers 1024, 1024, 512 (ReLU, dropout 0.1 after the
    first two) and one linear output.

    Parameters
    ----------
    smiles_vocab, protein_vocab : int
        Embedding sizes, padding code included (DeepDTA: 64 + 1 and 25 + 1).
    embed_dim : int
        Embedding width (128).
    num_filters : int
        Filters of the first conv layer of each branch (32).
    smiles_filter_length, protein_filter_length : int
        Kernel sizes (4 and 8, DeepDTA's reported best).
    dropout : float
        Dropout after the first two dense layers (0.1).
    """

    def __init__(self, smiles_vocab: int = 65, protein_vocab: int = 26, embed_dim: int = 128,
                 num_filters: int = 32, smiles_filter_length: int = 4,
                 protein_filter_length: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.ligand = _Branch(smiles_vocab, embed_dim, num_filters, smiles_filter_length)
        self.protein = _Branch(protein_vocab, embed_dim, num_filters, protein_filter_length)
        self.head = nn.Sequential(
            nn.Linear(6 * num_filters, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 512), nn.ReLU(inplace=True),
            nn.Linear(512, 1),
        )
        for m in self.head:
            if isinstance(m, nn.Linear):  # Keras defaults: glorot_uniform, zero bias
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.head[-1].weight, std=0.05)  # kernel_initializer='normal'

    def forward(self, ligand: torch.Tensor, protein: torch.Tensor) -> torch.Tensor:
        """Predicted affinity, shape ``(batch,)``."""
        h = torch.cat([self.ligand(ligand), self.protein(protein)], dim=1)
        return self.head(h).squeeze(1)


class SmallVGG(nn.Module):
    """A small VGG-style classifier for the embedded default (MNIST 5k).

    Two conv blocks (``width``, 2x``width`` channels, two 3x3 conv + batch norm
    + ReLU each, then a 2x2 max-pool), then a dense block ``flat`` -> ``hidden``
    -> ``hidden`` -> classes with ReLU and dropout, so it has the same kinds of
    layers as VGG19 (conv and dense, several of each) at a size that trains on
    two CPU cores in about a minute.

    Parameters
    ----------
    num_classes : int
        Outputs.
    in_channels : int
        Input channels.
    input_size : int
        Height = width of the input (any size divisible by 4 keeps every
        pixel; others are floored by the pools).
    width : int
        Channels of the first block.
    hidden : int
        Units of the two hidden dense layers.
    dropout : float
        Dropout after each hidden dense layer.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 width: int = 16, hidden: int = 128, dropout: float = 0.25) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, width), *_conv_bn_relu(width, width), nn.MaxPool2d(2),
            *_conv_bn_relu(width, 2 * width), *_conv_bn_relu(2 * width, 2 * width),
            nn.MaxPool2d(2),
        )
        side = input_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        _he_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``."""
        return self.classifier(self.features(x))


MODELS: dict[str, Callable[..., nn.Module]] = {
    "vgg19": VGG19,
    "deepdta": DeepDTA,
    "small_vgg": SmallVGG,
}


def get_model(name: str, **kwargs) -> nn.Module:
    """Build a registered network by name.

    Parameters
    ----------
    name : str
        One of ``MODELS``: ``"vgg19"``, ``"deepdta"``, ``"small_vgg"``.
    **kwargs
        Passed to the model's constructor (``num_classes``, ``in_channels``,
        ``input_size``, ...).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    compactnn.errors.UnknownNameError
        If ``name`` is not registered.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise UnknownNameError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    return factory(**kwargs)


def save_model(model: nn.Module, path, net: str | None = None, kwargs: dict | None = None) -> None:
    """Save a model's state dict as safetensors, with what rebuilds it.

    Parameters
    ----------
    model : nn.Module
    path : str or path-like
    net : str or None
        Registry name of the network; None for a user's own architecture
        (:func:`load_model` then needs ``model=``).
    kwargs : dict or None
        Constructor arguments (JSON-serialisable), stored in the metadata.
    """
    from safetensors.torch import save_file

    from .._files import write_with

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"kwargs": json.dumps(kwargs or {})}
    if net is not None:
        meta["net"] = net
    # through a unique temporary file and one rename, like every file the package writes
    write_with(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def load_model(path, model: nn.Module | None = None) -> nn.Module:
    """Rebuild a model written by :func:`save_model` (CPU, eval mode).

    Parameters
    ----------
    path : str or path-like
    model : nn.Module or None
        The architecture to load the weights into; required when the file holds
        a user's own architecture (no package network name), None builds the
        package network the file names.

    Raises
    ------
    compactnn.errors.FormatError
        The file is not a safetensors file written by :func:`save_model` (a
        compressed model file is read with ``load_compressed``), or its tensors
        do not fit the architecture.
    compactnn.errors.UsageError
        The file holds a user architecture and no ``model=`` was given.
    """
    import os

    from safetensors import safe_open
    from safetensors.torch import load_file

    from ..errors import FormatError, UsageError

    where = os.fspath(path)
    if not os.path.isfile(where):
        if not os.path.exists(where):
            raise FileNotFoundError(f"model file {where!r} not found")
        raise FormatError(f"{where}: not a regular file")
    try:
        with safe_open(where, framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(where)
    except Exception as exc:  # safetensors' own errors: not such a file, truncated
        raise FormatError(f"{where}: not a model file written by save_model "
                          f"({type(exc).__name__}: {exc})") from None
    if "compactnn" in meta:
        raise FormatError(f"{where} is a compressed model file: read it with "
                          "compactnn.nn.load_compressed")
    if model is None:
        if "net" not in meta:
            raise UsageError(f"{where} holds a user architecture (no package network name): "
                             "pass it as load_model(path, model=MyNet())")
        try:
            kwargs = json.loads(meta.get("kwargs", "{}"))
        except ValueError:
            raise FormatError(f"{where}: bad constructor arguments in the metadata") from None
        model = get_model(meta["net"], **kwargs)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise FormatError(f"{where}: the tensors do not fit the architecture "
                          f"({' '.join(str(exc).split())[:300]})") from None
    return model.eval()


def load_conv_weights(model: nn.Module, path) -> int:
    """Initialise a model's conv layers from a user-supplied file (e.g. ImageNet VGG19).

    The authors' VGG19 for CIFAR-10 starts from the ImageNet conv weights; those are not
    available offline, so the file must be supplied. It holds the conv kernels in the
    order of the model's conv layers, as ``.npz`` (arrays in stored order) or
    ``.safetensors`` (tensors in key order), each in torch layout ``(out, in, kh, kw)``
    or Keras layout ``(kh, kw, in, out)`` (transposed here); an optional bias array may
    follow each kernel (1-D arrays are taken as the preceding kernel's bias).

    Returns
    -------
    int
        Number of conv layers initialised.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file holds a different number of kernels or a kernel does not fit.
    """
    import os

    import numpy as np

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"conv weight file {path!r} not found (ImageNet weights are "
                                "not available offline: supply the file)")
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        data = load_file(path)
        arrays = [data[key] for key in sorted(data)]
    else:
        with np.load(path) as f:
            arrays = [f[key] for key in f.files]
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    pairs: list[list] = []
    for a in arrays:
        if a.ndim == 1 and pairs and pairs[-1][1] is None:
            pairs[-1][1] = a
        else:
            pairs.append([a, None])
    if len(pairs) != len(convs):
        raise ValueError(f"{path}: {len(pairs)} kernels for {len(convs)} conv layers")
    with torch.no_grad():
        for conv, (kernel, bias) in zip(convs, pairs):
            shape = tuple(conv.weight.shape)
            if kernel.shape != shape and kernel.ndim == 4 and kernel.transpose(3, 2, 0, 1).shape == shape:
                kernel = kernel.transpose(3, 2, 0, 1)
            if kernel.shape != shape:
                raise ValueError(f"{path}: kernel of shape {kernel.shape} does not fit {shape}")
            conv.weight.copy_(torch.as_tensor(np.ascontiguousarray(kernel), dtype=conv.weight.dtype))
            if bias is not None and conv.bias is not None:
                conv.bias.copy_(torch.as_tensor(bias, dtype=conv.bias.dtype))
    return len(convs)
