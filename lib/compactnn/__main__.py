"""Command line: ``python -m compactnn COMMAND --help``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import FormatError, UnknownNameError, UsageError

#: Errors a user can cause by what they typed: one line on stderr, exit status 2
#: (``--verbose`` shows the traceback instead).
USER_ERRORS = (UsageError, UnknownNameError, FormatError, FileNotFoundError, IsADirectoryError,
               NotADirectoryError, PermissionError)

# command -> (module, one-line help).  Each module provides
# ``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only
# when their command runs, so ``--help`` stays fast and torch is loaded only
# by the commands that need it.
COMMANDS = {
    "quick": ("compactnn.experiments.pipeline_quick", "run the main job on the embedded default (CPU, minutes)"),
    "paper": ("compactnn.experiments.pipeline_paper", "run the paper-scale parameter sets"),
    "report": ("compactnn.report.cli", "rebuild tables and figures from the result files"),
    "bench": ("compactnn.bench", "benchmark the matrix formats against NumPy and SciPy"),
    "train": ("compactnn.nn.train_cli", "train a baseline network and save it (safetensors + JSON)"),
    "compress": ("compactnn.nn.compress_cli", "compress and retrain a baseline, write one compressed model file"),
    "evaluate": ("compactnn.nn.evaluate_cli", "run a compressed model file on its test split, time it against dense"),
    "data": ("compactnn.data.cli", "download and verify the full data sets"),
    "sweep": ("compactnn.experiments.sweep", "run a compression grid (YAML) on Dask, resuming finished configurations"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compactnn",
        description="compactnn: pruning, weight sharing and Huffman-coded matrix formats for CNNs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            p.set_defaults(_missing=str(exc))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "_missing", None):
        parser.error(f"command {args.command!r} is unavailable: {args._missing}")
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        parser.exit(2, f"{parser.prog} {args.command}: error: {_one_line(exc)}\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("compactnn")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


if __name__ == "__main__":
    sys.exit(main())
