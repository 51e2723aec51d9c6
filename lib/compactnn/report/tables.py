"""Writing tables and figures: atomic files, Markdown without extra packages, one plot style."""
from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

from .._files import write_text_atomic, write_with

__all__ = ["write_text_atomic", "write_csv", "markdown_table", "write_markdown", "latex_table",
           "write_table", "plot_style", "save_figure", "plain_log_ticks", "finish_layout"]


def write_csv(df, path: str | os.PathLike) -> Path:
    """A DataFrame as CSV (no index), written atomically."""
    return write_text_atomic(path, df.to_csv(index=False))


def _cell(value, floatfmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return format(value, floatfmt)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f":
        return _cell(float(value), floatfmt)
    return str(value).replace("|", "\\|")


def markdown_table(df, floatfmt: str = ".4g", index: bool = False) -> str:
    """A DataFrame as a GitHub Markdown table (``tabulate`` is not a dependency)."""
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(df, path: str | os.PathLike, title: str | None = None, floatfmt: str = ".4g",
                   index: bool = False) -> Path:
    """A DataFrame as a Markdown file (optionally under a ``# title``), written atomically."""
    head = f"# {title}\n\n" if title else ""
    return write_text_atomic(path, head + markdown_table(df, floatfmt, index=index))


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(df, floatfmt: str = ".4g", caption: str | None = None, label: str | None = None) -> str:
    """A DataFrame as a LaTeX ``tabular`` in booktabs style (inside a ``table`` when captioned)."""
    cols = [str(c) for c in df.columns]
    align = "".join("r" if getattr(df[c].dtype, "kind", "O") in "iuf" else "l" for c in df.columns)
    body = [r"\begin{tabular}{" + align + "}", r"\toprule",
            " & ".join(_latex_escape(c) for c in cols) + r" \\", r"\midrule"]
    for row in df.itertuples(index=False):
        body.append(" & ".join(_latex_escape(_cell(v, floatfmt).replace("\\|", "|")) for v in row) + r" \\")
    body += [r"\bottomrule", r"\end{tabular}"]
    if caption is None:
        return "\n".join(body) + "\n"
    head = [r"\begin{table}[t]", r"\centering", r"\caption{" + _latex_escape(caption) + "}"]
    if label:
        head.append(r"\label{" + label + "}")
    return "\n".join(head + body + [r"\end{table}"]) + "\n"


def write_table(df, out_dir: str | os.PathLike, stem: str, title: str, shown=None,
                floatfmt: str = ".4g") -> list[Path]:
    """``stem.csv`` (every column of ``df``), ``stem.md`` and ``stem.tex`` (the ``shown`` frame).

    ``shown`` is the readable view of the same rows (a handful of renamed
    columns); it defaults to ``df``.  Every file is written atomically.
    """
    out = Path(out_dir)
    shown = df if shown is None else shown
    return [write_csv(df, out / f"{stem}.csv"),
            write_markdown(shown, out / f"{stem}.md", title=title, floatfmt=floatfmt),
            write_text_atomic(out / f"{stem}.tex",
                              latex_table(shown, floatfmt, caption=title, label=f"tab:{stem}"))]


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """The house style of every figure (small, readable in a paper column, no Type 3 fonts)."""
    import matplotlib
    rc = {"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight",
          "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7,
          "xtick.labelsize": 8, "ytick.labelsize": 8, "lines.linewidth": 1.3,
          "lines.markersize": 4, "axes.grid": True, "grid.alpha": 0.3,
          "axes.spines.top": False, "axes.spines.right": False,
          "pdf.fonttype": 42, "ps.fonttype": 42}
    with matplotlib.rc_context(rc):
        yield


def plain_log_ticks(fig) -> None:
    """Label the log axes of ``fig`` as plain numbers (0.01, 0.1, 1; 0.2, 0.3 on the minor ticks).

    Which ticks get a label is matplotlib's default choice (minor ticks only on
    an axis spanning a decade or two); only the text differs.  The default labels
    are mathtext (``10^{-2}``): typesetting them and embedding the math fonts in
    every PDF was half the time of drawing the report (about 15 s of it on 2 cores).
    """
    from matplotlib import ticker

    class PlainLog(ticker.LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                axis.set_major_formatter(PlainLog())
                axis.set_minor_formatter(PlainLog(labelOnlyBase=False))


def finish_layout(fig) -> None:
    """The last step of every figure before it is shown or saved: :func:`plain_log_ticks`, then
    ``tight_layout`` (which measures the tick labels, so the labels are set first)."""
    plain_log_ticks(fig)
    fig.tight_layout()


def save_figure(fig, out_dir: str | os.PathLike, stem: str,
                formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` (laid out by :func:`finish_layout`) as ``out_dir/stem.png`` and ``.pdf``
    (each written atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        paths.append(write_with(out / f"{stem}.{ext}",
                                lambda tmp, ext=ext: fig.savefig(tmp, format=ext), suffix=f".{ext}"))
    return paths
