"""Reader and writer for the IDX format of the MNIST files.

An IDX file is: two zero bytes, one type byte, one byte giving the number of
dimensions ``d``, ``d`` big-endian ``uint32`` sizes, then the data in C order,
big-endian.  The MNIST files are gzip-compressed IDX files.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from .errors import DataFormatError

#: IDX type byte -> big-endian NumPy dtype.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file.

    Returns
    -------
    numpy.ndarray
        The array, in native byte order.

    Raises
    ------
    DataFormatError
        Bad magic number, unknown type, or a size that does not match the header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFormatError("not an IDX file: the first two bytes must be zero")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise DataFormatError(f"unknown IDX type byte 0x{type_code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError("IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataFormatError(
            f"IDX payload has {len(data) - header} bytes, header {shape} of {dtype} says {expected}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed when its name ends in ``.gz``."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise DataFormatError(f"{path}: {exc}") from exc
    try:
        return parse_idx(data)
    except DataFormatError as exc:
        raise DataFormatError(f"{path}: {exc}") from None


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``).

    Used to build test fixtures in the exact upstream format.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataFormatError(f"IDX cannot store dtype {array.dtype}")
    out = struct.pack(">BBBB", 0, 0, codes[native], array.ndim)
    out += struct.pack(f">{array.ndim}I", *array.shape)
    out += np.ascontiguousarray(array, dtype=IDX_TYPES[codes[native]]).tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(out)
