"""``python -m compactnn paper`` (``make paper``): the paper's evaluation at full scale.

In order, under one results root (``--results``, default ``$COMPACTNN_RESULTS``
or ``./results``):

1. the four paper grids (:data:`PAPER_GRIDS`, ``grids/*.yaml``: VGG19 on MNIST
   and CIFAR-10, DeepDTA on DAVIS and KIBA), each baseline trained once, one
   ``compress`` record per configuration, through the sweep (:mod:`.sweep`):
   on the GPU when torch sees one, on the Dask cluster at ``--scheduler`` or
   ``$DASK_SCHEDULER_ADDRESS`` when given;
2. the format-study notebooks at the paper's layer sizes (``paper`` preset),
   executed copies in ``<results>/notebooks/``;
3. the report, through ``04_report`` (:func:`.pipeline_quick.write_report`).

The data sets must be downloaded first (``make data``).  ``--grid NAME`` runs
one grid (repeatable); ``--dry-run`` prints the plan and the estimated cost.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .pipeline_quick import write_report
from .sweep import SCHEDULER_ENV

log = logging.getLogger(__name__)

#: The paper's network-data pairs, one grid each, in the order they run.
PAPER_GRIDS = ("vgg19-mnist", "vgg19-cifar10", "deepdta-davis", "deepdta-kiba")

#: Where ``make data`` puts the data sets (relative to the working directory, as the loaders read them).
DATA_ROOT = "data"

#: Format-study notebooks run at the paper's sizes.
PAPER_NOTEBOOKS = ("01_space", "02_time")


def add_arguments(parser):
    parser.description = (
        f"Run the paper's evaluation: the grids {', '.join(PAPER_GRIDS)} (grids/*.yaml; records under "
        f"RESULTS/records/), on the GPU when there is one and on the Dask cluster at "
        f"${SCHEDULER_ENV} when set, then the notebooks {', '.join(PAPER_NOTEBOOKS)} at the paper's "
        f"layer sizes (RESULTS/notebooks/), then the report (RESULTS/report/). Needs `make data` "
        "first. Finished configurations are skipped on rerun.")
    parser.add_argument("--results", metavar="DIR", default=None,
                        help="results root (default $COMPACTNN_RESULTS or ./results)")
    parser.add_argument("--grid", action="append", metavar="NAME",
                        help=f"run only this grid (repeatable; a shipped name or a YAML file); "
                             f"default: {', '.join(PAPER_GRIDS)}")
    parser.add_argument("--scheduler", default=os.environ.get(SCHEDULER_ENV),
                        help=f"address of a running Dask scheduler (default ${SCHEDULER_ENV})")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes of a local Dask cluster; 0 (default): in this process")
    parser.add_argument("--no-notebooks", action="store_true",
                        help="skip the format-study notebooks (grids and report only)")
    parser.add_argument("--force", action="store_true", help="rerun notebooks that already completed")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (configurations, done, estimated time) without training")


def data_ready(dataset: str, root=DATA_ROOT) -> bool:
    """Whether every file of ``dataset`` is under ``root`` (bundled sets always are)."""
    from ..data.registry import DATASETS
    from ..data.sources import SOURCES

    info = DATASETS.get(dataset)
    if info is None or info.embedded:
        return True
    return all((Path(root) / dataset / f.path).is_file() for f in SOURCES.get(dataset, ()))


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "gpu" if torch.cuda.is_available() else "cpu"


def plan(grids, results, data_root=DATA_ROOT, device: str | None = None) -> list[str]:
    """Lines describing what :func:`run` would do: per grid, size, progress, cost, data."""
    from ..nn import get_recipe
    from .grids import load_grid
    from .sweep import pending

    device = device or _device()
    lines = [f"results root: {results}; training on {device}"]
    for name in grids:
        grid = load_grid(name)
        todo = pending(grid.configs, results)
        data = get_recipe(grid.recipe).data
        ready = "ready" if data_ready(data, data_root) else f"missing under {data_root}/ (make data)"
        line = (f"grid {grid.name} (recipe {grid.recipe}, data {data}: {ready}): "
                f"{len(grid.configs)} configurations, {len(grid.configs) - len(todo)} done, "
                f"{len(todo)} to run")
        for dev in ("gpu", "cpu"):
            est = grid.estimate_seconds(dev, todo)
            if est is not None:
                line += f"; at most {est / 3600:.1f} h on {dev}"
        lines.append(line)
    lines.append(f"notebooks (paper preset): {', '.join(PAPER_NOTEBOOKS)} -> {results / 'notebooks'}")
    lines.append(f"report -> {results / 'report'}")
    return lines


def run(args) -> int:
    from .._files import results_root
    from ..errors import UsageError
    from ..nn import get_recipe
    from .grids import load_grid
    from .notebooks import run_notebook
    from .presets import paper_parameters
    from .sweep import sweep

    if args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    results = results_root(args.results)
    names = args.grid or list(PAPER_GRIDS)
    grids = [load_grid(n) for n in names]  # a bad name fails before any work
    if args.dry_run:
        print("\n".join(plan(names, results)))
        return 0
    missing = sorted({get_recipe(g.recipe).data for g in grids if not data_ready(get_recipe(g.recipe).data)})
    if missing and not args.scheduler:
        raise UsageError(f"data set(s) {', '.join(missing)} not under {DATA_ROOT}/: run `make data` "
                         "(python -m compactnn data --all) first")
    for grid in grids:
        t0 = time.perf_counter()
        log.info("grid %s: %d configurations on %s", grid.name, len(grid.configs),
                 f"the cluster at {args.scheduler}" if args.scheduler else _device())
        ran = sweep(grid.configs, results, workers=args.workers, scheduler=args.scheduler)
        log.info("grid %s: %d run, %d were done, %.0f s", grid.name, ran, len(grid.configs) - ran,
                 time.perf_counter() - t0)
    notebooks = [] if args.no_notebooks or args.grid else list(PAPER_NOTEBOOKS)
    for name in notebooks:
        params = paper_parameters(name) | {"results": str(results)}
        run_notebook(name, params, out_dir=results / "notebooks", force=args.force)
    write_report(results)
    return 0
