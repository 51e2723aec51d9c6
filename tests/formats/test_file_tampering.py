"""Tampered but self-consistent files (valid checksum, plausible structure).

Flipped bits inside a Huffman stream, garbage streams, and a generic mutation
of every stored array of every registered format: each must be refused with
``FormatError`` at load, ``to_dense`` or product time, or give a matrix whose
``to_dense`` and ``X @ W`` agree -- never a crash or an out-of-bounds read (these
run again under AddressSanitizer with ``make test-asan``).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactnn.errors import FormatError
from compactnn.formats import FORMATS

from _matrices import (W_REF, build, check_usable_or_refused, file_parts, format_options,
                       from_parts, matrices)
from _matrices import set_entry as _set

pytestmark = pytest.mark.kernel


STREAM_FORMATS = [p for p in format_options() if "words" in build(p.values[0], W_REF,
                                                                   p.values[1])._arrays()]


@pytest.mark.parametrize("name, options", STREAM_FORMATS)
@settings(max_examples=25, deadline=None)
@given(W=matrices(max_side=8, kinds=("quantized", "distinct", "empty_columns")), data=st.data())
def test_flipped_stream_bits_are_refused_or_decode_consistently(name, options, W, data):
    M = build(name, W, options)
    words = M._arrays()["words"]
    if words.size == 0:
        return
    nbits = words.size * words.dtype.itemsize * 8
    flips = data.draw(st.lists(st.integers(0, nbits - 1), min_size=1, max_size=4, unique=True))
    bits = np.unpackbits(words.astype(words.dtype.newbyteorder(">")).view(np.uint8))
    bits[flips] ^= 1
    tampered = np.packbits(bits).view(words.dtype.newbyteorder(">")).astype(words.dtype)
    header, arrays = file_parts(M, {**M._arrays(), "words": tampered})
    try:
        L = from_parts(header, arrays)
    except FormatError:
        return
    X = np.linspace(-1.0, 1.0, 3 * W.shape[0]).reshape(3, -1)
    check_usable_or_refused(L, X)


@pytest.mark.parametrize("name, options", STREAM_FORMATS)
def test_stream_garbage_and_zeroed_streams_never_crash(name, options):
    rng = np.random.default_rng(3)
    W = np.where(rng.random((40, 9)) < 0.3, rng.choice([1.0, -2.0, 0.5, 4.0], (40, 9)), 0.0)
    M = build(name, W.astype(np.float32), options)
    words = M._arrays()["words"]
    X = rng.standard_normal((2, 40))
    info = np.iinfo(words.dtype)
    for fill in (np.zeros_like(words), np.full_like(words, info.max),
                 rng.integers(0, info.max, words.size, dtype=words.dtype, endpoint=True)):
        try:
            L = from_parts(*file_parts(M, {**M._arrays(), "words": fill}))
        except FormatError:
            continue
        check_usable_or_refused(L, X)


def _mutations(a: np.ndarray, dims: tuple[int, int], rng) -> dict:
    n, m = dims
    out = {"empty": a.ravel()[:0].reshape((0,) * a.ndim) if a.ndim else a,
           "drop last": a[:-1].copy() if a.ndim == 1 and a.size else a,
           "repeat last": np.append(a, a[-1:]) if a.ndim == 1 and a.size else a,
           "reversed": a[::-1].copy(), "zeros": np.zeros_like(a)}
    if a.size:
        if a.dtype.kind in "iu":
            info = np.iinfo(a.dtype)
            for v in {0, 1, n - 1, n, m, m + 1, n * m, info.max, info.min}:
                if info.min <= v <= info.max:
                    out[f"first = {v}"] = _set(a.ravel(), 0, v).reshape(a.shape)
                    out[f"last = {v}"] = _set(a.ravel(), -1, v).reshape(a.shape)
        else:
            for v in (0.0, -0.0, 1e30, np.finfo(a.dtype).max):
                out[f"first = {v}"] = _set(a.ravel(), 0, v).reshape(a.shape)
        i = int(rng.integers(a.size))
        out["random entry + 1"] = _set(a.ravel(), i, a.ravel()[i] + 1).reshape(a.shape)
    return out


@pytest.mark.parametrize("name, options", format_options())
@settings(max_examples=6, deadline=None)
@given(W=matrices(max_side=7, kinds=("quantized", "distinct", "empty_columns", "constant")),
       seed=st.integers(0, 2**16))
def test_self_consistent_tampering_of_any_array_never_crashes(name, options, W, seed):
    # Generic over formats (also those registered later): every array is replaced
    # by a mutated one and the checksum recomputed; the result is refused with
    # FormatError at load, to_dense or product time, or is a consistent matrix.
    M = build(name, W, options)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, W.shape[0]))
    for key, a in M._arrays().items():
        for what, b in _mutations(np.asarray(a), W.shape, rng).items():
            header, arrays = file_parts(M, {**M._arrays(), key: b})
            try:
                L = from_parts(header, arrays)
            except FormatError:
                continue
            check_usable_or_refused(L, X)


CRASH_SCRIPT = """
import numpy as np
from compactnn.errors import FormatError
from compactnn.formats import MatrixFormat, get_format
W = np.array([[0, 1, 2, 0], [0, 0, 1, 0], [3, 0, 0, 0], [1, 1, -0.5, 0], [1, 0, 1, 0]], np.float32)
M = get_format({name!r}).from_dense(W)
arrays = dict(M._arrays())
arrays["indptr"] = arrays["indptr"].copy()
arrays["indptr"][-1] = 0          # indptr no longer non-decreasing, and nnz reads as 0
header = M._header(arrays)
header["sha256"] = MatrixFormat._digest(header, arrays)
try:
    L = MatrixFormat._from_file_parts(header, arrays, "x")
    L.to_dense()
    L.matmul(np.ones((1, 5), np.float32))
