"""One conformance suite for every registered format (SPEC section 3).

Each test is parametrized over ``sorted(FORMATS)`` at collection time (and over
32- and 64-bit words for formats with a ``wordbits`` option), so a newly
registered format is checked without editing this file: lossless round trip,
``X @ W`` against NumPy, files, and the byte accounting.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compactnn.formats import BREAKDOWN_KEYS, FORMATS, MatrixFormat, get_format, load

from _matrices import (DTYPES, FORMAT_NAMES, accepts_wordbits, build, check_product, format_options,
                       matrices, same_bits)

pytestmark = pytest.mark.kernel  # the Huffman/IM formats run C kernels throughout

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def test_registry_lists_the_paper_formats():
    assert {"dense", "csr", "csc", "coo", "im", "ham", "sham"} <= set(FORMATS)
    for name, cls in FORMATS.items():
        assert cls.format == name
        assert get_format(name) is cls


# ---- lossless round trip ------------------------------------------------------------

@pytest.mark.parametrize("name, options", format_options())
@SETTINGS
@given(W=matrices())
def test_to_dense_returns_the_input_exactly(name, options, W):
    M = build(name, W, options)
    D = M.to_dense()
    assert D.shape == W.shape and D.dtype == W.dtype
    assert np.array_equal(D, W)           # -0.0 may come back as +0.0 (sparse formats)
    assert M.shape == W.shape and M.dtype == W.dtype
    assert M.format == name


@pytest.mark.parametrize("name, options", format_options())
@SETTINGS
@given(W=matrices())
def test_nnz_counts_the_nonzero_entries(name, options, W):
    W = W + W.dtype.type(0.0)  # -0.0 becomes +0.0; negative zeros have their own test
    assert build(name, W, options).nnz == np.count_nonzero(W)


@pytest.mark.parametrize("name, options", format_options())
def test_negative_zero_is_a_zero_entry(name, options):
    W = np.array([[0.0, -0.0, 1.5], [-0.0, 2.0, 0.0]], dtype=np.float32)
    M = build(name, W, options)
    assert np.array_equal(M.to_dense(), W)
    assert M.nnz == 2
    check_product(M.matmul(np.ones((1, 2), np.float32), threads=1), np.ones((1, 2)), W,
                  np.float32)


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (1, 7), (3, 0), (0, 4), (0, 0)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_degenerate_shapes_round_trip(name, options, shape):
    W = np.arange(1, shape[0] * shape[1] + 1, dtype=np.float32).reshape(shape)
    M = build(name, W, options)
    assert np.array_equal(M.to_dense(), W) and M.to_dense().shape == shape


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("shape", [(3, 0), (0, 4), (0, 0)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_product_with_an_empty_dimension_is_zeros(name, options, shape):
    W = np.zeros(shape, dtype=np.float64)
    M = build(name, W, options)
    for X in (np.ones((2, shape[0])), np.ones(shape[0])):
        Y = M.matmul(X, threads=2)
        assert Y.shape == X.shape[:-1] + (shape[1],)
        assert not Y.any()


@pytest.mark.parametrize("name, options", format_options())
def test_non_contiguous_weights_round_trip(name, options):
    base = np.arange(-12.0, 12.0).reshape(4, 6)
    base[base % 3 == 0] = 0.0
    for W in (base.T, base[:, ::2], np.asfortranarray(base), base[::-1]):
        M = build(name, W.astype(np.float64), options)
        assert np.array_equal(M.to_dense(), W)
        X = np.linspace(-1.0, 1.0, W.shape[0])
        check_product(M.matmul(X[None], threads=2), X[None], W, np.float64)


@pytest.mark.parametrize("name, options", format_options())
def test_row_indices_wider_than_16_bits(name, options):
    n, m = 70_000, 3
    W = np.zeros((n, m), dtype=np.float32)
    W[[0, 255, 256, 65535, 65536, n - 1], [0, 1, 2, 0, 1, 2]] = [1.0, -2.0, 0.5, 4.0, -1.0, 3.0]
    M = build(name, W, options)
    assert np.array_equal(M.to_dense(), W)
    X = np.random.default_rng(2).standard_normal((2, n)).astype(np.float32)
    check_product(M.matmul(X, threads=2), X, W, np.float32)


@pytest.mark.parametrize("name, options", format_options())
def test_extreme_finite_values_round_trip_bit_exactly(name, options):
    for dtype in (np.float32, np.float64):
        fi = np.finfo(dtype)
        W = np.array([[fi.max, -fi.max, fi.tiny, -fi.smallest_subnormal],
                      [fi.smallest_subnormal, 0.0, 1.0 + fi.eps, -1.0]], dtype=dtype)
        D = build(name, W, options).to_dense()
        assert same_bits(D, W)


# ---- X @ W ---------------------------------------------------------------------

@pytest.mark.parametrize("name, options", format_options())
@SETTINGS
@given(W=matrices(moderate=True), data=st.data())
def test_product_matches_numpy_for_every_batch_and_thread_count(name, options, W, data):
    n, m = W.shape
    M = build(name, W, options)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    xdtype = data.draw(st.sampled_from([W.dtype, np.float64, np.float32]), label="X dtype")
    for b in (1, 8, 3, 17):   # 1 and 8 have specialised kernels; 3 and 17 the generic one
        X = rng.standard_normal((b, n)).astype(xdtype)
        Y = X @ M
        check_product(Y, X, W, W.dtype)
        for t in (1, 2, m + 3):
            Yt = M.matmul(X, threads=t)
            check_product(Yt, X, W, W.dtype)
    Xs = rng.standard_normal((5, 2 * n))[:, ::2]           # a strided view
    check_product(M.matmul(Xs, threads=2), Xs, W, W.dtype)
    Xf = np.asfortranarray(rng.standard_normal((4, n)))
    check_product(Xf @ M, Xf, W, W.dtype)
    x = rng.standard_normal(n).astype(xdtype)
    y = x @ M
    assert y.shape == (m,)
    check_product(y[None, :], x[None, :], W, W.dtype)
    for t in (1, 2, m + 3):
        check_product(M.matmul(x, threads=t)[None, :], x[None, :], W, W.dtype)


@pytest.mark.parametrize("name, options", format_options())
@settings(max_examples=10, deadline=None)
@given(W=matrices(moderate=True))
def test_product_does_not_depend_on_the_thread_count(name, options, W):
    # Columns are split between threads, never a column's sum: results are bit-identical.
    n, m = W.shape
    M = build(name, W, options)
    X = np.random.default_rng(0).standard_normal((8, n))
    ref = M.matmul(X, threads=1)
    for t in (2, 3, m, m + 3, 1000):
        assert same_bits(M.matmul(X, threads=t), ref)


@pytest.mark.parametrize("name, options", format_options())
def test_copies_and_pickles_after_a_product_multiply_alike(name, options):
    # in memory only (files never use pickle): the bound kernel is rebuilt by each copy
    import copy
    import pickle

    W = np.random.default_rng(3).standard_normal((40, 21)).astype(np.float32)
    W[np.abs(W) < 0.8] = 0
    M = build(name, W, options)
    X = np.random.default_rng(4).standard_normal((8, 40)).astype(np.float32)
    ref = M.matmul(X, threads=2)
    for C in (copy.deepcopy(M), copy.copy(M), pickle.loads(pickle.dumps(M))):
        assert same_bits(C.matmul(X, threads=2), ref)
        np.testing.assert_array_equal(C.to_dense(), W)
    assert same_bits(M.matmul(X, threads=2), ref)


@pytest.mark.parametrize("name, options", format_options())
def test_product_of_zero_rows_and_list_input(name, options):
    W = np.array([[1.0, 0.0], [0.5, -2.0], [0.0, 0.0]], dtype=np.float32)
    M = build(name, W, options)
    Y = M.matmul(np.zeros((0, 3)), threads=2)
    assert Y.shape == (0, 2) and Y.dtype == np.float32
    check_product(np.asarray([[1.0, 2.0, 3.0]]) @ M, np.array([[1.0, 2.0, 3.0]]), W, np.float32)


@pytest.mark.parametrize("name, options", format_options())
def test_product_handles_long_columns_and_many_threads(name, options):
    # Long enough for several 64-bit refills per column and for zero runs that cross
    # column ends; more threads than the machine has cores.
    rng = np.random.default_rng(7)
    W = np.where(rng.random((300, 37)) < 0.1, rng.choice([-1.5, 0.25, 2.0], (300, 37)), 0.0)
    W[:, 5] = 0.0
    W = W.astype(np.float32)
    M = build(name, W, options)
    X = rng.standard_normal((8, 300)).astype(np.float32)
    for t in (1, 4, 37, 64):
        check_product(M.matmul(X, threads=t), X, W, np.float32)
    assert np.array_equal(M.to_dense(), W)


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("n", [1, 2, 3, 5, 13])
def test_mostly_zero_columns_shorter_than_a_table_lookup(name, options, n):
    # With a 1-bit zero codeword one table lookup covers up to TABLE_BITS zeros,
    # i.e. several whole columns when n is small; the decoder must stop at n.
    W = np.zeros((n, 40), dtype=np.float64)
    W[n - 1, 3] = 2.5
    W[0, 17] = -1.0
    W[:, 39] = 0.75
    M = build(name, W, options)
    X = np.arange(1, 2 * n + 1, dtype=np.float64).reshape(2, n)
    check_product(M.matmul(X, threads=3), X, W, np.float64)
    assert np.array_equal(M.to_dense(), W)


# ---- files ---------------------------------------------------------------------

@pytest.mark.parametrize("name, options", format_options())
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(W=matrices())
def test_save_load_preserves_everything(name, options, W, tmp_path):
    M = build(name, W, options)
    path = tmp_path / f"{name}.npz"
    M.save(path)
    L = load(path)
    assert type(L) is type(M) and L.format == name
    assert (L.shape, L.dtype, L.nnz, L.nbytes) == (M.shape, M.dtype, M.nnz, M.nbytes)
    assert L.nbytes_breakdown() == M.nbytes_breakdown()
    assert L._meta == M._meta
    a, b = M._arrays(), L._arrays()
    assert set(a) == set(b)
    for k in a:
        assert same_bits(np.asarray(a[k]), np.asarray(b[k])), k
    assert same_bits(L.to_dense(), M.to_dense())
    if W.size:
        X = np.linspace(-1, 1, 2 * W.shape[0]).reshape(2, -1)
        with np.errstate(all="ignore"):  # raw matrices may overflow; compare bits anyway
            assert same_bits(L.matmul(X, threads=2), M.matmul(X, threads=2))
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_load_through_the_format_class_and_package(name, tmp_path):
    W = np.array([[0.0, 1.0], [2.0, 0.0]], dtype=np.float32)
    M = build(name, W)
    M.save(tmp_path / "m.npz")
    assert np.array_equal(get_format(name).load(tmp_path / "m.npz").to_dense(), W)
    assert np.array_equal(MatrixFormat.load(str(tmp_path / "m.npz")).to_dense(), W)


# ---- byte accounting ------------------------------------------------------------

@pytest.mark.parametrize("name, options", format_options())
@SETTINGS
@given(W=matrices())
def test_nbytes_is_the_sum_of_the_stored_arrays(name, options, W):
    M = build(name, W, options)
    arrays = M._arrays()
    cats = M._breakdown_map()
    assert set(cats) == set(arrays), "every stored array is counted exactly once"
    breakdown = M.nbytes_breakdown()
    assert all(isinstance(v, int) and v >= 0 for v in breakdown.values())
    assert sum(breakdown.values()) == M.nbytes
    assert M.nbytes == sum(int(a.nbytes) for a in arrays.values())
    for cat in set(cats.values()):
        assert breakdown[cat] == sum(int(arrays[k].nbytes) for k, c in cats.items() if c == cat)
    known = [k for k in breakdown if k in BREAKDOWN_KEYS]
    assert known == [k for k in BREAKDOWN_KEYS if k in breakdown]  # display order
    n, m = W.shape
    assert M.psi == M.nbytes / (4 * n * m)
    assert repr(M).startswith(f"<{type(M).__name__} {n}x{m}")


def test_dense_psi_is_one_for_float32_and_two_for_float64():
    W = np.ones((3, 5), dtype=np.float32)
    assert get_format("dense").from_dense(W).psi == 1.0
    assert get_format("dense").from_dense(W.astype(np.float64)).psi == 2.0


def test_csc_bytes_follow_the_icpr_accounting():
    W = np.zeros((6, 4), dtype=np.float32)
    W[[0, 3, 5], [1, 1, 2]] = [1.0, 2.0, 3.0]
    M = get_format("csc").from_dense(W)
    q, m = 3, 4
    assert M.nbytes == 4 * q + M._arrays()["indices"].itemsize * q + \
        M._arrays()["indptr"].itemsize * (m + 1)


# ---- word size -----------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in FORMAT_NAMES if accepts_wordbits(n)])
@pytest.mark.parametrize("wordbits", [32, 64])
def test_wordbits_selects_the_stream_word_type(name, wordbits):
    W = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]], dtype=np.float32)
    M = build(name, W, {"wordbits": wordbits})
    words = M._arrays()["words"]
    assert words.dtype == (np.uint32 if wordbits == 32 else np.uint64)
    assert M._meta["wordbits"] == wordbits
    if hasattr(M, "wordbits"):
        assert M.wordbits == wordbits


@pytest.mark.parametrize("name", [n for n in FORMAT_NAMES if accepts_wordbits(n)])
@pytest.mark.parametrize("wordbits", [0, 8, 16, 33, 128])
def test_unsupported_wordbits_is_a_value_error(name, wordbits):
    with pytest.raises(ValueError, match="wordbits"):
        build(name, np.ones((2, 2), np.float32), {"wordbits": wordbits})


@pytest.mark.parametrize("name", [n for n in FORMAT_NAMES if not accepts_wordbits(n)])
def test_formats_without_options_refuse_them(name):
    with pytest.raises(TypeError):
        build(name, np.ones((2, 2), np.float32), {"wordbits": 64})


# ---- skewed value distributions (long Huffman codewords) ------------------------------

def _fibonacci_matrix(zero_rank: int) -> np.ndarray:
    """76 x 89 float32 matrix whose 18 values occur fib(1..18) times (codewords up to 17
    bits, longer than the C decode table); zero has the ``zero_rank``-th count."""
    f = [1, 1]
    while len(f) < 18:
        f.append(f[-1] + f[-2])
    levels = np.round(np.linspace(-2.0, 2.0, 18), 3)
    levels[levels == 0] = 0.5
    order = [i for i in range(18) if i != zero_rank]
    levels = np.insert(levels[:17], zero_rank, 0.0)
    assert sum(f) == 76 * 89 and len(order) == 17
    flat = np.repeat(levels, f)
    return np.random.default_rng(5).permutation(flat).reshape(76, 89).astype(np.float32)


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("zero_rank", [17, 0, 9], ids=["zero-most-frequent", "zero-rarest",
                                                       "zero-middle"])
def test_skewed_values_with_codewords_longer_than_the_decode_table(name, options, zero_rank):
    W = _fibonacci_matrix(zero_rank)
    M = build(name, W, options)
    assert np.array_equal(M.to_dense(), W)
    X = np.random.default_rng(1).standard_normal((8, 76)).astype(np.float32)
    for t in (1, 3):
        check_product(M.matmul(X, threads=t), X, W, np.float32)
    check_product(M.matmul(X[0], threads=2)[None], X[:1], W, np.float32)


@pytest.mark.parametrize("name, options", format_options())
def test_dominant_nonzero_value_does_not_swamp_small_columns(name, options):
    # The most frequent value is 1000, not zero (CER/CSER make it implicit); column 0
    # holds only tiny values, whose products must keep their float32 accuracy.
    W = np.full((50, 4), 1000.0, dtype=np.float32)
    W[:, 0] = np.linspace(0.001, 0.002, 50, dtype=np.float32)
    W[::7, 2] = 0.0
    M = build(name, W, options)
    assert np.array_equal(M.to_dense(), W)
    X = np.random.default_rng(0).standard_normal((3, 50)).astype(np.float32)
    for t in (1, 4):
        check_product(M.matmul(X, threads=t), X, W, np.float32)


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_weights_of_either_sign_are_skipped_even_for_infinite_inputs(name, options, dtype):
    # input 1 meets only zero weights (+0.0 and -0.0): skipped, as SciPy does, so inf
    # there leaves the outputs finite in every format
    W = np.array([[0.0, -0.0, 1.5, 2.0],
                  [-0.0, 0.0, -0.0, -0.0],
                  [1.0, 2.0, 3.0, -0.0]], dtype=dtype)
    M = build(name, W, options)
    X = np.array([[1.0, np.inf, 1.0], [2.0, -np.inf, 0.5]], dtype=dtype)
    for threads in (1, 2):
        Y = M.matmul(X, threads=threads)
        assert np.isfinite(Y).all(), f"{name}: {Y}"
        np.testing.assert_array_equal(Y, X[:, [0, 2]] @ W[[0, 2]])
    assert M.nnz == np.count_nonzero(W) == 5
