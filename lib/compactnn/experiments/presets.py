"""Named parameter sets of the format study, defined once, as data.

``quick`` runs on a CPU in minutes (``make``), ``paper`` at the paper's layer
sizes (``make paper``), ``bench`` is the grid of ``python -m compactnn.bench``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UnknownNameError
from .configs import SpaceConfig, TimeConfig

__all__ = ["SPACE", "TIME", "PAPER_SHAPES", "space_config", "time_config", "paper_parameters"]

#: Layer shapes of the paper's networks: VGG19's dense block on CIFAR-10 (512 -> 4096 ->
#: 4096) and DeepDTA's (192 -> 1024 -> 1024 -> 512).
PAPER_SHAPES = ((512, 4096), (4096, 4096), (192, 1024), (1024, 1024), (1024, 512))

SPACE = {
    # quick: the reference compressors at fast levels (xz -6 and zstd -19 take about 2 s each
    # per 512 x 4096 index array, 60 of the notebook's 70 s; xz -1 and zstd -9 take 0.35 s
    # and come within 20% of their sizes)
    "quick": SpaceConfig(references=(("xz", 1), ("zstd", 9))),
    "paper": SpaceConfig(shapes=PAPER_SHAPES,
                         densities=(1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01, 0.005),
                         ks=(2, 32, 128, 1024)),
    "bench": SpaceConfig(shapes=((512, 4096), (4096, 4096)), densities=(1.0, 0.5, 0.3, 0.1, 0.01),
                         ks=(2, 32, 256), references=()),
}
TIME = {
    "quick": TimeConfig(),
    "paper": TimeConfig(shapes=((512, 4096), (4096, 4096), (1024, 1024)),
                        densities=(1.0, 0.5, 0.3, 0.1, 0.05, 0.01), ks=(32, 1024),
                        batches=(1, 8, 64), threads=(1, 2), repeat=15),
    "bench": TimeConfig(shapes=((512, 4096), (4096, 4096)), densities=(1.0, 0.5, 0.3, 0.1, 0.01),
                        ks=(2, 32, 256), batches=(1, 8), threads=(1, 2), repeat=7),
}


def _get(table: dict, preset: str, overrides: dict | None):
    if preset not in table:
        raise UnknownNameError(f"unknown preset {preset!r}; known: {', '.join(table)}")
    return table[preset].replace(**(overrides or {}))


def space_config(preset: str = "quick", overrides: dict | None = None) -> SpaceConfig:
    """The named space configuration, with some fields changed by ``overrides``."""
    return _get(SPACE, preset, overrides)


def time_config(preset: str = "quick", overrides: dict | None = None) -> TimeConfig:
    """The named time configuration, with some fields changed by ``overrides``."""
    return _get(TIME, preset, overrides)


def paper_parameters(notebook_name: str) -> dict:
    """Papermill parameters of the paper-scale run of a format-study notebook.

    ``notebook_name`` is ``"01_space"`` or ``"02_time"`` (a path or ``.ipynb``
    suffix is accepted).
    """
    name = Path(str(notebook_name)).stem
    if name in ("01_space", "02_time"):
        return {"preset": "paper", "overrides": {}, "results": None}
    raise ValueError(f"no paper parameters for notebook {notebook_name!r}; known: 01_space, 02_time")
