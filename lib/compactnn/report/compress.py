"""The compression study's tables and figures, drawn from its records.

Reads the long rows of the compression records (one row per configuration,
scope and format: :func:`compactnn.report.records.read_compress`) and writes

- Table II (ICPR): the best performance per method, per network-data pair and target;
- Table III (ICPR): the smallest ``psi`` of the dense layers with performance at
  least the baseline's, with its format, per method and network-data pair;
- the occupancy table: ``psi`` of the dense layers and of the whole network for
  every configuration;
- the variant table: the ``paper`` and ``reference`` variants of one
  configuration side by side (distinct nonzero values per layer, performance, ``psi``);
- the Fig. 3 analogue: per method, performance, ``psi`` and time ratio across the
  grid, one panel row per network-data pair.

Tables are tidy CSV (every per-format column) plus Markdown and LaTeX (a
handful of readable columns).  Measures nothing.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..formats import FORMATS
from .tables import finish_layout, plot_style, save_figure, write_table

__all__ = ["config_table", "best_performance", "smallest_psi_no_loss", "occupancy", "variant_table",
           "write_tables", "table_markdown", "plot_fig3", "NAMED_FORMATS", "TABLE_DIR"]

log = logging.getLogger(__name__)

#: The formats the Markdown tables and the figures show beside the best one.
NAMED_FORMATS = ("sham", "ham", "csr")

#: Where the report writes the compression study's tables and figures, under the results root.
TABLE_DIR = Path("report") / "compress"

#: Columns that identify one configuration of the grid.
CONFIG_COLUMNS = ["record", "pair", "recipe", "network", "dataset", "method", "variant", "target", "p", "k",
                  "p_conv", "k_conv", "unified", "label", "metric", "higher_is_better", "baseline",
                  "before", "performance", "delta"]
GROUP = ["network", "dataset", "metric"]
_WS_ORDER = ("cws", "pws", "uq", "ecsq")


def _format_order(names) -> list[str]:
    reg = list(FORMATS)
    return sorted(names, key=lambda f: (not getattr(FORMATS.get(f), "baseline", False),
                                        reg.index(f) if f in reg else len(reg), f))


def display(fmt) -> str:
    """A format's display name (its class trait), or the name itself when unregistered."""
    if not isinstance(fmt, str):
        return ""
    return getattr(FORMATS.get(fmt), "display_name", "") or fmt


def _method_key(method: str) -> tuple:
    m = method.lower()
    pruned = m.startswith("pr")
    ws = m.removeprefix("pr").removeprefix("-")
    unified = ws.startswith("u") and ws[1:] in _WS_ORDER
    base = ws[1:] if unified else ws
    return (pruned and bool(ws), unified, _WS_ORDER.index(base) if base in _WS_ORDER else -1, m)


def _number(text) -> float:
    """First number of a grid value (``"90"``, ``"32-32-2"``) for sorting; empty is -1."""
    found = re.match(r"\s*([0-9.]+)", str(text))
    return float(found.group(1)) if found else -1.0


