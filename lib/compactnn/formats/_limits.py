"""What a matrix file may claim: strict header parsing, size limits, archive reading.

The rule (also in the docstring of :mod:`compactnn.formats.base`):

* every integer in a header is a JSON integer (not ``true``, ``1.0`` or ``"5"``);
* each dimension is below ``2**31``;
* the matrix's *extent* ``n*m + n + m`` (what ``to_dense`` allocates, what a
  product's output and its O(nm) formats' work grow with) is at most
  :func:`max_entries` (``$COMPACTNN_MAX_ENTRIES``, default ``2**34``) and at most
  ``2**26 + r * B``, where ``B`` is the number of bytes of the stored arrays and
  ``r`` is :func:`entries_per_byte` (``$COMPACTNN_MAX_ENTRIES_PER_BYTE``, default
  ``2**16``): a small file cannot describe a huge matrix;
* every archive member's inflated size, read from the zip directory, matches the
  dtype and shape the header lists, before anything but the header is inflated;
  each member's own ``.npy`` header must list that dtype and shape before its
  array is allocated;
* the members together inflate to at most ``2**26`` bytes plus
  :func:`inflate_ratio` (``$COMPACTNN_MAX_INFLATE_RATIO``, default 16) times the
  archive's size (``save`` stores members uncompressed: a ratio near 1), so a
  small deflated archive cannot expand to gigabytes;
* a file lists exactly its format's integer header fields (:func:`check_meta`).

Each limit that is passed raises :class:`~compactnn.errors.FormatError` naming
the limit and the environment variable that raises it; the variables are read
at every load, so ``COMPACTNN_MAX_ENTRIES=... python ...`` or ``os.environ``
changes apply at once.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from ..errors import FormatError

FILE_MAGIC = "compactnn-matrix"
FILE_VERSION = 1
MAX_DIM = 2 ** 31
ENTRIES_ENV = "COMPACTNN_MAX_ENTRIES"
PER_BYTE_ENV = "COMPACTNN_MAX_ENTRIES_PER_BYTE"
DEFAULT_MAX_ENTRIES = 2 ** 34
DEFAULT_PER_BYTE = 2 ** 16
#: Extent any file may have, however small (a 4096 x 16384 all-zero IM matrix is 1 KB).
FREE_ENTRIES = 2 ** 26
#: Largest header member (the JSON header of a matrix is a few hundred bytes).
MAX_HEADER_BYTES = 1 << 20
#: Room for the ``.npy`` header of one member (NumPy pads it to 64 bytes; v2/v3 may be longer).
NPY_HEADER_SLACK = 1 << 16
INFLATE_ENV = "COMPACTNN_MAX_INFLATE_RATIO"
DEFAULT_INFLATE_RATIO = 16
#: Bytes any archive's members may inflate to, however small the archive.
FREE_INFLATE_BYTES = 2 ** 26
_DTYPES = {np.dtype(np.float32).str, np.dtype(np.float64).str}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"${name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"${name} must be a positive integer, got {raw!r}")
    return value


def max_entries() -> int:
    """Largest ``n*m + n + m`` of a loaded matrix (``$COMPACTNN_MAX_ENTRIES``)."""
    return _env_int(ENTRIES_ENV, DEFAULT_MAX_ENTRIES)


def entries_per_byte() -> int:
    """Extent allowed per stored byte (``$COMPACTNN_MAX_ENTRIES_PER_BYTE``)."""
    return _env_int(PER_BYTE_ENV, DEFAULT_PER_BYTE)


def is_int(x: Any) -> bool:
    """A real integer: ``int`` or NumPy integer, not ``bool``."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def header_int(meta: dict, key: str, lo: int = 0, hi: int | None = None) -> int:
    """``meta[key]`` checked to be an integer in ``[lo, hi]``; else :class:`FormatError`."""
    v = meta.get(key)
    if not is_int(v) or v < lo or (hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise FormatError(f"header field {key!r} must be an integer {rng}, got {v!r}")
    return int(v)


def check_meta(cls, shape: tuple[int, int], meta: dict) -> None:
    """The header fields of a ``cls`` file: exactly ``cls.meta_fields``, each a JSON integer.

    ``nnz`` is in ``[0, n*m]`` and ``wordbits`` is 32 or 64; the formats check the
    rest (and that ``nnz`` is the count their arrays imply).
    """
    fields = set(cls.meta_fields)
    if set(meta) != fields:
        raise FormatError(f"{cls.format} header fields are {sorted(fields)}, the file has "
                          f"{sorted(meta)}")
    for key in sorted(fields):
        header_int(meta, key, 0, shape[0] * shape[1] if key == "nnz" else None)
    if "wordbits" in fields and meta["wordbits"] not in (32, 64):
        raise FormatError(f"header field 'wordbits' must be 32 or 64, got {meta['wordbits']!r}")


def check_extent(shape: tuple[int, int], stored_bytes: int, where: str) -> None:
    """Refuse a shape whose extent exceeds the absolute or the per-byte limit."""
    n, m = shape
    extent = n * m + n + m
    cap = max_entries()
    if extent > cap:
        raise FormatError(f"{where}: a {n}x{m} matrix exceeds the limit of {cap} entries "
                          f"(n*m + n + m); set ${ENTRIES_ENV} to raise it")
    per = entries_per_byte()
    allowed = FREE_ENTRIES + per * stored_bytes
    if extent > allowed:
        raise FormatError(f"{where}: a {n}x{m} matrix from {stored_bytes} stored bytes exceeds "
                          f"{FREE_ENTRIES} + {per} entries per stored byte; set ${PER_BYTE_ENV} "
                          f"to raise it")


def _check_spec(spec: Any, where: str) -> dict:
    if not isinstance(spec, dict):
        raise FormatError(f"{where}: header lists no arrays")
    for name, s in spec.items():
        ok = (isinstance(s, dict) and set(s) == {"dtype", "shape"} and isinstance(s["dtype"], str)
              and isinstance(s["shape"], list) and all(is_int(d) and 0 <= d < MAX_DIM for d in s["shape"]))
        if not ok:
            raise FormatError(f"{where}: bad description of array {name!r}: {s!r}")
        try:
            dt = np.dtype(s["dtype"])
        except TypeError:
            raise FormatError(f"{where}: array {name!r} has unknown dtype {s['dtype']!r}") from None
        if dt.hasobject or dt.kind not in "biuf" or dt.str != s["dtype"]:
            raise FormatError(f"{where}: array {name!r} has unsupported dtype {s['dtype']!r}")
    return spec


def spec_bytes(spec: dict) -> int:
    """Bytes of the arrays a header lists."""
    return sum(np.dtype(s["dtype"]).itemsize * int(np.prod(s["shape"], dtype=object))
               for s in spec.values())


def check_header(header: Any, where: str):
    """Validate everything a header says before any array is read.

    Returns ``(format class, shape, dtype, meta, array spec)``.
    """
    from .base import get_format
    from ..errors import UnknownNameError

    if not isinstance(header, dict) or header.get("magic") != FILE_MAGIC:
        raise FormatError(f"{where}: not a compactnn matrix file")
    version = header.get("version")
    if not is_int(version) or version != FILE_VERSION:
        raise FormatError(f"{where}: unsupported file version {version!r} "
                          f"(this package reads version {FILE_VERSION})")
    try:
        cls = get_format(header.get("format"))
    except UnknownNameError as exc:
        raise FormatError(f"{where}: {exc}") from None
    shape = header.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(is_int(d) for d in shape)):
        raise FormatError(f"{where}: shape must be a list of two integers, got {shape!r}")
    if not all(0 <= d < MAX_DIM for d in shape):
        raise FormatError(f"{where}: each dimension must be in [0, 2**31), got {shape}")
    if header.get("dtype") not in _DTYPES:
        raise FormatError(f"{where}: dtype must be float32 or float64, got {header.get('dtype')!r}")
    meta = header.get("meta")
    if not isinstance(meta, dict):
        raise FormatError(f"{where}: header meta must be an object, got {meta!r}")
    if not isinstance(header.get("sha256"), str):
        raise FormatError(f"{where}: header has no checksum")
    spec = _check_spec(header.get("arrays"), where)
    shape = (int(shape[0]), int(shape[1]))
    check_extent(shape, spec_bytes(spec), where)
    return cls, shape, np.dtype(header["dtype"]), dict(meta), spec


