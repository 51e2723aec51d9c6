"""The format study's tables and figures, drawn from its records.

Reads the rows that :mod:`compactnn.experiments.format_study` measured (space:
one row per matrix and format; time: per matrix, format, batch and threads)
and writes summaries (CSV + Markdown) and figures (PNG + PDF).  Measures
nothing: this module imports nothing from :mod:`compactnn.experiments`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .. import bounds, timing
from .._files import write_text_atomic
from ..formats import FORMATS, default_threads
from .tables import finish_layout, plot_style, save_figure, write_csv

__all__ = ["space_summary", "time_summary", "crossover_summary", "plot_space", "plot_time",
           "write_tables", "write_environment", "uses_threads"]

#: Compressors the space study applies to the index array (rows of kind "reference").
_REFERENCE_PREFIXES = ("zstd", "xz")


def uses_threads(name: str) -> bool:
    """Whether the format's own kernel takes ``threads`` (a class trait, not NumPy or SciPy)."""
    cls = FORMATS.get(name)
    return bool(cls is not None and cls.threaded and not cls.baseline)


def _registered_order() -> list[str]:
    """Formats in registry order: baselines first, then the paper's formats."""
    return sorted(FORMATS, key=lambda f: (not FORMATS[f].baseline, list(FORMATS).index(f)))


# ---- summaries -----------------------------------------------------------------------
def _is_reference(name: str) -> bool:
    return name.split("-")[0] in _REFERENCE_PREFIXES


def _order(cols: Iterable[str]) -> list[str]:
    pos = {f: i for i, f in enumerate(_registered_order())}
    return sorted(cols, key=lambda c: (_is_reference(c), pos.get(c, len(pos)), c))


def space_summary(df: pd.DataFrame, value: str = "psi") -> pd.DataFrame:
    """``value`` of every format (columns) per matrix (rows), with the bounds alongside."""
    keys = ["n", "m", "k", "density"]
    ok = df[df["psi"].notna()]
    table = ok.pivot_table(index=keys, columns="format", values=value, aggfunc="first")
    table = table[_order(table.columns)]
    extra = (["psi_ham_bound", "psi_ham_bound_H", "psi_sham_bound", "psi_sham_bound_H", "psi_entropy"]
             if value == "psi" else ["entropy_bits_per_nnz"] if value == "bits_per_nnz" else [])
    if extra:
        table = table.join(ok.groupby(keys)[extra].first())
    return table.sort_index(ascending=[True, True, True, False]).reset_index()


def time_summary(df: pd.DataFrame, value: str = "ratio_numpy_1") -> pd.DataFrame:
    """``value`` of every format (columns) per matrix, batch and threads (rows)."""
    keys = ["n", "m", "k", "batch", "threads", "density"]
    table = df.pivot_table(index=keys, columns="format", values=value, aggfunc="first")
    table = table[_order(table.columns)]
    base = df.groupby(keys)[["t_numpy_1", "t_numpy", "t_scipy_csr"]].first()
    return table.join(base).sort_index(ascending=[True] * 5 + [False]).reset_index()


def crossover_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Density below which sHAM is smaller than HAM, ours and the paper's, per shape and k."""
    cols = ["crossover_s", "crossover_s_paper"]
    return df.groupby(["n", "m", "k"])[cols].first().reset_index()


def write_tables(df: pd.DataFrame, out_dir, stem: str) -> list[Path]:
    """``stem.csv`` (every column) and ``stem.md`` (summary pivots) in ``out_dir``."""
    from .tables import markdown_table
    out = Path(out_dir)
    paths = [write_csv(df, out / f"{stem}.csv")]
    if "time_s" in df:
        parts = [("time / NumPy dense (1 BLAS thread)", time_summary(df), ".3g"),
                 ("time / SciPy CSR", time_summary(df, "ratio_csr"), ".3g")]
    else:
        parts = [("psi of every format, with the bounds", space_summary(df), ".4g"),
                 ("bits per nonzero, with the order-0 entropy bound",
                  space_summary(df, "bits_per_nnz"), ".3g"),
                 ("density below which sHAM is smaller than HAM", crossover_summary(df), ".4g")]
    text = "".join(f"## {title}\n\n{markdown_table(t, fmt)}\n" for title, t, fmt in parts)
    paths.append(write_text_atomic(out / f"{stem}.md", f"# {stem}\n\n{text}"))
    return paths


def write_environment(out_dir) -> Path:
    """``environment.json``: machine, library versions and the BLAS in use."""
    info = timing.machine_info() | {"blas": timing.blas_info(),
                                    "formats": _registered_order(), "default_threads": default_threads()}
    return write_text_atomic(Path(out_dir) / "environment.json", json.dumps(info, indent=2, default=str))


# ---- figures -------------------------------------------------------------------------
def _style_of(name: str) -> dict:
    import matplotlib.pyplot as plt
    order = _registered_order()
    i = order.index(name) if name in order else len(order)
    # tab10 without its grey (kept for the references), then three more.
    colors = [c for j, c in enumerate(plt.get_cmap("tab10").colors) if j != 7]
    colors += ["#1b1b7a", "#e6ab02", "#66a61e"]
    if _is_reference(name):
        return {"color": "0.55", "linestyle": "--" if name.startswith("zstd") else "-.", "marker": "",
                "label": f"{name} (index array; not computable)"}
    label = getattr(FORMATS.get(name), "display_name", "") or name
    return {"color": colors[i % len(colors)], "marker": "osv^<>Dph*"[i % 10], "label": label}


