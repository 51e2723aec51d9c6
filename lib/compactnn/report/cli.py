"""``python -m compactnn report``: rebuild tables, figures and ``index.html`` from the records alone.

Reads every finished record under ``<results>/records/`` (the files the
measuring side wrote: ``record.json`` + ``rows.csv``, and ``layers.csv`` for
the compression study) and writes

- ``<results>/report/space/``, ``report/time/``: the format study's tables and figures;
- ``<results>/report/compress/``: Tables II and III, the occupancy and variant
  tables (CSV, Markdown, LaTeX) and the Fig. 3 analogue (PNG, PDF);
- ``<results>/report/notebooks/``: the executed notebooks as HTML;
- ``<results>/index.html``: links to all of it and the run's environment.

Nothing is measured and no record is written.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .._files import results_root
from ..errors import UsageError
from .records import read_compress, read_rows

__all__ = ["add_arguments", "build_report", "refresh_index", "run"]

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.description = (
        "Rebuild the report from the records under RESULTS/records/ alone (nothing is "
        "measured, no notebook is run): RESULTS/report/space/ and report/time/ (format "
        "study tables and figures), RESULTS/report/compress/ (Tables II and III, the "
        "occupancy and variant tables as CSV, Markdown and LaTeX; the Fig. 3 analogue), "
        "RESULTS/report/notebooks/ (the notebooks already executed under "
        "RESULTS/notebooks/, 00_walkthrough to 04_report, as HTML) and RESULTS/index.html.")
    parser.add_argument("--results", metavar="DIR",
                        help="results root (default: $COMPACTNN_RESULTS or ./results)")


def build_report(results=None) -> dict[str, list[Path]]:
    """Rebuild everything the report holds from the records under ``results``.

    Returns ``{part: written paths}`` for ``space``, ``time``, ``compress``,
    ``notebooks`` and ``index``.  Parts without records are skipped (logged).
    """
    from . import compress, format_study as fs
    from .index import export_notebooks, write_index

    root = results_root(results)
    if not root.is_dir():
        raise UsageError(f"--results {root}: no such folder (run `python -m compactnn quick` first)")
    out = root / "report"
    written: dict[str, list[Path]] = {}
    for kind, plot in (("space", fs.plot_space), ("time", fs.plot_time)):
        df = read_rows(root, kind)
        if df is None:
            log.info("no %s records under %s", kind, root / "records")
            continue
        paths = fs.write_tables(df.drop(columns="record"), out / kind, kind)
        plot(df, out_dir=out / kind)
        import matplotlib.pyplot as plt

        plt.close("all")
        written[kind] = paths + sorted((out / kind).glob(f"{kind}_*.png"))
        log.info("%s: %d rows from %d record(s) -> %s", kind, len(df), df["record"].nunique(), out / kind)
    rows, layers, metas = read_compress(root)
    if rows is not None:
        tables = compress.write_tables(rows, layers, root / compress.TABLE_DIR)
        figures = compress.plot_fig3(rows, root / compress.TABLE_DIR)
        written["compress"] = [p for paths in tables.values() for p in paths] + figures
        log.info("compress: %d record(s) -> %s", len(metas), root / compress.TABLE_DIR)
    else:
        log.info("no compression records under %s", root / "records")
    if not written:
        log.warning("nothing to report: no records under %s", root / "records")
    written["notebooks"] = export_notebooks(root)
    written["index"] = [write_index(root, metas, written["notebooks"])]
    log.info("index: %s", written["index"][0])
    return written


def refresh_index(results=None) -> Path:
    """Export the executed notebooks again and rewrite ``index.html`` (nothing else is rebuilt).

    For a notebook that ran after :func:`build_report` (``04_report`` calls it),
    so that the index links its HTML too.
    """
    from .index import export_notebooks, write_index

    root = results_root(results)
    _, _, metas = read_compress(root)
    return write_index(root, metas, export_notebooks(root))


def run(args) -> int:
    build_report(getattr(args, "results", None))
    return 0
