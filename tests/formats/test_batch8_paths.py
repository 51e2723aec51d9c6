"""The HAM and sHAM batch-8 paths (byte stream, four columns in lockstep) on valid and corrupted streams."""
import numpy as np
import pytest

from compactnn.errors import FormatError
from compactnn.formats import get_format
from compactnn.formats.sham import SHAM

pytestmark = pytest.mark.kernel


def _matrix(seed, n=300, m=41, density=0.2, levels=9, skew=False):
    rng = np.random.default_rng(seed)
    W = np.zeros((n, m), dtype=np.float32)
    mask = rng.random((n, m)) < density
    levels_ = np.arange(1, levels + 1, dtype=np.float32) / 7
    if skew:  # long codewords: level j on about 2^-(j+1) of the nonzeros, each at least once
        q = int(mask.sum())
        counts = np.maximum(q >> np.arange(1, levels + 1), 1)
        counts[0] += max(q - counts.sum(), 0)
        W[mask] = rng.permutation(np.repeat(levels_, counts))[:q]
    else:
        W[mask] = rng.choice(levels_, size=mask.sum())
    return W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("skew", [False, True])
@pytest.mark.parametrize("wordbits", [32, 64])
def test_batch8_product_matches_numpy(skew, wordbits, dtype):
    # 60 or 400 nonzeros per column: the four lanes, four codewords per lane
    # from one window, with codewords longer than the table when skewed
    W = _matrix(1, n=2000 if skew else 300, levels=20 if skew else 9, skew=skew).astype(dtype)
    S = get_format("sham").from_dense(W, wordbits=wordbits)
    if skew:
        assert S.len_count.size - 1 > 12
    X = np.random.default_rng(2).standard_normal((8, W.shape[0])).astype(dtype)
    ref = X.astype(np.float64) @ W.astype(np.float64)
    for threads in (1, 2, 50):
        np.testing.assert_allclose(S.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("density,skew", [(0.2, False), (0.2, True), (0.02, False)])
def test_corrupted_stream_in_the_batch8_path_is_an_error_or_consistent(density, skew):
    # 0.2: the four-lane path (skewed: with codewords longer than the table);
    # 0.02 (a few nonzeros per column): the chunked sparse path
    W = _matrix(3, n=2000 if skew else 300, m=41 if density > 0.1 else 400, density=density,
                levels=20 if skew else 9, skew=skew)
    S = get_format("sham").from_dense(W)
    X = np.random.default_rng(4).standard_normal((8, W.shape[0])).astype(np.float32)
    rng = np.random.default_rng(5)
    errors = 0
    for _ in range(300):
        words = S.words.copy()
        for _ in range(rng.integers(1, 4)):
            i = rng.integers(words.size)
            words[i] ^= np.uint32(1) << np.uint32(rng.integers(32))
        T = SHAM(S.shape, S.dtype, S.values, S.len_count, words, S.col_bits, S.ri, S.cb, S._meta)
        try:
            Y = T.matmul(X, threads=1)
        except FormatError:
            errors += 1
            continue
        # a flip that still decodes consistently must give the product of what it decodes to
        np.testing.assert_allclose(Y, X.astype(np.float64) @ T.to_dense(), rtol=1e-4, atol=1e-4)
    assert errors > 0


@pytest.mark.parametrize("density", [1.0, 0.6, 0.3, 0.1, 0.02])
@pytest.mark.parametrize("wordbits", [32, 64])
@pytest.mark.parametrize("m", [23, 37])
@pytest.mark.parametrize("batch", [1, 8])
def test_ham_batch8_product_matches_numpy(density, wordbits, m, batch):
    # dense columns take the eight-lane one-row path (b = 8 and b = 1), sparse
    # ones the four-lane run path (b = 8) or the generic lanes (b = 1)
    W = _matrix(6, n=257, m=m, density=density, levels=40, skew=True)
    H = get_format("ham").from_dense(W, wordbits=wordbits)
    X = np.random.default_rng(7).standard_normal((batch, W.shape[0])).astype(np.float32)
    ref = X.astype(np.float64) @ W
    for threads in (1, 2, 50):
        np.testing.assert_allclose(H.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [1.0, 0.5])
@pytest.mark.parametrize("batch", [1, 8])
def test_ham_eight_lane_path_with_codewords_longer_than_the_table(dtype, density, batch):
    # the eight-lane path reads four rows per lane from one window; a codeword
    # off the table (up to 16 bits here) takes the slow path inside a group
    W = _matrix(8, n=2000, m=19, density=density, levels=20, skew=True).astype(dtype)
    H = get_format("ham").from_dense(W)
    assert H.len_count.size - 1 > 12
    X = np.random.default_rng(9).standard_normal((batch, W.shape[0])).astype(dtype)
    ref = X.astype(np.float64) @ W.astype(np.float64)
    for threads in (1, 3):
        np.testing.assert_allclose(H.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


# The skip path (sparse columns, zero's codeword one bit): each step skips the
# run of zero codewords at the top of a lane's window (at most 45 rows, never
# the column's last row), then decodes one codeword through the split table.
# These cases take it (a step covers far more than 4 rows on average): runs
# longer than one skip, empty columns, codewords longer than the table,
# fewer columns than lanes, one row, more threads than columns.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, m, density, levels, skew", [
    (2000, 37, 0.004, 5, False),   # runs of hundreds of rows: several skips each
    (3000, 23, 0.05, 20, True),    # codewords longer than the table, after skips
    (300, 3, 0.05, 9, False),      # fewer columns than lanes: each column alone
    (1, 40, 0.1, 3, False),        # one row: a step covers the whole column
    (513, 64, 0.0, 3, False),      # no nonzero at all
])
@pytest.mark.parametrize("batch", [1, 8])
def test_ham_skip_path_matches_numpy(dtype, n, m, density, levels, skew, batch):
    W = _matrix(21, n=n, m=m, density=density, levels=levels, skew=skew).astype(dtype)
    W[:, ::5] = 0  # empty columns
    if density > 0:
        W[n - 1, 1::3] = 1.5  # nonzeros on the last row, after a long run
    H = get_format("ham").from_dense(W)
    if skew:
        assert H.len_count.size - 1 > 12
    X = np.random.default_rng(22).standard_normal((batch, n)).astype(dtype)
    ref = X.astype(np.float64) @ W.astype(np.float64)
    for threads in (1, 2, m + 5):
        np.testing.assert_allclose(H.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.02, 0.25, 0.6, 1.0])
