"""Synthetic matrices have the requested shape, density and number of levels."""
import time

import numpy as np
import pytest

from compactnn.synthetic import lloyd_1d, prune_exact, synthetic_matrix


@pytest.mark.parametrize("density", [0.0, 0.001, 0.3, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("k", [1, 2, 32, 256])
def test_exact_nonzero_count_and_at_most_k_levels(density, k):
    W = synthetic_matrix(64, 100, density, k, seed=1)
    assert W.shape == (64, 100) and W.dtype == np.float32
    assert np.count_nonzero(W) == round(density * W.size)
    levels = np.unique(W[W != 0])
    assert levels.size <= k
    if density * W.size >= 10 * k:  # enough nonzeros: k-means keeps every level
        assert levels.size == k


def test_pruning_keeps_the_largest_magnitudes():
    W = synthetic_matrix(128, 128, 1.0, 1000, seed=5)   # quantized, not pruned
    P = synthetic_matrix(128, 128, 0.1, 1000, seed=5)
    kept = P != 0
    # Same weights: the kept positions are those of the 10 % largest |w|.
    assert np.abs(W[kept]).min() >= np.quantile(np.abs(W), 0.88)


def test_same_seed_same_matrix_and_different_seed_different_matrix():
    a = synthetic_matrix(50, 60, 0.3, 8, seed=7)
    assert np.array_equal(a, synthetic_matrix(50, 60, 0.3, 8, seed=7))
    assert not np.array_equal(a, synthetic_matrix(50, 60, 0.3, 8, seed=8))


def test_float64_and_degenerate_shapes():
    W = synthetic_matrix(10, 3, 0.5, 4, dtype=np.float64)
    assert W.dtype == np.float64 and np.count_nonzero(W) == 15
    assert synthetic_matrix(0, 5, 0.5, 2).shape == (0, 5)
    assert synthetic_matrix(1, 1, 1.0, 2).shape == (1, 1)


@pytest.mark.parametrize("bad", [dict(density=1.5), dict(density=-0.1), dict(k=0), dict(dtype=np.int32)])
def test_bad_arguments_raise(bad):
    args = dict(n=4, m=4, density=0.5, k=2) | bad
    with pytest.raises((ValueError, TypeError)):
        synthetic_matrix(**args)


def test_prune_exact_breaks_ties_to_the_exact_count():
    w = np.ones((10, 10), dtype=np.float32)
    assert prune_exact(w, 0.37).sum() == 37


def test_fallback_lloyd_is_a_kmeans_fixed_point():
    x = np.random.default_rng(0).laplace(size=20000)
    c, idx = lloyd_1d(x, 8)
    assert c.size == 8 and np.all(np.diff(c) > 0)
    for j in range(c.size):
        assert c[j] == pytest.approx(x[idx == j].mean())


def test_4096_square_is_built_in_seconds():
    t = time.perf_counter()
    W = synthetic_matrix(4096, 4096, 0.1, 32)
    assert np.count_nonzero(W) == round(0.1 * 4096 * 4096)
    assert time.perf_counter() - t < 20  # about 1 s alone; the margin is for a loaded machine


# ---- skewed_matrix: the activity pattern of a trained layer ---------------------------
from compactnn.synthetic import skewed_matrix  # noqa: E402


def test_skewed_matrix_looks_like_a_vgg19_dense_layer_at_99_percent():
    W = skewed_matrix(512, 4096, 0.01, seed=0)
    nz = W != 0
    cols, rows = nz.sum(axis=0), nz.sum(axis=1)
    assert nz.sum() == round(0.01 * W.size)
    assert 0.5 <= (rows == 0).mean() < 0.55           # about half the rows empty
    assert cols.min() == 0 and 1 <= np.median(cols) <= 3 and 80 <= cols.max() <= 300
    assert np.unique(W[nz]).size == 3


def test_skewed_matrix_doubling_density_doubles_the_column_counts():
    a = (skewed_matrix(512, 4096, 0.01, seed=2) != 0).sum(axis=0)
    b = (skewed_matrix(512, 4096, 0.02, seed=2) != 0).sum(axis=0)
    assert np.median(b) == pytest.approx(2 * np.median(a), rel=0.5)


@pytest.mark.parametrize("density", [0.0, 0.001, 0.2, 0.5])
def test_skewed_matrix_exact_count_levels_and_empty_rows(density):
    W = skewed_matrix(60, 50, density, k=4, seed=3, empty_rows=0.5, dtype=np.float64)
    assert W.dtype == np.float64 and np.count_nonzero(W) == round(density * W.size)
    assert ((W != 0).sum(axis=1) == 0).sum() >= 30
    assert np.unique(W[W != 0]).size <= 4


def test_skewed_matrix_sigma_zero_spreads_columns_evenly():
    W = skewed_matrix(200, 300, 0.1, seed=1, empty_rows=0.0, column_sigma=0.0, row_sigma=0.0)
    cols = (W != 0).sum(axis=0)
    assert cols.max() - cols.min() < 25   # multinomial noise only (mean 20)
    heavy = (skewed_matrix(200, 300, 0.1, seed=1, empty_rows=0.0) != 0).sum(axis=0)
    assert heavy.std() > 2 * cols.std()


def test_skewed_matrix_seeded():
    a = skewed_matrix(40, 30, 0.1, seed=4)
    assert np.array_equal(a, skewed_matrix(40, 30, 0.1, seed=4))
    assert not np.array_equal(a, skewed_matrix(40, 30, 0.1, seed=5))


@pytest.mark.parametrize("bad", [dict(density=0.6), dict(density=-0.1), dict(k=0), dict(empty_rows=1.0),
                                 dict(column_sigma=-1.0), dict(dtype=np.int32), dict(n=-1)])
def test_skewed_matrix_bad_arguments_raise(bad):
    args = dict(n=10, m=10, density=0.1) | bad   # empty_rows 0.5: at most half the entries
    with pytest.raises((ValueError, TypeError)):
        skewed_matrix(**args)
