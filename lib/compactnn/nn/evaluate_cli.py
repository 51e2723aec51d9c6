"""``python -m compactnn evaluate``: the command's entry points (see :mod:`.compress_cli`)."""
from __future__ import annotations

from .compress_cli import add_evaluate_arguments as add_arguments
from .compress_cli import run_evaluate as run

__all__ = ["add_arguments", "run"]
