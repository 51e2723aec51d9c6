"""``python -m compactnn report``: rebuild tables and figures from result files."""
from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("--out", default="results/notebooks", help="folder of the executed notebooks")


def run(args) -> int:
    # Tables and figures are written by the notebooks from their cached results;
    # rerunning them (forced) regenerates every artifact of the quick set.
    from ..experiments.notebooks import run_notebook
    from ..experiments.pipeline_quick import QUICK_NOTEBOOKS
    from ..experiments.notebooks import NOTEBOOK_DIR

    for name in QUICK_NOTEBOOKS:
        if (NOTEBOOK_DIR / f"{name}.ipynb").exists():
            run_notebook(name, {}, out_dir=args.out, force=True)
    return 0
