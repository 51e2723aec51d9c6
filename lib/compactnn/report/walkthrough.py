"""Figures and tables of the classroom walkthrough (``notebooks/00_walkthrough.ipynb``).

Every number comes from the library's real objects: the formats' stored arrays
(:mod:`compactnn.formats.explain`), :mod:`compactnn.bounds`, the quantizers of
:mod:`compactnn.quantize` and a trained layer shipped with the package.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from .tables import finish_layout

__all__ = ["FONT", "example_matrix", "byte_table", "bound_figure", "shipped_layer", "compress_layer",
           "histogram_figure"]

#: Font size of the figures (readable on a projector).
FONT = 18
EXAMPLE_FORMATS = ("dense", "csc", "ham", "sham", "sham_gap", "cer", "cser")


def _style():
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT,
                         "legend.fontsize": FONT - 4, "lines.linewidth": 3})
    return plt


def example_matrix(n: int = 5, m: int = 5, density: float = 0.5, k: int = 3, seed: int = 0) -> np.ndarray:
    """A small float32 ``n x m`` matrix with ``k`` distinct nonzero values and zeros (the lesson's example)."""
    from ..synthetic import synthetic_matrix

    return synthetic_matrix(n, m, density, k, seed=seed)


def byte_table(W: np.ndarray, formats=EXAMPLE_FORMATS) -> pd.DataFrame:
    """Bytes of every stored array of each format for ``W``, the total and ``psi`` (one row per format)."""
    from ..formats import get_format

    rows = []
    for name in formats:
        M = get_format(name).from_dense(W)
        rows.append({"format": name, **M.nbytes_breakdown(), "total": M.nbytes, "psi": M.psi})
    return pd.DataFrame(rows).set_index("format").fillna(0)


def bound_figure(n: int = 512, m: int = 4096, k: int = 32, densities=(0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
                 seed: int = 0):
    """``psi`` bounds of HAM and sHAM against density, with measured points from synthetic matrices."""
    from .. import bounds
    from ..formats import get_format
    from ..synthetic import synthetic_matrix

    plt = _style()
    s = np.linspace(0.01, 1.0, 100)
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.plot(s, [bounds.psi_ham_bound(n, m, k)] * len(s), label="HAM bound")
    ax.plot(s, [bounds.psi_sham_bound(n, m, v, k) for v in s], label="sHAM bound")
    for name, marker in (("ham", "o"), ("sham", "s")):
        pts = [get_format(name).from_dense(synthetic_matrix(n, m, d, k, seed=seed)).psi for d in densities]
        ax.plot(densities, pts, marker, markersize=10, label=f"{name} measured")
    ax.set(xlabel="density", ylabel="psi (compressed / dense)", title=f"{n}x{m}, k={k}")
    ax.legend()
    finish_layout(fig)
    return fig


def shipped_layer() -> tuple[np.ndarray, str]:
    """The trained dense layer shipped with the package: float32 ``(in, out)`` weights and where they come from."""
    with resources.files("compactnn.report").joinpath("small_vgg_dense.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            return z["weights"].astype(np.float32), str(z["source"])


def compress_layer(w: np.ndarray, k: int = 16, p: float = 80.0, seed: int = 0,
                   methods=("pr", "cws", "pws", "uq", "ecsq"), formats=("ham", "sham", "csc")):
    """Each method applied to ``w``: ``({method: (weights, codebook)}, table)``.

    ``pr`` is magnitude pruning at percentile ``p``; the others quantize to ``k``
    values.  The table holds the entropy of the result (bits per weight) and its
    ``psi`` in each of ``formats``.
    """
    from ..bounds import matrix_entropy
    from ..formats import get_format
    from ..quantize import magnitude_mask, quantize

    out, rows = {}, []
    for method in methods:
        if method == "pr":
            q = np.where(magnitude_mask(w, p), w, 0).astype(w.dtype)
            codebook = None
        else:
            codebook, idx = quantize(w, method, k, seed=seed)
            q = codebook[idx].astype(w.dtype)
        out[method] = (q, codebook)
        ent = matrix_entropy(q)
        row = {"method": method, "distinct values": len(np.unique(q)), **ent}
        row.update({f"psi {f}": get_format(f).from_dense(q).psi for f in formats})
        rows.append(row)
    return out, pd.DataFrame(rows).set_index("method")


def histogram_figure(w: np.ndarray, results: dict, bins: int = 60):
    """One panel per method: the histogram of ``w`` (grey) and of the result, the codebook marked."""
    plt = _style()
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.5), sharey=True)
    axes = np.atleast_1d(axes)
    edges = np.linspace(float(w.min()), float(w.max()), bins + 1)
    for ax, (method, (q, codebook)) in zip(axes, results.items()):
        ax.hist(w.ravel(), bins=edges, color="0.75", label="before")
        ax.hist(q[q != 0].ravel(), bins=edges, color="C0", alpha=0.7, label="after")
        if codebook is not None:
            for c in codebook:
                ax.axvline(c, color="C3", linewidth=1.5)
        ax.set_title(method.upper())
        ax.set_yscale("log")
    axes[0].legend()
    finish_layout(fig)
    return fig
