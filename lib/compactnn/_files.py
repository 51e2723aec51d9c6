"""Ground-floor file helpers shared by every role: atomic writes and the results root.

Everything the package writes (matrix and model files, records, tables, figures)
goes through :func:`atomic_write`: the data is written to a unique temporary file
in the target's folder (``tempfile.mkstemp``: ``O_CREAT | O_EXCL``, so a symlink
planted at a predictable name is never followed), flushed, given the permissions
a plain ``open()`` would give under the current umask, then renamed over the
target.  Two writers racing on one path leave exactly one complete file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["atomic_write", "atomic_path", "write_bytes_atomic", "write_text_atomic",
           "write_with", "results_root", "RESULTS_ENV"]

#: Environment variable that overrides the default results root.
RESULTS_ENV = "COMPACTNN_RESULTS"


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success rename it over ``path``.

    The temporary file exists (empty) when the block starts, so writers that open
    it by name (``np.savez``, ``safetensors``, ``fig.savefig``) write into a file
    that this process created.  ``suffix`` keeps an extension that such writers
    look at (``".png"``).  On an exception the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix + ".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, _umask_mode())
        yield Path(tmp)
        # Writers that replace the file they were given (safetensors does) leave
        # it with their own mode: give the result the umask's mode again.
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file for writing; on success it replaces ``path`` atomically."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike, write: Callable[[Path], None], suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(path, suffix=suffix) as tmp:
        write(tmp)
    return Path(path)


def results_root(override: str | os.PathLike | None = None) -> Path:
    """The folder every result goes to.

    ``override`` (a ``--results`` option) wins, then ``$COMPACTNN_RESULTS``, then
    ``results/`` under the current directory.  The path is made absolute so that
    notebooks executed in another working directory write to the same place.
    """
    chosen = override or os.environ.get(RESULTS_ENV) or "results"
    return Path(chosen).expanduser().resolve()