def plot_space(df: pd.DataFrame, out_dir=None, stem: str = "space") -> list:
    """``psi`` and bits per nonzero against density, one column per ``k``, one figure per shape.

    Black lines are the bounds of :mod:`compactnn.bounds` for the nominal ``k``
    (HAM: ``k + 1`` symbols below density 1; sHAM: ``k``), the order-0 entropy
    (``log2 C(nm, q) + q H0``) and the paper's word accounting of CSC.
    Saved as ``stem_NxM.png`` / ``.pdf`` when ``out_dir`` is given.
    """
    import matplotlib.pyplot as plt
    figs = []
    data = df[df["psi"].notna()]
    for (n, m), part in data.groupby(["n", "m"]):
        ks = sorted(part["k"].unique())
        with plot_style():
            fig, axes = plt.subplots(2, len(ks), figsize=(3.2 * len(ks) + 1.6, 5.6), squeeze=False,
                                     sharex=True)
            for j, k in enumerate(ks):
                pk = part[part["k"] == k]
                ax_psi, ax_bits = axes[0, j], axes[1, j]
                for name in _order(pk["format"].unique()):
                    f = pk[pk["format"] == name].sort_values("density")
                    st = _style_of(name)
                    ax_psi.plot(f["density"], f["psi"], **st)
                    ax_bits.plot(f["density"], f["bits_per_nnz"], **st)
                grid = np.geomspace(max(part["density"].min(), 1.0 / (n * m)), 1.0, 60)
                ax_psi.plot(grid, [bounds.psi_ham_bound(n, m, int(k) + (s < 1)) for s in grid],
                            color="k", ls="--", lw=0.9, label="HAM bound")
                ax_psi.plot(grid, [bounds.psi_sham_bound(n, m, s, int(k)) for s in grid],
                            color="k", ls=":", lw=1.1, label="sHAM bound")
                ax_psi.plot(grid, [bounds.psi_csc_words(n, m, s * n * m) for s in grid],
                            color="0.3", ls=(0, (1, 3)), lw=0.8, label="CSC, word accounting")
                e = pk.groupby("density")[["psi_entropy", "entropy_bits_per_nnz"]].first().sort_index()
                ax_psi.plot(e.index, e["psi_entropy"], color="k", lw=1.6, label="order-0 entropy")
                ax_bits.plot(e.index, e["entropy_bits_per_nnz"], color="k", lw=1.6, label="order-0 entropy")
                ax_psi.set(xscale="log", yscale="log", title=f"{n}x{m}, k = {k}")
                ax_bits.set(xscale="log", yscale="log", xlabel="density s")
                if j == 0:
                    ax_psi.set_ylabel("psi (bytes / dense float32 bytes)")
                    ax_bits.set_ylabel("bits per nonzero")
            _finish_figure(fig, axes, out_dir, f"{stem}_{n}x{m}")
        figs.append(fig)
    return figs


def _finish_figure(fig, axes, out_dir, name: str) -> None:
    """One legend (the first panel's) beside the panels; saved when ``out_dir`` is given."""
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    finish_layout(fig)
    if out_dir is not None:
        save_figure(fig, out_dir, name)


def plot_time(df: pd.DataFrame, out_dir=None, stem: str = "time", k: int | None = None) -> list:
    """Time of ``X @ W`` over NumPy dense (1 BLAS thread) against density.

    One figure per shape, one panel per (threads, batch); the SciPy CSR and
    NumPy default-threads products of the same run are drawn in black/grey.
    With several ``k`` in ``df`` the middle one is shown unless ``k`` is given.
    """
    import matplotlib.pyplot as plt
    figs = []
    ks = sorted(df["k"].unique())
    k = ks[len(ks) // 2] if k is None else k
    data = df[df["k"] == k]
    for (n, m), part in data.groupby(["n", "m"]):
        ths, bs = sorted(part["threads"].unique()), sorted(part["batch"].unique())
        with plot_style():
            fig, axes = plt.subplots(len(ths), len(bs), figsize=(3.3 * len(bs) + 1.6, 2.8 * len(ths)),
                                     squeeze=False, sharex=True, sharey=True)
            for i, t in enumerate(ths):
                for j, b in enumerate(bs):
                    ax = axes[i, j]
                    p = part[(part["threads"] == t) & (part["batch"] == b)]
                    for name in _order(p["format"].unique()):
                        f = p[p["format"] == name].sort_values("density")
                        ax.plot(f["density"], f["ratio_numpy_1"], **_style_of(name))
                    base = p.groupby("density")[["t_numpy_1", "t_numpy", "t_scipy_csr"]].first().sort_index()
                    ax.plot(base.index, base["t_scipy_csr"] / base["t_numpy_1"], color="k", ls="--",
                            label="SciPy CSR (X @ csr_matrix(W))")
                    ax.plot(base.index, base["t_numpy"] / base["t_numpy_1"], color="0.5", ls=":",
                            label="NumPy dense, default threads")
                    ax.axhline(1.0, color="k", lw=0.6)
                    ax.set(xscale="log", yscale="log", title=f"{n}x{m}, k={k}, batch {b}, {t} thread(s)")
                    if i == len(ths) - 1:
                        ax.set_xlabel("density s")
                    if j == 0:
                        ax.set_ylabel("time / NumPy dense (1 thread)")
            _finish_figure(fig, axes, out_dir, f"{stem}_{n}x{m}")
        figs.append(fig)
    return figs


