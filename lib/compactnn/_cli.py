"""Option checkers shared by the command line's subcommands.

Each is an ``argparse`` ``type=``: it returns the parsed value or raises
:class:`argparse.ArgumentTypeError`, which argparse turns into one line on
stderr and exit status 2 (``compactnn CMD: error: argument --opt: ...``).
"""
from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "positive_float", "seed", "check_writable_dir"]


def positive_int(text: str) -> int:
    """A whole number >= 1 (epochs, batch size, repeats)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rate, timeout); rejects ``nan`` and ``inf``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def seed(text: str) -> int:
    """A random seed: a whole number in [0, 2**32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number in [0, 2**32), got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {value}")
    return value


def check_writable_dir(path, option: str = "--out") -> None:
    """Raise :class:`~compactnn.errors.UsageError` unless folder ``path`` exists and is
    writable, or can be created (checked before any long work starts)."""
    import os
    from pathlib import Path

    from .errors import UsageError

    p = Path(path)
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"{option} {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: {probe} is not writable")
