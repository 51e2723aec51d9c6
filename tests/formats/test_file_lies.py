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


# ---- strict per-format header fields ---------------------------------------------

W_NZ = np.array([[0.0, 1.5, 0.0, 2.0], [2.0, 0.0, 0.0, 1.5], [0.0, 0.0, -1.0, 1.5]],
                dtype=np.float32)


def _lies_of(value):
    """JSON values that are not the integer ``value`` but compare or convert close to it."""
    out = [float(value), value + 0.9, str(value), None, [value]]
    if value in (0, 1):
        out.append(bool(value))
    return out


def _field_cases():
    cases = []
    for name in sorted(FORMATS):
        M = get_format(name).from_dense(W_NZ)
        for key, value in sorted(M._meta.items()):
            for lie in _lies_of(value):
                cases.append(pytest.param(name, key, lie, id=f"{name}-{key}-{lie!r}"))
    return cases


@pytest.mark.parametrize("name, key, lie", _field_cases())
def test_every_header_field_must_be_a_json_integer(name, key, lie):
    M = get_format(name).from_dense(W_NZ)
    with pytest.raises(FormatError):
        from_parts(*file_parts(M, meta=dict(M._meta, **{key: lie})))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_header_fields_are_exactly_the_formats_own(name):
    M = get_format(name).from_dense(W_NZ)
    from_parts(*file_parts(M))   # the honest file loads
    with pytest.raises(FormatError, match="header fields"):
        from_parts(*file_parts(M, meta=dict(M._meta, extra=1)))
    for key in M._meta:
        with pytest.raises(FormatError):
            from_parts(*file_parts(M, meta={k: v for k, v in M._meta.items() if k != key}))


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("delta", [-1, 1])
def test_nnz_must_be_the_count_the_arrays_imply(name, delta):
    M = get_format(name).from_dense(W_NZ)
    assert M.nnz == np.count_nonzero(W_NZ)
    with pytest.raises(FormatError, match="nnz"):
        from_parts(*file_parts(M, meta=dict(M._meta, nnz=M.nnz + delta)))


@pytest.mark.parametrize("name", ["ham", "im"])
def test_a_ham_or_im_file_claiming_no_nonzeros_is_refused(name):
    Wd = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    M = get_format(name).from_dense(Wd)
    with pytest.raises(FormatError, match="nnz"):
        from_parts(*file_parts(M, meta=dict(M._meta, nnz=0)))


@pytest.mark.parametrize("name", ["csr", "csc", "coo"])
def test_an_explicit_zero_in_a_scipy_format_file_is_refused(name):
    M = get_format(name).from_dense(W_NZ)
    arrays = dict(M._arrays())
    arrays["data"] = arrays["data"].copy()
    arrays["data"][0] = 0.0
    with pytest.raises(FormatError, match="zero"):
        from_parts(*file_parts(M, arrays=arrays, meta=dict(M._meta, nnz=M.nnz - 1)))


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, True, None])
def test_the_version_must_be_one_this_package_reads(version):
    M = get_format("ham").from_dense(W_NZ)
    with pytest.raises(FormatError, match="version"):
        from_parts(*file_parts(M, version=version))


def test_a_sham_gap_nnz_beyond_the_stream_is_refused_before_allocating():
    M = get_format("sham_gap").from_dense(np.eye(64, dtype=np.float32))
    n, m = 4096, 4096      # within the extent limit: 2**24 entries
    meta = dict(M._meta, nnz=n * m)
    with pytest.raises(FormatError, match="nnz"):
        from_parts(*file_parts(M, meta=meta, shape=[n, m]))


def test_a_sham_gap_group_beyond_the_block_limit_is_refused():
    M = get_format("sham_gap").from_dense(np.eye(64, dtype=np.float32))
    for group in (2 ** 31, 2 ** 40, 2 ** 70):
        with pytest.raises(FormatError, match="group"):
            from_parts(*file_parts(M, meta=dict(M._meta, group=group)))


def test_load_of_a_device_raises_at_once():
    with pytest.raises(FormatError, match="regular file"):
        load("/dev/null")


# ---- archive members that would inflate past what the header lists -----------------

def _replace_member(src, out, fname, data: bytes, deflate: bool = False):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename == fname:
                zout.writestr(fname, data, compress_type=zipfile.ZIP_DEFLATED if deflate
                              else zipfile.ZIP_STORED)
            else:
                zout.writestr(info, zin.read(info))


