"""Shared helpers of the format tests: matrix strategies, the format list, tolerances.

Formats are taken from the registry at collection time, so a format registered
later (``cer``, ``cser``, ``sham_gap``, ...) joins every parametrized suite
without touching the tests.
"""
from __future__ import annotations

import inspect
import io
import json

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import compactnn.formats as F
from compactnn.errors import FormatError
from compactnn.formats import FORMATS, MatrixFormat

FORMAT_NAMES = sorted(FORMATS)
DTYPES = (np.float32, np.float64)

#: Kinds of matrix the strategies draw; "quantized" mimics pruned + weight-shared layers.
KINDS = ("quantized", "zeros", "constant", "distinct", "empty_columns", "sparse_random", "raw")


def accepts_wordbits(name: str) -> bool:
    """Whether the format's constructor takes a ``wordbits`` option (32/64-bit streams)."""
    return "wordbits" in inspect.signature(FORMATS[name]._from_dense).parameters


def format_options() -> list:
    """(name, options) for every format, once per word size where the format has one."""
    out = []
    for name in FORMAT_NAMES:
        if accepts_wordbits(name):
            out += [pytest.param(name, {"wordbits": 32}, id=f"{name}-w32"),
                    pytest.param(name, {"wordbits": 64}, id=f"{name}-w64")]
        else:
            out.append(pytest.param(name, {}, id=name))
    return out


def build(name: str, W: np.ndarray, options: dict | None = None) -> MatrixFormat:
    return F.get_format(name).from_dense(W, **(options or {}))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, dtype and bit patterns (so -0.0 differs from +0.0)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@st.composite
def matrices(draw, max_side: int = 10, kinds=KINDS, dtypes=DTYPES, moderate: bool = False):
    """A weight matrix of one of :data:`KINDS`.

    ``moderate`` keeps magnitudes in [1e-3, 1e3] (products cannot overflow);
    otherwise "raw" matrices may hold any finite float, subnormals and -0.0 included.
    """
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n = draw(st.integers(1, max_side))
    m = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "raw":
        if moderate:
            elems = st.floats(-1e3, 1e3, width=dtype.itemsize * 8, allow_subnormal=False)
        else:
            elems = st.floats(allow_nan=False, allow_infinity=False, width=dtype.itemsize * 8)
        return draw(hnp.arrays(dtype, (n, m), elements=elems))
    if kind == "zeros":
        return np.zeros((n, m), dtype=dtype)
    if kind == "constant":
        v = draw(st.sampled_from([1.0, -0.5, 3.25, 1e-3]))
        return np.full((n, m), v, dtype=dtype)
    if kind == "distinct":
        v = (np.arange(1, n * m + 1, dtype=np.float64) * 0.37 - 0.5 * n * m * 0.37)
        v[v == 0] = 0.01
        return rng.permutation(v).reshape(n, m).astype(dtype)
    # Quantized-looking: k levels (zero among them), most entries zero.
    k = draw(st.integers(1, 12))
    density = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9, 1.0]))
    levels = np.round(rng.normal(0.0, 1.0, k), 3)
    levels[levels == 0] = 0.125
    if kind == "sparse_random":
        levels = rng.uniform(-2, 2, n * m)
    W = rng.choice(levels, size=(n, m)) if kind != "sparse_random" else levels.reshape(n, m)
    W = np.where(rng.random((n, m)) < density, W, 0.0)
    if kind == "empty_columns" and m > 1:
        W[:, rng.random(m) < 0.5] = 0.0
        W[:, 0] = 0.0
    return W.astype(dtype)


def product_tolerance(X: np.ndarray, W: np.ndarray, dtype) -> np.ndarray:
    """Entrywise bound on |X @ W - exact| for a sum of n products in ``dtype``."""
    n = W.shape[0]
    eps = np.finfo(dtype).eps
    scale = np.abs(X.astype(np.float64)) @ np.abs(W.astype(np.float64))
    return (2 * n + 4) * eps * scale + np.finfo(dtype).tiny


