"""Exception hierarchy of compactnn.

Every error raised on purpose by the package derives from :class:`CompactnnError`
and, where it fits, from the matching built-in (``ValueError``/``TypeError``), so
callers can catch either.
"""


class CompactnnError(Exception):
    """Base class of all compactnn errors."""


class FormatError(CompactnnError, ValueError):
    """A compressed representation is invalid: corrupted, truncated, or inconsistent."""


class KernelError(CompactnnError, RuntimeError):
    """A C kernel failed for a reason other than invalid data (e.g. out of memory)."""


class UnknownNameError(CompactnnError, KeyError, ValueError):
    """A format, method or strategy name is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UsageError(CompactnnError, ValueError):
    """A user's request cannot be carried out as given (bad option, missing or wrong file).

    The command line prints its message on one line and exits with status 2.
    """
