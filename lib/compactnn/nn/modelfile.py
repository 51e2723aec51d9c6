"""One file per compressed network: :func:`save_compressed` and :func:`load_compressed`.

The file is a safetensors file (written and read with safetensors' own API; no
pickle anywhere) holding

- every compressed layer's arrays (its format's stored arrays) as
  ``"<layer>::<array>"``;
- every other parameter and buffer of the model (biases, batch-norm weights and
  statistics, embeddings, ...) as float32, as ``"state::<key>"``;
- in the safetensors metadata, under ``"compactnn"``, one JSON header: the file
  tag and version, the architecture (the package's network name and its
  constructor arguments, or ``null`` for a user's own architecture), per layer
  its format, shape, dtype, format metadata, array spec, ``p`` (percent of zero
  weights), ``k``, method and codebook size, the shape of every state tensor,
  free-form metadata, and a SHA-256 over the header and every tensor's name,
  dtype, shape and bytes.

:func:`load_compressed` checks the header, the tensor names, every dtype and
shape and the checksum before any array reaches a kernel, then rebuilds each
layer through the formats' own file checks (size limits, structural
invariants; :meth:`compactnn.formats.MatrixFormat.load` runs the same ones).
Any bad file raises :class:`~compactnn.errors.FormatError`.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import FormatError, UsageError
from ..formats import MatrixFormat
from ..formats._limits import FILE_MAGIC as _MATRIX_MAGIC, FILE_VERSION as _MATRIX_VERSION
from .compressed import CompressedConv1d, CompressedConv2d, CompressedLinear, _Compressed
from .layers import set_weight_matrix

__all__ = ["save_compressed", "load_compressed", "load_dense", "network_psi", "stored_bytes", "read_header",
           "MODEL_MAGIC", "MODEL_VERSION", "HEADER_KEY"]

#: Tag and version of the compressed model file.
MODEL_MAGIC = "compactnn-compressed-model"
MODEL_VERSION = 1
#: Key of the JSON header in the safetensors metadata.
HEADER_KEY = "compactnn"
_SEP = "::"
_STATE = "state"
_WRAPPERS = {nn.Linear: CompressedLinear, nn.Conv1d: CompressedConv1d, nn.Conv2d: CompressedConv2d}
_LAYER_INFO = ("p", "k", "method", "codebook_size", "kind")


def _compressed_modules(model: nn.Module) -> dict[str, _Compressed]:
    return {name: m for name, m in model.named_modules() if isinstance(m, _Compressed)}


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    # the compressed modules' matrices are not in the state dict; their biases are
    return {k: v.detach() for k, v in model.state_dict().items()}


def stored_bytes(model: nn.Module) -> tuple[int, int]:
    """``(bytes stored, float32 bytes of the same network uncompressed)``.

    Compressed layers count their format's bytes, every other parameter and
    buffer 4 bytes per entry (as the file stores it).
    """
    comp = _compressed_modules(model)
    state = sum(int(v.numel()) for v in _state(model).values())
    matrices = sum(m.matrix.nbytes for m in comp.values())
    dense = sum(int(m.matrix.shape[0]) * int(m.matrix.shape[1]) for m in comp.values())
    return matrices + 4 * state, 4 * (dense + state)


def network_psi(model: nn.Module) -> float:
    """``psi`` of a whole network: :func:`stored_bytes` over the dense float32 bytes."""
    stored, dense = stored_bytes(model)
    return stored / dense if dense else float("nan")


def _contiguous(a) -> np.ndarray:
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    a = np.asarray(a)
    return a if a.flags.c_contiguous else a.copy(order="C")


def _digest(header: dict, tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for name in sorted(tensors):
        a = _contiguous(tensors[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _layer_record(name: str, module: _Compressed, info: dict) -> tuple[dict, dict[str, np.ndarray]]:
    M = module.matrix
    arrays = {k: _contiguous(v) for k, v in M._arrays().items()}
    sub = M._header(arrays)
    sub["sha256"] = MatrixFormat._digest(sub, arrays)
    n, m = M.shape
    rec = {k: sub[k] for k in ("format", "shape", "dtype", "meta", "arrays", "sha256")}
    rec["kind"] = "dense" if isinstance(module, CompressedLinear) else "conv"
    rec["p"] = 100.0 * (1.0 - M.nnz / (n * m)) if n * m else 0.0
    rec["k"] = None
    rec["method"] = None
    values = np.unique(M.to_dense())
    rec["codebook_size"] = int(np.count_nonzero(values))
    for key, value in info.items():
        if key not in _LAYER_INFO:
            raise ValueError(f"layer {name!r}: unknown layer field {key!r} "
                             f"(known: {', '.join(_LAYER_INFO)})")
        rec[key] = value
    return rec, arrays


def save_compressed(model: nn.Module, path: str | os.PathLike, metadata: dict | None = None, *,
                    net: str | None = None, net_kwargs: dict | None = None,
                    layers: dict[str, dict] | None = None) -> int:
    """Write a compressed network (from :func:`~.compressed.to_compressed`) to one file.

    Parameters
    ----------
    model : nn.Module
        A model whose compressed layers are :class:`~.compressed.CompressedLinear`,
        ``CompressedConv1d`` or ``CompressedConv2d`` modules.
    path : str or path-like
        Target (by convention ``*.cnn.safetensors``); written atomically.
    metadata : dict or None
        Free-form JSON-serialisable data (metrics, configuration, ...).
    net, net_kwargs : str and dict, or None
        The package network name (:func:`~.models.get_model`) and its
        constructor arguments; None for a user's own architecture, which
        :func:`load_compressed` then rebuilds into a skeleton ``model=``.
    layers : dict or None
        Per compressed layer name, fields the file records and the model does
        not know: ``method``, ``k`` (and ``p``, ``codebook_size``, ``kind`` to
        override the measured ones).

    Returns
    -------
    int
        Bytes written.
    """
    from safetensors.numpy import save_file

    from .. import __version__
    from .._files import write_with

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    comp = _compressed_modules(model)
    layers = dict(layers or {})
    unknown = sorted(set(layers) - set(comp))
    if unknown:
        raise ValueError(f"layers names modules that are not compressed: {', '.join(unknown)}")
    if net is None and net_kwargs is not None:
        raise ValueError("net_kwargs given without net")
    tensors: dict[str, np.ndarray] = {}
    records: dict[str, dict] = {}
    for name, module in comp.items():
        rec, arrays = _layer_record(name, module, layers.get(name, {}))
        records[name] = rec
        for key, a in arrays.items():
            tensors[f"{name}{_SEP}{key}"] = a
    state_shapes = {}
    for key, v in _state(model).items():
        a = _contiguous(v.cpu().to(torch.float32).numpy())
        tensors[f"{_STATE}{_SEP}{key}"] = a
        state_shapes[key] = list(a.shape)
    stored, dense = stored_bytes(model)
    header = {
        "magic": MODEL_MAGIC, "version": MODEL_VERSION,
        "architecture": {"net": net, "kwargs": dict(net_kwargs or {}) if net else None},
        "layers": records, "state": state_shapes,
        "psi": stored / dense if dense else None, "stored_bytes": stored,
        "package_version": __version__,
        "metadata": dict(metadata or {}),
    }
    header["sha256"] = _digest(header, tensors)
    meta = {HEADER_KEY: json.dumps(header)}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=meta)

    write_with(path, write)
    return os.path.getsize(path)


# ---- reading -------------------------------------------------------------------
def _open_regular(path, where: str) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not stat.S_ISREG(os.stat(path).st_mode):  # FileNotFoundError propagates
        raise FormatError(f"{where}: not a regular file")


def _read(path, where: str) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if HEADER_KEY not in meta:
                raise FormatError(f"{where}: not a compactnn compressed model file "
                                  "(no compactnn header; a baseline saved by `train` is read "
                                  "with load_model)")
            header = json.loads(meta[HEADER_KEY])
            _check_header(header, where)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FormatError:
        raise
    except Exception as exc:  # safetensors, JSON and numpy errors alike
        raise FormatError(f"{where}: unreadable compressed model file "
                          f"({type(exc).__name__}: {exc})") from None
    return header, tensors


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_header(header: Any, where: str) -> None:
    if not isinstance(header, dict) or header.get("magic") != MODEL_MAGIC:
        raise FormatError(f"{where}: not a compactnn compressed model file")
    if not _is_int(header.get("version")) or header["version"] != MODEL_VERSION:
        raise FormatError(f"{where}: unsupported model file version {header.get('version')!r} "
                          f"(this package reads version {MODEL_VERSION})")
    if not isinstance(header.get("sha256"), str):
        raise FormatError(f"{where}: header has no checksum")
    arch = header.get("architecture")
    if not (isinstance(arch, dict) and (arch.get("net") is None or isinstance(arch.get("net"), str))
            and (arch.get("kwargs") is None or isinstance(arch.get("kwargs"), dict))):
        raise FormatError(f"{where}: bad architecture entry {arch!r}")
    for key in ("layers", "state", "metadata"):
        if not isinstance(header.get(key), dict):
            raise FormatError(f"{where}: header {key!r} must be an object")
    for name, rec in header["layers"].items():
        if not isinstance(rec, dict) or not isinstance(rec.get("arrays"), dict):
            raise FormatError(f"{where}: bad record of layer {name!r}")
        if rec.get("kind") not in ("dense", "conv"):
            raise FormatError(f"{where}: layer {name!r} has kind {rec.get('kind')!r}")
    for key, shape in header["state"].items():
        if not (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)):
            raise FormatError(f"{where}: state tensor {key!r} has shape {shape!r}")


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a compressed model file (checked, arrays not verified)."""
    where = str(path)
    _open_regular(path, where)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        header = json.loads(meta[HEADER_KEY])
    except Exception as exc:
        raise FormatError(f"{where}: not a compactnn compressed model file "
                          f"({type(exc).__name__}: {exc})") from None
    _check_header(header, where)
    return header


