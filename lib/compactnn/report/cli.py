"""``python -m compactnn report``: rebuild tables and figures from the records alone.

Reads every finished record under ``<results>/records/`` (the files the
measuring side wrote: ``record.json`` + ``rows.csv``) and writes the format
study's tables and figures to ``<results>/report/``.  Nothing is measured and
no record is written.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from .._files import results_root

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--results", metavar="DIR",
                        help="results root (default: $COMPACTNN_RESULTS or ./results)")


def read_records(root: Path, kind: str) -> pd.DataFrame | None:
    """The rows of every finished record of ``kind`` under ``root/records``, concatenated."""
    frames = []
    for meta_path in sorted((root / "records" / kind).glob("*/record.json")):
        rows = meta_path.parent / "rows.csv"
        if rows.is_file():
            df = pd.read_csv(rows)
            df["record"] = json.loads(meta_path.read_text())["key"]
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None


def run(args) -> int:
    from . import format_study as fs

    root = results_root(getattr(args, "results", None))
    out = root / "report"
    written = 0
    for kind, plot in (("space", fs.plot_space), ("time", fs.plot_time)):
        df = read_records(root, kind)
        if df is None:
            log.info("no %s records under %s", kind, root / "records")
            continue
        fs.write_tables(df.drop(columns="record"), out / kind, kind)
        plot(df, out_dir=out / kind)
        written += 1
        log.info("%s: %d rows from %d record(s) -> %s", kind, len(df), df["record"].nunique(), out / kind)
    if not written:
        log.warning("nothing to report: no records under %s", root / "records")
    return 0
