"""Compression grids: YAML files that expand to lists of :class:`CompressConfig`.

A grid file has a ``recipe``, optional ``defaults`` (fields shared by every
run), an optional ``epoch_seconds: {cpu: s, gpu: s}`` (measured epoch time of
the recipe, for the cost estimate) and ``runs``: a list of entries whose
fields are lists of choices; each entry expands to the product of its lists.
A choice that is itself a list gives one value per layer (``k: [[32, 32, 2]]``).
The shipped grids are in ``grids/`` (:func:`shipped_grids`).
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from ..errors import UsageError
from .configs import TARGETS, CompressConfig

__all__ = ["METHODS", "VARIANTS", "GRID_DIR", "Grid", "shipped_grids", "find_grid", "load_grid",
           "expand"]

#: Method names a grid may use (``u<ws>``: unified codebook over the layers).
METHODS = ("pr", "cws", "pws", "uq", "ecsq", "pr-cws", "pr-pws", "pr-uq", "pr-ecsq",
           "ucws", "upws", "uuq", "uecsq", "pr-ucws", "pr-upws", "pr-uuq", "pr-uecsq")
VARIANTS = ("paper", "reference", "reference-2021")
_TOP_KEYS = {"name", "recipe", "defaults", "runs", "epoch_seconds"}
_FIELDS = {f.name for f in dataclasses.fields(CompressConfig)}


def _grid_dir() -> Path:
    """``grids/`` shipped inside the package, else the source tree's top-level ``grids/``."""
    inside = Path(__file__).resolve().parent.parent / "grids"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent.parent.parent / "grids"


GRID_DIR = _grid_dir()


@dataclasses.dataclass(frozen=True)
class Grid:
    """A loaded grid: its name, recipe, configurations and epoch-time estimates."""

    name: str
    recipe: str
    configs: tuple
    epoch_seconds: dict

    def estimate_seconds(self, device: str = "cpu", configs=None) -> float | None:
        """Upper bound of the retraining time of ``configs`` (default: all) on ``device``."""
        per_epoch = self.epoch_seconds.get(device)
        if per_epoch is None:
            return None
        configs = self.configs if configs is None else configs
        return float(sum(max(c.epochs, 1) * per_epoch for c in configs))


def shipped_grids() -> dict[str, Path]:
    """Name -> path of every grid shipped with the package."""
    return {p.stem: p for p in sorted(GRID_DIR.glob("*.yaml"))}


def find_grid(name_or_path) -> Path:
    """A grid file: an existing path, or the name of a shipped grid (``quick``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_grids()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    raise UsageError(f"no grid file {str(name_or_path)!r}; shipped grids: {', '.join(shipped)}")


def _choices(value):
    return list(value) if isinstance(value, list) else [value]


def _check_entry(entry: dict, where: str) -> None:
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a mapping of fields, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}")
    for m in _choices(entry.get("method", [])):
        if str(m).lower() not in METHODS:
            raise UsageError(f"{where}: unknown method {m!r}; known: {', '.join(METHODS)}")
    for t in _choices(entry.get("target", [])):
        if t not in TARGETS:
            raise UsageError(f"{where}: unknown target {t!r}; known: {', '.join(TARGETS)}")
    for v in _choices(entry.get("variant", [])):
        if v not in VARIANTS:
            raise UsageError(f"{where}: unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    for key in ("p", "p_conv"):
        for p in _choices(entry.get(key, [])):
            for x in (p if isinstance(p, list) else [p]):
                if not isinstance(x, (int, float)) or not 0 <= x < 100:
                    raise UsageError(f"{where}: {key} must be a percentile in [0, 100), got {x!r}")
    for key in ("k", "k_conv"):
        for k in _choices(entry.get(key, [])):
            for x in (k if isinstance(k, list) else [k]):
                if not isinstance(x, int) or isinstance(x, bool) or x < 1:
                    raise UsageError(f"{where}: {key} must be a positive integer, got {x!r}")


def expand(data: dict, source: str = "grid") -> Grid:
    """Validate grid ``data`` (parsed YAML) and expand it to configurations (duplicates dropped)."""
    if not isinstance(data, dict):
        raise UsageError(f"{source}: a grid is a mapping with 'recipe' and 'runs'")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
    if "recipe" not in data or not data.get("runs"):
        raise UsageError(f"{source}: a grid needs 'recipe' and a non-empty 'runs' list")
    defaults = dict(data.get("defaults") or {})
    _check_entry(defaults, f"{source}: defaults")
    if "recipe" in defaults:
        raise UsageError(f"{source}: defaults: give the recipe at the top level")
    epoch_seconds = dict(data.get("epoch_seconds") or {})
    if set(epoch_seconds) - {"cpu", "gpu"}:
        raise UsageError(f"{source}: epoch_seconds takes keys cpu and gpu only")
    configs, seen = [], set()
    for i, entry in enumerate(data["runs"]):
        where = f"{source}: runs[{i}]"
        _check_entry(entry, where)
        if "method" not in entry and "method" not in defaults:
            raise UsageError(f"{where}: no method")
        merged = {"recipe": data["recipe"]} | defaults | entry
        keys = list(merged)
        for values in itertools.product(*(_choices(merged[k]) for k in keys)):
            fields = dict(zip(keys, values))
            try:
                cfg = CompressConfig(**fields)
            except (TypeError, ValueError) as exc:
                raise UsageError(f"{where}: {exc}") from None
            if cfg not in seen:
                seen.add(cfg)
                configs.append(cfg)
    return Grid(name=str(data.get("name", Path(source).stem)), recipe=str(data["recipe"]),
                configs=tuple(configs), epoch_seconds=epoch_seconds)


def load_grid(name_or_path) -> Grid:
    """Read, validate and expand a grid file (or a shipped grid by name)."""
    import yaml

    path = find_grid(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return expand(data, source=str(path))
