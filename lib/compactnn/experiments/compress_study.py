"""The compression study: prune / weight-share a trained network, retrain, measure.

One grid configuration (:class:`compactnn.experiments.configs.CompressConfig`)
is one cell of the paper's grid: a baseline recipe (network + data set), a
method as the paper writes it (``"pr"``, ``"cws"``, ``"pr-pws"``, ``"pr-ucws"``
for unified codebooks, ...), the layers it targets (dense, conv or both), ``p``
and ``k``, and the retraining budget.  :func:`run_record` runs it and writes its
``compress`` record (:mod:`compactnn.experiments.records`):

- ``rows.csv``: long format, one row per scope (``dense``, ``conv``,
  ``network``) and format: bytes, occupancy ``psi`` and, on the dense rows, the
  product-time ratio of the largest compressed dense layer against NumPy dense;
- ``layers.csv``: one row per compressed layer (shape, nonzeros, distinct
  values, ``p``, ``k``, its smallest format and the bytes in every format);
- ``model.cnn.safetensors``: the retrained compressed network
  (:func:`compactnn.nn.save_compressed`, each layer in its smallest format);
- ``record.json``, written last.

The baseline of each recipe and seed is trained once (:func:`baseline`) and is
a record of its own, ``baseline``, holding ``model.safetensors``.  Tables and
figures are drawn by :mod:`compactnn.report` from these files alone.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .configs import _Config, _f

log = logging.getLogger(__name__)

__all__ = ["BaselineConfig", "baseline", "layer_bytes", "run_record", "record_summary"]

#: Name of the compressed network inside a compress record.
MODEL_FILE = "model.cnn.safetensors"


@dataclass(frozen=True)
class BaselineConfig(_Config):
    """The configuration of a baseline record: what the trained network depends on."""

    recipe: str = _f("small_vgg-mnist5k", "baseline recipe <net>-<data> (compactnn.nn.RECIPES)")
    seed: int = _f(0, "seed of the validation split and the initialisation")


def baseline(recipe_name: str, seed: int = 0, results=None, device: str = "auto",
             progress: bool = False) -> Path:
    """The baseline record of ``recipe_name`` (trained the first time); returns its folder.

    The folder holds ``model.safetensors`` and the record (``record.json``:
    recipe, metric, ``test``, ``epochs``, ``seconds``).
    """
    import pandas as pd

    from .._files import write_with
    from ..data import get_dataset
    from ..nn import get_recipe, save_model, train_recipe
    from .records import is_complete, record_dir, write_record

    cfg = BaselineConfig(recipe=recipe_name, seed=seed)
    folder = record_dir("baseline", cfg, results)
    if is_complete(folder) and (folder / "model.safetensors").is_file():
        log.debug("%s baseline reused (%s)", recipe_name, folder)
        return folder
    recipe = get_recipe(recipe_name)
    log.info("training the %s baseline (%d epochs at most)", recipe_name, recipe.epochs)
    run = train_recipe(recipe, get_dataset(recipe.data), seed=seed, device=device, progress=progress)
    write_with(folder / "model.safetensors",
               lambda tmp: save_model(run.model, tmp, recipe.net, run.model_kwargs))
    epochs = len(run.history.get("epoch", [])) or recipe.epochs
    info = {"recipe": recipe_name, "network": recipe.net, "dataset": recipe.data,
            "metric": recipe.metric, "higher_is_better": recipe.metric == "accuracy",
            "test": float(run.test), "epochs": epochs, "seconds": round(run.seconds, 3)}
    epoch_s = run.history.get("epoch_s") or []
    extra = info | {"model_file": "model.safetensors",
                    "epoch_seconds": round(float(np.median(epoch_s)), 3) if epoch_s else None}
    write_record(folder, cfg, pd.DataFrame([info]), "baseline", run.seconds, extra)
    log.info("%s baseline: test %s %.4f (%.0f s)", recipe_name, recipe.metric, run.test, run.seconds)
    return folder


def layer_bytes(W: np.ndarray, formats: Iterable[str]) -> dict[str, int]:
    """Bytes of one weight matrix in each format (formats that fail are skipped, logged)."""
    from ..formats import get_format

    out = {}
    for name in formats:
        try:
            out[name] = get_format(name).from_dense(W).nbytes
        except Exception as exc:  # a format may refuse e.g. too many distinct values
            log.warning("format %s failed on a %s matrix: %s", name, W.shape, exc)
    return out


def _time_ratio(W: np.ndarray, formats: Iterable[str], batch: int = 8, repeat: int = 5) -> dict[str, float]:
    """Best time of ``X @ W`` in each format over NumPy dense, same ``X``, one thread."""
    from threadpoolctl import threadpool_limits

    from .. import timing
    from ..formats import get_format

    X = np.random.default_rng(0).standard_normal((batch, W.shape[0])).astype(np.float32)
    out = {}
    with threadpool_limits(1):
        t_dense = timing.time_call(lambda: X @ W, repeat=repeat).best
        for name in formats:
            try:
                M = get_format(name).from_dense(W)
            except Exception:
                continue
            out[name] = timing.time_call(lambda: X @ M, repeat=repeat).best / t_dense
    return out


def _spec(cfg, conv: bool = False):
    from ..nn import TargetSpec

    p = cfg.p_conv if conv and cfg.p_conv is not None else cfg.p
    k = cfg.k_conv if conv and cfg.k_conv is not None else cfg.k
    return TargetSpec.parse(cfg.method, p=p, k=k)


def _text(v):
    """A config value as the record writes it: per-layer lists as ``32-32-2``, None as empty."""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "-".join(f"{x:g}" for x in v)
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _save_model_file(model, hook, baseline_file: Path, path: Path, cfg, info: dict) -> int:
    """Write the retrained ``model`` as one compressed model file; returns its size in bytes."""
    from safetensors import safe_open

    from ..nn.compressed import to_compressed
    from ..nn.modelfile import save_compressed
    from .configs import as_dict

    with safe_open(str(baseline_file), framework="pt") as f:
        meta = f.metadata() or {}
    layers = {lc.name: {"method": cfg.method, "k": lc.k, "kind": lc.kind} for lc in hook.layers}
    comp = to_compressed(model.eval(), hook, formats="smallest")
    metadata = {"config": as_dict(cfg), "metric": info["metric"], "baseline": info["baseline"],
                "after_retraining": info["performance"]}
    return save_compressed(comp, path, metadata, net=meta.get("net"),
                           net_kwargs=json.loads(meta.get("kwargs", "{}")), layers=layers)


def _per_layer(spec, field: str, names: list[str]) -> dict:
    value = getattr(spec, field) if spec is not None else None
    if value is None:
        return {n: None for n in names}
    return dict(zip(names, spec.per_layer(value, len(names))))


def _measure(model, hook, specs: dict, formats: list[str]):
    """``(scope rows, layer rows, largest compressed dense matrix)`` of the retrained model."""
    from ..nn import compressible_layers

    refs = compressible_layers(model)
    compressed = {name: arrays["weights"] for name, arrays in hook.export().items()}
    layer_rows, scope_bytes, scope_float = [], {}, {}
    for kind in ("dense", "conv"):
        if not refs[kind]:
            continue
        names = [r.name for r in refs[kind] if r.name in compressed]
        ps, ks = _per_layer(specs.get(kind), "p", names), _per_layer(specs.get(kind), "k", names)
        scope_bytes[kind] = dict.fromkeys(formats, 0)
        scope_float[kind] = 0
        for ref in refs[kind]:
            size = ref.matrix().numel()
            scope_float[kind] += 4 * size
            if ref.name not in compressed:  # left uncompressed: float32 whatever the format
                for f in formats:
                    scope_bytes[kind][f] += 4 * size
                continue
            W = np.ascontiguousarray(compressed[ref.name], dtype=np.float32)
            sizes = layer_bytes(W, formats)
            for f in formats:
                scope_bytes[kind][f] += sizes.get(f, 4 * W.size)
            best = min(sizes, key=sizes.get) if sizes else ""
            layer_rows.append({"layer": ref.name, "kind": kind, "rows": int(W.shape[0]),
                               "cols": int(W.shape[1]), "nnz": int(np.count_nonzero(W)),
                               "distinct_nonzero": int(np.unique(W[W != 0]).size),
                               "p": _text(ps[ref.name]), "k": _text(ks[ref.name]),
                               "best_format": best, "best_bytes": sizes.get(best),
                               **{f"bytes_{f}": int(b) for f, b in sizes.items()}})
    total = sum(p.numel() for p in model.parameters())
    other = 4 * total - sum(scope_float.values())
    scope_bytes["network"] = {f: other + sum(b[f] for b in scope_bytes.values()) for f in formats}
    scope_float["network"] = 4 * total
    dense = [compressed[r.name] for r in refs["dense"] if r.name in compressed]
    biggest = max(dense, key=lambda W: W.size) if dense else None
    return scope_bytes, scope_float, layer_rows, biggest


def record_summary(meta: dict, rows) -> dict:
    """``{"label", "metric", "baseline", "performance", "psi"}`` of a record (best dense psi)."""
    dense = rows[rows["scope"] == "dense"]["psi"] if "scope" in rows else rows.get("psi", [])
    return {"label": meta.get("label"), "metric": meta.get("metric"), "baseline": meta.get("baseline"),
            "performance": meta.get("performance"),
            "psi": float(min(dense)) if len(dense) else None}


def run_record(cfg, results=None, formats=None, device: str = "auto", progress: bool = False) -> dict:
    """Run one configuration and write its ``compress`` record; a finished record is read back.

    Trains the recipe's baseline first if it has no record yet, compresses it
    as ``cfg`` says, retrains for at most ``cfg.epochs`` epochs (best validation
    epoch kept; early stopping after ``cfg.patience`` epochs without gain),
    and measures the result in every registered format (or ``formats``).
    Returns :func:`record_summary` of the record.
    """
    import pandas as pd
    import torch

    from .._files import write_text_atomic
    from ..data import get_dataset
    from ..formats import FORMATS
    from ..nn import compress_model, evaluate, fit, get_recipe, load_model
    from .records import is_complete, read_record, record_dir, write_record

    folder = record_dir("compress", cfg, results)
    if is_complete(folder):
        return record_summary(*read_record(folder))
    t0 = time.perf_counter()
    base = baseline(cfg.recipe, cfg.seed, results, device=device, progress=progress)
    base_meta = json.loads((base / "record.json").read_text())
    recipe = get_recipe(cfg.recipe)
    ds = recipe.prepare(get_dataset(recipe.data))
    train, val = ds.holdout(recipe.val_fraction, cfg.seed)
    test = (ds.x_test, ds.y_test)
    formats = sorted(FORMATS) if formats is None else list(formats)

    model = load_model(base / "model.safetensors")
    specs = {"dense": _spec(cfg) if cfg.target in ("dense", "both") else None,
             "conv": _spec(cfg, conv=True) if cfg.target in ("conv", "both") else None}
    variant = "reference" if cfg.variant.startswith("reference") else cfg.variant
    rule = cfg.variant if cfg.variant == "reference-2021" else None
    hook = compress_model(model, dense=specs["dense"], conv=specs["conv"], seed=cfg.seed,
                          variant=variant, rule=rule)
    before = evaluate(model, test, recipe.metric)
    epochs_run = 0
    if cfg.epochs > 0:
        fit_kwargs = {**recipe.fit_kwargs(), "epochs": cfg.epochs, "lr": cfg.lr, "lr_schedule": None,
                      "patience": cfg.patience}
        if cfg.optimizer is not None:
            fit_kwargs["optimizer"] = cfg.optimizer
        history = fit(model, train, val, hooks=[hook], device=device, seed=cfg.seed,
                      progress=progress, **fit_kwargs)
        epochs_run = len(history.get("epoch", [])) or cfg.epochs
    model = model.cpu()
    hook.to("cpu")
    hook.check()
    after = evaluate(model, test, recipe.metric)

    higher = recipe.metric == "accuracy"
    base_value = float(base_meta["test"])
    delta = (after - base_value) if higher else (base_value - after)
    scope_bytes, scope_float, layer_rows, biggest = _measure(model, hook, specs, formats)
    ratios = _time_ratio(np.ascontiguousarray(biggest, dtype=np.float32), formats) if biggest is not None else {}

    common = {"recipe": cfg.recipe, "network": recipe.net, "dataset": recipe.data, "method": cfg.method,
              "variant": cfg.variant, "target": cfg.target, "p": _text(cfg.p), "k": _text(cfg.k),
              "p_conv": _text(cfg.p_conv), "k_conv": _text(cfg.k_conv),
              "unified": cfg.method.lower().removeprefix("pr-").startswith("u")
              and cfg.method.lower().removeprefix("pr-") != "uq",
              "label": cfg.label(), "metric": recipe.metric, "higher_is_better": higher,
              "baseline": base_value, "before": before, "performance": after, "delta": delta}
    rows = [common | {"scope": scope, "format": f, "bytes": int(b), "psi": b / scope_float[scope],
                      "time_ratio": ratios.get(f) if scope == "dense" else None}
            for scope in ("dense", "conv", "network") if scope in scope_bytes
            for f, b in scope_bytes[scope].items()]
    frame = pd.DataFrame(rows)
    if layer_rows:
        write_text_atomic(folder / "layers.csv", pd.DataFrame(layer_rows).to_csv(index=False))
    info = {"recipe": cfg.recipe, "network": recipe.net, "dataset": recipe.data, "label": cfg.label(),
            "metric": recipe.metric, "higher_is_better": higher, "baseline": base_value,
            "before": before, "performance": after, "epochs_run": epochs_run,
            "torch_threads": torch.get_num_threads(),
            "largest_dense_shape": list(biggest.shape) if biggest is not None else None}
    _save_model_file(model, hook, base / "model.safetensors", folder / MODEL_FILE, cfg, info)
    info["model_file"] = MODEL_FILE
    write_record(folder, cfg, frame, "compress", time.perf_counter() - t0, info)
    return record_summary(info, frame)
