"""Download, checksum and cache the files of the full data sets.

A download goes to ``<file>.part`` first and resumes it with an HTTP ``Range``
request when it is already there; the file gets its final name only once its
SHA-256 matches the pinned value.  Where no value is pinned the computed hash is
written next to the file as ``<file>.sha256`` and checked on later loads.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumError, DownloadError, MissingDataError
from .sources import SOURCES, RemoteFile

log = logging.getLogger(__name__)

#: seconds to wait for a connection or for the next block of data.
DEFAULT_TIMEOUT = 10.0
_CHUNK = 1 << 16
_USER_AGENT = "compactnn-data/0.1"


def sha256_file(path: str | os.PathLike) -> str:
    """Return the SHA-256 of a file as lower-case hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def record_path(path: Path) -> Path:
    """Where the hash computed at download time is kept: ``<file>.sha256``."""
    return path.with_name(path.name + ".sha256")


def read_record(path: Path) -> str | None:
    """Return the hash recorded for ``path``, or ``None`` when there is none."""
    rec = record_path(path)
    if not rec.is_file():
        return None
    text = rec.read_text().split()
    return text[0].lower() if text else None


def _write_record(path: Path, digest: str) -> None:
    from .._files import write_text_atomic

    write_text_atomic(record_path(path), f"{digest}  {path.name}\n")


def _open_own(path: Path, append: bool):
    """Open ``path`` for writing without following a symlink planted there."""
    flags = (os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
             | (os.O_APPEND if append else os.O_TRUNC))
    return os.fdopen(os.open(path, flags, 0o666), "ab" if append else "wb")


