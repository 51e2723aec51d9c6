"""Reading finished records: the only files the report takes its numbers from.

A record is a folder ``<results>/records/<kind>/<key>/`` holding ``rows.csv``
and ``record.json`` (written last, so its presence means the record is
complete); compression records add ``layers.csv``.  This module reads them and
nothing else: it never imports the measuring side (:mod:`compactnn.experiments`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

__all__ = ["record_folders", "read_rows", "read_compress"]

log = logging.getLogger(__name__)

#: Config columns of a compression record that may hold a per-layer list ("32-32-2"): read as text.
_TEXT_COLUMNS = {"p": str, "k": str, "p_conv": str, "k_conv": str, "variant": str, "label": str}


def record_folders(root: str | Path, kind: str) -> list[Path]:
    """Every finished record folder of ``kind`` under ``root/records`` (sorted by key)."""
    base = Path(root) / "records" / kind
    return [m.parent for m in sorted(base.glob("*/record.json")) if (m.parent / "rows.csv").is_file()]


def read_rows(root: str | Path, kind: str) -> pd.DataFrame | None:
    """The rows of every finished record of ``kind``, concatenated, with a ``record`` column (its key)."""
    frames = []
    for folder in record_folders(root, kind):
        df = pd.read_csv(folder / "rows.csv")
        df["record"] = json.loads((folder / "record.json").read_text()).get("key", folder.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None


def _layers(folder: Path, key: str) -> pd.DataFrame | None:
    path = folder / "layers.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    if "distinct_nonzero" not in df and "distinct" in df:
        df = df.rename(columns={"distinct": "distinct_nonzero"})
    byte_cols = [c for c in df.columns if c.startswith("bytes_")]
    if "best_format" not in df and byte_cols:
        df["best_format"] = df[byte_cols].idxmin(axis=1).str.removeprefix("bytes_")
        df["best_bytes"] = df[byte_cols].min(axis=1)
    df.insert(0, "record", key)
    return df


def read_compress(root: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict]:
    """Every finished compression record under ``root``: ``(rows, layers, metas)``.

    ``rows`` is the long table of ``rows.csv`` (one row per record, scope and
    format) with a ``record`` column and a ``pair`` column: the record's
    configuration without its ``variant``, as JSON text, so that the paper and
    reference variants of one configuration share a ``pair``.  ``p`` and ``k``
    stay text (a per-layer list is written ``32-32-2``).  ``layers`` holds
    ``layers.csv`` of every record that has one (``distinct_nonzero`` and
    ``best_format`` filled in where an older writer left them out); ``metas``
    maps each key to its ``record.json``.
    """
    frames, layer_frames, metas = [], [], {}
    for folder in record_folders(root, "compress"):
        meta = json.loads((folder / "record.json").read_text())
        key = meta.get("key", folder.name)
        metas[key] = meta
        df = pd.read_csv(folder / "rows.csv", dtype=_TEXT_COLUMNS, keep_default_na=False,
                         na_values={c: [""] for c in ("bytes", "psi", "time_ratio", "baseline", "before",
                                                      "performance", "delta")})
        df["record"] = key
        config = {k: v for k, v in (meta.get("config") or {}).items() if k != "variant"}
        df["pair"] = json.dumps(config, sort_keys=True, default=str) if config else key
        frames.append(df)
        layers = _layers(folder, key)
        if layers is not None:
            layer_frames.append(layers)
    if not frames:
        return None, None, metas
    rows = pd.concat(frames, ignore_index=True)
    layers = pd.concat(layer_frames, ignore_index=True) if layer_frames else None
    log.info("read %d compression record(s) (%d rows)", len(metas), len(rows))
    return rows, layers, metas