except FormatError:
    print("refused")
"""


@pytest.mark.parametrize("name", [n for n in ("csr", "csc") if n in FORMATS])
def test_scipy_indptr_that_is_not_monotonic_is_refused(name):
    # SciPy's check_format skips the monotonicity check when indptr[-1] == 0, and its
    # toarray() then segfaults; run in a subprocess so a regression cannot end the run.
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT.format(name=name)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    assert proc.stdout.strip() == "refused"


@pytest.mark.parametrize("name, options", [
    p for p in format_options() if "col_bits" in build(p.values[0], W_REF, p.values[1])._arrays()])
def test_to_dense_refuses_column_offsets_that_the_product_refuses(name, options):
    M = build(name, W_REF, options)
    cb = M._arrays()["col_bits"].copy()
    cb[1] += 1  # still non-decreasing and inside the stream
    try:
        L = from_parts(*file_parts(M, {**M._arrays(), "col_bits": cb}))
    except FormatError:
        return  # refused at load: fine too
    with pytest.raises(FormatError):
        L.matmul(np.ones((1, W_REF.shape[0]), np.float32), threads=1)
    with pytest.raises(FormatError):
        L.to_dense()


@pytest.mark.parametrize("name, options", [p for p in format_options() if p.values[0] == "im"])
def test_im_index_beyond_the_codebook_is_refused_at_load_and_by_both_paths(name, options):
    W = np.array([[0.0, 1.0], [2.0, 0.0]], dtype=np.float32)  # k = 3, width 2: index 3 unused
    M = build(name, W, options)
    words = M._arrays()["words"]
    top = np.array(np.iinfo(words.dtype).max, dtype=words.dtype)  # every index reads 3
    bad = np.full_like(words, top)
    with pytest.raises(FormatError, match="out of range"):
        from_parts(*file_parts(M, {**M._arrays(), "words": bad}))
    # built without load (no counting pass), the paths still refuse the index
    L = type(M)(M.shape, M.dtype, M.values, bad, M._meta)
    with pytest.raises(FormatError):
        L.to_dense()
    with pytest.raises(FormatError):
        L.matmul(np.ones((1, 2), np.float32))


@pytest.mark.parametrize("name", [n for n in ("sham",) if n in FORMATS])
def test_sham_row_listed_twice_in_a_column_is_refused(name):
    W = np.array([[0.25], [0.5]], dtype=np.float32)
    M = build(name, W)
    ri = M._arrays()["ri"].copy()
    ri[:] = 0                       # both nonzeros of column 0 claim row 0
    header, arrays = file_parts(M, {**M._arrays(), "ri": ri})
    try:
        L = from_parts(header, arrays)
    except FormatError:
        return
    X = np.array([[1.0, 1.0]], dtype=np.float32)
    assert check_usable_or_refused(L, X) == ("bad", "bad")