def inflate_ratio() -> int:
    """Inflated bytes allowed per byte of the archive (``$COMPACTNN_MAX_INFLATE_RATIO``)."""
    return _env_int(INFLATE_ENV, DEFAULT_INFLATE_RATIO)


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, where: str,
                 dtype: str | None = None, shape: list | None = None) -> np.ndarray:
    """One ``.npy`` member, its own header checked against ``dtype``/``shape`` first.

    The array is allocated only once its ``.npy`` header agrees with what the
    matrix header lists, and filled from exactly that many inflated bytes.
    """
    fname = info.filename
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise FormatError(f"{where}: member {fname} has .npy version {version}")
        if got_dtype.hasobject or fortran or (dtype is not None and got_dtype.str != dtype) \
                or (shape is not None and list(got_shape) != list(shape)):
            raise FormatError(f"{where}: member {fname} holds a {got_dtype} array of shape "
                              f"{got_shape}{' (Fortran order)' if fortran else ''}, the header "
                              f"lists {dtype} {tuple(shape) if shape is not None else ''}")
        nbytes = got_dtype.itemsize * int(np.prod(got_shape, dtype=object))
        if nbytes > info.file_size:
            raise FormatError(f"{where}: member {fname} is shorter than its array")
        out = np.empty(got_shape, dtype=got_dtype)
        view = memoryview(out.reshape(-1).view(np.uint8)) if nbytes else memoryview(b"")
        done = 0
        while done < nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise FormatError(f"{where}: member {fname} is truncated")
            done += got
        if f.read(1):
            raise FormatError(f"{where}: member {fname} has bytes after its array")
    return out


