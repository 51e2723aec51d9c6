"""The HAM product's decode tables, built once per matrix (csrc/ham_kernel.h)."""
import numpy as np
import pytest

from compactnn import _native
from compactnn.formats import get_format
from compactnn.synthetic import skewed_matrix, synthetic_matrix

ffi, lib = _native.ffi, _native.lib

pytestmark = pytest.mark.kernel


def _suffix(dtype):
    return "f64" if np.dtype(dtype) == np.float64 else "f32"


def tables(H, dtype=None):
    """The tables cnn_ham_tables_* builds for H (of H's dtype unless ``dtype``)."""
    sfx = _suffix(dtype or H.dtype)
    words = int(getattr(lib, f"CNN_HAM_TABLES_{sfx.upper()}"))
    tab = np.empty(words, np.uint32)
    values = H.values.astype(dtype or H.dtype)
    st = getattr(lib, f"cnn_ham_tables_{sfx}")(
        _native._ptr(H.len_count.astype(np.uint32)), H.len_count.size - 1, _native._ptr(values),
        values.size, H._zero_sym, _native._ptr(tab), tab.size)
    assert st == lib.CNN_OK
    return tab


def product(H, xt, tab, threads=1, stream=True):
    """The C product of H on xt, with the tables ``tab`` (None: built by the call)."""
    n, m = H.shape
    out = np.empty((m, xt.shape[1]), H.dtype)
    s = H._stream if stream else None
    len_count = H.len_count.astype(np.uint32)
    st = getattr(lib, f"cnn_ham_matmat_{_suffix(H.dtype)}")(
        n, m, _native._vptr(H.words), H.words.size, _native._words_bits(H.words),
        ffi.NULL if s is None else _native._ptr(s), 0 if s is None else s.size,
        _native._ptr(H._col_bits64), H._col_bits64.size, _native._ptr(len_count),
        len_count.size - 1, _native._ptr(H.values), H.values.size, H._zero_sym,
        ffi.NULL if tab is None else _native._ptr(tab), 0 if tab is None else tab.size,
        _native._ptr(xt), xt.shape[1], _native._ptr(out), threads, ffi.NULL)
    return st, out


MATRICES = {
    "sparse": lambda dt: synthetic_matrix(192, 300, 0.01, 32, dtype=dt),
    "half": lambda dt: synthetic_matrix(100, 80, 0.5, 2, dtype=dt),
    "dense": lambda dt: synthetic_matrix(60, 50, 1.0, 256, dtype=dt),  # no zero symbol
    "skewed": lambda dt: skewed_matrix(256, 120, 0.05, dtype=dt),
}


@pytest.mark.parametrize("case", list(MATRICES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_built_tables_give_the_same_bits_as_tables_built_per_call(case, dtype):
    W = MATRICES[case](dtype)
    H = get_format("ham").from_dense(W)
    tab = tables(H)
    rng = np.random.default_rng(0)
    for b in (1, 3, 8):
        xt = rng.standard_normal((W.shape[0], b)).astype(dtype)
        for stream in (True, False):
            for threads in (1, 3):
                st0, ref = product(H, xt, None, threads, stream)
                st1, out = product(H, xt, tab, threads, stream)
                assert st0 == st1 == lib.CNN_OK
                assert out.tobytes() == ref.tobytes()
        np.testing.assert_allclose(H.matmul(np.ascontiguousarray(xt.T)), xt.T @ W,
                                   rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


def test_tables_that_do_not_fit_the_code_are_refused_not_read():
    H = get_format("ham").from_dense(synthetic_matrix(64, 40, 0.1, 8))
    xt = np.ones((64, 1), np.float32)
    good = tables(H)
    assert product(H, xt, good)[0] == lib.CNN_OK
    run = 8  # the run table follows the 8 header words
    cases = {"short": good[:-1].copy(), "other dtype": tables(H, np.float64)}
    bad_sym = good.copy()
    bad_sym[run + 5] = 1 | (1 << 10) | (H.values.size << 11)  # a symbol past the codebook
    cases["symbol out of range"] = bad_sym
    bad_len = good.copy()
    bad_len[run + 7] = 31  # a codeword longer than the table
    cases["length out of range"] = bad_len
    other = good.copy()
    other[3] += 1  # built for another codebook size
    cases["header"] = other
    for name, tab in cases.items():
        assert product(H, xt, tab)[0] == lib.CNN_ERR_ARG, name


def test_the_builder_refuses_what_the_product_would():
    tab = np.empty(int(lib.CNN_HAM_TABLES_F32), np.uint32)
    values = np.array([0.0, 1.0], np.float32)
    build = lib.cnn_ham_tables_f32
    lc = np.array([0, 2], np.uint32)
    assert build(_native._ptr(lc), 1, _native._ptr(values), 2, 0, _native._ptr(tab), tab.size) == lib.CNN_OK
    assert build(_native._ptr(lc), 1, _native._ptr(values), 2, 0, _native._ptr(tab), tab.size - 1) \
        == lib.CNN_ERR_ARG
    kraft = np.array([0, 3], np.uint32)  # three codewords of one bit
    assert build(_native._ptr(kraft), 1, _native._ptr(values), 2, 0, _native._ptr(tab), tab.size) \
        == lib.CNN_ERR_CODE
    assert build(_native._ptr(lc), 1, _native._ptr(values), 2, 2, _native._ptr(tab), tab.size) \
        == lib.CNN_ERR_CODE  # zero symbol past the codebook


def test_a_bound_product_keeps_the_code_it_was_bound_to():
    W = synthetic_matrix(50, 30, 0.2, 4)
    H = get_format("ham").from_dense(W)
    X = np.random.default_rng(1).standard_normal((2, 50)).astype(np.float32)
    first = H.matmul(X, threads=1)
    H.values[H.values != 0] *= 2  # in place, behind the bound kernel's back
    H.len_count[:] = 0
    assert H.matmul(X, threads=1).tobytes() == first.tobytes()
