"""The format study: space and product time of every matrix format on synthetic matrices.

Library side of ``notebooks/01_space.ipynb``, ``notebooks/02_time.ipynb`` and
``python -m compactnn.bench``.  One grid loop (:func:`run_grid`) builds each
synthetic matrix once (:func:`compactnn.synthetic.synthetic_matrix`), stores it
in every registered format, and measures

- space (:func:`space_rows`): bytes per array, ``psi``, bits per entry and per
  nonzero against the order-0 entropy, the HAM/sHAM bounds of
  :mod:`compactnn.bounds`, and zstd / xz applied to the index array as
  references that cannot compute a product;
- time (:func:`time_rows`): the median ``X @ W`` per batch size and thread
  count, with NumPy (1 BLAS thread and default threads) and SciPy CSR
  measured on the same inputs in the same process, as ratios.

Plots and tables go to an output directory as PNG + PDF and CSV + Markdown.
"""
from __future__ import annotations

import json
import logging
import lzma
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import bounds, timing
from ..formats import FORMATS, default_threads
from ..synthetic import synthetic_matrix
from .tables import plot_style, save_figure, write_csv, write_text_atomic

__all__ = ["format_names", "build_formats", "space_rows", "time_rows", "run_grid", "space_table",
           "time_table", "space_summary", "time_summary", "crossover_summary", "plot_space",
           "plot_time", "write_tables", "write_environment", "paper_parameters", "pairs_per_ratio",
           "FORMAT_ORDER", "PAIRED_RATIOS"]

log = logging.getLogger(__name__)

#: Display order; registered formats not listed here follow, alphabetically.
FORMAT_ORDER = ("dense", "csr", "csc", "coo", "im", "ham", "sham", "sham_gap", "cer", "cser")
#: The product of these is NumPy's BLAS: their ``threads`` is the BLAS pool size.
BLAS_FORMATS = frozenset({"dense"})
#: The product of these is SciPy's, single-threaded: timed once, whatever ``threads``.
SCIPY_FORMATS = frozenset({"csr", "csc", "coo"})
#: Ratios timed in pairs of back-to-back samples (see :func:`time_rows`), the ones
#: ``python -m compactnn.bench`` judges its targets on: format -> (reference, column).
PAIRED_RATIOS = {"sham": ("scipy_csr", "pair_ratio_csr"), "ham": ("numpy_1", "pair_ratio_numpy_1")}
#: General-purpose compressors applied to the index array (they cannot compute X @ W),
#: with their level: strong settings (at 4096 x 4096 each takes about 20 s).
REFERENCES = {"zstd": 19, "xz": 6}


# ---- formats -------------------------------------------------------------------------
def format_names(formats: Iterable[str] | None = None) -> list[str]:
    """Registered formats in display order (``None``: all); unregistered names are skipped."""
    if formats is None:
        extra = sorted(set(FORMATS) - set(FORMAT_ORDER))
        return [f for f in (*FORMAT_ORDER, *extra) if f in FORMATS]
    formats = list(formats)
    missing = [f for f in formats if f not in FORMATS]
    if missing:
        log.warning("formats not registered, skipped: %s", ", ".join(missing))
    return [f for f in formats if f in FORMATS]


def uses_threads(name: str) -> bool:
    """Whether the format's own kernel takes ``threads`` (not NumPy or SciPy)."""
    return name not in BLAS_FORMATS and name not in SCIPY_FORMATS


def build_formats(W: np.ndarray, names: Sequence[str]) -> tuple[dict, dict]:
    """``W`` stored in each format.

    Returns ``(built, info)``: the format objects by name, and per name the build
    seconds or, for a format that failed to build, the error message (the
    failure is logged; the study goes on without it).
    """
    built, info = {}, {}
    for name in names:
        t0 = time.perf_counter()
        try:
            built[name] = FORMATS[name].from_dense(W)
            info[name] = time.perf_counter() - t0
        except Exception as exc:  # a format under development must not stop the study
            log.error("%s: from_dense failed on %sx%s: %s: %s", name, *W.shape, type(exc).__name__, exc)
            info[name] = f"{type(exc).__name__}: {exc}"
    return built, info


