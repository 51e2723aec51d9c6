"""``python -m compactnn data``: download and verify the full data sets.

Without ``--all`` or ``--name`` it lists the data sets and what is cached.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .._cli import positive_float

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``data`` command's options to ``parser``."""
    parser.epilog = "Without --all or --name: list the data sets and what is cached under --root."
    parser.add_argument("--all", action="store_true", help="fetch and verify every full data set")
    parser.add_argument("--name", action="append", default=[], metavar="NAME",
                        help="fetch and verify this data set (repeatable)")
    parser.add_argument("--root", default="data", metavar="DIR",
                        help="cache root; files go to DIR/<name>/ (default: data)")
    parser.add_argument("--timeout", type=positive_float, default=None, metavar="S",
                        help="network timeout in seconds (default: 10)")


def _status(name: str, root: Path) -> str:
    from .download import read_record
    from .sources import SOURCES

    files = SOURCES[name]
    have = [f for f in files if (root / name / f.path).is_file()]
    if not have:
        return "not downloaded"
    unpinned = [f for f in have if f.sha256 is None and read_record(root / name / f.path) is None]
    text = f"{len(have)}/{len(files)} files"
    return text + (f" ({len(unpinned)} without checksum)" if unpinned else "")


def run(args: argparse.Namespace) -> int:
    """Run the command; return the exit status (0 = every requested set is ready)."""
    from ..errors import UnknownNameError
    from .download import DEFAULT_TIMEOUT, ensure_files
    from .errors import DataError
    from .registry import DATASETS, dataset_info

    root = Path(args.root)
    if not args.all and not args.name:
        width = max(map(len, DATASETS))
        for info in DATASETS.values():
            state = "bundled" if info.embedded else _status(info.name, root)
            sys.stdout.write(f"{info.name:<{width}}  {state:<28}  {info.summary}\n")
        return 0
    try:
        names = list(DATASETS) if args.all else [dataset_info(n).name for n in args.name]
    except UnknownNameError as exc:
        log.error("%s", exc)
        return 2
    failed = []
    for name in dict.fromkeys(names):
        if DATASETS[name].embedded:
            log.info("%s: bundled with the installed packages, nothing to download", name)
            continue
        try:
            files = ensure_files(name, root, download=True,
                                 timeout=args.timeout or DEFAULT_TIMEOUT)
        except DataError as exc:
            log.error("%s: %s", name, exc)
            failed.append(name)
            continue
        checks = sorted({f.status for f in files.values()})
        log.info("%s: ready in %s (checksums: %s)", name, root / name, ", ".join(checks))
    if failed:
        log.error("not ready: %s", ", ".join(failed))
        return 1
    return 0
