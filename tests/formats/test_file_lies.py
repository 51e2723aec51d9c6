"""Files with a valid checksum whose header lies: refused at load, cheaply.

Shapes far beyond what the stored arrays can describe, non-integer header fields,
arrays the format does not store, archive members larger than the header says,
and paths that are not regular files.
"""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from compactnn.errors import FormatError
from compactnn.formats import FORMATS, MatrixFormat, get_format, load

from _matrices import file_parts, from_parts

W = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]], dtype=np.float32)


def _write(path, header, arrays):
    header = dict(header)
    body = {k: v for k, v in header.items() if k != "sha256"}
    header["sha256"] = MatrixFormat._digest(body, arrays)
    payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
    payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **payload)


def test_load_of_none_is_a_type_error():
    with pytest.raises(TypeError):
        load(None)


def test_load_of_a_fifo_raises_at_once(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="regular file"):
        load(fifo)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_an_array_the_format_does_not_store_is_refused(name):
    M = get_format(name).from_dense(W)
    arrays = {**M._arrays(), "extra": np.zeros(3, np.uint8)}
    with pytest.raises(FormatError):
        from_parts(*file_parts(M, arrays))


@pytest.mark.parametrize("field, value", [("version", True), ("version", 1.0),
                                          ("shape", [2.0, 3]), ("shape", [True, 3]),
                                          ("shape", ["2", 3]), ("shape", [2, 2 ** 31])])
def test_header_integers_must_be_integers(field, value):
    M = get_format("csr").from_dense(W)
    with pytest.raises(FormatError):
        from_parts(*file_parts(M, **{field: value}))


@pytest.mark.parametrize("shape", [(1, 2 ** 29), (2 ** 20, 2 ** 20), (2 ** 30, 2 ** 30)])
def test_a_small_im_file_cannot_claim_a_huge_matrix(shape):
    M = get_format("im").from_dense(np.ones((2, 2), np.float32))   # k = 1: no index stored
    n, m = shape
    with pytest.raises(FormatError, match="COMPACTNN_MAX_ENTRIES"):
        from_parts(*file_parts(M, shape=[n, m]))


def test_the_entry_limit_is_configurable(monkeypatch):
    M = get_format("dense").from_dense(np.ones((64, 64), np.float32))
    from_parts(*file_parts(M))
    monkeypatch.setenv("COMPACTNN_MAX_ENTRIES", "100")
    with pytest.raises(FormatError, match="COMPACTNN_MAX_ENTRIES"):
        from_parts(*file_parts(M))


def test_a_member_larger_than_the_header_says_is_not_inflated(tmp_path):
    M = get_format("csr").from_dense(W)
    header, arrays = file_parts(M)
    path = tmp_path / "bomb.npz"
    _write(path, header, arrays)
    # replace the data member by a deflated member that inflates to 64 MiB
    big = io.BytesIO()
    np.lib.format.write_array(big, np.zeros(1 << 24, np.float32))
    out = tmp_path / "bomb2.npz"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename == "a_data.npy":
                zout.writestr("a_data.npy", big.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
            else:
                zout.writestr(info, zin.read(info))
    with pytest.raises(FormatError, match="inflates to"):
        load(out)


def test_save_leaves_no_predictable_temporary_name(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    (tmp_path / "m.npz.tmp").symlink_to(target)
    get_format("csr").from_dense(W).save(tmp_path / "m.npz")
    assert target.read_text() == "keep"
    assert np.array_equal(load(tmp_path / "m.npz").to_dense(), W)
