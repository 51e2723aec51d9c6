"""``python -m compactnn sweep GRID``: run a compression grid, resuming where it stopped.

Each configuration writes one record (:mod:`compactnn.experiments.records`,
kind ``compress``) atomically, ``record.json`` last; a configuration whose
record is complete is skipped, so a sweep killed at any moment and started
again runs every configuration exactly once.  Configurations run on a Dask
cluster: an existing scheduler (``--scheduler`` or ``$DASK_SCHEDULER_ADDRESS``),
a local cluster of ``--workers`` processes, or, with ``--workers 0``, one
after the other in this process.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import time

from ..errors import UsageError
from .grids import load_grid
from .records import is_complete, record_dir

log = logging.getLogger(__name__)

__all__ = ["pending", "run_one", "prepare_baselines", "sweep", "grid_records", "best_per_configuration",
           "add_arguments", "run"]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
DEFAULT_RUNNER = "compactnn.experiments.sweep:run_one"


def pending(configs, results=None) -> list:
    """The configurations of ``configs`` without a complete record under ``results``."""
    return [c for c in configs if not is_complete(record_dir("compress", c, results))]


def run_one(cfg, results=None) -> dict:
    """Run one configuration and write its record; returns ``{"label", "metric", "performance", "psi"}``."""
    from .compress_study import run_record

    return run_record(cfg, results)


def prepare_baselines(configs, results=None) -> None:
    """Train (once) the baseline of every recipe and seed of ``configs``, in this process.

    Called before the configurations are handed to the workers, so that they
    do not race to train the same baseline.
    """
    from .compress_study import baseline

    for recipe, seed in dict.fromkeys((c.recipe, c.seed) for c in configs):
        baseline(recipe, seed, results)


def _runner(spec: str):
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"runner {spec!r} not found ({exc})") from None


def _call(spec: str, cfg, results, threads: int | None):
    """Worker side: set the torch thread count, then run one configuration (record skipped if done)."""
    if is_complete(record_dir("compress", cfg, results)):
        return {"label": cfg.label(), "skipped": True}
    if threads:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            pass
    return _runner(spec)(cfg, results) | {"label": cfg.label()}


def _log_done(summary: dict) -> None:
    if summary.get("skipped"):
        return
    log.info("done %s: %s %s, best psi %s", summary.get("label"), summary.get("metric", "metric"),
             summary.get("performance"), summary.get("psi"))


def sweep(configs, results=None, *, workers: int = 1, scheduler: str | None = None,
          runner: str = DEFAULT_RUNNER, progress: bool | None = None) -> int:
    """Run every pending configuration; returns how many ran."""
    from tqdm import tqdm

    from .._files import results_root

    results = results_root(results)  # absolute: workers may run in another directory
    _runner(runner)  # fail early on a bad runner
    todo = pending(configs, results)
    if not todo:
        return 0
    progress = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(todo), desc="configurations", unit="cfg", disable=not progress)
    cores = os.cpu_count() or 1
    baselines = runner == DEFAULT_RUNNER
    if scheduler is None and workers == 0:
        if baselines:
            prepare_baselines(todo, results)
        for cfg in todo:
            _log_done(_call(runner, cfg, results, None))
            bar.update()
        bar.close()
        return len(todo)
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
        threads = None
    else:
        workers = max(1, min(workers, cores))
        threads = max(1, cores // workers)  # workers * torch threads <= cores
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        if baselines:  # one task per baseline, before the configurations that need it
            groups = dict.fromkeys((c.recipe, c.seed) for c in todo)
            client.gather([client.submit(prepare_baselines, [c for c in todo if (c.recipe, c.seed) == g],
                                         results, pure=False) for g in groups])
        futures = [client.submit(_call, runner, cfg, results, threads, pure=False) for cfg in todo]
        for fut in as_completed(futures):
            _log_done(fut.result())
            bar.update()
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return len(todo)


def grid_records(configs, results=None):
    """The rows (long format) of every finished record of ``configs``, concatenated, with a
    ``record`` column (the record's key)."""
    import pandas as pd

    from .records import read_record

    frames = []
    for c in configs:
        folder = record_dir("compress", c, results)
        if is_complete(folder):
            frames.append(read_record(folder)[1].assign(record=folder.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def best_per_configuration(rows, scope: str = "dense"):
    """One row per configuration: its smallest format on ``scope``, sorted by ``psi``."""
    if rows.empty:
        return rows
    part = rows[rows["scope"] == scope]
    best = part.loc[part.groupby("record" if "record" in part else "label")["psi"].idxmin()]
    cols = ["label", "baseline", "before", "performance", "delta", "format", "psi", "time_ratio"]
    return best[cols].sort_values(["psi", "delta"], ascending=[True, False]).reset_index(drop=True)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def add_arguments(parser):
    parser.add_argument("grid", help="grid YAML file, or the name of a shipped grid (quick, vgg19-mnist, ...)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the number of configurations, how many are done, and the estimated cost")
    parser.add_argument("--scheduler", default=os.environ.get(SCHEDULER_ENV),
                        help=f"address of a running Dask scheduler (default ${SCHEDULER_ENV})")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes of the local Dask cluster; 0: run in this process (default 1)")
    parser.add_argument("--results", default=None, help="results folder (default $COMPACTNN_RESULTS or results/)")
    parser.add_argument("--runner", default=DEFAULT_RUNNER, help="module:function that runs one configuration")


def run(args) -> int:
    grid = load_grid(args.grid)
    if args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    todo = pending(grid.configs, args.results)
    done = len(grid.configs) - len(todo)
    if args.dry_run:
        print(f"grid {grid.name} (recipe {grid.recipe}): {len(grid.configs)} configurations, "
              f"{done} done, {len(todo)} to run")
        for device in ("cpu", "gpu"):
            est = grid.estimate_seconds(device, todo)
            if est is not None:
                print(f"estimated cost on {device}: at most {_duration(est)} "
                      f"({grid.epoch_seconds[device]:g} s per epoch)")
        return 0
    t0 = time.perf_counter()
    ran = sweep(grid.configs, args.results, workers=args.workers, scheduler=args.scheduler,
                runner=args.runner)
    log.info("grid %s: %d configurations run, %d were done already, %.0f s", grid.name, ran, done,
             time.perf_counter() - t0)
    return 0
