"""Records: the tidy rows of one run, in a folder named by what they depend on.

A record lives in ``<results>/records/<kind>/<key>/``, where ``key`` hashes the
configuration (:func:`compactnn.experiments.configs.as_dict`), the record schema
(:data:`SCHEMA_VERSION`) and the package version: a changed configuration,
schema or package never serves a stale result.  The folder holds

- ``rows.csv``: long format, one row per configuration and format (and, for
  the time study, per batch and thread count);
- ``record.json``: the configuration, the versions, the time taken; written
  last, so its presence means the record is complete.

Both are written atomically (:mod:`compactnn._files`), so a run killed at any
moment leaves either a complete record or none.  The report
(:mod:`compactnn.report`) reads these files only.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import __version__
from .._files import results_root, write_text_atomic
from .configs import as_dict

__all__ = ["SCHEMA_VERSION", "record_key", "record_dir", "is_complete", "write_record",
           "read_record", "cached"]

log = logging.getLogger(__name__)

#: Bump when the columns or the meaning of a record's rows change.
SCHEMA_VERSION = 1


def record_key(cfg) -> str:
    """Hash of the configuration, :data:`SCHEMA_VERSION` and the package version."""
    text = json.dumps({"config": as_dict(cfg), "schema": SCHEMA_VERSION, "version": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_dir(kind: str, cfg, results=None) -> Path:
    """``<results>/records/<kind>/<key>``."""
    return results_root(results) / "records" / kind / record_key(cfg)


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished record."""
    return (Path(folder) / "record.json").is_file() and (Path(folder) / "rows.csv").is_file()


def write_record(folder: Path, cfg, rows: pd.DataFrame, kind: str, seconds: float,
                 extra: dict | None = None) -> Path:
    """Write ``rows.csv`` then ``record.json`` (each atomically) into ``folder``."""
    folder = Path(folder)
    write_text_atomic(folder / "rows.csv", rows.to_csv(index=False))
    meta = {"kind": kind, "key": folder.name, "config": as_dict(cfg), "schema": SCHEMA_VERSION,
            "version": __version__, "seconds": round(float(seconds), 3), "rows": int(len(rows)),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")} | (extra or {})
    write_text_atomic(folder / "record.json", json.dumps(meta, indent=1, default=str) + "\n")
    return folder


def read_record(folder: Path) -> tuple[dict, pd.DataFrame]:
    """``(record.json contents, rows)`` of a finished record."""
    folder = Path(folder)
    return json.loads((folder / "record.json").read_text()), pd.read_csv(folder / "rows.csv")


def cached(kind: str, cfg, compute: Callable[[], pd.DataFrame], results=None, *,
           force: bool = False) -> pd.DataFrame:
    """The rows of ``cfg``: read back from its record, or computed and stored.

    The log says which: ``reused`` (nothing the record depends on changed) or
    ``computed`` (no record for this configuration, schema and version, or
    ``force``).
    """
    folder = record_dir(kind, cfg, results)
    if is_complete(folder) and not force:
        log.info("%s record %s reused (same configuration, schema %d, version %s)",
                 kind, folder.name, SCHEMA_VERSION, __version__)
        return read_record(folder)[1]
    t0 = time.perf_counter()
    rows = compute()
    seconds = time.perf_counter() - t0
    write_record(folder, cfg, rows, kind, seconds)
    log.info("%s record %s computed in %.1f s (%d rows)", kind, folder.name, seconds, len(rows))
    # Read back so that a fresh and a reused record look the same to the caller.
    return read_record(folder)[1]
