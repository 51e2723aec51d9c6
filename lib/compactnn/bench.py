"""``make bench``: space and product time of every registered format, against the targets.

Run as ``python -m compactnn.bench [--quick]`` or ``python -m compactnn bench``.
For uniform synthetic matrices (:func:`compactnn.synthetic.synthetic_matrix`) of
shape 192 x 1024, 512 x 4096 and 4096 x 4096, densities 1, 0.5, 0.3, 0.1, 0.01
and k in {2, 32, 256} levels, and skewed ones like trained layers
(:func:`compactnn.synthetic.skewed_matrix`: half the rows empty, heavy-tailed
column counts, 3 values) of shape 512 x 4096 and 4096 x 4096 at densities 0.1,
0.05, 0.02 and 0.01, every registered format is built and measured
(:mod:`compactnn.experiments.format_study`): bytes, ``psi``, bits per entry and per
nonzero against the order-0 entropy, and the median time of ``X @ W`` for batch
1, 8 and 64 with 1 and 2 threads, next to NumPy dense (1 BLAS thread and default
threads) and SciPy CSR measured in the same process.

Writes ``results/bench/formats.csv`` (one row per matrix, format, batch and
thread count) and ``results/bench/summary.md`` (machine, BLAS kernel, whether
each target is met, compact tables), both atomically.  Then, unless ``--no-network``, the
network table of :mod:`compactnn.bench_network` (compressed dense blocks of the
embedded default and of VGG19 against torch dense) goes to
``results/bench/network.csv`` and ``network.md``.  ``--quick`` measures
192 x 1024 and 512 x 4096 only (skewed: 512 x 4096) with 5 samples per median instead of 7 (about 4 minutes on 2 cores); the 2-thread
target needs 4096 x 4096 and is then reported as not measured.

The targets are judged on paired ratios (:func:`compactnn.timing.time_paired`):
the two sides of each ratio (sHAM or sHAM-gap and SciPy CSR, HAM or IM and NumPy dense, a
kernel with 2 threads and with 1) are sampled back to back, and the median of
the per-pair ratios is compared with the target; the ratios of the round-robin
medians are reported beside them.  HAM's cost per entry at batch 1 is compared
across the densities of a series (one shape and k) by timing HAM at each
density paired with HAM at the densest (column ``pair_ham_ns_rel``,
:func:`ham_density_rows`).

This is a benchmark, not a test: a missed target is reported, and only fails
the command with ``--strict``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time

from . import _cli

log = logging.getLogger(__name__)

# Uniform matrices (synthetic_matrix) over shapes x densities x ks, and skewed
# ones (synthetic.skewed_matrix: half the rows empty, heavy-tailed columns, few
# values, like a trained VGG19 dense layer) over skewed_shapes x skewed_densities.
FULL = {"shapes": [(192, 1024), (512, 4096), (4096, 4096)], "densities": (1.0, 0.5, 0.3, 0.1, 0.01),
        "ks": (2, 32, 256), "skewed_shapes": [(512, 4096), (4096, 4096)],
        "skewed_densities": (0.1, 0.05, 0.02, 0.01), "skewed_k": 3,
        "batches": (1, 8, 64), "threads": (1, 2), "repeat": 7}
QUICK = FULL | {"shapes": [(192, 1024), (512, 4096)], "skewed_shapes": [(512, 4096)], "repeat": 5}

#: Batch sizes whose target ratios are timed in pairs (the targets are judged there).
PAIRED_BATCHES = (1, 8)
#: Tolerance of the "HAM ns per entry does not grow as density falls" check: the
#: cost at a lower density may exceed the cost at a higher one by this factor (noise).
NS_TOLERANCE = 1.10

#: Targets and checks reported in summary.md, by key.
TARGETS = {
    "sham_b1": "sHAM and sHAM-gap <= 1.5x SciPy CSR at batch 1 wherever density <= 0.1 (stretch 1.0x)",
    "sham_b8": "sHAM and sHAM-gap <= 0.8x SciPy CSR at batch 8 wherever density <= 0.1 (stretch 0.7x)",
    "ham_b8": "HAM and IM <= 2.0x NumPy dense (1 BLAS thread) at batch 8 on every matrix (stretch 1.5x)",
    "ham_b1": "HAM and IM <= 3.0x NumPy dense (1 BLAS thread) at batch 1 on 512x4096 and larger "
              "(stretch 1.5x on 4096x4096)",
    "ham_b1_small": "HAM and IM <= 8x NumPy dense (1 BLAS thread) at batch 1 on 192x1024",
    "ham_ns": f"HAM ns per entry (batch 1, 1 thread) does not grow as density falls "
              f"(tolerance {NS_TOLERANCE:g}x)",
    "threads": "2 threads >= 1.6x faster than 1 thread on 4096x4096 at batch 8 (every threaded kernel)",
    "ham_entropy": "HAM payload within 1 bit per entry of the order-0 entropy H0(all entries)",
    "psi_sum": "every format's psi equals the sum of its arrays",
    "bounds": "HAM and sHAM psi under their bounds (compactnn.bounds, with measured entropy)",
    "products": "every product agrees with NumPy float64 (max error <= 1e-4 of max |XW|)",
}

KEYS = ["matrix", "n", "m", "density", "k", "format"]


def matrices(grid: dict, seed: int = 0):
    """``(kind, n, m, density, k, make)`` for every matrix of ``grid``; ``make()`` builds it."""
    from .synthetic import skewed_matrix, synthetic_matrix
    for n, m in grid["shapes"]:
        for k in grid["ks"]:
            for d in grid["densities"]:
                yield "uniform", n, m, float(d), int(k), (
                    lambda n=n, m=m, d=d, k=k: synthetic_matrix(n, m, d, k, seed=seed))
    k = int(grid.get("skewed_k", 3))
    for n, m in grid.get("skewed_shapes", []):
        for d in grid.get("skewed_densities", ()):
            yield "skewed", n, m, float(d), k, (
                lambda n=n, m=m, d=d: skewed_matrix(n, m, d, k, seed=seed))


def measure(grid: dict, formats=None, *, seed: int = 0, progress: bool = True):
    """Space and time rows of every matrix of ``grid`` (one DataFrame, column ``matrix``)."""
    import pandas as pd
    from tqdm import tqdm
    from .experiments import format_study as fs
    names = fs.format_names(formats)
    space, times, series, per_entry = [], [], {}, []
    specs = list(matrices(grid, seed))
    bar = tqdm(specs, desc="bench", unit="matrix", disable=not progress, leave=False)
    for kind, n, m, d, k, make in bar:
        bar.set_postfix_str(f"{kind} {n}x{m} s={d:g} k={k}")
        W = make()
        built, info = fs.build_formats(W, names)
        if "ham" in built and 1 in grid["batches"]:
            # the matrices of a series follow each other: time the one before as a whole
            if series and (kind, n, m, k) not in series:
                per_entry += ham_density_rows(*series.popitem(), grid=grid, seed=seed)
            series.setdefault((kind, n, m, k), []).append((d, built["ham"]))
        space += [r | {"matrix": kind} for r in fs.space_rows(W, built, info, density=d, k=k, references={})]
        times += [r | {"matrix": kind} for r in fs.time_rows(
            W, built, batches=grid["batches"], threads=grid["threads"], repeat=grid["repeat"], seed=seed,
            density=d, k=k, pairs=grid.get("pairs"),
            paired_batches=[b for b in PAIRED_BATCHES if b in grid["batches"]])]
        del built, W
    if series:
        per_entry += ham_density_rows(*series.popitem(), grid=grid, seed=seed)
    tdf = pd.DataFrame(times)
    if per_entry:  # on the rows of HAM at batch 1 and 1 thread
        tdf = tdf.merge(pd.DataFrame(per_entry), on=KEYS + ["batch", "threads"], how="left")
    one = tdf[tdf["threads"] == tdf["threads"].min()].set_index(KEYS + ["batch"])["time_s"]
    tdf["speedup_vs_min_threads"] = (one.reindex(pd.MultiIndex.from_frame(tdf[KEYS + ["batch"]])).to_numpy()
                                     / tdf["time_s"])
    return tdf.merge(pd.DataFrame(space), on=KEYS, how="outer")


def ham_density_rows(key, members, *, grid: dict, seed: int = 0) -> list[dict]:
    """HAM's batch-1 time (1 thread) at each density of one series, paired with its densest matrix.

    ``key`` is ``(kind, n, m, k)`` and ``members`` its ``(density, HAM matrix)``
    pairs.  For the check that HAM's cost per entry does not grow as density
    falls: the matrices of a series share their shape, so the ratio of two
    times is the ratio of their costs per entry, and timing the two sides of
    each ratio back to back (:func:`compactnn.timing.time_paired_many`, the
    pairs of the series interleaved) cancels the drift of a shared machine
    that the medians of matrices timed minutes apart keep.  One row per
    density, column ``pair_ham_ns_rel`` (1.0 at the densest).
    """
    import numpy as np
    from . import timing
    from .experiments import format_study as fs
    kind, n, m, k = key
    members = sorted(members, key=lambda dm: -dm[0])
    top_d, top = members[0]
    X = np.random.default_rng(seed + 1).standard_normal((1, n)).astype(top.dtype)
    ratios = {d: (lambda H=H: H.matmul(X, threads=1), lambda: top.matmul(X, threads=1))
              for d, H in members[1:]}
    with timing.blas_threads(1):
        paired = timing.time_paired_many(ratios, pairs=fs.pairs_per_ratio(grid["repeat"], grid.get("pairs")))
    rel = {top_d: 1.0} | {d: p.ratio for d, p in paired.items()}
    return [{"matrix": kind, "n": n, "m": m, "density": d, "k": k, "format": "ham", "batch": 1,
             "threads": 1, "pair_ham_ns_rel": r} for d, r in rel.items()]


def _check_formats(names) -> None:
    """Raise :class:`UnknownNameError` for a name that is not a registered format (before measuring)."""
    from .errors import UnknownNameError
    from .formats import FORMATS

    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise UnknownNameError(f"unknown format {', '.join(map(repr, unknown))}; "
                               f"valid names: {', '.join(FORMATS)}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="192x1024 and 512x4096 only (skewed 512x4096), 5 samples per median")
    parser.add_argument("--out", default="results/bench", help="output directory (default: %(default)s)")
    parser.add_argument("--formats", nargs="+", metavar="NAME",
                        help="formats to measure (default: every registered format)")
    parser.add_argument("--repeat", type=_cli.positive_int, help="samples per median (default: 7, quick 5)")
    parser.add_argument("--pairs", type=_cli.positive_int,
                        help="pairs of samples per paired ratio (default: 2 * repeat + 1)")
    parser.add_argument("--seed", type=_cli.seed, default=0, help="seed of matrices and inputs")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a target is missed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-network", action="store_true",
                        help="skip the network table (network.csv, network.md: compactnn.bench_network)")


def run(args: argparse.Namespace) -> int:
    from . import timing
    from ._files import write_text_atomic
    from .report.tables import write_csv

    if args.formats:
        _check_formats(args.formats)
    _cli.check_writable_dir(args.out)
    grid = dict(QUICK if args.quick else FULL)
    if args.repeat:
        grid["repeat"] = args.repeat
    if args.pairs:
        grid["pairs"] = args.pairs
    started = time.time()
    env_before = timing.machine_info()
    df = measure(grid, args.formats, seed=args.seed, progress=not args.no_progress)
    elapsed = time.time() - started
    out = args.out
    write_csv(df, f"{out}/formats.csv")
    results = evaluate_targets(df)
    text = summary_markdown(df, results, grid, quick=args.quick, seconds=elapsed, env=env_before,
                            blas=timing.blas_info(), load_after=timing.machine_info()["load_average"])
    write_text_atomic(f"{out}/summary.md", text)
    log.info("wrote %s/formats.csv and %s/summary.md (%.0f s)", out, out, elapsed)
    for r in results:
        log.info("%-4s %s: %s", "ok" if r["met"] else ("n/a" if r["met"] is None else "MISS"),
                 r["target"], r["value"])
    if not args.no_network:
        run_network(args)
    missed = [r for r in results if r["met"] is False]
    return 1 if args.strict and missed else 0


def run_network(args: argparse.Namespace) -> None:
    """Measure and write the network table (:mod:`compactnn.bench_network`) under ``args.out``."""
    from .bench_network import NETWORK, NETWORK_QUICK, measure_network, write_network

    spec = dict(NETWORK_QUICK if args.quick else NETWORK)
    if args.pairs:
        spec["pairs"] = args.pairs
    df = measure_network(spec, args.formats, seed=args.seed)
    write_network(df, args.out)
    log.info("wrote %s/network.csv and %s/network.md", args.out, args.out)


# ---- targets -------------------------------------------------------------------------
def _cell(row) -> str:
    kind = row.get("matrix", "uniform")
    tag = "" if kind == "uniform" or kind != kind else f" {kind}"
    return f"{int(row['n'])}x{int(row['m'])}{tag} s={row['density']:g} k={int(row['k'])}"


def _complete(sel, column: str) -> bool:
    """Whether every selected row has a value in ``column``."""
    return not sel.empty and column in sel and bool(sel[column].notna().all())


def _ratio(sel, column: str):
    """Per row the paired ratio ``pair_<column>`` where timed, else the ratio of medians."""
    pair = f"pair_{column}"
    if pair in sel:
        return sel[pair].fillna(sel[column]), sel[pair].notna()
    return sel[column], sel[column].isna()


def _ham_ns(ham1):
    """HAM's cost in ns per entry on each row of ``ham1`` (batch 1, 1 thread), and whether paired.

    Matrices of one shape are timed minutes apart, while the machine's speed
    drifts by up to 2x, so their medians do not compare.  NumPy dense costs
    the same at every density of a shape, so where the rows carry the paired
    ratio against it, the cost is that ratio (both sides sampled back to back)
    times the median NumPy time over the rows of the shape: the drift cancels
    in the ratio and averages out in the median.  Otherwise the HAM medians.
    """
    if not _complete(ham1, "pair_ratio_numpy_1") or not _complete(ham1, "t_numpy_1"):
        return ham1.assign(ns=1e9 * ham1["time_s"] / (ham1["n"] * ham1["m"])), False
    dense = ham1.groupby(["n", "m"])["t_numpy_1"].transform("median")
    return ham1.assign(ns=1e9 * ham1["pair_ratio_numpy_1"] * dense / (ham1["n"] * ham1["m"])), True


def evaluate_targets(df) -> list[dict]:
    """Each target of :data:`TARGETS`: measured value, met (True/False/None), stretch, detail.

    Ratios are the medians of paired ratios where the benchmark times them in
    pairs (sHAM against CSR, HAM against NumPy, at the batch sizes of
    :data:`PAIRED_BATCHES`), else the ratios of the round-robin medians
    (sHAM-gap, IM); the detail says which.
    """
    from .experiments.format_study import uses_threads
    ok = df[df["time_s"].notna()] if "time_s" in df else df.iloc[0:0]
    if "matrix" not in ok:
        ok = ok.assign(matrix="uniform")
    one = ok[ok["threads"] == 1]
    res = []

    def add(key, value, met, stretch=None, detail=""):
        res.append({"key": key, "target": TARGETS[key], "value": value, "met": met,
                    "stretch": stretch, "detail": detail})

    def ratio_target(key, fmts, batch, column, limit, stretch, where, stretch_where=None):
        sel = one[one["format"].isin(fmts) & (one["batch"] == batch)]
        sel = sel[where(sel)]
        if sel.empty:
            return add(key, "not measured", None)
        r, paired = _ratio(sel, column)
        worst = sel.loc[r.idxmax()]
        over = sel[r > limit]
        detail = f"worst {r.max():.2f}x at {worst['format']} {_cell(worst)}"
        if len(over):
            detail += f"; {len(over)}/{len(sel)} cells over {limit:g}x: " + ", ".join(
                f"{row['format']} {_cell(row)} ({r[i]:.2f}x)" for i, row in over.iterrows())
        detail += (f"; paired {int(paired.sum())}/{len(sel)} cells, the others ratios of medians; "
                   f"ratio of the round-robin medians: max {sel[column].max():.2f}x")
        st = r[stretch_where(sel)] if stretch_where else r
        add(key, f"max {r.max():.2f}x" + (" (paired)" if paired.all() else ""), bool(r.max() <= limit),
            bool(st.max() <= stretch) if len(st) else None, detail)

    sparse = lambda d: d["density"] <= 0.1  # noqa: E731
    big = lambda d: d["n"] * d["m"] >= 512 * 4096  # noqa: E731
    ratio_target("sham_b1", ["sham", "sham_gap"], 1, "ratio_csr", 1.5, 1.0, sparse)
    ratio_target("sham_b8", ["sham", "sham_gap"], 8, "ratio_csr", 0.8, 0.7, sparse)
    ratio_target("ham_b8", ["ham", "im"], 8, "ratio_numpy_1", 2.0, 1.5, lambda d: d["density"] > -1)
    ratio_target("ham_b1", ["ham", "im"], 1, "ratio_numpy_1", 3.0, 1.5, big,
                 stretch_where=lambda d: (d["n"] == 4096) & (d["m"] == 4096))
    ratio_target("ham_b1_small", ["ham", "im"], 1, "ratio_numpy_1", 8.0, 8.0,
                 lambda d: (d["n"] == 192) & (d["m"] == 1024))
    if res[-1]["met"] is not None:
        res[-1]["stretch"] = None

    ham1 = one[(one["format"] == "ham") & (one["batch"] == 1)]
    if ham1.empty:
        add("ham_ns", "not measured", None)
    else:
        ns, paired = _ham_ns(ham1)
        # growth: from HAM paired with HAM at the densest matrix of its series
        # where measured (ham_density_rows), else from the ns per entry
        series = _complete(ham1, "pair_ham_ns_rel")
        cost = ns.assign(cost=ns["pair_ham_ns_rel"] if series else ns["ns"])
        grows, worst = [], 0.0
        for (kind, n, m, k), g in cost.groupby(["matrix", "n", "m", "k"]):
            g = g.sort_values("density", ascending=False)
            top = g["cost"].cummin().shift()  # the cheapest cost at any higher density
            rel = (g["cost"] / top).dropna()
            worst = max(worst, rel.max() if len(rel) else 0.0)
            for i in rel[rel > NS_TOLERANCE].index:
                grows.append(f"{_cell(g.loc[i])} ({rel[i]:.2f}x)")
        span = ", ".join(f"{_cell(r)} {r['ns']:.3f}" for _, r in ns.sort_values("ns").iloc[[0, -1]].iterrows())
        how = ("growth from HAM's time paired with its time on the densest matrix of the series "
               "(same shape and k)" if series else "growth from the ns per entry")
        how += ("; ns/entry from the paired ratio to NumPy dense times the median NumPy time of the "
                "matrix's shape" if paired else "; ns/entry from the medians")
        add("ham_ns", f"max growth {worst:.2f}x" + (" (paired)" if series or paired else ""), not grows,
            None, f"{how}; cheapest and dearest: {span}" + (f"; grows at {', '.join(grows)}" if grows else ""))

    big = ok[(ok["n"] == 4096) & (ok["m"] == 4096) & (ok["batch"] == 8)
             & ok["format"].map(uses_threads)]
    keys = ["matrix", "density", "k", "format"]
    t1 = big[big["threads"] == 1].set_index(keys)["time_s"]
    two = big[big["threads"] == 2].set_index(keys)
    if t1.empty or two.empty:
        add("threads", "not measured (needs 4096x4096: make bench-full)", None)
    else:
        medians = (t1 / two["time_s"]).dropna()
        paired = _complete(two, "pair_speedup")
        speed = two["pair_speedup"].dropna() if paired else medians
        per_fmt = speed.groupby(level="format").agg(["min", "median"])
        low = speed[speed < 1.6]
        detail = "per format min/median: " + ", ".join(
            f"{f} {r['min']:.2f}/{r['median']:.2f}" for f, r in per_fmt.iterrows())
        if len(low):
            detail += f"; {len(low)}/{len(speed)} cells under 1.6x: " + ", ".join(
                f"{f} {kind} s={d:g} k={k} ({v:.2f}x)" for (kind, d, k, f), v in low.items())
        if paired:
            detail += (f"; ratio of the round-robin medians: min {medians.min():.2f}x, "
                       f"{int((medians < 1.6).sum())}/{len(medians)} cells under 1.6x")
        add("threads", f"min {speed.min():.2f}x" + (" (paired)" if paired else ""),
            bool(speed.min() >= 1.6), None, detail)

    space = df.drop_duplicates([c for c in KEYS if c in df])
    ham = space[space["format"] == "ham"]
    if ham.empty:
        add("ham_entropy", "not measured", None)
    else:
        gap = ham["payload_bits_per_entry"] - ham["H_all"]
        worst = ham.loc[gap.idxmax()]
        add("ham_entropy", f"max {gap.max():.3f} bit/entry", bool(gap.max() < 1.0), None,
            f"worst at {_cell(worst)}: {worst['payload_bits_per_entry']:.3f} vs H0 {worst['H_all']:.3f}")
    fmt_rows = space[space["psi"].notna() & (space["kind"] == "format")]
    bad = fmt_rows[~fmt_rows["psi_is_array_sum"].astype(bool)]
    add("psi_sum", f"{len(fmt_rows) - len(bad)}/{len(fmt_rows)} consistent", bad.empty, None,
        ", ".join(f"{r['format']} at {_cell(r)}" for _, r in bad.iterrows()))
    checks = (("ham", "psi_ham_bound_H"), ("sham", "psi_sham_bound_H"))
    rows = [(r, col) for f, col in checks for _, r in space[space["format"] == f].iterrows()]
    over = [(r, col) for r, col in rows if not r["psi"] <= r[col]]
    add("bounds", f"{len(rows) - len(over)}/{len(rows)} under", not over if rows else None, None,
        ", ".join(f"{r['format']} at {_cell(r)}: {r['psi']:.4g} > {r[col]:.4g}" for r, col in over))
    errs = ok["max_rel_err"]
    worst = ok.loc[errs.idxmax()] if len(ok) else None
    add("products", f"max {errs.max():.2e}" if len(ok) else "not measured",
        bool(errs.max() <= 1e-4) if len(ok) else None, None,
        f"{worst['format']} at {_cell(worst)}" if worst is not None else "")
    return res


# ---- summary -------------------------------------------------------------------------
def _mark(v) -> str:
    return "n/a" if v is None else ("yes" if v else "**no**")


def summary_markdown(df, results, grid, *, quick, seconds, env, blas, load_after) -> str:
    from .experiments import format_study as fs
    from .report import format_study as rfs
    from .report.tables import markdown_table
    L = ["# Format benchmark", ""]
    L += [f"- mode: {'quick (`--quick`)' if quick else 'full'}; {seconds:.0f} s; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
          f"- grid: shapes {', '.join(f'{n}x{m}' for n, m in grid['shapes'])}; densities "
          f"{', '.join(f'{d:g}' for d in grid['densities'])}; k {', '.join(map(str, grid['ks']))}; "
          f"skewed matrices (synthetic.skewed_matrix, k={grid.get('skewed_k', 3)}, marked by that k in the "
          f"tables) on {', '.join(f'{n}x{m}' for n, m in grid.get('skewed_shapes', [])) or 'none'}, densities "
          f"{', '.join(f'{d:g}' for d in grid.get('skewed_densities', ())) or '-'}; "
          f"batch {', '.join(map(str, grid['batches']))}; threads {', '.join(map(str, grid['threads']))}; "
          f"medians of {grid['repeat']} samples after a warm-up",
          f"- machine: {env['processor']}, {env['cpus_usable']} usable CPUs, load average "
          f"{_load(env['load_average'])} before, {_load(load_after)} after; Python {env['python']}, "
          f"NumPy {env['numpy']}, SciPy {env['scipy']}; kernels {env.get('kernels')}",
          f"- BLAS: " + "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}, "
                                  f"{b['num_threads']} threads ({b['user_api']})" for b in blas),
          f"- environment overrides: {env['env'] or 'none'}",
          "- time ratios compare medians measured in the same process on the same X, sampled "
          "round-robin (a load burst slows all candidates alike); NumPy 1 thread is pinned with "
          "threadpoolctl; BLAS threads are let idle (0.3 s) before the kernels are timed. "
          "`spread` in formats.csv is the relative interquartile range of the samples.",
          f"- targets are judged on paired ratios where measured (`pair_*` in formats.csv): "
          f"{fs.pairs_per_ratio(grid['repeat'], grid.get('pairs'))} pairs of back-to-back samples of the two "
          f"sides (order alternating, each sample after an untimed call), median of the per-pair "
          f"ratios, so that both sides see the same phase of a shared machine; the pairs of all "
          f"ratios of one matrix are interleaved, so that a slow stretch lasting seconds spoils a "
          f"few pairs of every ratio rather than all pairs of some",
          ""]
    L += ["## Targets (1 thread, medians of paired ratios)", "",
          "| target | measured | met | stretch met | detail |", "|---|---|---|---|---|"]
    for r in results:
        L.append(f"| {r['target']} | {r['value']} | {_mark(r['met'])} | "
                 f"{'' if r['stretch'] is None else _mark(r['stretch'])} | {r['detail']} |")
    L.append("")
    errors = df[df["error"].notna()] if "error" in df else df.iloc[0:0]
    if len(errors):
        L += ["## Formats that failed to build", ""]
        L += [f"- {r['format']} at {_cell(r)}: {r['error']}"
              for _, r in errors.drop_duplicates(["format", "n", "m", "density", "k"]).iterrows()]
        L.append("")
    timed = df[df["time_s"].notna()]
    for batch in grid["batches"]:
        bt = timed[(timed["batch"] == batch) & (timed["threads"] == 1)]
        if bt.empty:
            continue
        for col, base, title in (
                ("ratio_numpy_1", "t_numpy_1", f"Time / NumPy dense (1 BLAS thread), batch {batch}, 1 thread"),
                ("ratio_csr", "t_scipy_csr", f"Time / SciPy CSR, batch {batch}, 1 thread")):
            drop = ["batch", "threads"] + [c for c in ("t_numpy_1", "t_numpy", "t_scipy_csr") if c != base]
            L += [f"## {title} ({base} in seconds)", "",
                  markdown_table(rfs.time_summary(bt, col).drop(columns=drop), floatfmt=".3g")]
    if (timed["threads"] == 2).any():
        b82 = timed[(timed["batch"] == 8) & (timed["threads"] == 2)
                    & timed["format"].map(fs.uses_threads)]
        L += ["## Speed-up of 2 threads over 1, batch 8", "",
              markdown_table(rfs.time_summary(b82, "speedup_vs_min_threads").drop(
                  columns=["batch", "threads", "t_numpy_1", "t_numpy", "t_scipy_csr"]), floatfmt=".2f")]
    keys = ["n", "m", "k", "batch", "density"]
    parts = []
    for name, (_, col) in fs.PAIRED_RATIOS.items():
        if col not in timed:
            continue
        sel = timed[(timed["format"] == name) & timed[col].notna()]
        if not sel.empty:
            ref = "CSR" if col.endswith("csr") else "dense"
            parts.append(sel.groupby(keys)[col].first().rename(f"{name} / {ref}"))
    if parts:
        import pandas as pd
        table = pd.concat(parts, axis=1)
        if "pair_speedup" in timed:
            sp = timed[(timed["batch"] == 8) & timed["pair_speedup"].notna()]
            table = table.join(sp.pivot_table(index=keys, columns="format", values="pair_speedup",
                                              aggfunc="first").add_prefix("speedup "), how="outer")
        L += ["## Paired ratios (sHAM and sHAM-gap / SciPy CSR, HAM and IM / NumPy dense at 1 thread; "
              "speed-up of 2 threads over 1 per kernel at batch 8)", "",
              markdown_table(table.sort_index(ascending=[True, True, True, True, False]).reset_index(),
                             floatfmt=".2f")]
    space = df.drop_duplicates([c for c in KEYS if c in df])
    L += ["## psi (bytes / dense float32 bytes) with the bounds", "",
          markdown_table(rfs.space_summary(space), floatfmt=".4g"),
          "## Bits per nonzero (whole representation) and the order-0 bound log2 C(nm,q)/q + H0", "",
          markdown_table(rfs.space_summary(space, "bits_per_nnz"), floatfmt=".3g"),
          "## Build time (s)", "",
          markdown_table(rfs.space_summary(space, "build_s"), floatfmt=".3g")]
    return "\n".join(L) + "\n"


def _load(v) -> str:
    return "n/a" if not v else "/".join(f"{x:.1f}" for x in v)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compactnn.bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