def test_a_member_whose_npy_header_claims_a_huge_array_is_not_allocated(tmp_path):
    import tracemalloc

    M = get_format("csr").from_dense(W)
    header, arrays = file_parts(M)
    path = tmp_path / "m.npz"
    _write(path, header, arrays)
    n = arrays["data"].size
    # a .npy header for 2**28 float32 (1 GiB) followed by the n values the zip entry holds:
    # same member size as the honest one, so only the .npy header lies
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (2 ** 28,)})
    honest = io.BytesIO()
    np.lib.format.write_array(honest, arrays["data"])
    hdr = buf.getvalue()
    body = hdr + arrays["data"].tobytes()
    assert len(hdr) == len(honest.getvalue()) - 4 * n
    out = tmp_path / "lie.npz"
    _replace_member(path, out, "a_data.npy", body)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="holds a float32 array of shape"):
            load(out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 24, peak


@pytest.mark.parametrize("version", [(3, 0), (9, 9)])
def test_a_member_of_an_unknown_npy_version_is_refused(tmp_path, version):
    M = get_format("csr").from_dense(W)
    header, arrays = file_parts(M)
    path = tmp_path / "m.npz"
    _write(path, header, arrays)
    with zipfile.ZipFile(path) as z:
        raw = bytearray(z.read("a_data.npy"))
    raw[6:8] = bytes(version)
    out = tmp_path / "v.npz"
    _replace_member(path, out, "a_data.npy", bytes(raw))
    with pytest.raises(FormatError, match="version"):
        load(out)


def test_a_small_deflated_archive_cannot_inflate_past_the_ratio(tmp_path, monkeypatch):
    from compactnn.formats import _limits

    M = get_format("dense").from_dense(np.zeros((512, 512), np.float32))   # 1 MiB of zeros
    header, arrays = file_parts(M)
    path = tmp_path / "m.npz"
    _write(path, header, arrays)
    honest = io.BytesIO()
    np.lib.format.write_array(honest, arrays["values"])
    out = tmp_path / "deflated.npz"
    _replace_member(path, out, "a_values.npy", honest.getvalue(), deflate=True)
    assert out.stat().st_size < 1 << 14
    assert np.array_equal(load(out).to_dense(), M.to_dense())    # within the free allowance
    monkeypatch.setattr(_limits, "FREE_INFLATE_BYTES", 0)
    with pytest.raises(FormatError, match="COMPACTNN_MAX_INFLATE_RATIO"):
        load(out)
    monkeypatch.setenv("COMPACTNN_MAX_INFLATE_RATIO", str(1 << 10))
    assert np.array_equal(load(out).to_dense(), M.to_dense())


@pytest.mark.parametrize("name", ["csr", "csc"])
def test_a_repeated_index_in_a_compressed_sparse_file_is_refused(name):
    Wd = np.array([[1.0, 1.0]], dtype=np.float32) if name == "csr" else \
        np.array([[1.0], [1.0]], dtype=np.float32)
    M = get_format(name).from_dense(Wd)
    arrays = dict(M._arrays())
    arrays["indices"] = np.zeros_like(arrays["indices"])    # both entries at index 0
    with pytest.raises(FormatError, match="strictly increasing"):
        from_parts(*file_parts(M, arrays=arrays))


@pytest.mark.parametrize("name", ["ham", "im"])
def test_a_negative_zero_in_a_ham_or_im_codebook_is_refused(name):
    M = get_format(name).from_dense(W_NZ)
    arrays = dict(M._arrays())
    values = arrays["values"].copy()
    assert values[0] == 0 and not np.signbit(values[0])
    values[0] = -0.0
    with pytest.raises(FormatError, match="-0.0"):
        from_parts(*file_parts(M, arrays={**arrays, "values": values}))


# ---- the counting pass of HAM and IM reads the stream in bounded pieces ------------

@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_ham_counts_nnz_in_pieces_of_any_size(monkeypatch, chunk):
    from compactnn.formats import _coding

    rng = np.random.default_rng(1)
    Wd = np.where(rng.random((37, 5)) < 0.4, rng.integers(1, 4, (37, 5)), 0).astype(np.float32)
    M = get_format("ham").from_dense(Wd)
    monkeypatch.setattr(_coding, "COUNT_CHUNK", chunk)    # columns of 37 symbols: long segments
    L = from_parts(*file_parts(M))
    assert L.nnz == np.count_nonzero(Wd)
    with pytest.raises(FormatError, match="nnz"):
        from_parts(*file_parts(M, meta=dict(M._meta, nnz=M.nnz + 1)))


def test_a_ham_column_whose_codewords_overrun_its_offset_is_refused_in_pieces(monkeypatch):
    from compactnn.formats import _coding

    Wd = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]], np.float32)
    M = get_format("ham").from_dense(Wd)
    arrays = dict(M._arrays())
    cb = arrays["col_bits"].copy()
    cb[1] += 1          # column 0 claims one more bit than its codewords use
    monkeypatch.setattr(_coding, "COUNT_CHUNK", 1)
    with pytest.raises(FormatError):
        from_parts(*file_parts(M, arrays={**arrays, "col_bits": cb}))


@pytest.mark.parametrize("chunk", [64, 128])
def test_im_counts_nnz_in_word_aligned_pieces(monkeypatch, chunk):
    from compactnn.formats import im

    rng = np.random.default_rng(2)
    Wd = rng.integers(0, 5, (33, 9)).astype(np.float32)    # k = 5: width 3
    for wordbits in (32, 64):
        M = get_format("im").from_dense(Wd, wordbits=wordbits)
        monkeypatch.setattr(im, "_COUNT_CHUNK", chunk)
        assert from_parts(*file_parts(M)).nnz == np.count_nonzero(Wd)
        with pytest.raises(FormatError, match="nnz"):
            from_parts(*file_parts(M, meta=dict(M._meta, nnz=M.nnz - 1)))
