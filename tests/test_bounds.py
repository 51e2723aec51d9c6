"""The space bounds of HAM and sHAM hold for the real formats, and are tight enough to matter."""
import itertools
import math

import numpy as np
import pytest

from compactnn import bounds
from compactnn.formats import CSC, HAM, SHAM
from compactnn.huffman import entropy_bits
from compactnn.synthetic import synthetic_matrix

GRID = list(itertools.product([1, 7, 256, 300], [1, 5, 64], [0.0, 0.01, 0.1, 0.5, 1.0], [1, 2, 3, 32, 200]))


def ham_entropy(F: HAM, W: np.ndarray) -> float:
    """Entropy of HAM's own symbols (values by bit pattern, zero included)."""
    _, counts = np.unique(W.view(np.uint32 if W.dtype == np.float32 else np.uint64), return_counts=True)
    return entropy_bits(counts)


def check_under(measured: dict, bound: dict):
    assert set(measured) <= set(bound)
    for key, value in measured.items():
        assert value <= bound[key], f"{key}: {value} bytes > bound {bound[key]}"
    assert sum(measured.values()) <= sum(bound.values())


@pytest.mark.parametrize("n,m,s,k", GRID)
def test_measured_sizes_are_under_both_bounds_array_by_array(n, m, s, k):
    W = synthetic_matrix(n, m, s, k, seed=n + m + k)
    h = HAM.from_dense(W)
    sh = SHAM.from_dense(W)
    st = bounds.matrix_entropy(W)
    check_under(h.nbytes_breakdown(), bounds.ham_bound(n, m, h.k))
    check_under(h.nbytes_breakdown(), bounds.ham_bound(n, m, h.k, entropy=ham_entropy(h, W)))
    check_under(sh.nbytes_breakdown(), bounds.sham_bound(n, m, sh.nnz, sh.k))
    check_under(sh.nbytes_breakdown(), bounds.sham_bound(n, m, sh.nnz, sh.k, entropy=st["H_nz"]))
    assert h.psi <= bounds.psi_ham_bound(n, m, h.k)
    assert sh.psi <= bounds.psi_sham_bound(n, m, sh.nnz / (n * m), sh.k)


