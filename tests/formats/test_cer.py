"""CER and CSER specifics: group layout, frequency order, widths, kernels, validation.

The generic round-trip/product/file checks live in the conformance suite; this
file pins down the layout of the Wiedemann et al. formats themselves.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactnn import _native
from compactnn.errors import FormatError
from compactnn.formats import CER, CSER, get_format, load
from compactnn.formats.cer import frequency_symbols

BOTH = [CER, CSER]

# Rows of W^T (one per output): value 3 is the most frequent stored value,
# output 1 lacks it (an empty CER group), output 2 is empty, output 3 has
# only value 3 (so no trailing group for value 1).
WT = np.array([[3, 3, 0, 3, 1],
               [1, 0, 0, 0, 0],
               [0, 0, 0, 0, 0],
               [0, 0, 3, 0, 0]], dtype=np.float32)
W_SMALL = np.ascontiguousarray(WT.T)  # 5 inputs x 4 outputs


def quantized(n, m, k=8, density=0.3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    levels = np.round(rng.normal(0, 1, k), 3)
    levels[levels == 0] = 0.5
    W = np.where(rng.random((n, m)) < density, rng.choice(levels, (n, m)), 0.0)
    return W.astype(dtype)


def reference_product(M, X):
    """Plain-Python X @ W from the stored arrays, following the format definition."""
    n, m = M.shape
    rp, gp, ci = (a.astype(int) for a in (M.rp, M.gp, M.ci))
    out = np.zeros((X.shape[0], m))
    for c in range(m):
        listed = set()
        for j, g in enumerate(range(rp[c], rp[c + 1])):
            v = int(M.vi[g]) if M.format == "cser" else 1 + j
            idx = ci[gp[g]:gp[g + 1]]
            listed.update(idx.tolist())
            out[:, c] += float(M.values[v]) * X[:, idx].astype(np.float64).sum(axis=1)
        rest = [r for r in range(n) if r not in listed]
        if M.k:
            out[:, c] += float(M.values[0]) * X[:, rest].astype(np.float64).sum(axis=1)
    return out


# ---- layout ----------------------------------------------------------------------

def test_cer_keeps_global_frequency_order_with_empty_groups_and_no_trailing_ones():
    M = CER.from_dense(W_SMALL)
    assert M.values.tolist() == [0.0, 3.0, 1.0]
    assert M.ci.tolist() == [0, 1, 3, 4, 0, 2]
    assert M.gp.tolist() == [0, 3, 4, 4, 5, 6]   # output 1: empty group for 3, then [0] for 1
    assert M.rp.tolist() == [0, 2, 4, 4, 5]      # output 2 has no group, output 3 one
    assert M.ngroups == 5 and M.nnz == 6
    assert set(M._arrays()) == {"values", "ci", "gp", "rp"}


def test_cser_stores_only_present_groups_with_their_value_index():
    M = CSER.from_dense(W_SMALL)
    assert M.values.tolist() == [0.0, 3.0, 1.0]
    assert M.ci.tolist() == [0, 1, 3, 4, 0, 2]
    assert M.gp.tolist() == [0, 3, 4, 5, 6]
    assert M.vi.tolist() == [1, 2, 2, 1]
    assert M.rp.tolist() == [0, 2, 3, 3, 4]
    assert M.ngroups == 4


@pytest.mark.parametrize("cls", BOTH)
def test_values_are_ordered_by_frequency_with_zero_implicit(cls):
    W = quantized(60, 40, k=12, density=0.4, seed=3)
    M = cls.from_dense(W)
    assert M.values[0] == 0 and M.k == np.unique(W).size
    counts = [np.count_nonzero(W == v) for v in M.values]
    assert counts == sorted(counts, reverse=True)
    # inside every group the inputs increase and share one value
    rows, vals = M._entries()
    D = M.to_dense()
    assert np.array_equal(D[M.ci.astype(int), rows], M.values[vals])
    for g in range(M.ngroups):
        idx = M.ci[M.gp[g]:M.gp[g + 1]].astype(int)
        assert np.all(np.diff(idx) > 0)


def test_frequency_ties_put_zero_first_then_bit_order():
    values, pos, sym = frequency_symbols(np.array([2.0, 0.0, 1.0, -0.0, 1.0, 2.0], np.float32))
    assert values.tobytes() == np.array([0.0, 1.0, 2.0], np.float32).tobytes()
    assert pos.tolist() == [0, 2, 4, 5] and sym.tolist() == [2, 1, 1, 2]
    values, pos, sym = frequency_symbols(np.array([2.0, -0.0, 1.0, 0.0, 1.0, 2.0], np.float32))
    assert values.tolist() == [0.0, 1.0, 2.0] and sym.tolist() == [2, 1, 1, 2]
    # without a majority of zeros every value counts by bit pattern: +0.0 < 1.0 < 2.0 < -0.0
    values, pos, sym = frequency_symbols(np.array([2.0, -0.0, 1.0, 0.0, 1.0, 2.0, 1.0, 2.0],
                                                  np.float32))
    assert values.tobytes() == np.array([1.0, 2.0, 0.0, -0.0], np.float32).tobytes()
    assert pos.tolist() == [0, 1, 3, 5, 7] and sym.tolist() == [1, 3, 2, 1, 1]


@pytest.mark.parametrize("cls", BOTH)
def test_a_nonzero_most_frequent_value_is_implicit_and_exact(cls):
    W = np.full((7, 5), 0.5, dtype=np.float64)
    W[[0, 3, 6], [1, 1, 4]] = [0.0, -0.0, 2.0]
    M = cls.from_dense(W)
    assert M.values[0] == 0.5 and M.implicit_value == 0.5
    assert M.nnz == np.count_nonzero(W)
    assert M.to_dense().tobytes() == W.tobytes()   # -0.0 kept: zero is not implicit


@pytest.mark.parametrize("cls", BOTH)
def test_negative_zero_joins_the_implicit_zero(cls):
    W = np.array([[0.0, -0.0, 1.5], [-0.0, 2.0, 0.0]], dtype=np.float32)
    M = cls.from_dense(W)
    assert M.values[0].tobytes() == np.float32(0.0).tobytes()
    assert M.nnz == 2 and M.ci.size == 2
    assert M.to_dense().tobytes() == (W + np.float32(0)).tobytes()


def test_cser_is_smaller_than_cer_when_rows_skip_values():
    # each output uses one value out of many: CER pays a pointer per skipped value
    W = np.zeros((40, 30), dtype=np.float32)
    for c in range(30):
        W[c % 40, c] = 1.0 + c
    W[:, 0] = 1.0
    cer, cser = CER.from_dense(W), CSER.from_dense(W)
    assert cser.ngroups == 30 and cer.ngroups > 3 * cser.ngroups
    assert cser.nbytes < cer.nbytes


# ---- widths and accounting ----------------------------------------------------------

def test_integer_widths_follow_each_arrays_largest_value():
    W = np.zeros((300, 2), dtype=np.float32)
    W[[0, 299], [0, 1]] = [1.0, 2.0]
    M = CSER.from_dense(W)
    assert (M.ci.dtype, M.gp.dtype, M.rp.dtype, M.vi.dtype) == (np.uint16, np.uint8, np.uint8,
                                                                  np.uint8)
    small = CER.from_dense(W_SMALL)
    assert (small.ci.dtype, small.gp.dtype, small.rp.dtype) == (np.uint8,) * 3


def test_wide_arrays_switch_to_uint32_and_value_indices_to_uint16():
    rng = np.random.default_rng(1)
    W = np.where(rng.random((150_000, 1)) < 0.45, 1.0, 0.0).astype(np.float32)
    M = CER.from_dense(W)
    assert M.ci.size > 65535
    assert (M.ci.dtype, M.gp.dtype, M.rp.dtype) == (np.uint32, np.uint32, np.uint8)
    V = np.zeros((40, 20), dtype=np.float32)
    V.flat[:300] = np.arange(1, 301)
    S = CSER.from_dense(V)
    assert S.k == 301 and S.vi.dtype == np.uint16


@pytest.mark.parametrize("cls", BOTH)
def test_breakdown_counts_codebook_indices_and_pointers(cls):
    M = cls.from_dense(quantized(50, 30))
    b = M.nbytes_breakdown()
    idx = M.ci.nbytes + (M.vi.nbytes if cls is CSER else 0)
    assert b == {"indices": idx, "pointers": M.gp.nbytes + M.rp.nbytes,
                 "codebook": M.values.nbytes}
    assert M.nbytes == sum(a.nbytes for a in M._arrays().values())


# ---- products ---------------------------------------------------------------------

@pytest.mark.kernel
@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b", [1, 8, 3, 19])
def test_product_matches_numpy_and_the_reference_for_batches_and_threads(cls, dtype, b):
    W = quantized(45, 13, k=6, density=0.35, seed=b, dtype=dtype)
    M = cls.from_dense(W)
    X = np.random.default_rng(b).standard_normal((b, 45)).astype(dtype)
    ref = X.astype(np.float64) @ W.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.allclose(reference_product(M, X), ref, atol=tol)
    first = M.matmul(X, threads=1)
    for t in (1, 2, 13, 50):
        Y = M.matmul(X, threads=t)
        assert Y.dtype == dtype and Y.shape == (b, 13)
        assert np.allclose(Y, ref, atol=tol, rtol=tol)
        assert Y.tobytes() == first.tobytes()


@pytest.mark.kernel
@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("b", [1, 8, 5])
def test_product_with_a_nonzero_implicit_value_sums_the_unlisted_inputs(cls, b):
    rng = np.random.default_rng(4)
    W = np.where(rng.random((33, 9)) < 0.7, 0.25, rng.choice([-1.0, 0.0, 3.0], (33, 9)))
    M = cls.from_dense(W)
    assert M.values[0] == 0.25
    # inputs of very different magnitude: no cancellation allowed
    X = rng.standard_normal((b, 33)) * np.where(rng.random(33) < 0.2, 1e6, 1e-3)
    ref = X @ W
    for t in (1, 3):
        assert np.allclose(M.matmul(X, threads=t), ref, rtol=1e-12, atol=1e-9)
    assert np.allclose(reference_product(M, X), ref, rtol=1e-12, atol=1e-9)


@pytest.mark.kernel
@pytest.mark.parametrize("cls", BOTH)
def test_vector_input_and_empty_rows(cls):
    M = cls.from_dense(W_SMALL)
    x = np.arange(1, 6, dtype=np.float32)
    assert np.array_equal(x @ M, x @ W_SMALL)
    assert np.array_equal(M.matmul(np.zeros((0, 5), np.float32)), np.zeros((0, 4), np.float32))


@pytest.mark.kernel
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), m=st.integers(1, 12),
       k=st.integers(1, 9), density=st.sampled_from([0.0, 0.1, 0.5, 0.8, 1.0]),
       fmt=st.sampled_from(["cer", "cser"]))
def test_quantized_matrices_round_trip_and_multiply(seed, n, m, k, density, fmt):
    W = quantized(n, m, k=k, density=density, seed=seed, dtype=np.float64)
    M = get_format(fmt).from_dense(W)
    assert np.array_equal(M.to_dense(), W)
    again = type(M)._from_arrays(M.shape, M.dtype, M._meta, M._arrays())
    assert np.array_equal(again.to_dense(), W)
    X = np.random.default_rng(seed).standard_normal((3, n))
    assert np.allclose(M.matmul(X, threads=2), X @ W, atol=1e-10)


# ---- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("cls", BOTH)
def test_bad_weights_and_operands_are_rejected(cls):
    with pytest.raises(ValueError, match="NaN"):
        cls.from_dense(np.array([[1.0, np.nan]]))
    with pytest.raises(TypeError):
        cls.from_dense(np.ones((2, 2), dtype=np.int32))
    with pytest.raises(ValueError):
        cls.from_dense(np.ones((2, 2, 2), dtype=np.float32))
    with pytest.raises(TypeError):
        cls.from_dense(np.ones((2, 2), np.float32), wordbits=32)
    M = cls.from_dense(W_SMALL)
    with pytest.raises(ValueError, match="shape mismatch"):
        np.ones((2, 4), np.float32) @ M
    with pytest.raises(ValueError):
        M.matmul(np.ones((2, 5), np.float32), threads=0)


def _corruptions(cls):
    """(label, changes) that break one invariant of the small matrix each."""
    M = cls.from_dense(W_SMALL)
    a = {k: v.copy() for k, v in M._arrays().items()}
    u8 = np.uint8
    out = [
        ("index out of range", {"ci": np.array([0, 1, 3, 5, 0, 2], u8)}),
        ("decreasing in group", {"ci": np.array([1, 0, 3, 4, 0, 2], u8)}),
        ("gp start", {"gp": np.r_[1, a["gp"][1:]].astype(u8)}),
        ("gp decreasing", {"gp": a["gp"][[0, 2, 1, *range(3, a["gp"].size)]]}),
        ("gp end", {"gp": np.r_[a["gp"][:-1], 5].astype(u8)}),
        ("rp end", {"rp": np.r_[a["rp"][:-1], a["rp"][-1] - 1].astype(u8)}),
        ("rp length", {"rp": a["rp"][:-1]}),
        ("values repeated", {"values": np.array([0, 3, 3], np.float32)}),
        ("frequency order", {"ci": np.array([4, 0, 1, 3, 0, 2], u8),
                             "gp": np.array([0, 1, 4, 4, 5, 6] if cls is CER else [0, 1, 4, 5, 6], u8)}),
        ("position twice", {"ci": np.array([0, 1, 3, 3, 0, 2], u8)}),
        ("values NaN", {"values": np.array([0, np.nan, 1], np.float32)}),
        ("implicit -0", {"values": np.array([-0.0, 3, 1], np.float32)}),
        ("stored zero", {"values": np.array([0, 3, -0.0], np.float32)}),
        ("values dtype", {"values": a["values"].astype(np.float64)}),
        ("ci dtype", {"ci": a["ci"].astype(np.int32)}),
        ("unused value", {"values": np.array([0, 3, 1, 7], np.float32)}),
    ]
    if cls is CSER:
        out += [
            ("vi zero", {"vi": np.array([0, 2, 2, 1], u8)}),
            ("vi too large", {"vi": np.array([1, 3, 2, 1], u8)}),
            ("vi not increasing", {"vi": np.array([2, 1, 2, 1], u8)}),
            ("vi length", {"vi": np.array([1, 2, 2], u8)}),
            ("vi missing", {"vi": None}),
            ("empty group", {"gp": np.array([0, 3, 3, 5, 6], u8),
                             "ci": np.array([0, 1, 3, 0, 4, 2], u8)}),
        ]
    else:
        out += [
            ("too many groups", {"rp": np.array([0, 3, 5, 5, 6], u8),
                                 "gp": np.array([0, 3, 4, 4, 4, 5, 6], u8)}),
            ("trailing empty group", {"rp": np.array([0, 2, 4, 4, 6], u8),
                                      "gp": np.array([0, 3, 4, 4, 5, 6, 6], u8)}),
            ("vi in CER", {"vi": np.array([1, 2], u8)}),
        ]
    return M, out


@pytest.mark.parametrize("cls", BOTH)
def test_every_corrupted_array_is_a_format_error(cls):
    M, cases = _corruptions(cls)
    for label, changes in cases:
        arrays = dict(M._arrays())
        for k, v in changes.items():
            if v is None:
                del arrays[k]
            else:
                arrays[k] = v
        with pytest.raises(FormatError):
            cls._from_arrays(M.shape, M.dtype, M._meta, arrays)
            pytest.fail(f"accepted: {label}")
    with pytest.raises(FormatError, match="nnz"):
        cls._from_arrays(M.shape, M.dtype, {"nnz": 5}, M._arrays())
    with pytest.raises(FormatError):
        cls._from_arrays((5, 5), M.dtype, M._meta, M._arrays())


@pytest.mark.parametrize("cls", BOTH)
def test_files_round_trip_bit_exactly(cls, tmp_path):
    W = np.full((6, 4), -1.25, dtype=np.float32)
    W[0, :] = [0.0, -0.0, 2.0, 2.0]
    M = cls.from_dense(W)
    M.save(tmp_path / "m.npz")
    L = load(tmp_path / "m.npz")
    assert type(L) is cls and L.to_dense().tobytes() == W.tobytes()


# ---- kernels on corrupt arrays (never read out of bounds) ------------------------------

def _call(cls, n, values, ci, gp, rp, vi=None, b=2, threads=2):
    xt = np.ones((n, b), dtype=values.dtype)
    if cls is CSER:
        return _native.cser_matmat(n, values, ci, gp, rp, vi, xt, threads)
    return _native.cer_matmat(n, values, ci, gp, rp, xt, threads)


@pytest.mark.kernel
@pytest.mark.parametrize("cls", BOTH)
def test_kernels_report_corrupt_arrays(cls):
    M = cls.from_dense(W_SMALL)
    n, v, ci, gp, rp = 5, M.values, M.ci, M.gp, M.rp
    vi = M.vi if cls is CSER else None
    assert np.array_equal(_call(cls, n, v, ci, gp, rp, vi).T, np.ones((2, 5), np.float32) @ W_SMALL)
    u8, u64 = np.uint8, np.uint64
    bad = [
        dict(ci=np.array([0, 1, 3, 9, 0, 2], u8)),             # index >= n
        dict(ci=np.array([0, 1, 3, 2**63, 0, 2], u64)),         # index past int64
        dict(ci=ci[:-1]),                                       # gp[-1] != q
        dict(gp=np.r_[gp[:-1], 200].astype(u8)),                # pointer past q
        dict(gp=np.r_[1, gp[1:]].astype(u8)),                   # gp[0] != 0
        dict(gp=gp[::-1].copy()),                               # decreasing
        dict(gp=np.r_[gp[0], gp[2], gp[1], gp[3:]].astype(u8)),  # decreasing inside, ends right
        dict(gp=np.r_[gp[0], 200, gp[2:]].astype(u8)),          # inside, past q
        dict(gp=np.where(np.arange(gp.size) == 2, u64(2**63), gp.astype(u64))),  # inside, past int64
        dict(rp=np.r_[rp[:-1], rp[-1] + 1].astype(u8)),         # rp[m] != groups
        dict(rp=np.r_[rp[:2], 0, rp[3:]].astype(u8)),           # decreasing
        dict(values=v[:1]),                                     # too few values
    ]
    if cls is CSER:
        bad += [dict(vi=np.array([1, 2, 7, 1], u8)), dict(vi=np.array([0, 2, 2, 1], u8)),
                dict(vi=np.array([1, 2, 2, 9], u8)), dict(vi=vi[:-1])]
    for change in bad:
        args = dict(values=v, ci=ci, gp=gp, rp=rp, vi=vi) | change
        for threads in (1, 2, 4):  # the group pointers and value indices are checked per row
            with pytest.raises(FormatError):
                _call(cls, n, **args, threads=threads)
                pytest.fail(f"accepted {change} with {threads} threads")
    with pytest.raises(TypeError):
        _call(cls, n, v, ci.astype(np.int32), gp, rp, vi)
    with pytest.raises(ValueError):
        _call(cls, n, v, ci, gp, np.zeros(0, u8), vi)
    with pytest.raises(ValueError):
        _native.cer_matmat(4, v, ci, gp, rp, np.ones((5, 2), np.float32), 1)


def test_cer_refuses_a_matrix_with_too_many_distinct_values_before_allocating():
    # 1500 x 1500 all distinct: CER would need ~3.4e9 group pointers (25 GiB)
    W = np.arange(1, 1500 * 1500 + 1, dtype=np.float32).reshape(1500, 1500)
    W = np.random.default_rng(0).permutation(W.reshape(-1)).reshape(1500, 1500)
    with pytest.raises(FormatError, match="distinct values"):
        CER.from_dense(W)
    CSER.from_dense(W[:200, :200])   # CSER stores only present groups: no limit


def test_cer_group_limit_leaves_quantized_matrices_alone():
    W = quantized(300, 400, k=256, density=0.5)
    M = CER.from_dense(W)
    np.testing.assert_array_equal(M.to_dense(), W)


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("b", [1, 3, 8, 11])
def test_float32_groups_near_the_float_limit_do_not_overflow(cls, b):
    # every input 1e38 meets weight 0.5 in one group of 4: the float32 sum of the group
    # overflows, the product (2e38) does not; with a nonzero implicit value too
    for implicit in (0.0, 1e-3):
        W = np.full((6, 3), implicit, dtype=np.float32)
        W[:4, 0] = W[:4, 1] = 0.5
        W[4, 2] = 0.25
        X = np.full((b, 6), 1e38, dtype=np.float32)
        X[:, 4:] = -1e38
        want = (X.astype(np.float64) @ W.astype(np.float64)).astype(np.float32)
        assert np.isfinite(want).all()
        M = cls.from_dense(W)
        for threads in (1, 2):
            got = M.matmul(X, threads=threads)
            assert np.isfinite(got).all(), got
            np.testing.assert_allclose(got, want, rtol=1e-6)