def _verify(header: dict, tensors: dict[str, np.ndarray], where: str) -> dict[str, MatrixFormat]:
    expected = {f"{_STATE}{_SEP}{k}" for k in header["state"]}
    for name, rec in header["layers"].items():
        expected |= {f"{name}{_SEP}{a}" for a in rec["arrays"]}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise FormatError(f"{where}: tensors do not match the header "
                          f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for key, shape in header["state"].items():
        a = tensors[f"{_STATE}{_SEP}{key}"]
        if a.dtype != np.float32 or list(a.shape) != shape:
            raise FormatError(f"{where}: state tensor {key!r} is {a.dtype}{list(a.shape)}, "
                              f"expected float32{shape}")
    body = {k: v for k, v in header.items() if k != "sha256"}
    if header["sha256"] != _digest(body, tensors):
        raise FormatError(f"{where}: checksum mismatch (file corrupted)")
    matrices = {}
    for name, rec in header["layers"].items():
        sub = {"magic": _MATRIX_MAGIC, "version": _MATRIX_VERSION,
               **{k: rec.get(k) for k in ("format", "shape", "dtype", "meta", "arrays", "sha256")}}
        arrays = {a: tensors[f"{name}{_SEP}{a}"] for a in rec["arrays"]}
        # the formats' own checks: header limits, dtypes/shapes, checksum, structure
        matrices[name] = MatrixFormat._from_file_parts(sub, arrays, f"{where}: layer {name!r}")
    return matrices


def load_compressed(path: str | os.PathLike, model: nn.Module | None = None) -> nn.Module:
    """Rebuild a network written by :func:`save_compressed` (CPU, eval mode).

    Parameters
    ----------
    path : str or path-like
    model : nn.Module or None
        A skeleton of the architecture (dense ``nn.Linear``/``nn.Conv1d``/
        ``nn.Conv2d`` where the file has compressed layers); its weights are
        replaced. Required for a user's own architecture; None rebuilds the
        package network the file names.

    Returns
    -------
    nn.Module
        The model with its compressed layers on their formats' kernels; its
        ``compactnn_header`` attribute holds the file's header.

    Raises
    ------
    FormatError
        The file is not a compressed model file, is truncated or corrupted, or
        does not fit the architecture.
    UsageError
        The file holds a user architecture and no ``model=`` was given.
    """
    return _load(path, model, dense=False)


def load_dense(path: str | os.PathLike, model: nn.Module | None = None) -> nn.Module:
    """The network of a compressed model file with ordinary dense layers.

    Same checks and arguments as :func:`load_compressed`; each compressed
    layer's matrix is decompressed into the skeleton's ``nn.Linear`` /
    ``nn.Conv1d`` / ``nn.Conv2d`` weight (the uncompressed network a
    compressed one is compared with).
    """
    return _load(path, model, dense=True)


def _load(path, model: nn.Module | None, dense: bool) -> nn.Module:
    where = str(path)
    _open_regular(path, where)
    header, tensors = _read(path, where)
    matrices = _verify(header, tensors, where)
    arch = header["architecture"]
    if model is None:
        if arch["net"] is None:
            raise UsageError(f"{where} holds a user architecture: pass a skeleton of it, "
                             "load_compressed(path, model=MyNet())")
        from .models import get_model

        try:
            model = get_model(arch["net"], **(arch["kwargs"] or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{where}: cannot build network {arch['net']!r} "
                              f"({type(exc).__name__}: {exc})") from None
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    for name, M in matrices.items():
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise FormatError(f"{where}: layer {name!r} is not in the architecture") from None
        wrapper = _WRAPPERS.get(type(module))
        if wrapper is None:
            raise FormatError(f"{where}: layer {name!r} is a {type(module).__name__} in the "
                              "architecture, not a dense or conv layer")
        try:
            if dense:
                set_weight_matrix(module, torch.from_numpy(np.array(M.to_dense(), dtype=np.float32)))
                continue
            new = wrapper.from_module(module, M)
        except ValueError as exc:
            raise FormatError(f"{where}: layer {name!r} does not fit the architecture ({exc})") from None
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, new)
    own = model.state_dict()
    if dense:  # the decompressed weights are already in place
        own = {k: v for k, v in own.items()
               if not (k.endswith(".weight") and k[:-len(".weight")] in matrices)}
    if set(own) != set(header["state"]):
        missing, extra = sorted(set(own) - set(header["state"])), sorted(set(header["state"]) - set(own))
        raise FormatError(f"{where}: parameters do not match the architecture "
                          f"(missing {missing[:3]}, unexpected {extra[:3]})")
    state = {}
    for key, ref in own.items():
        a = tensors[f"{_STATE}{_SEP}{key}"]
        if tuple(a.shape) != tuple(ref.shape):
            raise FormatError(f"{where}: {key!r} has shape {a.shape}, the architecture {tuple(ref.shape)}")
        state[key] = torch.from_numpy(np.array(a)).to(ref.dtype)
    model.load_state_dict(state, strict=not dense)
    model.compactnn_header = header
    return model.eval()