# ---- space ---------------------------------------------------------------------------
def _index_array(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and the column-major index of every entry (smallest uint type).

    Indices are numbered in order of first occurrence (a hash table, O(nm), where
    a sort would take seconds at 4096 x 4096); any numbering has the same entropy.
    """
    codes, values = pd.factorize(W.T.reshape(-1))
    dt = np.uint8 if values.size <= 256 else np.uint16 if values.size <= 65536 else np.uint32
    return np.asarray(values), codes.astype(dt)


def _references(W: np.ndarray, levels: dict[str, int]) -> dict[str, int]:
    """Bytes of each compressor applied to the index array, plus the raw codebook.

    ``levels`` maps ``"zstd"`` and/or ``"xz"`` to a level (zstd 1-22) or preset
    (xz 0-9); the result is keyed ``"zstd-19"``, ``"xz-6"``...
    """
    if not levels:
        return {}
    values, idx = _index_array(W)
    raw = idx.tobytes()
    out = {}
    for name, level in levels.items():
        if name == "zstd":
            import zstandard
            size = len(zstandard.ZstdCompressor(level=int(level)).compress(raw))
        elif name == "xz":
            size = len(lzma.compress(raw, preset=int(level)))
        else:
            raise ValueError(f"unknown reference compressor {name!r}; known: zstd, xz")
        out[f"{name}-{level}"] = size + values.nbytes
    return out


def matrix_columns(W: np.ndarray, density: float | None = None, k: int | None = None) -> dict:
    """Per-matrix columns: shape, measured density and entropy, every bound."""
    n, m = W.shape
    N = n * m
    st = bounds.matrix_entropy(W)
    q, k_nz = st["q"], st["k_nz"]
    item = W.dtype.itemsize
    per_nnz = (lambda bits: bits / q) if q else (lambda bits: float("nan"))
    sham_b = bounds.sham_bound(n, m, q, k_nz, itemsize=item)
    sham_bh = bounds.sham_bound(n, m, q, k_nz, entropy=st["H_nz"], itemsize=item)
    return {
        "n": n, "m": m, "density": density if density is not None else q / N,
        "k": k if k is not None else k_nz, "s": q / N, "q": q, "k_nz": k_nz, "k_all": st["k_all"],
        "H_all": st["H_all"], "H_nz": st["H_nz"],
        "entropy_bits_per_entry": st["sparse_bits"] / N,
        "entropy_bits_per_nnz": per_nnz(st["sparse_bits"]),
        "psi_entropy": st["sparse_bits"] / (8.0 * 4 * N),
        "psi_ham_bound": bounds.psi_ham_bound(n, m, st["k_all"], itemsize=item),
        "psi_ham_bound_H": bounds.psi_ham_bound(n, m, st["k_all"], entropy=st["H_all"], itemsize=item),
        "psi_sham_bound": sum(sham_b.values()) / (4.0 * N),
        "psi_sham_bound_H": sum(sham_bh.values()) / (4.0 * N),
        "psi_ham_paper": bounds.psi_ham_paper(n, m, st["k_all"]),
        "psi_sham_paper": bounds.psi_sham_paper(n, m, q / N, k_nz),
        "psi_csc_words": bounds.psi_csc_words(n, m, q),
        "crossover_s": bounds.crossover_density(n, m, max(k_nz, 1)),
        "crossover_s_paper": bounds.crossover_density_paper(n, m, max(k_nz, 1)),
    }


def space_rows(W: np.ndarray, built: dict, build_info: dict | None = None, *,
               density: float | None = None, k: int | None = None,
               references: dict[str, int] | None = None) -> list[dict]:
    """One row per format (and per reference compressor) with the space measures of ``W``.

    ``references`` maps compressor names (``"zstd"``, ``"xz"``) to levels; default
    :data:`REFERENCES`; ``{}`` for none.
    """
    n, m = W.shape
    N = n * m
    base = matrix_columns(W, density, k)
    q = base["q"]
    build_info = build_info or {}
    rows = []
    for name, F in built.items():
        bd = F.nbytes_breakdown()
        arrays_sum = sum(int(a.nbytes) for a in F._arrays().values())
        payload_bits = F.payload_bits() if hasattr(F, "payload_bits") else 8 * bd.get("payload", 0)
        row = base | {
            "format": name, "kind": "format", "nbytes": F.nbytes, "psi": F.psi,
            "psi_is_array_sum": bool(F.nbytes == arrays_sum == sum(bd.values())
                                     and F.psi == arrays_sum / (4.0 * N)),
            "bits_per_entry": 8.0 * F.nbytes / N,
            "bits_per_nnz": 8.0 * F.nbytes / q if q else float("nan"),
            "payload_bits_per_entry": payload_bits / N,
            "payload_bits_per_nnz": payload_bits / q if q else float("nan"),
            "build_s": build_info.get(name),
        }
        row |= {f"bytes_{key}": value for key, value in bd.items()}
        rows.append(row)
    for name, info in build_info.items():
        if isinstance(info, str):
            rows.append(base | {"format": name, "kind": "format", "error": info})
    for name, nbytes in _references(W, REFERENCES if references is None else references).items():
        rows.append(base | {"format": name, "kind": "reference", "nbytes": nbytes,
                            "psi": nbytes / (4.0 * N), "bits_per_entry": 8.0 * nbytes / N,
                            "bits_per_nnz": 8.0 * nbytes / q if q else float("nan")})
    return rows


# ---- time ----------------------------------------------------------------------------
def time_rows(W: np.ndarray, built: dict, *, batches: Sequence[int] = (1, 8),
              threads: Sequence[int] = (1, 2), repeat: int = 5, seed: int = 0,
              density: float | None = None, k: int | None = None,
              min_sample_s: float = 0.01, pairs: int | None = None,
              paired_batches: Sequence[int] = (8,)) -> list[dict]:
    """Median time of ``X @ W`` for every format, batch size and thread count.

    Per batch size, on the same ``X``, after :func:`~compactnn.timing.quiesce`:
    first, with NumPy's BLAS pinned to 1 thread, round-robin
    (:func:`~compactnn.timing.time_interleaved`): every format's kernel at every
    thread count (SciPy's formats once: they ignore ``threads``), SciPy
    ``X @ csr_matrix(W)`` and NumPy ``X @ W``; then the multi-threaded BLAS
    products (the ``dense`` format with ``threads`` BLAS threads, NumPy with its
    default pool), then a quiesce again.  Every format's result is first checked
    against a float64 product (``max_rel_err``, relative to ``max |X W|``).
    A sample repeats a product for at least ``min_sample_s`` seconds, which
    averages out the scheduling of a shared machine.

    For the batch sizes in ``paired_batches``, the ratios the benchmark's
    targets are judged on are also timed in pairs of back-to-back samples
    (:func:`~compactnn.timing.time_paired_many`, ``pairs`` pairs, default
    ``2 * repeat + 1``, the pairs of all ratios interleaved), which cancels the
    slow and fast phases of a shared machine that a ratio of two medians taken
    at different moments keeps:
    each format of :data:`PAIRED_RATIOS` against its reference (columns
    ``pair_ratio_csr``, ``pair_ratio_numpy_1``, on its rows with the fewest
    threads), and every threaded kernel with more threads against itself with
    the fewest (``pair_speedup``).
    """
    import scipy.sparse as sp
    n, m = W.shape
    threads = [int(t) for t in threads]
    csr = sp.csr_matrix(W)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for b in batches:
        X = rng.standard_normal((b, n)).astype(W.dtype)
        ref = X.astype(np.float64) @ W.astype(np.float64)
        scale = float(np.abs(ref).max()) or 1.0
        single, multi, errors = {}, {}, {}
        for name, F in built.items():
            counts = threads if uses_threads(name) else [threads[0]] if name in SCIPY_FORMATS else threads
            for t in counts:
                call = (lambda F=F, t=t: F.matmul(X, threads=t))
                (multi if name in BLAS_FORMATS and t > 1 else single)[name, t] = call
                with timing.blas_threads(t if name in BLAS_FORMATS else None):
                    errors[name, t] = float(np.abs(call() - ref).max()) / scale
        single["scipy_csr", 0] = lambda: X @ csr
        single["numpy_1", 0] = lambda: X @ W
        multi["numpy", 0] = lambda: X @ W
        timing.quiesce()
        with timing.blas_threads(1):
            found = timing.time_interleaved(single, repeat=repeat, min_sample_s=min_sample_s)
            paired = (_time_pairs(single, threads, pairs_per_ratio(repeat, pairs))
                      if b in paired_batches else {})
        for key, call in multi.items():
            with timing.blas_threads(key[1] or None):  # ("numpy", 0): the default pool
                found |= timing.time_interleaved({key: call}, repeat=repeat, min_sample_s=min_sample_s)
        timing.quiesce()
        t_np1, t_np = found["numpy_1", 0].median, found["numpy", 0].median
        t_csr = found["scipy_csr", 0].median
        for name in built:
            for t in threads:
                key = (name, t) if (name, t) in found else (name, threads[0])
                tm = found[key]
                rows.append({
                    "n": n, "m": m, "density": density, "k": k, "format": name, "batch": int(b),
                    "threads": t, "threads_apply": name not in SCIPY_FORMATS,
                    "time_s": tm.median, "time_best_s": tm.best, "spread": tm.spread,
                    "calls_per_sample": tm.number, "max_rel_err": errors[key],
                    "t_numpy_1": t_np1, "t_numpy": t_np, "t_scipy_csr": t_csr,
                    "ratio_numpy_1": tm.median / t_np1, "ratio_numpy": tm.median / t_np,
                    "ratio_csr": tm.median / t_csr,
                } | paired.get((name, t), {}))
    return rows


def pairs_per_ratio(repeat: int, pairs: int | None = None) -> int:
    """Pairs of samples per paired ratio of :func:`time_rows`: ``pairs``, by default ``2 * repeat + 1``."""
    return 2 * repeat + 1 if pairs is None else int(pairs)


def _time_pairs(single: dict, threads: list[int], pairs: int) -> dict:
    """Paired ratios of :func:`time_rows`: ``(format, threads)`` -> extra row columns.

    All of one matrix's ratios are timed together, their pairs interleaved
    (:func:`~compactnn.timing.time_paired_many`), so that a slow stretch of the
    machine lasting seconds spoils a few pairs of every ratio rather than every
    pair of the ratios timed during it.
    """
    low = min(threads)
    ratios: dict = {}
    for name, (ref, column) in PAIRED_RATIOS.items():
        if (name, low) in single:
            ratios[(name, low), column] = (single[name, low], single[ref, 0])
    for (name, t), call in single.items():
        if t > low and uses_threads(name) and (name, low) in single:
            ratios[(name, t), "pair_speedup"] = (single[name, low], call)
    out: dict = {}
    for (row, column), p in timing.time_paired_many(ratios, pairs=pairs).items():
        out.setdefault(row, {}).update({column: p.ratio, f"{column}_spread": p.spread})
    return out


def _add_speedup(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["n", "m", "density", "k", "format", "batch"]
    one = df[df["threads"] == df["threads"].min()].set_index(keys)["time_s"]
    df = df.copy()
    df["speedup_vs_min_threads"] = one.reindex(pd.MultiIndex.from_frame(df[keys])).to_numpy() / df["time_s"]
    return df


# ---- the grid ------------------------------------------------------------------------
def _shapes(shapes) -> list[tuple[int, int]]:
    if len(shapes) == 2 and all(isinstance(v, (int, np.integer)) for v in shapes):
        shapes = [shapes]  # one (n, m)
    return [(int(n), int(m)) for n, m in shapes]


def run_grid(shapes, densities: Sequence[float], ks: Sequence[int], formats=None, *,
             space: bool = True, time_products: bool = False, batches: Sequence[int] = (1, 8),
             threads: Sequence[int] = (1, 2), repeat: int = 5, seed: int = 0,
             references: dict[str, int] | None = None, pairs: int | None = None,
             progress: bool = True) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Space and/or time measures over shapes x densities x k of synthetic matrices.

    Parameters
    ----------
    shapes : (n, m) or list of (n, m)
    densities, ks : sequences
        Grid of :func:`~compactnn.synthetic.synthetic_matrix` arguments.
    formats : list of str, optional
        Format names (default: every registered format).
    space, time_products : bool
        Which tables to compute.
    batches, threads, repeat, pairs
        Product timing: batch sizes, thread counts, samples per median, pairs
        per paired ratio (:func:`time_rows`).
    seed : int
        Seed of the matrices and of the inputs.
    references : dict, optional
        Compressors applied to the index array and their levels (space table);
        default :data:`REFERENCES`, ``{}`` for none.

    Returns
    -------
    (space DataFrame or None, time DataFrame or None)
    """
    from tqdm import tqdm
    names = format_names(formats)
    grid = [(n, m, float(d), int(k)) for n, m in _shapes(shapes) for k in ks for d in densities]
    space_out, time_out = [], []
    bar = tqdm(grid, desc="format study", unit="matrix", disable=not progress, leave=False)
    for n, m, d, k in bar:
        bar.set_postfix_str(f"{n}x{m} s={d:g} k={k}")
        W = synthetic_matrix(n, m, d, k, seed=seed)
        built, info = build_formats(W, names)
        if space:
            space_out += space_rows(W, built, info, density=d, k=k, references=references)
        if time_products:
            time_out += time_rows(W, built, batches=batches, threads=threads, repeat=repeat,
                                  seed=seed, density=d, k=k, pairs=pairs)
        del built, W
    sdf = pd.DataFrame(space_out) if space else None
    tdf = _add_speedup(pd.DataFrame(time_out)) if time_products and time_out else None
    return sdf, tdf


def space_table(shapes, densities, ks, formats=None, seed: int = 0, **options) -> pd.DataFrame:
    """Space measures (one row per matrix and format); see :func:`run_grid`."""
    return run_grid(shapes, densities, ks, formats, space=True, seed=seed, **options)[0]


def time_table(shapes, densities, ks, formats=None, *, batches=(1, 8), threads=(1, 2), repeat: int = 5,
               seed: int = 0, **options) -> pd.DataFrame:
    """Product times (one row per matrix, format, batch, threads); see :func:`run_grid`."""
    return run_grid(shapes, densities, ks, formats, space=False, time_products=True, batches=batches,
                    threads=threads, repeat=repeat, seed=seed, **options)[1]


# ---- summaries -----------------------------------------------------------------------
def _is_reference(name: str) -> bool:
    return name.split("-")[0] in REFERENCES


def _order(cols: Iterable[str]) -> list[str]:
    pos = {f: i for i, f in enumerate(FORMAT_ORDER)}
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
                                    "formats": format_names(), "default_threads": default_threads()}
    return write_text_atomic(Path(out_dir) / "environment.json", json.dumps(info, indent=2, default=str))


# ---- figures -------------------------------------------------------------------------
def _style_of(name: str) -> dict:
    import matplotlib.pyplot as plt
    i = FORMAT_ORDER.index(name) if name in FORMAT_ORDER else len(FORMAT_ORDER)
    # tab10 without its grey (kept for the references), then three more.
    colors = [c for j, c in enumerate(plt.get_cmap("tab10").colors) if j != 7]
    colors += ["#1b1b7a", "#e6ab02", "#66a61e"]
    if _is_reference(name):
        return {"color": "0.55", "linestyle": "--" if name.startswith("zstd") else "-.", "marker": "",
                "label": f"{name} (index array; not computable)"}
    return {"color": colors[i % len(colors)], "marker": "osv^<>Dph*"[i % 10], "label": name}


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
    fig.tight_layout()
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


# ---- parameter sets ------------------------------------------------------------------
#: Layer shapes of the paper's networks: VGG19's dense block on CIFAR-10 (512 -> 4096 ->
#: 4096) and DeepDTA's (192 -> 1024 -> 1024 -> 512).
PAPER_SHAPES = [[512, 4096], [4096, 4096], [192, 1024], [1024, 1024], [1024, 512]]


def paper_parameters(notebook_name: str) -> dict:
    """Papermill parameters of the paper-scale run of a format-study notebook.

    ``notebook_name`` is ``"01_space"`` or ``"02_time"`` (a path or ``.ipynb``
    suffix is accepted).  ``make paper`` passes these; the quick set is the
    notebook's own parameters cell.
    """
    name = Path(str(notebook_name)).stem
    threads = sorted({1, 2, default_threads()})
    if name == "01_space":
        return {"shapes": PAPER_SHAPES,
                "densities": [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01, 0.005],
                "ks": [2, 32, 128, 1024], "formats": None, "references": dict(REFERENCES), "seed": 0,
                "out_dir": "results/space"}
    if name == "02_time":
        return {"shapes": [[512, 4096], [4096, 4096], [1024, 1024]],
                "densities": [1.0, 0.5, 0.3, 0.1, 0.05, 0.01], "ks": [32, 1024], "formats": None,
                "batches": [1, 8, 64], "threads": threads, "repeat": 15, "seed": 0,
                "out_dir": "results/time"}
    raise ValueError(f"no paper parameters for notebook {notebook_name!r}; known: 01_space, 02_time")