def _content_range_start(header: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-", header or "")
    return int(m.group(1)) if m else None


def _download(url: str, part: Path, *, timeout: float, size: int | None, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (starting over if the server ignores Range)."""
    from tqdm.auto import tqdm  # only needed when something is actually downloaded

    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (URLs are pinned)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch; the checksum decides
            return
        raise
    with resp:
        if have and (resp.status != 206 or _content_range_start(resp.headers.get("Content-Range")) != have):
            log.info("server did not resume %s; starting over", url)
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length else size
        with _open_own(part, append=bool(have)) as f, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress,
        ) as bar:
            while block := resp.read(_CHUNK):
                f.write(block)
                bar.update(len(block))
    got = part.stat().st_size
    if total is not None and got != total:  # keep the .part: the next try resumes it
        raise OSError(f"connection closed after {got} of {total} bytes")


@contextlib.contextmanager
def _locked(dest: Path):
    """Serialise downloads of one file between processes (e.g. parallel workers)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking
        yield
        return
    with _open_own(dest.with_name(dest.name + ".lock"), append=True) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch(remote: RemoteFile, dest: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT,
          progress: bool = True) -> Path:
    """Download one file to ``dest``, resuming ``dest.part``, and verify it.

    Parameters
    ----------
    remote : RemoteFile
        What to fetch; its mirrors are tried in order.
    dest : path
        Final location.  Parent folders are created.
    timeout : float
        Seconds to wait for a connection or for data before giving up on a mirror.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        No mirror could be read to the end; ``dest.part`` keeps what arrived.
    ChecksumError
        The downloaded bytes do not match the pinned SHA-256; the partial file is removed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _locked(dest):
        if not dest.is_file():  # another process may have finished it while we waited
            _fetch_unlocked(remote, dest, timeout=timeout, progress=progress)
    return dest


def _fetch_unlocked(remote: RemoteFile, dest: Path, *, timeout: float, progress: bool) -> None:
    part = dest.with_name(dest.name + ".part")
    failures = []
    for url in remote.urls:
        log.info("downloading %s -> %s", url, dest)
        try:
            _download(url, part, timeout=timeout, size=remote.size, progress=progress)
            break
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeout, refused
            failures.append(f"{url}: {exc}")
    else:
        raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))
    digest = sha256_file(part)
    if remote.sha256 is not None and digest != remote.sha256.lower():
        part.unlink()
        raise ChecksumError(
            f"{dest.name}: downloaded SHA-256 {digest} differs from the pinned {remote.sha256}; "
            "the partial file was removed, try again")
    if remote.sha256 is None:  # record first: a file without its record would be unusable
        _write_record(dest, digest)
        log.warning("%s has no pinned checksum; recorded its SHA-256 %s in %s",
                    dest.name, digest, record_path(dest).name)
    os.replace(part, dest)


@dataclass(frozen=True)
class LocalFile:
    """A file of a full data set, present on disk.

    ``status`` says how it was checked: ``"pinned"`` (matches the pinned SHA-256),
    ``"recorded"`` (matches the hash recorded when it was downloaded),
    ``"trusted"`` (not checked: the caller passed ``trust_local=True``) or
    ``"unverified"`` (no pinned or recorded hash to compare with).
    """

    path: Path
    status: str


def verify(remote: RemoteFile, path: Path, *, trust_local: bool = False) -> LocalFile:
    """Check a cached file against its pinned or recorded SHA-256.

    Raises
    ------
    ChecksumError
        The file's hash differs from the expected one.
    """
    if trust_local:
        return LocalFile(path, "trusted")
    expected, status = (remote.sha256, "pinned") if remote.sha256 else (read_record(path), "recorded")
    if expected is None:
        log.warning("%s: no pinned or recorded SHA-256, using it unverified", path)
        return LocalFile(path, "unverified")
    digest = sha256_file(path)
    if digest != expected.lower():
        raise ChecksumError(
            f"{path}: SHA-256 {digest} differs from the {status} {expected}. Delete the file "
            "and download it again, or pass trust_local=True for files you prepared yourself")
    return LocalFile(path, status)


def placement_help(name: str, root: str | os.PathLike, files: tuple[RemoteFile, ...] | list[RemoteFile]) -> str:
    """The manual-install instructions: which URL goes to which path."""
    folder = Path(root) / name
    lines = [f"  {folder / f.path}  <-  {f.urls[0]}" for f in files]
    return ("Without network access, fetch these files elsewhere and place them at:\n"
            + "\n".join(lines))


def ensure_files(name: str, root: str | os.PathLike = "data", *, download: bool = False,
                 trust_local: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 progress: bool = True) -> dict[str, LocalFile]:
    """Make sure every file of a full data set is cached and checked.

    Parameters
    ----------
    name : str
        A key of :data:`compactnn.data.sources.SOURCES`.
    root : path
        Cache root; files live in ``<root>/<name>/``.
    download : bool
        Fetch missing files; otherwise a missing file is an error.
    trust_local : bool
        Skip the checksum of files on disk (fixtures, hand-made copies); files
        downloaded now were checked by :func:`fetch` anyway.
    timeout, progress
        Passed to :func:`fetch`.

    Returns
    -------
    dict
        Relative path -> :class:`LocalFile`.

    Raises
    ------
    MissingDataError
        Files are missing and ``download`` is false.
    DownloadError
        A download failed; the message lists where to place the files by hand.
    ChecksumError
        A file does not match its checksum.
    """
    files = SOURCES[name]
    folder = Path(root) / name
    missing = [f for f in files if not (folder / f.path).is_file()]
    if missing and not download:
        raise MissingDataError(
            f"data set {name!r} is not complete in {folder}. Pass download=True, or run "
            f"`python -m compactnn data --name {name} --root {root}`.\n"
            + placement_help(name, root, missing))
    for f in missing:
        try:
            fetch(f, folder / f.path, timeout=timeout, progress=progress)
        except DownloadError as exc:
            raise DownloadError(f"{exc}\n{placement_help(name, root, missing)}") from None
    out = {f.path: verify(f, folder / f.path, trust_local=trust_local) for f in files}
    return out
