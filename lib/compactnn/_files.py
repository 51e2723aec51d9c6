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
import stat
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["atomic_write", "atomic_path", "write_bytes_atomic", "write_text_atomic",
           "write_with", "results_root", "RESULTS_ENV"]

#: Environment variable that overrides the default results root.
RESULTS_ENV = "COMPACTNN_RESULTS"


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # os.umask can only be read by setting it: keep our own threads from seeing the
    # temporary value (and from restoring it as the umask for good)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _umask_mode() -> int:
    return 0o666 & ~_umask()


def _settle(tmp: str) -> None:
    """Give the written temporary file the umask's mode and flush it to disk.

    Opened with ``O_NOFOLLOW``: if the name no longer holds a regular file that a
    writer left there (a symlink swapped in), nothing is changed and ``OSError``
    is raised.
    """
    fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{tmp} is no longer a regular file")
        os.fchmod(fd, _umask_mode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success rename it over ``path``.

    The temporary file exists (empty, created with ``O_EXCL`` under a random name)
    when the block starts, so writers that open it by name (``np.savez``,
    ``safetensors``, ``fig.savefig``, papermill) write into a file that this
    process created.  ``suffix`` keeps an extension that such writers look at
    (``".png"``: the name ends ``.tmp.png``).  After the block the file gets the mode a plain ``open()``
    would give under the current umask (writers that replace the file they were
    given leave their own), is flushed to disk and renamed over ``path``; a
    symlink at ``path`` is replaced, never followed.  On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + suffix)
    try:
        os.fchmod(fd, _umask_mode())
        os.close(fd)
        fd = -1
        yield Path(tmp)
        _settle(tmp)
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file for writing; on success it replaces ``path`` atomically."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            yield f


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike, write: Callable[[Path], None], suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically (see :func:`atomic_path`)."""
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
