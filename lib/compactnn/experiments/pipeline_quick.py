"""``python -m compactnn quick`` (``make``): the main job on the embedded default.

Runs every notebook of the quick set with its own (small) parameters on the
CPU: the format study (space and time) and, where present, the compression
study on the bundled 5,000 MNIST digits.  Results go to ``results/``.
"""
from __future__ import annotations

import logging

from tqdm import tqdm

log = logging.getLogger(__name__)

#: Notebooks of the quick run, in order.
QUICK_NOTEBOOKS = ("01_space", "02_time", "03_compress")


def add_arguments(parser):
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="run only this notebook (repeatable), e.g. 01_space")
    parser.add_argument("--force", action="store_true", help="rerun notebooks that already completed")
    parser.add_argument("--out", default="results/notebooks", help="folder of the executed notebooks")


def run(args) -> int:
    from .notebooks import NOTEBOOK_DIR, run_notebook

    names = args.only or [n for n in QUICK_NOTEBOOKS if (NOTEBOOK_DIR / f"{n}.ipynb").exists()]
    for name in tqdm(names, desc="notebooks", unit="nb"):
        out = run_notebook(name, {}, out_dir=args.out, force=args.force)
        log.info("%s -> %s", name, out)
    return 0