def config_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: its identity plus ``psi_<scope>_<format>`` and ``time_ratio_<format>``.

    Also ``psi_<scope>_best`` and ``best_format_<scope>`` (the smallest ``psi`` of
    the scope over the formats and the format that reaches it).
    """
    ident = [c for c in CONFIG_COLUMNS if c in rows]
    out = rows.groupby("record", sort=False)[[c for c in ident if c != "record"]].first()
    for scope in ("dense", "conv", "network"):
        part = rows[(rows["scope"] == scope) & rows["psi"].notna()]
        if part.empty:
            continue
        wide = part.pivot_table(index="record", columns="format", values="psi", aggfunc="first")
        wide = wide[_format_order(wide.columns)]
        out[f"psi_{scope}_best"] = wide.min(axis=1)
        out[f"best_format_{scope}"] = wide.idxmin(axis=1)
        out = out.join(wide.add_prefix(f"psi_{scope}_"))
    timed = rows[(rows["scope"] == "dense") & rows["time_ratio"].notna()]
    if not timed.empty:
        wide = timed.pivot_table(index="record", columns="format", values="time_ratio", aggfunc="first")
        out = out.join(wide[_format_order(wide.columns)].add_prefix("time_ratio_"))
    out = out.reset_index()
    order = sorted(range(len(out)), key=lambda i: (
        out["network"].iat[i], out["dataset"].iat[i], _method_key(out["method"].iat[i]),
        str(out["variant"].iat[i]), str(out["target"].iat[i]), _number(out["p"].iat[i]),
        _number(out["k"].iat[i]), str(out["p"].iat[i]), str(out["k"].iat[i])))
    return out.iloc[order].reset_index(drop=True)


def _better_first(cfg: pd.DataFrame) -> pd.DataFrame:
    """Best performance first (higher accuracy, lower MSE), ties by the smaller dense ``psi``."""
    higher = cfg["higher_is_better"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    sign = np.where(higher, -1.0, 1.0)
    psi = cfg["psi_dense_best"] if "psi_dense_best" in cfg else 0.0
    return cfg.assign(_rank=sign * cfg["performance"], _psi=psi).sort_values(
        ["_rank", "_psi"], kind="stable").drop(columns=["_rank", "_psi"])


def _keep_order(picked: pd.DataFrame, cfg: pd.DataFrame) -> pd.DataFrame:
    return picked.loc[[i for i in cfg.index if i in picked.index]].reset_index(drop=True)


def best_performance(cfg: pd.DataFrame) -> pd.DataFrame:
    """ICPR Table II: per network-data pair, method, variant and target, the best-performing configuration."""
    picked = _better_first(cfg).groupby(GROUP + ["method", "variant", "target"], sort=False).head(1)
    return _keep_order(picked, cfg)


def smallest_psi_no_loss(cfg: pd.DataFrame) -> pd.DataFrame:
    """ICPR Table III: per network-data pair, method and variant, the smallest dense ``psi`` with no loss.

    No loss means ``delta >= 0`` (performance at least the baseline's); methods
    without such a configuration have no row.
    """
    if "psi_dense_best" not in cfg:  # no record has a dense scope
        return cfg.iloc[:0]
    ok = cfg[(cfg["delta"] >= 0) & cfg["psi_dense_best"].notna()]
    picked = ok.sort_values("psi_dense_best", kind="stable").groupby(
        GROUP + ["method", "variant"], sort=False).head(1)
    return _keep_order(picked, cfg)


def occupancy(cfg: pd.DataFrame) -> pd.DataFrame:
    """Every configuration with the ``psi`` of its dense layers and of the whole network (all formats)."""
    keep = [c for c in cfg.columns if not c.startswith("time_ratio_") and c != "pair"]
    sort = [c for c in ("network", "dataset", "psi_network_best") if c in cfg]
    return cfg[keep].sort_values(sort, kind="stable").reset_index(drop=True)


def variant_table(cfg: pd.DataFrame, layers: pd.DataFrame | None) -> pd.DataFrame:
    """The configurations run in more than one variant, side by side.

    One row per (configuration, variant): ``distinct_per_layer`` lists the
    distinct nonzero values of each compressed layer (``layers.csv``,
    ``"fc1:3, fc2:2"``), ``distinct_<layer>`` holds each count, then
    performance and ``psi`` per format.
    """
    both = cfg[cfg.groupby("pair")["variant"].transform("nunique") > 1].copy()
    both = both.drop(columns=[c for c in both.columns if c.startswith("time_ratio_")])
    if both.empty:
        return both
    if layers is not None and "distinct_nonzero" in layers:
        mine = layers[layers["record"].isin(both["record"])]
        text = {key: ", ".join(f"{n}:{d}" for n, d in zip(g["layer"], g["distinct_nonzero"]))
                for key, g in mine.groupby("record", sort=False)}
        both["distinct_per_layer"] = both["record"].map(text).fillna("")
        counts = mine.pivot_table(index="record", columns="layer", values="distinct_nonzero", aggfunc="first")
        both = both.merge(counts.add_prefix("distinct_"), left_on="record", right_index=True, how="left")
    else:
        both["distinct_per_layer"] = ""
    order = sorted(range(len(both)), key=lambda i: (list(cfg["pair"]).index(both["pair"].iat[i]),
                                                    str(both["variant"].iat[i]) != "paper",
                                                    str(both["variant"].iat[i])))
    return both.iloc[order].drop(columns="pair").reset_index(drop=True)


# ---- readable views ------------------------------------------------------------------------
def _psi_text(value, fmt) -> str:
    return "" if pd.isna(value) else f"{value:.4g} ({display(fmt)})"


def _view(t: pd.DataFrame, extra=(), scopes=("dense",), named=NAMED_FORMATS) -> pd.DataFrame:
    """A handful of readable columns: what was compressed how, its performance, the best ``psi``
    and a few named formats (every column of the configuration stays in the CSV).

    The network-data pair carries its metric and baseline; the method its variant
    when that is not the paper's; ``p / k`` the pruning percentiles and codebook
    sizes (``-`` where the method has none), then the conv layers' where they differ.
    """
    v = pd.DataFrame(index=t.index)
    text = lambda col: t[col].fillna("").astype(str) if col in t else pd.Series("", index=t.index)  # noqa: E731
    v["network / data"] = [f"{n} / {d} ({m}, baseline {b:.4g})" for n, d, m, b in
                           zip(text("network"), text("dataset"), text("metric"), t["baseline"])]
    v["method"] = [m if var in ("", "paper") else f"{m} ({var})" for m, var in zip(text("method"), text("variant"))]
    v["target"] = text("target")
    v["p / k"] = [f"{p or '-'} / {k or '-'}" + (f", conv {pc or '-'} / {kc or '-'}" if pc or kc else "")
                  for p, k, pc, kc in zip(text("p"), text("k"), text("p_conv"), text("k_conv"))]
    for col in extra:
        v[col.replace("_", " ").replace("distinct per", "distinct nonzero per")] = t[col]
    v["performance"] = t["performance"]
    v["delta"] = t["delta"]
    for scope in scopes:
        if f"psi_{scope}_best" not in t:
            continue
        v[f"psi {scope} (best format)"] = [_psi_text(a, b) for a, b in
                                          zip(t[f"psi_{scope}_best"], t[f"best_format_{scope}"])]
        for f in named:
            if f"psi_{scope}_{f}" in t:
                v[f"psi {scope} {display(f)}"] = t[f"psi_{scope}_{f}"]
    return v.reset_index(drop=True)


def write_tables(rows: pd.DataFrame, layers: pd.DataFrame | None, out_dir) -> dict[str, list[Path]]:
    """All four tables as CSV + Markdown + LaTeX in ``out_dir``; returns ``{stem: paths}``."""
    cfg = config_table(rows)
    t2, t3, occ = best_performance(cfg), smallest_psi_no_loss(cfg), occupancy(cfg)
    var = variant_table(cfg, layers)
    drop_pair = lambda t: t.drop(columns=[c for c in ("pair",) if c in t])  # noqa: E731
    t3_title = "Table III: smallest psi of the dense layers with performance at least the baseline's"
    if t3.empty and not cfg.empty:
        best = _better_first(cfg).iloc[0]
        t3_title += (f" (no configuration reached it; the closest is {best['method']} "
                     f"{best['target']} p={best['p'] or '-'} k={best['k'] or '-'} at "
                     f"{best['performance']:.4g} against {best['baseline']:.4g}: see Table II)")
    tables = {
        "table2_best_performance": ("Table II: best performance per method, network-data pair and target",
                                    drop_pair(t2), _view(t2)),
        "table3_smallest_psi_no_loss": (t3_title, drop_pair(t3), _view(t3)),
        "occupancy": ("Occupancy psi of the dense layers and of the whole network, every configuration",
                      occ, _view(occ, scopes=("dense", "network"), named=("sham",))),
    }
    if not var.empty:
        tables["variants"] = ("Paper and reference variants of the same configuration", var,
                              _view(var, extra=("distinct_per_layer",), named=("sham", "ham")))
    else:
        log.info("no configuration is present in more than one variant: no variant table")
    return {stem: write_table(full, out_dir, stem, title, shown)
            for stem, (title, full, shown) in tables.items()}


def table_markdown(results, stem: str) -> str:
    """The Markdown of table ``stem`` written under ``<results>/report/compress`` (a note if absent)."""
    from .._files import results_root

    path = results_root(results) / TABLE_DIR / f"{stem}.md"
    return path.read_text() if path.is_file() else f"*No table {stem}: no matching compression records.*\n"


# ---- Fig. 3 --------------------------------------------------------------------------------
def _metric_label(metric: str) -> str:
    return {"accuracy": "test accuracy\n(fraction correct)", "mse": "test MSE\n(squared affinity units)"}.get(
        metric, f"test {metric}")


def _tick(row) -> str:
    parts = [f"p{row.p}" if row.p else "", f"k{row.k}" if row.k else ""]
    text = " ".join(x for x in parts if x) or row.method
    extra = row.target + ("" if row.variant == "paper" else f", {row.variant}")
    return f"{text}\n{extra}"


def plot_fig3(rows: pd.DataFrame, out_dir=None, named=NAMED_FORMATS) -> list[Path]:
    """ICPR Fig. 3 analogue: one figure per method, one panel row per network-data pair.

    Columns: performance after retraining (baseline dashed), ``psi`` of the dense
    layers (best format and the ``named`` ones, log scale) and the time ratio of
    the largest compressed dense layer's product (format over NumPy dense, batch
    8, one thread), across the method's configurations.  Saved as
    ``fig3_<method>.png`` / ``.pdf`` in ``out_dir``; returns the PNG paths.
    """
    import matplotlib.pyplot as plt

    cfg = config_table(rows)
    paths = []
    for method in sorted(cfg["method"].unique(), key=_method_key):
        part = cfg[cfg["method"] == method]
        pairs = list(part.groupby(GROUP, sort=False))
        with plot_style():
            width = max(12.0, 3 * (1.2 + 0.32 * part.groupby(GROUP).size().max()))
            fig, axes = plt.subplots(len(pairs), 3, figsize=(width, 2.9 * len(pairs)), squeeze=False)
            for i, ((net, data, metric), g) in enumerate(pairs):
                x = np.arange(len(g))
                ticks = [_tick(r) for r in g.itertuples()]
                ax_perf, ax_psi, ax_time = axes[i]
                ax_perf.plot(x, g["performance"], "o-", color="C0", label="after retraining")
                if "before" in g:
                    ax_perf.plot(x, g["before"], "x:", color="C1", label="before retraining")
                ax_perf.axhline(g["baseline"].iloc[0], color="0.4", ls="--", lw=1, label="baseline")
                ax_perf.set(ylabel=_metric_label(metric), title=f"{method}: {net} on {data}, {metric}")
                if "psi_dense_best" in g:
                    ax_psi.plot(x, g["psi_dense_best"], "*-", color="0.2", markersize=10, lw=2.5, alpha=0.4,
                                label="best format")
                for j, f in enumerate(named):
                    if f"psi_dense_{f}" in g:
                        ax_psi.plot(x, g[f"psi_dense_{f}"], marker="osd^v"[j % 5], ls="-",
                                    color=f"C{j + 2}", label=display(f))
                    if f"time_ratio_{f}" in g:
                        ax_time.plot(x, g[f"time_ratio_{f}"], marker="osd^v"[j % 5], ls="-",
                                     color=f"C{j + 2}", label=display(f))
                ax_psi.set(yscale="log", ylabel="psi of the dense layers\n(bytes / float32 bytes)",
                           title=f"{method}: {net} on {data}, occupancy")
                ax_time.axhline(1.0, color="0.4", lw=0.8, ls="--", label="NumPy dense")
                ax_time.set(yscale="log", ylabel="time / NumPy dense\n(ratio; batch 8, 1 thread)",
                            title=f"{method}: {net} on {data}, product time")
                for ax in axes[i]:
                    ax.set_xticks(x, ticks, fontsize=6)
                    ax.set_xlabel("configuration (p: pruning %, k: codebook size)", fontsize=7)
                    ax.legend(loc="best")
            finish_layout(fig)
            if out_dir is not None:
                stem = "fig3_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", method)
                paths.append(save_figure(fig, out_dir, stem)[0])
            plt.close(fig)
    return paths
