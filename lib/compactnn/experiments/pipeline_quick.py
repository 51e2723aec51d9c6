"""``python -m compactnn quick`` (``make``): the main job on the embedded default.

In order, on the CPU, everything under one results root (``--results``,
default ``$COMPACTNN_RESULTS`` or ``./results``):

1. the baseline of the embedded default (a small VGG on the 5,000 bundled MNIST
   digits), a ``baseline`` record;
2. the quick compression grid (``grids/quick.yaml``: every method on dense,
   conv and both layers, per-layer and unified codebooks), one ``compress``
   record per configuration, through the sweep (:mod:`.sweep`);
3. the notebooks of :data:`QUICK_NOTEBOOKS` with their quick parameters,
   executed copies in ``<results>/notebooks/``;
4. the report: ``notebooks/04_report.ipynb`` builds it from the records
   (:mod:`compactnn.report.cli`: tables and figures in ``<results>/report/``,
   ``<results>/index.html``).

Finished work is skipped on rerun: records are reused, a notebook that
completed with the same parameters is not run again (``--force`` reruns the
notebooks).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: The quick grid (a shipped grid name or a YAML path).
QUICK_GRID = "quick"

#: Notebooks of the quick run, in order, before the report.  ``03_compress`` is
#: a view on the sweep's records (it finds the grid done and shows its table).
QUICK_NOTEBOOKS = ("01_space", "02_time", "00_walkthrough", "03_compress")

#: The report notebook, run last where it exists.
REPORT_NOTEBOOK = "04_report"


def add_arguments(parser):
    parser.description = (
        "Run the main job on the embedded default (CPU, minutes): the baseline of a small VGG on "
        f"5,000 MNIST digits, the grid grids/{QUICK_GRID}.yaml (records under RESULTS/records/), "
        f"the notebooks {', '.join(QUICK_NOTEBOOKS)} (executed copies in RESULTS/notebooks/), then "
        f"the report (RESULTS/report/, and {REPORT_NOTEBOOK} where it exists). "
        "Finished work is skipped on rerun.")
    parser.add_argument("--results", metavar="DIR", default=None,
                        help="results root (default $COMPACTNN_RESULTS or ./results)")
    parser.add_argument("--grid", default=QUICK_GRID,
                        help=f"compression grid, a shipped name or a YAML file (default {QUICK_GRID})")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes of a local Dask cluster for the grid; 0 (default): one "
                             "configuration after the other in this process, fastest on 2 cores")
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="run only this notebook (repeatable), e.g. 01_space; skips the grid "
                             "and the report")
    parser.add_argument("--force", action="store_true", help="rerun notebooks that already completed")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder of the executed notebooks (default RESULTS/notebooks)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (grid size, what is done, notebooks) without running")


def quick_parameters(name: str, results, grid: str = QUICK_GRID) -> dict:
    """Papermill parameters of a quick-run notebook: the results root (and the grid for 03)."""
    if name == "00_walkthrough":  # writes nothing: its outputs are the executed notebook
        return {}
    params = {"results": str(results)}
    if name == "03_compress":
        params["grid"] = str(grid)
    return params


def records_fingerprint(results) -> str:
    """The keys of the finished compression records under ``results`` (what ``03_compress`` shows,
    :func:`compactnn.report.records.record_folders`): a view on them reruns when they change."""
    from ..report.records import record_folders

    return ",".join(folder.name for folder in record_folders(results, "compress"))


def _plan(args, results) -> list[str]:
    from .grids import load_grid
    from .notebooks import notebook_path
    from .sweep import pending

    grid = load_grid(args.grid)
    todo = pending(grid.configs, results)
    lines = [f"results root: {results}",
             f"grid {grid.name}: {len(grid.configs)} configurations, "
             f"{len(grid.configs) - len(todo)} done, {len(todo)} to run"]
    est = grid.estimate_seconds("cpu", todo)
    if est is not None:
        lines.append(f"  estimated retraining on cpu: at most {est / 60:.0f} min")
    names = list(QUICK_NOTEBOOKS) + [REPORT_NOTEBOOK]
    for name in names:
        if notebook_path(name) is not None:
            lines.append(f"notebook {name} -> {results / 'notebooks' / (name + '.ipynb')}")
    lines.append(f"report -> {results / 'report'}")
    return lines


def run(args) -> int:
    from .._files import results_root
    from ..errors import UsageError
    from .notebooks import notebook_path, run_notebook

    if args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    results = results_root(args.results)
    if args.dry_run:
        print("\n".join(_plan(args, results)))
        return 0
    out = Path(args.out) if args.out else results / "notebooks"
    if args.only:
        for name in args.only:
            run_notebook(name, quick_parameters(name, results, args.grid), out_dir=out, force=args.force)
        return 0
    t0 = time.perf_counter()
    from .compress_study import baseline
    from .grids import load_grid
    from .sweep import sweep

    grid = load_grid(args.grid)
    baseline(grid.recipe, 0, results)
    ran = sweep(grid.configs, results, workers=args.workers)
    log.info("grid %s: %d configurations run, %d were done (%.0f s so far)", grid.name, ran,
             len(grid.configs) - ran, time.perf_counter() - t0)
    for name in QUICK_NOTEBOOKS:
        if notebook_path(name) is None:
            continue
        inputs = records_fingerprint(results) if name == "03_compress" else ""
        run_notebook(name, quick_parameters(name, results, args.grid), out_dir=out, force=args.force,
                     inputs=inputs)
    write_report(results, out)
    log.info("quick run done in %.0f s; results in %s", time.perf_counter() - t0, results)
    return 0


def write_report(results, out=None) -> None:
    """The report from the records, through ``notebooks/04_report.ipynb`` where it exists.

    The notebook builds the report (:func:`compactnn.report.cli.build_report`,
    what ``python -m compactnn report`` does), its executed copy goes to
    ``out`` (default ``<results>/notebooks``), then the index is rewritten so
    that it links the notebook's HTML too.  Without the notebook, the report is
    built directly.
    """
    from ..report import cli
    from .notebooks import notebook_path, run_notebook

    if notebook_path(REPORT_NOTEBOOK) is None:
        cli.build_report(results)
        return
    out = Path(out) if out is not None else Path(results) / "notebooks"
    run_notebook(REPORT_NOTEBOOK, {"results": str(results)}, out_dir=out, force=True)
    cli.refresh_index(results)
