"""``<results>/index.html``: one page linking every table, figure and executed notebook.

The executed notebooks under ``<results>/notebooks/*.ipynb`` are exported to
HTML with nbconvert into ``<results>/report/notebooks/`` (re-exported only when
the notebook is newer than its HTML).  The page also states the environment:
the machine, the package version, the BLAS (threadpoolctl) and the threads the
records were measured with.  Links are relative, so the folder can be moved.
"""
from __future__ import annotations

import html
import json
import logging
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from .._files import write_text_atomic

__all__ = ["export_notebooks", "environment", "write_index"]

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".md", ".csv", ".tex")
FIGURE_SUFFIXES = (".png", ".pdf")


def export_notebooks(root: Path, out_dir: Path | None = None) -> list[Path]:
    """Export every executed notebook ``root/notebooks/*.ipynb`` to HTML; returns the HTML paths."""
    root = Path(root)
    out_dir = Path(out_dir) if out_dir is not None else root / "report" / "notebooks"
    sources = sorted(p for p in (root / "notebooks").glob("*.ipynb") if not p.stem.endswith(".running"))
    paths = []
    exporter = None
    for src in sources:
        dst = out_dir / f"{src.stem}.html"
        if not dst.is_file() or dst.stat().st_mtime_ns < src.stat().st_mtime_ns:
            if exporter is None:
                from nbconvert import HTMLExporter

                exporter = HTMLExporter()
            body, _ = exporter.from_filename(str(src))
            write_text_atomic(dst, body)
            log.info("exported %s -> %s", src.name, dst)
        paths.append(dst)
    return paths


def _version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(root: Path, metas: dict | None = None) -> dict:
    """What the results depend on: machine, versions, BLAS and threads (a flat, printable dict)."""
    from .. import timing
    from ..formats import default_threads

    info = timing.machine_info()
    env = {"report built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "machine": f"{info['processor']} ({info['cpus_usable']} usable cores), {info['platform']}",
           "compactnn": __version__, "python": info["python"], "numpy": info["numpy"],
           "scipy": info["scipy"], "pandas": _version_of("pandas"), "torch": _version_of("torch")}
    blas = [f"{b.get('internal_api')} {b.get('version')} ({b.get('user_api')}, "
            f"{b.get('num_threads')} threads)" for b in timing.blas_info()]
    env["BLAS / OpenMP (threadpoolctl)"] = "; ".join(blas) or "none found"
    kernels = info.get("kernels") or {}
    env["kernel threads"] = (f"{default_threads()} by default, at most {kernels.get('max_threads')} "
                             f"(kernel variant {kernels.get('variant')})")
    metas = metas or {}
    if metas:
        versions = sorted({str(m.get("version")) for m in metas.values()})
        threads = sorted({str(m.get("torch_threads")) for m in metas.values() if m.get("torch_threads")})
        env["compression records"] = f"{len(metas)} (package version {', '.join(versions)})"
        if threads:
            env["torch threads of the compression runs"] = ", ".join(threads)
    for measured in sorted(Path(root).glob("*/environment.json")):
        try:
            m = json.loads(measured.read_text())
        except (OSError, ValueError):
            continue
        blas = "; ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
                         for b in m.get("blas") or [])
        env[f"{measured.parent.name} study measured on"] = (
            f"{m.get('processor')} ({m.get('cpus_usable')} cores), BLAS {blas or 'unknown'}, "
            f"kernel threads {m.get('default_threads')}")
    return env


def _href(path: Path, root: Path) -> str:
    return quote(path.relative_to(root).as_posix())


def _link(path: Path, root: Path, text: str | None = None) -> str:
    return f'<a href="{_href(path, root)}">{html.escape(text or path.name)}</a>'


def write_index(root: Path, metas: dict | None = None, notebooks: list[Path] | None = None) -> Path:
    """Write ``root/index.html`` linking everything under ``root/report``; returns its path."""
    root = Path(root)
    report = root / "report"
    files = sorted(p for p in report.rglob("*") if p.is_file() and not p.name.startswith("."))
    tables, figures = defaultdict(list), defaultdict(list)
    for p in files:
        if p.suffix in TABLE_SUFFIXES:
            tables[p.with_suffix("")].append(p)
        elif p.suffix in FIGURE_SUFFIXES:
            figures[p.with_suffix("")].append(p)
    notebooks = sorted(notebooks if notebooks is not None else (report / "notebooks").glob("*.html"))
    other = [p for p in files if p.suffix not in TABLE_SUFFIXES + FIGURE_SUFFIXES and p not in notebooks]

    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>compactnn results</title>",
           "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
           "td,th{padding:.15em .8em;text-align:left;vertical-align:top}"
           "figure{display:inline-block;margin:.5em}img{max-width:32em;border:1px solid #ddd}</style>",
           "</head><body>", "<h1>compactnn results</h1>",
           "<p>Built from the records under "
           + (_link(root / "records", root, "records/") if (root / "records").is_dir() else "records/")
           + " alone (nothing was measured to build this page).</p>"]
    out.append("<h2>Tables</h2>")
    if tables:
        out.append("<table><tr><th>table</th><th>files</th><th>title</th></tr>")
        for stem, paths in sorted(tables.items()):
            order = sorted(paths, key=lambda p: TABLE_SUFFIXES.index(p.suffix))
            links = " ".join(_link(p, root, p.suffix[1:]) for p in order)
            md = stem.with_suffix(".md")
            title = md.read_text().splitlines()[0].lstrip("# ") if md.is_file() else ""
            out.append(f"<tr><td>{html.escape(stem.relative_to(report).as_posix())}</td><td>{links}</td>"
                       f"<td>{html.escape(title)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No tables (no records yet).</p>")
    out.append("<h2>Figures</h2>")
    for stem, paths in sorted(figures.items()):
        name = html.escape(stem.relative_to(report).as_posix())
        png = [p for p in paths if p.suffix == ".png"]
        links = " ".join(_link(p, root, p.suffix[1:]) for p in sorted(paths))
        img = (f'<a href="{_href(png[0], root)}"><img src="{_href(png[0], root)}" alt="{name}"></a><br>'
               if png else "")
        out.append(f"<figure>{img}<figcaption>{name}: {links}</figcaption></figure>")
    if not figures:
        out.append("<p>No figures.</p>")
    out.append("<h2>Executed notebooks</h2>")
    if notebooks:
        out.append("<ul>" + "".join(f"<li>{_link(p, root, p.stem)} (source "
                                    f"{_link(root / 'notebooks' / (p.stem + '.ipynb'), root, 'ipynb')})</li>"
                                    if (root / "notebooks" / f"{p.stem}.ipynb").is_file()
                                    else f"<li>{_link(p, root, p.stem)}</li>" for p in notebooks) + "</ul>")
    else:
        out.append("<p>No executed notebooks under notebooks/.</p>")
    if other:
        out.append("<h2>Other files</h2><ul>" + "".join(f"<li>{_link(p, root, p.relative_to(report).as_posix())}"
                                                         "</li>" for p in other) + "</ul>")
    out.append("<h2>Environment</h2><table>")
    for key, value in environment(root, metas).items():
        out.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>")
    out.append("</table></body></html>")
    return write_text_atomic(root / "index.html", "\n".join(out) + "\n")
