"""The sHAM product kernel against a plain Python decoder of its stream.

The reference reads the codewords bit by bit from the words with the canonical
code of ``len_count`` and sums each column's nonzeros in order, in the
matrix's dtype, as the kernel does: the products must agree bit for bit, on
both kernel paths (with and without the byte stream), for every batch size
and thread count.
"""
import numpy as np
import pytest

from compactnn import _native
from compactnn.errors import FormatError
from compactnn.formats import get_format
from compactnn.formats.sham import SHAM

pytestmark = pytest.mark.kernel


def decode_columns(S: SHAM):
    """Canonical index of every nonzero, column by column, bit by bit; checks the offsets."""
    wb = S.words.dtype.itemsize * 8
    bits = "".join(format(int(w), f"0{wb}b") for w in S.words)
    first, count, offset = {}, {}, {}
    code = off = 0
    for length in range(1, S.len_count.size):
        code = (code + (int(S.len_count[length - 1]) if length > 1 else 0)) << 1
        first[length], count[length], offset[length] = code, int(S.len_count[length]), off
        off += int(S.len_count[length])
    syms = []
    cbits, cb = S._col_bits64, S._cb64
    for c in range(S.shape[1]):
        p = int(cbits[c])
        for _ in range(int(cb[c]), int(cb[c + 1])):
            for length in range(1, S.len_count.size):
                d = int(bits[p:p + length], 2) - first[length]
                if 0 <= d < count[length]:
                    syms.append(offset[length] + d)
                    p += length
                    break
            else:
                raise FormatError("no codeword")
        if p != int(cbits[c + 1]):
            raise FormatError("column does not end at its offset")
    return np.array(syms, dtype=np.int64)


def reference_product(S: SHAM, xt: np.ndarray) -> np.ndarray:
    """(X @ W)^T in the matrix's dtype, in the kernels' order: each column's
    nonzeros summed in order, or, with at least ``CNN_SHAM_TWO_SUMS`` nonzeros
    per column on average, those at even offsets in order and those at odd
    offsets in order, then the two sums added."""
    vals = S.values[decode_columns(S)]
    rows = S.ri.astype(np.int64)
    two = two_sums(S)
    out = np.zeros((S.shape[1], xt.shape[1]), dtype=S.dtype)
    for c in range(S.shape[1]):
        acc = np.zeros((2, xt.shape[1]), dtype=S.dtype)
        first = int(S._cb64[c])
        for j in range(first, int(S._cb64[c + 1])):
            acc[two & (j - first)] = acc[two & (j - first)] + vals[j] * xt[rows[j]]
        out[c] = acc[0] + acc[1] if two else acc[0]
    return out


def both_paths(S: SHAM, xt: np.ndarray, threads: int):
    args = (S.shape[0], S.words, S._col_bits64, S.len_count, S.values, S.ri, S._cb64, xt, threads)
    return _native.sham_matmat(*args, stream=S._stream), _native.sham_matmat(*args)


