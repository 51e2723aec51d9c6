"""The compression study: prune / weight-share a trained network, retrain, measure.

One configuration (:class:`CompressConfig`) is one cell of the paper's grid: a
baseline recipe (network + data set), a method as the paper writes it (``"pr"``,
``"cws"``, ``"pr-pws"``, ``"pr-ucws"`` for unified codebooks, ...), the layers it
targets (dense, conv or both), ``p`` and ``k``, and the retraining budget.

Tables and figures of the grid are drawn by :mod:`compactnn.report.compress`.
Results are stored per configuration in a folder named by a hash of the
configuration and written atomically (``result.json`` last), so an interrupted
sweep keeps every finished cell and a rerun only computes what is missing.
The baseline of each recipe is trained once and cached the same way.

Each result holds the test metric of the baseline, of the compressed network
before and after retraining, and the occupancy ``psi`` of the dense layers and
of the whole network in every registered format, plus the time ratio of the
dense layers' products (format over NumPy dense, same inputs and threads).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

TARGETS = ("dense", "conv", "both")


@dataclass(frozen=True)
class CompressConfig:
    """One cell of the compression grid."""

    recipe: str = field(default="small_vgg-mnist5k",
                        metadata={"help": "baseline recipe <net>-<data> (compactnn.nn.RECIPES)"})
    method: str = field(default="pr-cws", metadata={"help": "pr, cws, pws, uq, ecsq, pr-<ws>; u<ws> = unified"})
    target: str = field(default="dense", metadata={"help": "layers to compress: dense, conv or both"})
    p: float | None = field(default=None, metadata={"help": "pruning percentile (Pr methods)"})
    k: int | None = field(default=None, metadata={"help": "codebook size (weight-sharing methods)"})
    epochs: int = field(default=2, metadata={"help": "retraining epochs (best epoch kept)"})
    lr: float = field(default=1e-4, metadata={"help": "retraining learning rate"})
    seed: int = field(default=0, metadata={"help": "seed of baseline, quantizers and retraining"})
    variant: str = field(default="paper", metadata={"help": "paper, reference or reference-2021 (rule)"})
    p_conv: Any = field(default=None, metadata={"help": "pruning percentile of the conv layers; None: p"})
    k_conv: Any = field(default=None, metadata={"help": "codebook size of the conv layers; None: k"})

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")

    def key(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def label(self) -> str:
        parts = [self.method]
        if self.p is not None:
            parts.append("p" + _text(self.p))
        if self.k is not None:
            parts.append("k" + _text(self.k))
        suffix = "" if self.variant == "paper" else f", {self.variant}"
        return "/".join(parts) + f" ({self.target}{suffix})"


def grid(methods: Sequence[str], ps: Sequence[float], ks: Sequence[int], **common) -> list[CompressConfig]:
    """Every method with every applicable ``p`` (Pr methods) and ``k`` (WS methods)."""
    out = []
    for method in methods:
        prune = method.lower().startswith("pr")
        shares = method.lower() != "pr"
        for p in (ps if prune else [None]):
            for k in (ks if shares else [None]):
                out.append(CompressConfig(method=method, p=p, k=k, **common))
    return out


def _write_json_atomic(path: Path, obj) -> None:
    from .._files import write_text_atomic

    write_text_atomic(path, json.dumps(obj, indent=1, default=float) + "\n")


def baseline(recipe_name: str, root: str | os.PathLike = "results/compress", seed: int = 0,
             device: str = "auto", progress: bool = True) -> Path:
    """Train (once) the baseline of a recipe; returns its folder (model + metrics.json)."""
    from ..data import get_dataset
    from ..nn import get_recipe, save_model, train_recipe

    folder = Path(root) / f"{recipe_name}-s{seed}" / "baseline"
    if (folder / "metrics.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    recipe = get_recipe(recipe_name)
    log.info("training the %s baseline", recipe_name)
    run = train_recipe(recipe, get_dataset(recipe.data), seed=seed, device=device, progress=progress)
    model, kwargs, metric = run.model, run.model_kwargs, run.test
    tmp = folder / "model.safetensors.tmp"
    save_model(model, tmp, recipe.net, kwargs)
    os.replace(tmp, folder / "model.safetensors")
    _write_json_atomic(folder / "metrics.json", {"recipe": recipe_name, "metric": recipe.metric,
                                                 "test": metric, "seconds": run.seconds})
    log.info("%s baseline: test %s %.4f", recipe_name, recipe.metric, metric)
    return folder


def _spec(cfg: CompressConfig, conv: bool = False):
    from ..nn import TargetSpec

    p = cfg.p_conv if conv and cfg.p_conv is not None else cfg.p
    k = cfg.k_conv if conv and cfg.k_conv is not None else cfg.k
    return TargetSpec.parse(cfg.method, p=p, k=k)


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
    """Best time of ``X @ W`` in each format over NumPy dense, same ``X``."""
    from .. import timing
    from ..formats import get_format

    X = np.random.default_rng(0).standard_normal((batch, W.shape[0])).astype(np.float32)
    t_dense = timing.time_call(lambda: X @ W, repeat=repeat).best
    out = {}
    for name in formats:
        try:
            M = get_format(name).from_dense(W)
        except Exception:
            continue
        out[name] = timing.time_call(lambda: X @ M, repeat=repeat).best / t_dense
    return out


def run_config(cfg: CompressConfig, root: str | os.PathLike = "results/compress", formats=None,
               device: str = "auto", progress: bool = True, model_path=None) -> dict:
    """Run one configuration, or return its stored result if it already completed.

    With ``model_path``, the retrained network is also written there as one
    compressed model file (:func:`compactnn.nn.save_compressed`, each layer in
    its smallest format), unless that file already exists.
    """
    import torch

    from ..data import get_dataset
    from ..formats import FORMATS
    from ..nn import compress_model, evaluate, fit, get_recipe, load_model

    folder = Path(root) / f"{cfg.recipe}-s{cfg.seed}" / "runs" / cfg.key()
    result_path = folder / "result.json"
    if result_path.exists() and (model_path is None or Path(model_path).is_file()):
        return json.loads(result_path.read_text())
    base = baseline(cfg.recipe, root, cfg.seed, device=device, progress=progress)
    base_metrics = json.loads((base / "metrics.json").read_text())
    recipe = get_recipe(cfg.recipe)
    ds = get_dataset(recipe.data)
    train, val = ds.holdout(recipe.val_fraction, cfg.seed)
    test = (ds.x_test, ds.y_test)
    formats = sorted(FORMATS) if formats is None else list(formats)

    t0 = time.perf_counter()
    model = load_model(base / "model.safetensors")
    variant = "reference" if cfg.variant.startswith("reference") else cfg.variant
    rule = cfg.variant if cfg.variant == "reference-2021" else None
    hook = compress_model(model, dense=_spec(cfg) if cfg.target in ("dense", "both") else None,
                          conv=_spec(cfg, conv=True) if cfg.target in ("conv", "both") else None,
                          seed=cfg.seed, variant=variant, rule=rule)
    before = evaluate(model, test, recipe.metric)
    fit_kwargs = {**recipe.fit_kwargs(), "epochs": cfg.epochs, "lr": cfg.lr, "lr_schedule": None}
    fit(model, train, val, hooks=[hook], device=device, seed=cfg.seed, progress=progress, **fit_kwargs)
    model = model.cpu()
    hook.to("cpu")
    hook.check()
    after = evaluate(model, test, recipe.metric)

    # space: compressed layers in each format, everything else float32
    state = hook.export()
    compressed = {name: arrays["weights"] for name, arrays in state.items()}
    total_params = sum(p.numel() for p in model.parameters())
    comp_params = sum(W.size for W in compressed.values())
    other_bytes = 4 * (total_params - comp_params)
    from ..nn import compressible_layers

    dense_names = {r.name for r in compressible_layers(model)["dense"]}
    per_format_dense = {f: 0 for f in formats}
    per_format_all = {f: 0 for f in formats}
    dense_float = 0
    for name, W in compressed.items():
        sizes = layer_bytes(np.ascontiguousarray(W, dtype=np.float32), formats)
        for f in formats:
            b = sizes.get(f, 4 * W.size)
            per_format_all[f] += b
            if name in dense_names:
                per_format_dense[f] += b
        if name in dense_names:
            dense_float += 4 * W.size
    # dense layers left uncompressed (conv-only runs) count as float32
    for ref in compressible_layers(model)["dense"]:
        if ref.name not in compressed:
            size = ref.matrix().numel()
            dense_float += 4 * size
            for f in formats:
                per_format_dense[f] += 4 * size
    layer_rows = [{"layer": name, "kind": "dense" if name in dense_names else "conv",
                   "rows": int(W.shape[0]), "cols": int(W.shape[1]),
                   "nnz": int(np.count_nonzero(W)), "distinct": int(np.unique(W[W != 0]).size),
                   **{f"bytes_{f}": int(b) for f, b in layer_bytes(
                       np.ascontiguousarray(W, dtype=np.float32), formats).items()}}
                  for name, W in compressed.items()]
    psi_dense = {f: per_format_dense[f] / dense_float for f in formats} if dense_float else {}
    psi_net = {f: (per_format_all[f] + other_bytes) / (4 * total_params) for f in formats}
    biggest = max(compressed.values(), key=lambda W: W.size)
    ratios = _time_ratio(np.ascontiguousarray(biggest, dtype=np.float32), formats)

    result = {
        "config": dataclasses.asdict(cfg), "label": cfg.label(), "key": cfg.key(),
        "metric": recipe.metric, "baseline": base_metrics["test"], "before_retraining": before,
        "after_retraining": after,
        "delta": (after - base_metrics["test"]) * (1 if recipe.metric == "accuracy" else -1),
        "psi_dense": psi_dense, "psi_network": psi_net, "time_ratio_largest_layer": ratios,
        "largest_layer_shape": list(biggest.shape), "seconds": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
        "bytes_dense": per_format_dense if dense_float else {},
        "bytes_network": {f: per_format_all[f] + other_bytes for f in formats},
        "layers": layer_rows,
    }
    if model_path is not None:
        result["model_file_bytes"] = _save_model_file(model, hook, base / "model.safetensors",
                                                      model_path, cfg, result)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(folder / "config.json", dataclasses.asdict(cfg))
    _write_json_atomic(result_path, result)
    return result


def _save_model_file(model, hook, baseline: Path, path, cfg, result: dict) -> int:
    """Write the retrained ``model`` as one compressed model file; returns its size in bytes."""
    from safetensors import safe_open

    from ..nn.compressed import to_compressed
    from ..nn.modelfile import save_compressed

    with safe_open(str(baseline), framework="pt") as f:
        meta = f.metadata() or {}
    layers = {lc.name: {"method": cfg.method, "k": lc.k, "kind": lc.kind} for lc in hook.layers}
    comp = to_compressed(model.eval(), hook, formats="smallest")
    metadata = {"config": dataclasses.asdict(cfg), "metric": result["metric"],
                "baseline": result["baseline"], "after_retraining": result["after_retraining"]}
    return save_compressed(comp, path, metadata, net=meta.get("net"),
                           net_kwargs=json.loads(meta.get("kwargs", "{}")), layers=layers)


def run_grid(configs: Sequence[CompressConfig], root="results/compress", formats=None,
             device: str = "auto", progress: bool = True):
    """Run every configuration (finished ones are read back); one row per configuration."""
    import pandas as pd
    from tqdm import tqdm

    rows = []
    for cfg in tqdm(configs, desc="compression grid", unit="cfg", disable=not progress):
        r = run_config(cfg, root, formats=formats, device=device, progress=False)
        row = {"method": cfg.method, "target": cfg.target, "p": cfg.p, "k": cfg.k,
               "baseline": r["baseline"], "before": r["before_retraining"],
               "after": r["after_retraining"], "delta": r["delta"]}
        row.update({f"psi_dense_{f}": v for f, v in r["psi_dense"].items()})
        row.update({f"psi_net_{f}": v for f, v in r["psi_network"].items()})
        row.update({f"time_{f}": v for f, v in r["time_ratio_largest_layer"].items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _text(v):
    """A config value as the record writes it: per-layer lists as ``32-32-2``, None as empty."""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "-".join(f"{x:g}" for x in v)
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def run_record(cfg, results=None, formats=None, device: str = "auto") -> dict:
    """Run one configuration and write its ``compress`` record (rows.csv in long format, record.json last).

    Accepts the :class:`compactnn.experiments.configs.CompressConfig` of a grid.
    Returns a summary ``{"metric", "performance", "psi"}`` (best dense psi over formats).
    """
    import pandas as pd

    from .._files import results_root
    from ..nn import get_recipe
    from .records import record_dir, write_record

    t0 = time.perf_counter()
    recipe = get_recipe(cfg.recipe)
    net, _, data = cfg.recipe.partition("-")
    local = CompressConfig(recipe=cfg.recipe, method=cfg.method, target=cfg.target, p=cfg.p, k=cfg.k,
                           epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed, variant=cfg.variant,
                           p_conv=cfg.p_conv, k_conv=cfg.k_conv)
    folder = record_dir("compress", cfg, results)
    model_file = folder / "model.cnn.safetensors"
    r = run_config(local, results_root(results) / "compress", formats=formats, device=device,
                   progress=False, model_path=model_file)
    higher = recipe.metric == "accuracy"
    common = {"recipe": cfg.recipe, "network": net, "dataset": data, "method": cfg.method,
              "variant": cfg.variant, "target": cfg.target, "p": _text(cfg.p), "k": _text(cfg.k),
              "p_conv": _text(cfg.p_conv), "k_conv": _text(cfg.k_conv),
              "unified": cfg.method.lower().removeprefix("pr-").startswith("u"), "label": cfg.label(),
              "metric": recipe.metric, "higher_is_better": higher, "baseline": r["baseline"],
              "before": r["before_retraining"], "performance": r["after_retraining"],
              "delta": r["delta"]}
    rows = []
    for scope, key in (("dense", "psi_dense"), ("network", "psi_network")):
        for fmt, psi in r[key].items():
            nbytes = r.get(f"bytes_{scope}", {}).get(fmt)
            rows.append(common | {"scope": scope, "format": fmt, "bytes": nbytes, "psi": psi,
                                  "time_ratio": r["time_ratio_largest_layer"].get(fmt) if scope == "dense" else None})
    frame = pd.DataFrame(rows)
    if r.get("layers"):
        from .._files import write_text_atomic

        write_text_atomic(folder / "layers.csv", pd.DataFrame(r["layers"]).to_csv(index=False))
    extra = {"recipe": cfg.recipe, "network": net, "dataset": data, "metric": recipe.metric,
             "higher_is_better": higher, "baseline": r["baseline"], "before": r["before_retraining"],
             "performance": r["after_retraining"], "epochs_run": cfg.epochs,
             "model_file": model_file.name if model_file.is_file() else None,
             "torch_threads": r["torch_threads"]}
    write_record(folder, cfg, frame, "compress",
                 time.perf_counter() - t0, extra)
    best = min(r["psi_dense"].values()) if r["psi_dense"] else None
    return {"metric": recipe.metric, "performance": r["after_retraining"], "psi": best}
