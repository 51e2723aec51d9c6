"""Frozen configurations of every measurement: one dataclass per study, each field with help text.

A configuration is the whole input of one run: its record
(:mod:`compactnn.experiments.records`) is keyed by a hash of it, so two runs with
equal configurations (and the same schema and package version) share one record.
The named parameter sets (``quick``, ``paper``, ``bench``) are in
:mod:`compactnn.experiments.presets`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SpaceConfig", "TimeConfig", "CompressConfig", "TARGETS", "as_dict", "from_dict"]

TARGETS = ("dense", "conv", "both")


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


def _tuple(value):
    """Lists (from YAML or JSON) as tuples, recursively, so configurations stay hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuple(v) for v in value)
    return value


class _Config:
    """Shared behaviour: sequences are stored as tuples; ``replace`` makes a changed copy."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, _tuple(v))
            elif isinstance(v, dict):
                object.__setattr__(self, f.name, tuple(sorted((str(a), b) for a, b in v.items())))

    def replace(self, **changes):
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SpaceConfig(_Config):
    """The space half of the format study (``notebooks/01_space.ipynb``)."""

    shapes: tuple = _f(((512, 4096),), "(n inputs, m outputs) of each synthetic matrix")
    densities: tuple = _f((1.0, 0.3, 0.1, 0.03, 0.01), "densities s of the synthetic matrices")
    ks: tuple = _f((2, 32, 256), "nonzero levels (1-D k-means) of the synthetic matrices")
    formats: tuple | None = _f(None, "format names; None: every registered format")
    references: tuple = _f((("xz", 6), ("zstd", 19)),
                           "(compressor, level) pairs applied to the index array")
    seed: int = _f(0, "seed of the matrices")


@dataclass(frozen=True)
class TimeConfig(_Config):
    """The time half of the format study (``notebooks/02_time.ipynb``)."""

    shapes: tuple = _f(((512, 4096),), "(n inputs, m outputs) of each synthetic matrix")
    densities: tuple = _f((1.0, 0.5, 0.3, 0.1, 0.01), "densities s of the synthetic matrices")
    ks: tuple = _f((32,), "nonzero levels of the synthetic matrices")
    formats: tuple | None = _f(None, "format names; None: every registered format")
    batches: tuple = _f((1, 8), "batch sizes b of X (b x n)")
    threads: tuple = _f((1, 2), "thread counts of the kernels")
    repeat: int = _f(5, "samples per median")
    pairs: int | None = _f(None, "pairs of samples per paired ratio; None: 2 * repeat + 1")
    seed: int = _f(0, "seed of the matrices and inputs")


@dataclass(frozen=True)
class CompressConfig(_Config):
    """One cell of the compression grid: a method on a baseline, and its retraining budget.

    ``p`` and ``k`` apply to the dense layers and, unless ``p_conv`` / ``k_conv``
    are given, to the conv layers too.  A sequence ``k`` gives one value per
    layer (the paper's ``32-32-2``).
    """

    recipe: str = _f("small_vgg-mnist5k", "baseline recipe <net>-<data> (compactnn.nn.RECIPES)")
    method: str = _f("pr-cws", "pr, cws, pws, uq, ecsq, pr-<ws>; u<ws> = unified codebooks")
    target: str = _f("dense", "layers to compress: dense, conv or both")
    p: Any = _f(None, "pruning percentile (Pr methods), or one per layer")
    k: Any = _f(None, "codebook size (weight-sharing methods), or one per layer")
    p_conv: Any = _f(None, "pruning percentile of the conv layers; None: p")
    k_conv: Any = _f(None, "codebook size of the conv layers; None: k")
    epochs: int = _f(2, "retraining epochs at most (best epoch kept)")
    lr: float = _f(1e-4, "retraining learning rate")
    optimizer: str | None = _f(None, "retraining optimizer; None: the recipe's")
    patience: int | None = _f(None, "early-stopping patience in epochs; None: run every epoch")
    seed: int = _f(0, "seed of baseline, quantizers and retraining")
    variant: str = _f("paper", "algorithm variant of the quantizers ('paper' or 'reference')")

    def __post_init__(self):
        super().__post_init__()
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        prune = self.method.lower().startswith("pr")
        shares = self.method.lower() != "pr"
        if prune and self.p is None:
            raise ValueError(f"method {self.method!r} needs a pruning percentile p")
        if shares and self.k is None:
            raise ValueError(f"method {self.method!r} needs a codebook size k")

    def label(self) -> str:
        """Short human label, e.g. ``pr-cws/p90/k32-32-2 (dense)``."""
        def text(v):
            return "-".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}"
        parts = [self.method]
        if self.p is not None:
            parts.append("p" + text(self.p))
        if self.k is not None:
            parts.append("k" + text(self.k))
        suffix = "" if self.variant == "paper" else f", {self.variant}"
        return "/".join(parts) + f" ({self.target}{suffix})"


def as_dict(cfg) -> dict:
    """A configuration as plain JSON data (tuples become lists), with its type name."""
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, tuple) else v
    return {"type": type(cfg).__name__} | {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def from_dict(data: dict):
    """The configuration :func:`as_dict` wrote."""
    data = dict(data)
    kinds = {c.__name__: c for c in (SpaceConfig, TimeConfig, CompressConfig)}
    cls = kinds[data.pop("type")]
    return cls(**data)