def matrix(seed, n, m, density, levels=9, skew=False, dtype=np.float32, rare=0):
    """Random positions; ``levels`` values, uniform or (``skew``) level j on
    about 2^-(j+1) of the nonzeros; then ``rare`` more values, value i on 2^i
    nonzeros (a tail of codewords longer than the table)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    levels_ = (np.arange(1, levels + 1) / 7).astype(dtype)
    q = int(mask.sum())
    if skew:  # codewords longer than the table
        counts = np.maximum(q >> np.arange(1, levels + 1), 1)
        counts[0] += max(q - counts.sum(), 0)
        vals = rng.permutation(np.repeat(levels_, counts))[:q]
    else:
        vals = rng.choice(levels_, size=q)
    tail = np.repeat(-(np.arange(1, rare + 1) / 3).astype(dtype), 1 << np.arange(rare))
    vals[:tail.size] = tail
    W = np.zeros((n, m), dtype=dtype)
    W[mask] = rng.permutation(vals)
    return W


#: The multi-symbol decode table of the fast path (csrc/sham_kernel.h): up to
#: MULTI codewords per lookup of TM bits (by dtype), taken when its lookups
#: hold at least MULTI_MIN codewords on average.
MULTI, MULTI_MIN, TM = 4, 2, {np.float32: 9, np.float64: 8}


def uses_multi_table(S: SHAM) -> bool:
    """Whether the fast path decodes S through the multi-symbol table: the
    average number of whole codewords (at most MULTI) that a tm-bit window
    starts with, over every window, at least MULTI_MIN."""
    lc = [int(c) for c in S.len_count]
    maxlen = len(lc) - 1
    tm = min(MULTI * maxlen, TM[S.dtype.type])
    # windows starting with t whole codewords: sequences of t lengths with sum s <= tm
    g, total = {0: 1}, 0
    for _ in range(MULTI):
        g2 = {}
        for s, ways in g.items():
            for length in range(1, maxlen + 1):
                if s + length <= tm:
                    g2[s + length] = g2.get(s + length, 0) + ways * lc[length]
        g = g2
        total += sum(ways << (tm - s) for s, ways in g.items())
    return total >= MULTI_MIN << tm


CASES = {
    # name: (n, m, density, levels, skew[, rare])
    "sparse": (300, 200, 0.03, 9, False),
    "dense_columns": (700, 9, 0.9, 5, False),  # a lane's column spans several rounds
    "long_codewords": (1500, 12, 0.3, 20, True),  # multi-symbol table, slow path
    "empty_columns": (64, 120, 0.05, 3, False),
    "n_by_1": (500, 1, 0.5, 4, False),
    "1_by_m": (1, 90, 0.5, 4, False),
    "one_symbol": (50, 40, 0.2, 1, False),
    "many_values": (400, 60, 0.3, 200, False),  # split table
    "many_values_long_codewords": (2000, 40, 0.6, 40, False, 10),  # split table, slow path
}


def case_matrix(case, dtype):
    n, m, density, levels, skew, *rare = CASES[case]
    W = matrix(1, n, m, density, levels, skew, dtype, *rare)
    if case == "empty_columns":
        W[:, 10:30] = 0
        W[:, :2] = 0
        W[:, -3:] = 0
    return W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_cases_cover_both_tables_and_their_slow_paths(dtype):
    built = {case: get_format("sham").from_dense(case_matrix(case, dtype)) for case in CASES}
    multi = {case for case, S in built.items() if uses_multi_table(S)}
    assert {"sparse", "long_codewords", "n_by_1"} <= multi
    assert {"many_values", "many_values_long_codewords"}.isdisjoint(multi)
    assert built["long_codewords"].len_count.size - 1 > TM[dtype]
    assert built["many_values_long_codewords"].len_count.size - 1 > _native.TABLE_BITS


def two_sums(S: SHAM) -> bool:
    """Whether the kernels sum each column of S in two parts (see reference_product)."""
    return S.nnz >= _native.lib.CNN_SHAM_TWO_SUMS * S.shape[1]


def test_the_cases_cover_both_orders_of_the_sums_and_the_orders_differ():
    built = {case: get_format("sham").from_dense(case_matrix(case, np.float32)) for case in CASES}
    two = {case for case, S in built.items() if two_sums(S)}
    assert {"dense_columns", "n_by_1", "long_codewords"} <= two
    assert {"sparse", "empty_columns", "1_by_m"}.isdisjoint(two)
    # the two orders give other bits on this input, so the bit-exact tests tell them apart
    S = built["dense_columns"]
    xt = np.random.default_rng(2).standard_normal((S.shape[0], 1)).astype(np.float32)
    vals = S.values[decode_columns(S)]
    rows = S.ri.astype(np.int64)
    in_order = np.array([[np.float32(0)] for _ in range(S.shape[1])], dtype=np.float32)
    for c in range(S.shape[1]):
        acc = np.float32(0)
        for j in range(int(S._cb64[c]), int(S._cb64[c + 1])):
            acc = np.float32(acc + vals[j] * xt[rows[j], 0])
        in_order[c, 0] = acc
    fast, slow = both_paths(S, xt, 1)
    assert fast.tobytes() == slow.tobytes() == reference_product(S, xt).tobytes()
    assert fast.tobytes() != in_order.tobytes()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wordbits", [32, 64])
def test_both_paths_match_the_python_decoder_bit_for_bit(case, dtype, wordbits):
    W = case_matrix(case, dtype)
    n, m = W.shape
    S = get_format("sham").from_dense(W, wordbits=wordbits)
    if case == "long_codewords":
        assert S.len_count.size - 1 > _native.TABLE_BITS
    rng = np.random.default_rng(2)
    for b in (1, 3, 8, 64):
        xt = rng.standard_normal((n, b)).astype(dtype)
        ref = reference_product(S, xt)
        for threads in (1, 2, 3, m + 7):
            fast, slow = both_paths(S, xt, threads)
            np.testing.assert_array_equal(fast, ref)
            np.testing.assert_array_equal(slow, ref)
            verified = _native.sham_matmat(S.shape[0], S.words, S._col_bits64, S.len_count,
                                           S.values, S.ri, S._cb64, xt, threads,
                                           stream=S._stream, verified=True)
            np.testing.assert_array_equal(verified, ref)


def test_four_byte_row_indices():
    W = np.zeros((70_000, 6), dtype=np.float32)
    rng = np.random.default_rng(3)
    W[rng.integers(0, 70_000, 400), rng.integers(0, 6, 400)] = rng.integers(1, 5, 400) / 4
    S = get_format("sham").from_dense(W)
    assert S.ri.dtype == np.uint32
    xt = rng.standard_normal((70_000, 8)).astype(np.float32)
    ref = reference_product(S, xt)
    for threads in (1, 2):
        for out in both_paths(S, xt, threads):
            np.testing.assert_array_equal(out, ref)


def test_an_all_zero_matrix_gives_zeros():
    S = get_format("sham").from_dense(np.zeros((40, 30), dtype=np.float32))
    xt = np.ones((40, 8), dtype=np.float32)
    for out in both_paths(S, xt, 2):
        np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("b", [1, 8, 5])
def test_a_truncated_stream_or_a_moved_end_offset_is_corrupt(b):
    W = matrix(4, 400, 60, 0.1)
    S = get_format("sham").from_dense(W)
    xt = np.random.default_rng(5).standard_normal((400, b)).astype(np.float32)
    cbits = S.col_bits.copy()
    cbits[-1] -= 1  # the last column's codewords run past its end
    T = SHAM(S.shape, S.dtype, S.values, S.len_count, S.words, cbits, S.ri, S.cb, S._meta)
    for threads in (1, 2):
        with pytest.raises(FormatError):
            T.matmul(xt.T.copy(), threads=threads)
    # an empty column between two others moved by one bit
    W2 = W.copy()
    W2[:, 30] = 0
    S2 = get_format("sham").from_dense(W2)
    cbits = S2.col_bits.copy()
    cbits[30] += 1
    cbits[31] = max(cbits[31], cbits[30])
    T2 = SHAM(S2.shape, S2.dtype, S2.values, S2.len_count, S2.words, cbits, S2.ri, S2.cb, S2._meta)
    with pytest.raises(FormatError):
        T2.matmul(xt.T.copy(), threads=1)


@pytest.mark.parametrize("multi", [False, True])
def test_the_bound_product_checks_every_column_offset_before_trusting_them(multi):
    # an interior column's offset one bit off, far from where the four lanes
    # start: the kernel told the offsets are verified cannot see it, so the
    # matrix checks them all when it binds its product
    W = matrix(6, 400, 60, 0.1, levels=3 if multi else 200)
    S = get_format("sham").from_dense(W)
    assert uses_multi_table(S) == multi
    cbits = S.col_bits.copy()
    cbits[7] += 1
    T = SHAM(S.shape, S.dtype, S.values, S.len_count, S.words, cbits, S.ri, S.cb, S._meta)
    xt = np.random.default_rng(7).standard_normal((400, 1)).astype(np.float32)
    args = (400, T.words, T._col_bits64, T.len_count, T.values, T.ri, T._cb64, xt, 1)
    trusted = _native.sham_matmat(*args, stream=T._stream, verified=True)
    np.testing.assert_array_equal(trusted, reference_product(S, xt))
    with pytest.raises(FormatError):
        _native.sham_matmat(*args, stream=T._stream)
    for threads in (1, 2):
        with pytest.raises(FormatError):
            T.matmul(xt.T.copy(), threads=threads)


def test_the_bound_product_keeps_its_own_copy_of_the_code():
    W = matrix(8, 300, 40, 0.2)
    S = get_format("sham").from_dense(W)
    X = np.random.default_rng(9).standard_normal((8, 300)).astype(np.float32)
    before = S.matmul(X, threads=1)
    S.len_count[:] = S.len_count[::-1]  # another code, after the product was bound
    np.testing.assert_array_equal(S.matmul(X, threads=1), before)