def read_archive(z: zipfile.ZipFile, where: str, archive_bytes: int | None = None):
    """(header, arrays) of an open matrix archive, the header checked before inflating arrays.

    ``archive_bytes`` (the archive's size) bounds what its members may inflate to:
    at most ``FREE_INFLATE_BYTES + inflate_ratio() * archive_bytes`` in all.
    """
    infos = {i.filename: i for i in z.infolist()}
    if len(infos) != len(z.infolist()):
        raise FormatError(f"{where}: archive lists a member twice")
    hinfo = infos.get("header.npy")
    if hinfo is None:
        raise FormatError(f"{where}: not a compactnn matrix file (no header)")
    if hinfo.file_size > MAX_HEADER_BYTES:
        raise FormatError(f"{where}: header member of {hinfo.file_size} bytes is too large")
    raw = _read_member(z, hinfo, where)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise FormatError(f"{where}: malformed header member")
    header = json.loads(bytes(raw).decode())
    _, _, _, _, spec = check_header(header, where)
    members = {f"a_{k}.npy": k for k in spec}
    if set(infos) != set(members) | {"header.npy"}:
        raise FormatError(f"{where}: archive members {sorted(infos)} do not match the header's "
                          f"arrays {sorted(spec)}")
    for fname, name in members.items():
        s = spec[name]
        data = np.dtype(s["dtype"]).itemsize * int(np.prod(s["shape"], dtype=object))
        size = infos[fname].file_size
        if not data < size <= data + NPY_HEADER_SLACK:
            raise FormatError(f"{where}: member {fname} inflates to {size} bytes, the header's "
                              f"{s['dtype']} array of shape {tuple(s['shape'])} needs {data}")
    if archive_bytes is not None:
        total = sum(i.file_size for i in infos.values())
        ratio = inflate_ratio()
        if total > FREE_INFLATE_BYTES + ratio * archive_bytes:
            raise FormatError(f"{where}: an archive of {archive_bytes} bytes inflates to {total} "
                              f"bytes, more than {FREE_INFLATE_BYTES} + {ratio} per archive byte; "
                              f"set ${INFLATE_ENV} to raise it")
    arrays = {name: _read_member(z, infos[fname], where, spec[name]["dtype"], spec[name]["shape"])
              for fname, name in members.items()}
    return header, arrays
