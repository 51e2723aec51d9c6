"""CWS: 1-D k-means ends at a fixed point; the fast k-means++ matches the textbook one."""
import numpy as np
import pytest

from compactnn.quantize import quantize
from compactnn.quantize.cws import kmeanspp_1d

from .test_common import weights


@pytest.mark.parametrize("init", ["kmeans++", "quantile", "linear"])
@pytest.mark.parametrize("k", [2, 5, 16])
def test_centroids_are_a_k_means_fixed_point(init, k):
    w = weights(n=2000, dtype=np.float64, seed=k)
    codebook, idx = quantize(w, "cws", k, init=init, seed=1)
    dist = np.abs(w[:, None] - codebook[None, :])
    # every weight is assigned to a nearest centroid ...
    assert np.allclose(dist[np.arange(w.size), idx], dist.min(axis=1), rtol=0, atol=1e-15)
    # ... and every centroid is the mean of the weights assigned to it
    means = np.bincount(idx, weights=w) / np.bincount(idx)
    assert np.allclose(means, codebook, rtol=1e-12, atol=1e-15)


def test_fixed_point_holds_in_float32_to_float32_precision():
    w = weights(n=5000, seed=4)
    codebook, idx = quantize(w, "cws", 32)
    means = np.bincount(idx, weights=w.astype(np.float64)) / np.bincount(idx)
    assert np.allclose(means, codebook, rtol=1e-6, atol=1e-9)


def test_k_means_beats_the_initial_quantile_split():
    w = weights(n=4000, dtype=np.float64)
    cb, idx = quantize(w, "cws", 8, init="quantile")
    init = np.sort(w)[((np.arange(8) + 0.5) * w.size / 8).astype(int)]
    init_err = np.min((w[:, None] - init[None, :]) ** 2, axis=1).mean()
    assert np.mean((cb[idx] - w) ** 2) < init_err


def naive_kmeanspp(s, k, rng):
    """Textbook D^2 sampling over all values, drawing the same random numbers."""
    seeds = [int(rng.integers(s.size))]
    d2 = (s - s[seeds[0]]) ** 2
    for _ in range(k - 1):
        cum = np.cumsum(d2)
        if cum[-1] <= 0:
            break
        j = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), s.size - 1)
        seeds.append(j)
        d2 = np.minimum(d2, (s - s[j]) ** 2)
    return np.unique(s[seeds])


@pytest.mark.parametrize("seed", range(5))
def test_blocked_kmeanspp_draws_the_same_seeds_as_the_textbook_version(seed):
    # integer values keep every partial sum exact, so both versions see the same numbers
    s = np.sort(np.random.default_rng(seed).integers(-500, 500, size=3000)).astype(np.float64)
    fast = kmeanspp_1d(s, 40, np.random.default_rng(seed), block=64)
    assert np.array_equal(fast, naive_kmeanspp(s, 40, np.random.default_rng(seed)))


def test_kmeanspp_stops_when_every_distinct_value_is_a_seed():
    s = np.repeat(np.array([-1.0, 0.5, 2.0]), 100)
    assert kmeanspp_1d(s, 10, np.random.default_rng(0)).tolist() == [-1.0, 0.5, 2.0]
