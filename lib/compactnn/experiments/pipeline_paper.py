"""``python -m compactnn paper`` (``make paper``): the paper-scale parameter sets.

The format-study notebooks run at the paper's sizes (VGG19's 512x4096 and
4096x4096 dense layers); long, but CPU-only.  Training-based notebooks take
their paper recipes and want a GPU.
"""
from __future__ import annotations

import logging

from tqdm import tqdm

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="run only this notebook (repeatable)")
    parser.add_argument("--force", action="store_true", help="rerun notebooks that already completed")
    parser.add_argument("--out", default="results/paper/notebooks", help="folder of the executed notebooks")


def run(args) -> int:
    from .presets import paper_parameters
    from .notebooks import run_notebook

    names = args.only or ["01_space", "02_time"]
    for name in tqdm(names, desc="notebooks (paper)", unit="nb"):
        params = paper_parameters(name)
        run_notebook(name, params, out_dir=args.out, force=args.force)
    return 0
