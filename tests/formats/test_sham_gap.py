"""sHAM-gap: layout against a plain Python decoder, products, corruption, size bound."""
from __future__ import annotations

import math

import numpy as np
import pytest

from compactnn import huffman
from compactnn.errors import FormatError
from compactnn.formats import MatrixFormat, get_format
from compactnn.formats import sham_gap
from compactnn.formats.sham_gap import SHAMGap, sparse_entropy_bound_bits

from _matrices import check_product, file_parts

pytestmark = pytest.mark.kernel


def _sparse(n, m, density, k, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    levels = np.round(rng.normal(0, 1, k), 3)
    levels[levels == 0] = 0.5
    W = np.where(rng.random((n, m)) < density, rng.choice(levels, (n, m)), 0.0)
    return W.astype(dtype)


def _laplace_quantized(n, m, density, k, seed=0):
    """Laplace weights, magnitude-pruned to `density`, nonzeros quantized by quantiles."""
    rng = np.random.default_rng(seed)
    w = rng.laplace(size=(n, m))
    keep = np.abs(w) >= np.quantile(np.abs(w), 1 - density)
    v = w[keep]
    ranks = np.argsort(np.argsort(v, kind="stable"), kind="stable")
    bins = ranks * k // v.size
    centres = np.array([np.median(v[bins == i]) for i in range(k)])
    W = np.zeros((n, m), dtype=np.float32)
    W[keep] = centres[bins]
    return W


# ---- a plain reference decoder of the layout (module docstring) ---------------------

def _canonical(len_count):
    first, offset, code, off = {}, {}, 0, 0
    for l in range(1, len(len_count)):
        code = (code + (int(len_count[l - 1]) if l > 1 else 0)) << 1
        first[l], offset[l] = code, off
        off += int(len_count[l])
    return first, offset


def _reference_to_dense(M: SHAMGap) -> np.ndarray:
    n, m = M.shape
    a = M._arrays()
    bits = huffman.unpack_bits(a["words"])
    gap_code = (_canonical(a["gap_len_count"]), a["gap_len_count"])
    val_code = (_canonical(a["len_count"]), a["len_count"])
    lit = M.lit

    def read(pos, nbits):
        return int("".join(map(str, bits[pos:pos + nbits])) or "0", 2), pos + nbits

    def symbol(pos, code):
        (first, offset), len_count = code
        c = 0
        for l in range(1, len(len_count)):
            c = (c << 1) | int(bits[pos])
            pos += 1
            if 0 <= c - first[l] < int(len_count[l]):
                return offset[l] + c - first[l], pos
        raise AssertionError("invalid codeword")

    W = np.zeros((n, m), dtype=M.dtype)
    blk_bits = a["blk_bits"].astype(np.int64)
    for blk in range(blk_bits.size - 1):
        pos, p = int(blk_bits[blk]), -1
        while True:
            idx, pos = symbol(pos, gap_code)
            s = int(a["gap_syms"][idx])
            if s == lit:
                assert pos == blk_bits[blk + 1]
                break
            if s > lit:
                j = s - lit - 1
                extra, pos = read(pos, j)
                s = lit - 1 + ((1 << j) | extra)
            p += s + 1
            v, pos = symbol(pos, val_code)
            col = blk * M.group + p // n
            W[p % n, col] = a["values"][v]
    return W


@pytest.mark.parametrize("group, lit", [(None, None), (1, None), (3, 1), (2, 2), (1, 4096)])
@pytest.mark.parametrize("wordbits", [32, 64])
def test_stream_follows_the_documented_layout(group, lit, wordbits):
    W = _sparse(37, 11, 0.2, 5, seed=3)
    W[:, 4] = 0.0
    W[:, 7] = 0.0
    M = SHAMGap.from_dense(W, group=group, lit=lit, wordbits=wordbits)
    assert np.array_equal(_reference_to_dense(M), W)
    assert np.array_equal(M.to_dense(), W)


def test_long_gaps_use_length_classes_with_extra_bits():
    # 70000 rows, a few nonzeros: gaps far above lit and extra bits longer than the table.
    n, m = 70_000, 5
    W = np.zeros((n, m), dtype=np.float64)
    W[[3, 69_999, 40_000, 0, 12], [0, 0, 2, 3, 4]] = [1.5, -2.0, 0.25, 3.0, -1.0]
    for lit in (1, 2, None):
        M = SHAMGap.from_dense(W, group=5, lit=lit)
        assert np.array_equal(M.to_dense(), W)
        assert np.array_equal(_reference_to_dense(M), W)
        X = np.random.default_rng(0).standard_normal((8, n))
        check_product(M.matmul(X, threads=2), X, W, np.float64)


# ---- round trip and products --------------------------------------------------------

CASES = {
    "sparse": lambda: _sparse(60, 45, 0.08, 6),
    "dense-ish": lambda: _sparse(30, 20, 0.9, 3, seed=1),
    "empty columns": lambda: _sparse(50, 40, 0.1, 4, seed=2) * (np.arange(40) % 3 != 0),
    "n x 1": lambda: _sparse(200, 1, 0.3, 4, seed=4),
    "1 x m": lambda: _sparse(1, 70, 0.5, 4, seed=5),
    "all zero": lambda: np.zeros((25, 17), np.float32),
    "one value": lambda: (np.eye(20, 30) * 2.5).astype(np.float32),
    "distinct values": lambda: np.random.default_rng(6).standard_normal((40, 30)).astype(np.float32),
    "float64": lambda: _sparse(33, 29, 0.15, 7, seed=7, dtype=np.float64),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("group", [None, 1, 4])
def test_round_trip_and_products_match_numpy(case, group):
    W = CASES[case]().astype(CASES[case]().dtype)
    n, m = W.shape
    M = SHAMGap.from_dense(W, group=group)
    assert np.array_equal(M.to_dense(), W) and M.nnz == np.count_nonzero(W)
    rng = np.random.default_rng(1)
    ref = None
    for b in (1, 8, 3):
        X = rng.standard_normal((b, n)).astype(W.dtype)
        for threads in (1, 2, m + 5):
            Y = M.matmul(X, threads=threads)
            check_product(Y, X, W, W.dtype)
            if b == 8:
                ref = Y if ref is None else ref
                assert Y.tobytes() == ref.tobytes()  # a column never spans threads


def test_skewed_values_with_codewords_longer_than_the_tables():
    rng = np.random.default_rng(8)
    counts = [2 ** (16 - i) for i in range(17)]  # value codewords up to 16 bits
    vals = np.repeat(np.arange(1, 18, dtype=np.float32) / 4, counts)
    W = np.zeros((400, 400), np.float32)
    W.reshape(-1)[rng.choice(W.size, vals.size, replace=False)] = rng.permutation(vals)
    M = SHAMGap.from_dense(W)
    assert int(M.len_count.size) - 1 > 12
    assert np.array_equal(M.to_dense(), W)
    X = rng.standard_normal((8, 400)).astype(np.float32)
    check_product(M.matmul(X, threads=3), X, W, np.float32)


@pytest.mark.parametrize("group", [None, 7])
def test_a_long_stream_of_few_values_takes_the_pair_table(group):
    # past 64 stream bits per gap-table window, with 3 values, the product
    # decodes gap and value in one lookup (csrc/sham_gap_kernel.h)
    W = _sparse(800, 500, 0.3, 3, seed=9)
    M = SHAMGap.from_dense(W, group=group)
    assert M.words.size * M.words.dtype.itemsize * 8 >= 64 << 12
    rng = np.random.default_rng(10)
    for b in (1, 8, 3):
        X = rng.standard_normal((b, 800)).astype(W.dtype)
        for threads in (1, 2, 600):  # 600: more threads than blocks
            check_product(M.matmul(X, threads=threads), X, W, W.dtype)


# The product decodes four lanes in lockstep rounds, then each lane alone
# (csrc/sham_gap_kernel.h); these streams are long enough for many rounds,
# through the pair table (few values), the gap and value tables (256 values),
# codewords longer than the tables and long gaps with extra bits.
LONG_CASES = {
    "pair table": lambda: _sparse(700, 300, 0.2, 3, seed=12),
    "two tables": lambda: _sparse(500, 300, 0.1, 256, seed=13),
    "long codewords": lambda: _skewed_levels(900, 300, 0.1, 17, seed=14),
    "long gaps": lambda: _sparse(50_000, 40, 0.0003, 5, seed=15),
    "float64": lambda: _sparse(400, 300, 0.1, 32, seed=16, dtype=np.float64),
}


def _gap_entry_bits(M, W):
    """Bits of every nonzero's gap codeword and extra bits in M (W's format)."""
    lens = np.repeat(np.arange(M.gap_len_count.size), M.gap_len_count.astype(np.int64))
    length_of = np.zeros(int(M.gap_syms.max()) + 1, np.int64)
    length_of[M.gap_syms.astype(np.int64)] = lens
    gaps, _, _ = sham_gap._block_gaps(W, M.group)
    sym, _, elen = sham_gap._gap_symbols(gaps, M.lit)
    return length_of[sym] + elen


def _skewed_levels(n, m, density, k, seed=0):
    """k values with counts halving from one to the next: codewords up to k - 1 bits."""
    rng = np.random.default_rng(seed)
    W = np.zeros((n, m), np.float32)
    nnz = int(density * n * m)
    counts = np.maximum(nnz >> np.arange(1, k + 1), 1)
    vals = np.repeat(np.arange(1, k + 1, dtype=np.float32) / 4, counts)
    W.reshape(-1)[rng.choice(W.size, vals.size, replace=False)] = rng.permutation(vals)
    return W


@pytest.mark.parametrize("case", LONG_CASES)
@pytest.mark.parametrize("group", [None, 1])
def test_long_streams_through_every_decode_route(case, group):
    W = LONG_CASES[case]()
    n, m = W.shape
    M = SHAMGap.from_dense(W, group=group)
    if case == "long codewords":
        assert int(M.len_count.size) - 1 > 12
    if case == "long gaps":
        # gaps of codeword and extra bits folded into the gap table, read
        # after it (13 to 16 bits) and on the slow path (more)
        bits = _gap_entry_bits(M, W)
        assert (bits <= 12).any() and ((bits > 12) & (bits <= 16)).any() and (bits > 16).any()
    rng = np.random.default_rng(17)
    for b in (1, 8, 3):
        X = rng.standard_normal((b, n)).astype(W.dtype)
        ref = None
        for threads in (1, 2, 5):
            Y = M.matmul(X, threads=threads)
            check_product(Y, X, W, W.dtype)
            ref = Y if ref is None else ref
            assert Y.tobytes() == ref.tobytes()  # a block never spans threads


def _insert_bits(words: np.ndarray, at: int, k: int) -> np.ndarray:
    """The 32-bit word stream with k zero bits inserted at bit `at`."""
    bits = np.unpackbits(words.astype(">u4").view(np.uint8))
    bits = np.concatenate([bits[:at], np.zeros(k, np.uint8), bits[at:]])
    bits = np.concatenate([bits, np.zeros(-bits.size % 32, np.uint8)])
    return np.packbits(bits).view(">u4").astype(np.uint32)


@pytest.mark.parametrize("case", ["pair table", "two tables"])
@pytest.mark.parametrize("where", [0.5, 0.99])
def test_bits_between_blocks_are_corruption(case, where):
    # Offsets still consistent (each block starts where blk_bits says), but
    # three stray bits after one block's END: only the END's own position
    # shows it, in the middle of the lockstep rounds or near the end.
    W = LONG_CASES[case]()
    M = SHAMGap.from_dense(W, group=2)
    a = M._arrays()
    bb = a["blk_bits"].astype(np.int64)
    j = int(where * (bb.size - 2)) + 1
    words = _insert_bits(a["words"], int(bb[j]), 3)
    blk_bits = bb.copy()
    blk_bits[j:] += 3
    B = SHAMGap(M.shape, M.dtype, a["values"], a["len_count"], a["gap_syms"],
                a["gap_len_count"], words, blk_bits.astype(a["blk_bits"].dtype), M._meta)
    for b in (1, 8):
        with pytest.raises(FormatError):
            B.matmul(np.ones((b, W.shape[0]), W.dtype), threads=1)
    with pytest.raises(FormatError):
        B.to_dense()
    # the same insertion with the stray bits made part of the stream's end is fine
    C = SHAMGap(M.shape, M.dtype, a["values"], a["len_count"], a["gap_syms"],
                a["gap_len_count"], _insert_bits(a["words"], int(bb[-1]), 3), a["blk_bits"],
                M._meta)
    check_product(C.matmul(np.ones((1, W.shape[0]), W.dtype), threads=1),
                  np.ones((1, W.shape[0]), W.dtype), W, W.dtype)


def test_a_gap_past_2_to_the_31_is_corruption_not_a_small_gap():
    # One gap codeword renamed to the class with 31 extra bits: its gaps are
    # then at least 2^31, far past any block, whatever the extra bits say
    # (the product keeps 32-bit gaps: such a gap must not wrap to a small one).
    W = LONG_CASES["pair table"]()
    M = SHAMGap.from_dense(W, group=4)
    a = M._arrays()
    gs = a["gap_syms"].astype(np.int64)
    common = int(np.flatnonzero(gs < M.lit)[0])  # the shortest literal gap codeword
    gs[common] = M.lit + 1 + 31
    B = SHAMGap(M.shape, M.dtype, a["values"], a["len_count"], gs.astype(np.uint32),
                a["gap_len_count"], a["words"], a["blk_bits"], M._meta)
    for b in (1, 8):
        with pytest.raises(FormatError):
            B.matmul(np.ones((b, W.shape[0]), W.dtype), threads=2)
    with pytest.raises(FormatError):
        B.to_dense()


def test_options_are_validated():
    W = _sparse(10, 10, 0.3, 3)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="group"):
            SHAMGap.from_dense(W, group=bad)
    for bad in (0, 2 ** 31 + 1, 1.0):
        with pytest.raises(ValueError, match="lit"):
            SHAMGap.from_dense(W, lit=bad)
    with pytest.raises(ValueError, match="group"):
        SHAMGap.from_dense(np.zeros((2 ** 20, 1), np.float32), group=2 ** 12)


def test_automatic_group_keeps_block_offsets_small():
    W = _laplace_quantized(128, 2048, 0.01, 4)
    M = SHAMGap.from_dense(W)
    assert M.group > 1
    assert M.nbytes_breakdown()["column_offsets"] <= 0.02 * M.nbytes
    assert M.blk_bits.dtype == np.uint32 and M.gap_syms.dtype == np.uint8


# ---- size ----------------------------------------------------------------------------

def test_sparse_entropy_bound_counts_positions_and_values():
    W = np.zeros((2, 2))
    W[0, 1] = 3.0
    assert sparse_entropy_bound_bits(W) == pytest.approx(2.0)          # log2 C(4, 1)
    W[1, 0] = -1.0
    assert sparse_entropy_bound_bits(W) == pytest.approx(math.log2(6) + 2)
    assert sparse_entropy_bound_bits(np.zeros((3, 3))) == 0.0


@pytest.mark.parametrize("density, k", [(0.1, 2), (0.05, 32), (0.02, 256)])
def test_size_is_within_15_percent_of_the_sparse_bound(density, k):
    W = _laplace_quantized(256, 1024, density, k)
    M = SHAMGap.from_dense(W)
    bound = sparse_entropy_bound_bits(W)
    assert 8 * M.nbytes <= 1.15 * bound, (8 * M.nbytes / bound, M.nbytes_breakdown())
    assert M.nbytes < get_format("sham").from_dense(W).nbytes


# ---- corruption ------------------------------------------------------------------------

def _parts_error(M, arrays=None, meta=None):
    header, arrs = file_parts(M, arrays=arrays, meta=meta)
    with pytest.raises(FormatError):
        MatrixFormat._from_file_parts(header, arrs, "test")


def _set(a, i, v):
    a = a.copy()
    a[i] = v
    return a


def test_structurally_corrupt_arrays_are_refused():
    M = SHAMGap.from_dense(_sparse(64, 48, 0.1, 5), group=4)
    a = M._arrays()
    bb, gs, glc, lc = a["blk_bits"], a["gap_syms"], a["gap_len_count"], a["len_count"]
    cases = {
        "blk_bits too short": {"blk_bits": bb[:-1].copy()},
        "blk_bits decreasing": {"blk_bits": _set(bb, 1, bb[2] + 1)},
        "blk_bits past the end": {"blk_bits": _set(bb, -1, 32 * a["words"].size + 1)},
        "blk_bits shifted": {"blk_bits": _set(bb, 2, bb[2] + 1)},
        "blk_bits int64": {"blk_bits": bb.astype(np.int64)},
        "gap symbol out of range": {"gap_syms": _set(gs, 0, M.lit + 40)},
        "gap symbols repeat": {"gap_syms": _set(gs, 1, gs[0])},
        "gap code lacks END": {"gap_syms": _set(gs, int(np.flatnonzero(gs == M.lit)[0]),
                                                int(gs.max()) + 1)},
        "gap code violates Kraft": {"gap_len_count": _set(glc, 1, 2)},
        "value code violates Kraft": {"len_count": _set(lc, 1, lc[1] + 2)},
        "value zero in codebook": {"values": _set(a["values"], 0, 0.0)},
        "value NaN": {"values": _set(a["values"], 0, np.nan)},
        "words truncated": {"words": a["words"][:-2].copy()},
        "words zeroed": {"words": np.zeros_like(a["words"])},
    }
    for name, change in cases.items():
        _parts_error(M, arrays={**a, **change})
    meta = M._meta
    for bad in (dict(meta, group=0), dict(meta, group=M.group + 1), dict(meta, lit=0),
                dict(meta, lit=M.lit + 1), dict(meta, nnz=M.nnz + 1), dict(meta, nnz=-1),
                dict(meta, wordbits=64), {k: v for k, v in meta.items() if k != "lit"}):
        _parts_error(M, meta=bad)


def test_random_bit_flips_never_crash_the_kernels():
    W = _sparse(40, 24, 0.15, 6, seed=9)
    M = SHAMGap.from_dense(W, group=2)
    a = M._arrays()
    rng = np.random.default_rng(10)
    X = rng.standard_normal((8, 40)).astype(np.float32)
    refused = 0
    for _ in range(300):
        words = a["words"].copy()
        for _ in range(rng.integers(1, 4)):
            i = rng.integers(words.size)
            words[i] ^= np.uint32(1) << np.uint32(rng.integers(32))
        # The product and the decoder on their own, then the checked load.
        B = SHAMGap(M.shape, M.dtype, a["values"], a["len_count"], a["gap_syms"],
                    a["gap_len_count"], words, a["blk_bits"], M._meta)
        try:
            B.matmul(X, threads=2)
            B.to_dense()
        except FormatError:
            refused += 1
            header, arrs = file_parts(M, arrays={**a, "words": words})
            with pytest.raises(FormatError):
                MatrixFormat._from_file_parts(header, arrs, "test")
    assert refused > 100


def test_corrupt_stream_in_the_product_is_a_format_error():
    W = _sparse(30, 16, 0.2, 4, seed=11)
    M = SHAMGap.from_dense(W, group=1)
    a = M._arrays()
    X = np.ones((1, 30), np.float32)
    bb = a["blk_bits"].astype(np.int64)
    # Block 3 claimed one bit shorter: its END no longer lands on its end offset.
    short = _set(a["blk_bits"], 4, bb[4] - 1)
    for blk_bits in (short, _set(a["blk_bits"], 4, bb[4] + 1)):
        B = SHAMGap(M.shape, M.dtype, a["values"], a["len_count"], a["gap_syms"],
                    a["gap_len_count"], a["words"], blk_bits, M._meta)
        with pytest.raises(FormatError):
            B.matmul(X, threads=1)
        with pytest.raises(FormatError):
            B.to_dense()
    # The same stream read as 15-row columns: rows run past each block's only column.
    B = SHAMGap((15, 16), M.dtype, a["values"], a["len_count"], a["gap_syms"],
                a["gap_len_count"], a["words"], a["blk_bits"], M._meta)
    with pytest.raises(FormatError):
        B.matmul(np.ones((1, 15), np.float32), threads=1)
    with pytest.raises(FormatError):
        B.to_dense()


# ---- decode tables built once per matrix (cnn_sham_gap_tables) ----------------

def _gap_tables(M):
    from compactnn import _native
    lib = _native.lib
    tab = np.empty(int(lib.CNN_SHAM_GAP_TABLES), np.uint32)
    st = lib.cnn_sham_gap_tables(*_native._gap_code_args(M._gap_len_count32, M._gap_syms32, M.lit),
                                 _native._ptr(M._len_count32), M._len_count32.size - 1, M.k,
                                 _native._ptr(tab), tab.size)
    assert st == lib.CNN_OK
    return tab


def _gap_product(M, xt, tab, threads=1):
    """The C product of M on xt with the tables tab (None: built by the call)."""
    from compactnn import _native
    ffi, lib = _native.ffi, _native.lib
    n, m = M.shape
    stream = _native.byte_stream(M.words)
    out = np.empty((m, xt.shape[1]), M.dtype)
    fn = lib.cnn_sham_gap_matmat_f64 if M.dtype == np.float64 else lib.cnn_sham_gap_matmat_f32
    st = fn(n, m, M.group, _native._vptr(M.words), M.words.size, _native._words_bits(M.words),
            _native._ptr(stream), stream.size, _native._ptr(M._blk_bits64), M._blk_bits64.size,
            *_native._gap_code_args(M._gap_len_count32, M._gap_syms32, M.lit),
            _native._ptr(M._len_count32), M._len_count32.size - 1, _native._ptr(M.values), M.k,
            ffi.NULL if tab is None else _native._ptr(tab), 0 if tab is None else tab.size,
            _native._ptr(xt), xt.shape[1], _native._ptr(out), threads, ffi.NULL)
    return st, out


@pytest.mark.kernel
@pytest.mark.parametrize("case", ["short stream", "pair table", "skewed", "all zero"])
def test_built_tables_give_the_same_bits_as_tables_built_per_call(case):
    W = {"short stream": lambda: _sparse(192, 300, 0.02, 32),
         "pair table": lambda: _sparse(512, 600, 0.1, 3),
         "skewed": lambda: _skewed_levels(400, 300, 0.05, 40),
         "all zero": lambda: np.zeros((30, 20), np.float32)}[case]()
    M = SHAMGap.from_dense(W)
    tab = _gap_tables(M)
    if case == "pair table":
        assert tab[7] == 1  # the pair table is taken
    rng = np.random.default_rng(4)
    for b in (1, 3, 8):
        xt = rng.standard_normal((W.shape[0], b)).astype(np.float32)
        for threads in (1, 3):
            st0, ref = _gap_product(M, xt, None, threads)
            st1, out = _gap_product(M, xt, tab, threads)
            assert st0 == st1 == 0 and out.tobytes() == ref.tobytes()


@pytest.mark.kernel
def test_tables_that_do_not_fit_the_codes_are_refused_not_read():
    from compactnn import _native
    lib = _native.lib
    M = SHAMGap.from_dense(_sparse(512, 600, 0.1, 3))
    xt = np.ones((512, 1), np.float32)
    good = _gap_tables(M)
    assert _gap_product(M, xt, good)[0] == lib.CNN_OK
    head, pad = 8, 264
    gap_t, val_t = head, head + 4096 + pad
    fast_t = val_t + 4096 + pad
    pair_t = fast_t + 4096 + pad
    cases = {"short": good[:-1].copy()}
    for name, at, word in [("gap symbol", gap_t, 1 | 1 << 10 | (M._gap_syms32.size << 11)),
                           ("value length", val_t, 31 | 1 << 10),
                           ("fast length", fast_t, 20),
                           ("pair symbol", pair_t, 3 | M.k << 4),
                           ("pair length", pair_t + 1, 15),
                           ("header", 5, M.k + 1)]:
        bad = good.copy()
        bad[at] = word
        cases[name] = bad
    for name, tab in cases.items():
        assert _gap_product(M, xt, tab)[0] == lib.CNN_ERR_ARG, (name, _gap_product(M, xt, tab)[0])


def test_a_bound_product_keeps_the_codes_it_was_bound_to():
    W = _sparse(60, 40, 0.2, 5)
    M = SHAMGap.from_dense(W)
    X = np.random.default_rng(1).standard_normal((2, 60)).astype(np.float32)
    first = M.matmul(X, threads=1)
    M._len_count32[:] = 0  # in place, behind the bound kernel's back
    M._gap_syms32[:] = 0
    assert M.matmul(X, threads=1).tobytes() == first.tobytes()
