"""Torch side of compactnn: networks, the training loop, compression hooks.

- :mod:`.models`: VGG19, DeepDTA, SmallVGG and :func:`get_model`;
- :mod:`.layers`: a model's dense and conv layers as ``(n, m)`` matrices;
- :mod:`.compress`: :func:`compress_model` and the :class:`CompressionHook` that keeps
  a pruned/weight-shared model compressed while it retrains;
- :mod:`.train`: :func:`fit` and :func:`evaluate`;
- :mod:`.recipes`: named training configurations (paper scale and the default);
- :mod:`.compressed`: torch modules running on the compressed formats' kernels;
- :mod:`.modelfile`: :func:`save_compressed` / :func:`load_compressed`, one file per
  compressed network;
- :mod:`.train_cli`: ``python -m compactnn train``.

Names are loaded lazily, so ``import compactnn.nn.train_cli`` (done to build
the command line's help) does not import torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "VGG19": "models", "DeepDTA": "models", "SmallVGG": "models", "MODELS": "models",
    "get_model": "models", "save_model": "models", "load_model": "models",
    "KINDS": "layers", "LayerRef": "layers", "compressible_layers": "layers",
    "weight_matrix": "layers", "set_weight_matrix": "layers",
    "TargetSpec": "compress", "LayerCompression": "compress", "CompressionHook": "compress",
    "compress_model": "compress",
    "Hook": "train", "StepSchedule": "train", "RandomCrop": "train", "fit": "train",
    "evaluate": "train", "resolve_device": "train", "AUGMENTATIONS": "train", "LOSSES": "train",
    "METRICS": "train",
    "Recipe": "recipes", "RECIPES": "recipes", "get_recipe": "recipes",
    "model_kwargs": "recipes", "Trained": "recipes", "train_recipe": "recipes",
    "CompressedLinear": "compressed", "CompressedConv1d": "compressed",
    "CompressedConv2d": "compressed", "to_compressed": "compressed",
    "set_default_threads": "compressed",
    "save_compressed": "modelfile", "load_compressed": "modelfile", "network_psi": "modelfile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
