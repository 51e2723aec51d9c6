"""The compression study's tables and figures (ICPR Tables II and III, performance against psi).

Reads the grid's rows (one per configuration, as
:func:`compactnn.experiments.compress_study.run_grid` returns them) and writes
tables and figures; measures nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["best_tables", "plot_grid", "write_tables"]


def best_tables(df):
    """ICPR Table II (best performance per method) and Table III (smallest psi, no loss)."""
    psi_cols = [c for c in df.columns if c.startswith("psi_dense_")]
    d = df.copy()
    d["best_psi_dense"] = d[psi_cols].min(axis=1)
    d["best_format"] = d[psi_cols].idxmin(axis=1).str.replace("psi_dense_", "", regex=False)
    table2 = d.sort_values("after", ascending=False).groupby("method", sort=False).head(1)
    lossless = d[d["delta"] >= 0]
    table3 = lossless.sort_values("best_psi_dense").groupby("method", sort=False).head(1)
    cols = ["method", "target", "p", "k", "after", "delta", "best_psi_dense", "best_format"]
    return table2[cols].reset_index(drop=True), table3[cols].reset_index(drop=True)


def plot_grid(df, out_dir: str | os.PathLike, formats=("sham", "ham", "csr")):
    """Performance against psi (dense layers) per method, one marker per format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = dict(zip(formats, "os^dvx"))
    colors = {}
    for i, (method, g) in enumerate(df.groupby("method", sort=False)):
        colors[method] = f"C{i % 10}"
        for f in formats:
            col = f"psi_dense_{f}"
            if col in g:
                ax.scatter(g[col], g["after"], marker=markers[f], color=colors[method], alpha=0.85)
    handles = [Line2D([], [], ls="", marker="o", color=c, label=m) for m, c in colors.items()]
    handles += [Line2D([], [], ls="", marker=mk, color="black", label=f) for f, mk in markers.items()]
    if len(df):
        ax.axhline(df["baseline"].iloc[0], color="grey", ls="--", lw=1)
        handles.append(Line2D([], [], color="grey", ls="--", label="baseline"))
    ax.set_xscale("log")
    ax.set_xlabel(r"$\psi$ of the dense layers")
    ax.set_ylabel("test metric after retraining")
    ax.legend(handles=handles, fontsize=7, ncol=2, title="color: method, marker: format",
              title_fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    from .tables import save_figure

    save_figure(fig, out_dir, "compress_perf_vs_psi")   # each format written atomically
    plt.close(fig)
    return out_dir / "compress_perf_vs_psi.png"



def write_tables(df, table2, table3, out_dir: str | os.PathLike) -> Path:
    """The grid and the two summary tables as CSV and Markdown (written atomically)."""
    from .tables import write_csv, write_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    titles = {"grid": "Compression grid", "best_performance": "Best performance per method",
              "smallest_psi_no_loss": "Smallest psi of the dense layers with no loss"}
    for name, t in (("grid", df), ("best_performance", table2), ("smallest_psi_no_loss", table3)):
        write_csv(t, out_dir / f"compress_{name}.csv")
        write_markdown(t, out_dir / f"compress_{name}.md", title=titles[name])
    return out_dir