@pytest.mark.parametrize("wordbits", [32, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bounds_follow_word_size_and_value_width(wordbits, dtype):
    n, m = 300, 40
    W = synthetic_matrix(n, m, 0.3, 32, seed=3, dtype=dtype)
    item = np.dtype(dtype).itemsize
    h = HAM.from_dense(W, wordbits=wordbits)
    sh = SHAM.from_dense(W, wordbits=wordbits)
    check_under(h.nbytes_breakdown(), bounds.ham_bound(n, m, h.k, wordbits=wordbits, itemsize=item))
    check_under(sh.nbytes_breakdown(),
                bounds.sham_bound(n, m, sh.nnz, sh.k, wordbits=wordbits, itemsize=item))


def uniform_matrix(n, m, s, k, seed=0):
    """Exactly round(s n m) nonzeros, each of k levels used equally often (+-1)."""
    rng = np.random.default_rng(seed)
    q = int(round(s * n * m))
    levels = np.linspace(1.0, 2.0, k, dtype=np.float32)
    flat = np.zeros(n * m, dtype=np.float32)
    flat[rng.permutation(n * m)[:q]] = levels[np.arange(q) % k]
    return flat.reshape(n, m)


# Tightness, for symbols used equally often.  Both payload bounds exceed the
# Huffman length L by less than one bit per symbol (L >= H = log2 k; bound
# <= log2 k + 1), so with k >= 2 they are within a factor (log2 k + 1)/log2 k
# <= 2; every other array is bounded by its exact size except len_count.  When
# k is a power of two the Huffman code is the fixed-length one and the k-only
# bound is exact up to len_count: within 10 %.
@pytest.mark.parametrize("n,m,s,k", [(256, 64, 1.0, 2), (300, 64, 0.5, 3), (256, 128, 1.0, 32),
                                     (512, 64, 0.2, 32), (256, 64, 1.0, 256), (300, 40, 0.05, 7)])
def test_bounds_are_within_a_factor_two_for_uniform_symbols(n, m, s, k):
    W = uniform_matrix(n, m, s, k)
    sh = SHAM.from_dense(W)
    st = bounds.matrix_entropy(W)
    for b in (bounds.sham_bound(n, m, sh.nnz, sh.k),
              bounds.sham_bound(n, m, sh.nnz, sh.k, entropy=st["H_nz"])):
        assert sh.nbytes >= sum(b.values()) / 2
    if s == 1.0:  # HAM symbols are then the k levels, used equally often
        h = HAM.from_dense(W)
        for b in (bounds.ham_bound(n, m, h.k), bounds.ham_bound(n, m, h.k, entropy=st["H_all"])):
            assert h.nbytes >= sum(b.values()) / 2
        if k & (k - 1) == 0:
            assert h.nbytes >= 0.9 * sum(bounds.ham_bound(n, m, h.k).values())


def test_uniform_level_model_matches_the_formats_exactly():
    for n, m, s, k in [(256, 64, 0.1, 32), (300, 50, 0.5, 7), (256, 64, 1.0, 16)]:
        W = uniform_matrix(n, m, s, k)
        pred = bounds.uniform_level_nbytes(n, m, s, k)
        assert pred["sham"] == SHAM.from_dense(W).nbytes
        assert pred["ham"] == HAM.from_dense(W).nbytes


@pytest.mark.parametrize("n,m,k", [(256, 128, 2), (512, 128, 32), (300, 100, 256), (256, 256, 32)])
def test_crossover_predicts_the_smaller_format_away_from_it(n, m, k):
    s_star = bounds.crossover_density(n, m, k)
    assert 0.0 < s_star < 0.5
    for s in (s_star / 4, s_star / 2):
        W = synthetic_matrix(n, m, s, k, seed=1)
        assert SHAM.from_dense(W).nbytes < HAM.from_dense(W).nbytes, f"s={s:.4f}, s*={s_star:.4f}"
    for s in (min(2 * s_star, 1.0), 0.5, 1.0):
        W = synthetic_matrix(n, m, s, k, seed=1)
        assert HAM.from_dense(W).nbytes < SHAM.from_dense(W).nbytes, f"s={s:.4f}, s*={s_star:.4f}"


@pytest.mark.parametrize("n,k", [(4096, 32), (256, 32), (512, 2), (1000, 256)])
def test_crossover_is_about_one_over_the_row_index_bits(n, k):
    # Below s = 1/2 HAM spends 1 bit per zero and 1 + (sHAM's code) per nonzero, sHAM
    # a row index per nonzero and 32 bits of column pointer per column: the two meet
    # at s = (1 - 32/n) / bits_ri.
    ri_bits = 8 * bounds.index_bytes(n)
    assert bounds.crossover_density(n, 4096, k) == pytest.approx((1 - 32 / n) / ri_bits, rel=0.05)


def test_paper_crossover_solves_its_equation():
    n, m, k, B = 4096, 1000, 32, 32
    s = bounds.crossover_density_paper(n, m, k, B=B)
    lhs = s * (1 + math.log2(k) + B) / B + (m + 1) / (n * m)
    assert lhs == pytest.approx((1 + math.log2(k)) / B)
    assert bounds.psi_sham_paper(n, m, s, k) == pytest.approx(bounds.psi_ham_paper(n, m, k))


def test_word_accounting_of_csc_equals_scipy_csc_with_int32_indices():
    W = synthetic_matrix(300, 70, 0.2, 8, seed=2)
    F = CSC.from_dense(W)
    assert F.psi == pytest.approx(bounds.psi_csc_words(300, 70, F.nnz))


def test_sparse_entropy_bits_matches_log_binomial_and_brackets_the_formats():
    assert bounds.sparse_entropy_bits(10, 3, 0.0) == pytest.approx(math.log2(math.comb(10, 3)))
    assert bounds.sparse_entropy_bits(10, 3, 2.0) == pytest.approx(math.log2(120) + 6)
    assert bounds.sparse_entropy_bits(5, 0, 0.0) == 0.0
    with pytest.raises(ValueError):
        bounds.sparse_entropy_bits(5, 6, 0.0)
    W = synthetic_matrix(512, 256, 0.05, 32, seed=4)
    st = bounds.matrix_entropy(W)
    # The order-0 information of all entries is (nearly) the same quantity.
    assert st["sparse_bits"] == pytest.approx(W.size * st["H_all"], rel=1e-3)
    assert st["q"] == np.count_nonzero(W) and st["k_nz"] == 32 and st["k_all"] == 33
    for F in (HAM.from_dense(W), SHAM.from_dense(W)):
        assert 8 * F.nbytes >= st["sparse_bits"]


def test_building_blocks_handle_edge_cases():
    assert bounds.code_bits_bound(0) == 0 and bounds.code_bits_bound(1) == 1
    assert bounds.code_bits_bound(2) == 1 and bounds.code_bits_bound(3) == 2
    assert bounds.code_bits_bound(256) == 8 and bounds.code_bits_bound(257) == 9
    assert bounds.code_bits_bound(256, entropy=2.5) == 3.5
    assert bounds.table_entries_bound(0) == 1 and bounds.table_entries_bound(1) == 2
    assert bounds.table_entries_bound(1000) == 33
    assert [bounds.index_bytes(n) for n in (1, 256, 257, 65536, 65537)] == [1, 1, 2, 2, 4]
    assert bounds.offset_bytes(2**32 - 1) == 4 and bounds.offset_bytes(2**32) == 8
    with pytest.raises(ValueError):
        bounds.code_bits_bound(-1)
    with pytest.raises(ValueError):
        bounds.ham_bound(4, 4, 2, wordbits=16)


def test_offsets_widen_to_64_bits_when_the_stream_passes_four_giga_bits():
    # Not built (it would need gigabytes): uint32 offsets hold at most 2**32 - 1 bits.
    n = 1 << 16
    assert bounds.ham_bound(n, n - 1, 2)["column_offsets"] == n * 4       # n(n-1) bits
    assert bounds.ham_bound(n, n, 2)["column_offsets"] == (n + 1) * 8     # 2**32 bits
    assert bounds.sham_bound(n, n, 1 << 32, 2)["pointers"] == (n + 1) * 8
