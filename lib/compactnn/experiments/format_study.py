"""The format study's measurements: space and product time of every matrix format.

Measurement side of ``notebooks/01_space.ipynb``, ``notebooks/02_time.ipynb``
and ``python -m compactnn.bench`` (the tables and figures are drawn by
:mod:`compactnn.report.format_study` from the records written here).  One grid
loop (:func:`run_grid`) builds each synthetic matrix once
(:func:`compactnn.synthetic.synthetic_matrix`), stores it in every registered
format, and measures

- space (:func:`space_rows`): bytes per array, ``psi``, bits per entry and per
  nonzero against the order-0 entropy, the HAM/sHAM bounds of
  :mod:`compactnn.bounds`, and zstd / xz applied to the index array as
  references that cannot compute a product;
- time (:func:`time_rows`): the median ``X @ W`` per batch size and thread
  count, with NumPy (1 BLAS thread and default threads) and SciPy CSR
  measured on the same inputs in the same process, as ratios.

:func:`space_records` and :func:`time_records` run one frozen configuration
(:mod:`compactnn.experiments.presets`) and keep its rows as a record
(:mod:`compactnn.experiments.records`): rerunning an unchanged configuration
reads the record back instead of measuring again.
"""
from __future__ import annotations

import lzma
import logging
import time
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import bounds, timing
from ..formats import FORMATS
from ..synthetic import synthetic_matrix

__all__ = ["format_names", "uses_threads", "build_formats", "space_rows", "time_rows", "run_grid",
           "space_table", "time_table", "space_records", "time_records", "pairs_per_ratio",
           "FORMAT_ORDER", "PAIRED_RATIOS", "REFERENCES"]

log = logging.getLogger(__name__)

#: Display order; registered formats not listed here follow, alphabetically.
FORMAT_ORDER = ("dense", "csr", "csc", "coo", "im", "ham", "sham", "sham_gap", "cer", "cser")
#: Ratios timed in pairs of back-to-back samples (see :func:`time_rows`), the ones
#: ``python -m compactnn.bench`` judges its targets on: format -> (reference, column).
PAIRED_RATIOS = {"sham": ("scipy_csr", "pair_ratio_csr"), "sham_gap": ("scipy_csr", "pair_ratio_csr"),
                 "ham": ("numpy_1", "pair_ratio_numpy_1"), "im": ("numpy_1", "pair_ratio_numpy_1")}
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
    cls = FORMATS[name]
    return cls.threaded and not cls.baseline


def _blas(name: str) -> bool:
    """The product is NumPy's BLAS: its ``threads`` is the BLAS pool size."""
    cls = FORMATS[name]
    return cls.threaded and cls.baseline


def _single(name: str) -> bool:
    """The product ignores ``threads`` (SciPy's): timed once."""
    return not FORMATS[name].threaded


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
            counts = [threads[0]] if _single(name) else threads
            for t in counts:
                call = (lambda F=F, t=t: F.matmul(X, threads=t))
                (multi if _blas(name) and t > 1 else single)[name, t] = call
                with timing.blas_threads(t if _blas(name) else None):
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
                    "threads": t, "threads_apply": not _single(name),
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


# ---- records of one configuration ----------------------------------------------------
def _grid_options(cfg) -> dict:
    return {"shapes": [list(s) for s in cfg.shapes], "densities": list(cfg.densities),
            "ks": list(cfg.ks), "formats": None if cfg.formats is None else list(cfg.formats),
            "seed": cfg.seed}


def space_records(cfg, results=None, *, force: bool = False, progress: bool = True) -> pd.DataFrame:
    """The space rows of a :class:`~compactnn.experiments.presets.SpaceConfig`, measured once.

    The rows are stored under ``<results>/records/space/<hash>/`` and read back
    on a later call with the same configuration, schema and package version.
    """
    from . import records

    def compute() -> pd.DataFrame:
        o = _grid_options(cfg)
        return space_table(o["shapes"], o["densities"], o["ks"], o["formats"], seed=o["seed"],
                           references=dict(cfg.references), progress=progress)

    return records.cached("space", cfg, compute, results, force=force)


def time_records(cfg, results=None, *, force: bool = False, progress: bool = True) -> pd.DataFrame:
    """The time rows of a :class:`~compactnn.experiments.presets.TimeConfig`, measured once."""
    from . import records

    def compute() -> pd.DataFrame:
        o = _grid_options(cfg)
        return time_table(o["shapes"], o["densities"], o["ks"], o["formats"], seed=o["seed"],
                          batches=list(cfg.batches), threads=list(cfg.threads), repeat=cfg.repeat,
                          pairs=cfg.pairs, progress=progress)

    return records.cached("time", cfg, compute, results, force=force)