def test_ham_sums_each_column_in_row_order_on_every_path(dtype, density):
    # the skip path (sparse), the eight-lane path (dense; its leftover
    # columns on the skip path), the generic lanes (b = 3): the same bits,
    # each column summed in row order
    W = _matrix(42, n=301, m=29, density=density, levels=20, skew=True).astype(dtype)
    X = np.random.default_rng(43).standard_normal((8, 301)).astype(dtype)
    ref = np.stack([(x[:, None] * W).cumsum(axis=0, dtype=dtype)[-1] for x in X])
    H = get_format("ham").from_dense(W)
    for threads in (1, 3):
        for b in (8, 1, 3):
            np.testing.assert_array_equal(H.matmul(X[:b], threads=threads), ref[:b])


@pytest.mark.parametrize("density", [0.02, 0.3, 0.8])
@pytest.mark.parametrize("batch", [1, 8])
def test_ham_zero_coded_as_one_gives_the_same_product(density, batch):
    # two one-bit codewords with zero second in canonical order: zero's
    # codeword is "1", so the skip path counts leading ones
    from compactnn.formats.ham import HAM

    rng = np.random.default_rng(23)
    W = np.where(rng.random((600, 29)) < density, np.float32(0.5), np.float32(0))
    H = get_format("ham").from_dense(W)
    assert list(H.len_count) == [0, 2] and H.values[0] == 0
    T = HAM(H.shape, H.dtype, H.values[::-1].copy(), H.len_count, ~H.words, H.col_bits, H._meta)
    np.testing.assert_array_equal(T.to_dense(), W)
    X = np.random.default_rng(24).standard_normal((batch, W.shape[0])).astype(np.float32)
    for threads in (1, 2, 40):
        np.testing.assert_allclose(T.matmul(X, threads=threads), X.astype(np.float64) @ W,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("skew", [False, True])
@pytest.mark.parametrize("wordbits", [32, 64])
def test_sham_sparse_batch8_path_matches_numpy(skew, wordbits):
    # ~6 nonzeros per column over 3,000 nonzeros: several chunks, four runs each
    W = _matrix(17, n=300, m=500, density=0.02, levels=40 if skew else 9, skew=skew)
    W[:, 100:140] = 0  # empty columns inside a chunk and at chunk ends
    S = get_format("sham").from_dense(W, wordbits=wordbits)
    X = np.random.default_rng(18).standard_normal((8, W.shape[0])).astype(np.float32)
    ref = X.astype(np.float64) @ W
    for threads in (1, 2, 50):
        np.testing.assert_allclose(S.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


def test_sham_sparse_batch8_path_with_a_column_longer_than_a_chunk():
    W = _matrix(19, n=1500, m=300, density=0.003)
    W[:, 7] = np.linspace(0.1, 1.0, 1500, dtype=np.float32)  # 1,500 nonzeros in one column
    W[:, -3:] = 0
    S = get_format("sham").from_dense(W)
    assert S.nnz < 24 * W.shape[1]  # the sparse path
    X = np.random.default_rng(20).standard_normal((8, W.shape[0])).astype(np.float32)
    for threads in (1, 2):
        np.testing.assert_allclose(S.matmul(X, threads=threads), X.astype(np.float64) @ W,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("density", [0.2, 0.02])
def test_sham_batch8_rejects_shifted_column_offsets(density):
    # a column offset that does not match where its codewords start is corrupt,
    # whichever path decodes it (the sparse one checks them in a separate pass)
    W = _matrix(21, n=300, m=400, density=density)
    S = get_format("sham").from_dense(W)
    X = np.random.default_rng(22).standard_normal((8, W.shape[0])).astype(np.float32)
    rng = np.random.default_rng(23)
    for _ in range(40):
        cbits = S.col_bits.copy()
        c = rng.integers(1, W.shape[1])
        cbits[c] = max(cbits[c - 1], min(cbits[c + 1], cbits[c] + rng.choice([-3, -1, 1, 2])))
        if cbits[c] == S.col_bits[c]:
            continue
        T = SHAM(S.shape, S.dtype, S.values, S.len_count, S.words, cbits, S.ri, S.cb, S._meta)
        for threads in (1, 2):
            with pytest.raises(FormatError):
                T.matmul(X, threads=threads)


@pytest.mark.parametrize("density", [0.3, 0.03])  # the eight-lane path, the skip path
@pytest.mark.parametrize("batch", [1, 8])
def test_corrupted_ham_stream_in_the_batch8_path_is_an_error_or_consistent(batch, density):
    from compactnn.formats.ham import HAM

    W = _matrix(8, density=density)
    H = get_format("ham").from_dense(W)
    X = np.random.default_rng(9).standard_normal((batch, W.shape[0])).astype(np.float32)
    rng = np.random.default_rng(10)
    errors = 0
    for _ in range(300):
        words = H.words.copy()
        for _ in range(rng.integers(1, 4)):
            i = rng.integers(words.size)
            words[i] ^= np.uint32(1) << np.uint32(rng.integers(32))
        T = HAM(H.shape, H.dtype, H.values, H.len_count, words, H.col_bits, H._meta)
        try:
            Y = T.matmul(X, threads=1)
        except FormatError:
            errors += 1
            continue
        np.testing.assert_allclose(Y, X.astype(np.float64) @ T.to_dense(), rtol=1e-4, atol=1e-4)
    assert errors > 0


def test_batch8_without_a_byte_stream_takes_the_generic_path():
    from compactnn import _native

    W = _matrix(11, n=300, m=41, density=0.3)
    X = np.random.default_rng(12).standard_normal((8, W.shape[0])).astype(np.float32)
    xt = np.ascontiguousarray(X.T)
    ref = X.astype(np.float64) @ W
    S = get_format("sham").from_dense(W)
    H = get_format("ham").from_dense(W)
    for threads in (1, 2):
        out = _native.sham_matmat(300, S.words, S._col_bits64, S.len_count, S.values, S.ri,
                                  S._cb64, xt, threads)
        np.testing.assert_allclose(out.T, ref, rtol=1e-4, atol=1e-4)
        out = _native.ham_matmat(300, H.words, H._col_bits64, H.len_count, H.values,
                                 H._zero_sym, xt, threads)
        np.testing.assert_allclose(out.T, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("density", [1.0, 0.5, 0.05])
def test_ham_batch8_with_inf_or_nan_in_x_matches_one_row_at_a_time(density):
    # zero entries add nothing for any X, as in the batch-1 path: no 0 * inf = nan
    W = _matrix(13, n=120, m=19, density=density)
    H = get_format("ham").from_dense(W)
    X = np.random.default_rng(14).standard_normal((8, W.shape[0])).astype(np.float32)
    X[1, 5] = np.inf
    X[4, 7] = -np.inf
    X[6, 9] = np.nan
    rows = np.stack([H.matmul(x, threads=1) for x in X])
    for threads in (1, 2):
        np.testing.assert_allclose(H.matmul(X, threads=threads), rows, rtol=1e-5, atol=1e-5)
    S = get_format("sham").from_dense(W)
    np.testing.assert_allclose(S.matmul(X, threads=1), rows, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ri_dtype", [np.uint8, np.uint16])
def test_sham_batch8_rejects_a_row_index_past_n(ri_dtype):
    from compactnn import _native

    W = _matrix(15, n=200, m=17, density=0.3)
    S = get_format("sham").from_dense(W)
    X = np.random.default_rng(16).standard_normal((8, W.shape[0])).astype(np.float32)
    xt = np.ascontiguousarray(X.T)
    for pos in (0, S.ri.size // 2, S.ri.size - 1):
        ri = S.ri.astype(ri_dtype)
        ri[pos] = 200 + pos % 3  # n = 200
        for threads in (1, 2):
            with pytest.raises(FormatError):
                _native.sham_matmat(200, S.words, S._col_bits64, S.len_count, S.values, ri,
                                    S._cb64, xt, threads, stream=S._stream)


@pytest.mark.parametrize("levels", [3, 4, 5, 200])
@pytest.mark.parametrize("wordbits", [32, 64])
@pytest.mark.parametrize("batch", [1, 8])
def test_im_eight_column_paths_match_numpy(levels, wordbits, batch):
    # 4 levels + zero: 5 symbols (indices checked); 3 + zero: 4 (every index valid)
    W = _matrix(24, n=131, m=29, density=0.5, levels=levels)
    M = get_format("im").from_dense(W, wordbits=wordbits)
    X = np.random.default_rng(25).standard_normal((batch, W.shape[0])).astype(np.float32)
    ref = X.astype(np.float64) @ W
    for threads in (1, 2, 50):
        np.testing.assert_allclose(M.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [64, 61])  # 61: columns start inside a byte, 5 rows after the eights
@pytest.mark.parametrize("levels", [4, 20])  # 5 symbols in 3-bit indices, 21 in 5-bit ones
@pytest.mark.parametrize("batch", [1, 8])
def test_im_eight_column_paths_reject_an_index_past_the_codebook(batch, levels, n):
    from compactnn.formats.im import IM

    W = _matrix(26, n=n, m=24, density=0.5 if levels == 4 else 0.9, levels=levels)
    M = get_format("im").from_dense(W)
    w = M.width
    assert (M.k, w) == ((5, 3) if levels == 4 else (21, 5))
    X = np.random.default_rng(27).standard_normal((batch, W.shape[0])).astype(np.float32)
    for entry in (0, n * 9 + 5, n * 10 - 2, n * 24 - 1):
        words = M.words.copy()
        bit = entry * w  # set the entry's index to 2^w - 1
        for b in range(bit, bit + w):
            words[b // 32] |= np.uint32(1) << np.uint32(31 - b % 32)
        T = IM(M.shape, M.dtype, M.values, words, M._meta)
        for threads in (1, 2):
            with pytest.raises(FormatError):
                T.matmul(X, threads=threads)


@pytest.mark.parametrize("batch", [1, 8])
def test_im_padded_codebook_with_an_overflow_to_nan_gives_the_checked_sums(batch):
    # 3 symbols in 2-bit indices: the eight-column paths read a NaN-padded
    # codebook; Inf - Inf in a column's sums is NaN there too, and must come
    # out as the sums, not as a bad index
    from compactnn import _native

    rng = np.random.default_rng(32)
    W = np.zeros((40, 24), dtype=np.float32)
    mask = rng.random(W.shape) < 0.5
    W[mask] = rng.choice(np.array([3e38, -3e38], dtype=np.float32), size=int(mask.sum()))
    W[:, :4] = np.abs(W[:, :4])  # these columns overflow to Inf only
    M = get_format("im").from_dense(W)
    assert M.k == 3 and M.width == 2
    X = np.full((batch, 40), 10, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = M.matmul(X, threads=1)
    assert np.isnan(out).any() and np.isinf(out).any()
    checked = _native.im_matmat(40, 24, M.words, M.width, M.values, M._zero_sym,
                                np.ascontiguousarray(X.T), 1)
    np.testing.assert_array_equal(out, checked.T)


@pytest.mark.parametrize("batch", [1, 8])
def test_im_with_inf_or_nan_in_x_matches_numpy_on_the_entries(batch):
    # zero entries add nothing for any X (no 0 * inf = nan), as in SciPy
    W = _matrix(28, n=50, m=16, density=0.4)
    M = get_format("im").from_dense(W)
    X = np.random.default_rng(29).standard_normal((batch, W.shape[0])).astype(np.float32)
    X[0, 3] = np.inf
    X[-1, 7] = np.nan
    ref = np.stack([np.array([np.sum(x[W[:, c] != 0] * W[W[:, c] != 0, c]) for c in range(16)])
                    for x in X.astype(np.float64)])
    np.testing.assert_allclose(M.matmul(X, threads=1), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt", ["ham", "sham", "im"])
def test_a_byte_stream_of_the_wrong_length_is_refused(fmt):
    # the kernels read the stream with unaligned 64-bit loads: its length is checked first
    from compactnn import _native

    W = _matrix(30, n=64, m=16, density=0.4)
    M = get_format(fmt).from_dense(W)
    X = np.random.default_rng(31).standard_normal((8, 64)).astype(np.float32)
    xt = _native.transpose(X)
    for stream in (M._stream[:-1], M._stream[:8], np.concatenate([M._stream, M._stream[:4]])):
        if fmt == "ham":
            args = (64, M.words, M._col_bits64, M.len_count, M.values, M._zero_sym)
            kernel = _native.ham_product(*args, stream=stream)
        elif fmt == "sham":
            args = (64, M.words, M._col_bits64, M.len_count, M.values, M.ri, M._cb64)
            kernel = _native.sham_product(*args, stream=stream)
        else:
            args = (64, 16, M.words, M.width, M.values, M._zero_sym)
            kernel = _native.im_product(*args, stream=stream)
        with pytest.raises(ValueError, match="invalid argument or array length"):
            kernel(xt, 1)


@pytest.mark.parametrize("levels", [200, 5000, 9000])  # 8-, 13- and 14-bit indices
@pytest.mark.parametrize("n", [200, 203])  # 203: columns start inside a byte
@pytest.mark.parametrize("batch", [1, 8])
def test_im_wide_indices_sum_each_column_in_row_order(batch, n, levels):
    # the eight-column rows cut four indices out of each window (at most 14
    # bits each); every column sums in row order, zero entries included
    rng = np.random.default_rng(42)
    m = 64
    W = np.zeros((n, m), dtype=np.float32)
    where = np.flatnonzero(rng.random(n * m) < 0.9)
    vals = np.arange(1, levels + 1, dtype=np.float32) / 7
    W.flat[where] = np.concatenate([vals, rng.choice(vals, size=where.size - levels)])[
        rng.permutation(where.size)]
    M = get_format("im").from_dense(W)
    assert M.width == {200: 8, 5000: 13, 9000: 14}[levels]
    X = np.random.default_rng(43).standard_normal((batch, n)).astype(np.float32)
    ref = np.stack([(x[:, None] * W).cumsum(axis=0, dtype=np.float32)[-1] for x in X])
    for threads in (1, 2, m + 5):
        np.testing.assert_array_equal(M.matmul(X, threads=threads), ref)


def _im_reference_b1(W, x):
    """x @ W in W's dtype in the IM kernels' order at b = 1: float32 values
    with indices of at most 3 bits sum row r into partial sum r % 8, then
    ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)); otherwise in row order."""
    from compactnn.formats.im import IM

    M = get_format("im").from_dense(W)
    lanes = W.dtype == np.float32 and M.width <= 3
    out = np.zeros(W.shape[1], dtype=W.dtype)
    for c in range(W.shape[1]):
        s = np.zeros(8 if lanes else 1, dtype=W.dtype)
        for r in range(W.shape[0]):
            if W[r, c] != 0:
                s[r % 8 if lanes else 0] += W[r, c] * x[r]
        out[c] = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])) if lanes else s[0]
    assert isinstance(M, IM)
    return M, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("levels", [1, 3, 7, 20])
@pytest.mark.parametrize("n", [203, 200])
def test_im_batch1_sums_in_the_documented_order_on_every_path(dtype, levels, n):
    # 1, 3 and 7 values (+ zero): 1-, 2- and 3-bit indices (float32: the
    # eight-row vector path); 20 values: 5 bits (the eight-column rows); 203
    # rows: a tail of 3 rows after the vector steps, columns starting inside
    # a byte; 200: columns starting on whole bytes
    from compactnn import _native

    W = _matrix(40, n=n, m=19, density=0.6, levels=levels).astype(dtype)
    x = np.random.default_rng(41).standard_normal(n).astype(dtype)
    M, ref = _im_reference_b1(W, x)
    assert M.width == {1: 1, 3: 2, 7: 3, 20: 5}[levels]
    for threads in (1, 2, 5):
        np.testing.assert_array_equal(M.matmul(x[None], threads=threads)[0], ref)
    checked = _native.im_matmat(n, 19, M.words, M.width, M.values, M._zero_sym,
                                np.ascontiguousarray(x[:, None]), 1)  # no byte stream
    np.testing.assert_array_equal(checked[:, 0], ref)
    in_order = (x[:, None] * W).cumsum(axis=0, dtype=dtype)[-1]
    if dtype == np.float32 and levels <= 7:
        assert not np.array_equal(in_order, ref)  # the two orders differ here