def check_product(Y: np.ndarray, X: np.ndarray, W: np.ndarray, dtype) -> None:
    """Y must be X @ W (X rounded to the matrix dtype first) within the float tolerance."""
    Xr = X.astype(dtype).astype(np.float64)
    ref = Xr @ W.astype(np.float64)
    assert Y.dtype == np.dtype(dtype)
    assert Y.shape == ref.shape
    err = np.abs(Y.astype(np.float64) - ref)
    tol = product_tolerance(Xr, W, dtype)
    bad = np.argwhere(~(err <= tol))
    assert bad.size == 0, (f"{len(bad)} entries off, first at {tuple(bad[0])}: "
                           f"got {Y[tuple(bad[0])]!r}, expected {ref[tuple(bad[0])]!r}")


def file_parts(M: MatrixFormat, arrays: dict | None = None, meta: dict | None = None,
               **header_changes):
    """(header, arrays) as ``save`` would write them, with a valid checksum.

    ``arrays``/``meta`` replace the matrix's own; ``header_changes`` override
    header fields before the digest is computed, so only the structure is wrong.
    """
    arrays = dict(M._arrays() if arrays is None else arrays)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    header = M._header(arrays)
    if meta is not None:
        header["meta"] = meta
    header.update(header_changes)
    # Round-trip through JSON like the file does (tuples become lists, ints stay ints).
    header = json.loads(json.dumps(header))
    header["sha256"] = MatrixFormat._digest(header, arrays)
    return header, arrays


def write_parts(path, header: dict, arrays: dict) -> None:
    """Write an archive exactly like ``MatrixFormat.save`` (for hand-made headers)."""
    payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
    payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **payload)


# ---- tampered files ----------------------------------------------------------------

# A matrix with zeros, repeated values, an empty column and codes of several lengths.
W_REF = np.array([[0.0, 1.0, 2.0, 0.0],
                  [0.0, 0.0, 1.0, 0.0],
                  [3.0, 0.0, 0.0, 0.0],
                  [1.0, 1.0, -0.5, 0.0],
                  [1.0, 0.0, 1.0, 0.0]], dtype=np.float32)


def from_parts(header, arrays):
    """Rebuild a matrix from (header, arrays) the way ``load`` does."""
    return MatrixFormat._from_file_parts(header, arrays, "tampered")


def saved_bytes(M) -> bytes:
    """The bytes ``M.save`` would write (built in memory)."""
    buf = io.BytesIO()
    arrays = M._arrays()
    header = M._header(arrays)
    header["sha256"] = MatrixFormat._digest(header, arrays)
    payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
    payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(buf, **payload)
    return buf.getvalue()


def outcome(fn):
    """('ok', value) or ('bad', None) when ``fn`` raises FormatError; anything else fails."""
    try:
        return "ok", fn()
    except FormatError:
        return "bad", None


def check_usable_or_refused(L, X):
    """A loaded (possibly tampered) matrix: to_dense and X @ L either raise FormatError or
    agree with each other; the dense matrix has the right shape, dtype and finite values."""
    d_state, D = outcome(L.to_dense)
    with np.errstate(all="ignore"):
        p_state, Y = outcome(lambda: L.matmul(X, threads=2))
    if d_state == "ok":
        assert D.shape == L.shape and D.dtype == L.dtype
        assert np.isfinite(D).all()
    if p_state == "ok":
        assert Y.shape == (X.shape[0], L.shape[1]) and Y.dtype == L.dtype
    if d_state == p_state == "ok":
        with np.errstate(all="ignore"):
            ref = X.astype(np.float64) @ D.astype(np.float64)
        if np.isfinite(ref).all() and np.abs(ref).max(initial=0) < 1e30:
            # Loose on purpose: a tampered file may list an entry twice (both paths add
            # them), so |X| @ |D| can understate the terms and only the meaning is compared.
            scale = np.abs(X.astype(np.float64)) @ np.abs(D.astype(np.float64))
            err = np.abs(Y.astype(np.float64) - ref)
            assert np.all(err <= 1e-4 * scale + 1e-4 * scale.max(initial=0) + 1e-30), \
                "to_dense and the product disagree"
    return d_state, p_state


def set_entry(a: np.ndarray, i, v) -> np.ndarray:
    """A copy of ``a`` with ``a[i] = v``."""
    a = a.copy()
    a[i] = v
    return a
