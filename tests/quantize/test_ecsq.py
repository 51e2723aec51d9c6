"""ECSQ: entropy falls as lambda grows, the tuner lands on k, the assignment rule is exact."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactnn.quantize import ecsq_lambda, ecsq_lloyd, quantize
from compactnn.quantize.ecsq import _envelope

from .test_common import weights


def entropy(idx):
    p = np.bincount(idx.ravel()) / idx.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) + 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_entropy_decreases_as_lambda_grows(seed):
    # k = 1, so that runs are not cut short by the k target (which would break the
    # property, see ecsq_lloyd). Lloyd iterations reach local optima, hence the
    # tolerance of 1e-3 bits; the overall fall is of more than one bit.
    w = np.random.default_rng(seed).normal(size=4000)
    lams = w.var() * np.geomspace(1e-3, 3, 15)
    h = [entropy(ecsq_lloyd(w, 1, lam)[1]) for lam in lams]
    assert np.all(np.diff(h) <= 1e-3), h
    assert h[0] - h[-1] > 1


@pytest.mark.parametrize("k", [2, 8, 32])
def test_tuned_lambda_lands_on_k_clusters(k):
    w = weights(n=6000, seed=k)
    codebook, idx = quantize(w, "ecsq", k)
    assert codebook.size == k
    lam = ecsq_lambda(w, k)
    assert lam > 0
    cb2, idx2 = ecsq_lloyd(w, k, lam)
    assert np.array_equal(cb2, codebook) and np.array_equal(idx2, idx)


def test_explicit_lambda_leaving_more_than_k_clusters_is_an_error():
    w = weights(n=1000)
    with pytest.raises(ValueError, match="leaves"):
        quantize(w, "ecsq", 4, lam=0.0)
    codebook, _ = ecsq_lloyd(w, 4, 0.0)  # the raw run has no such guarantee
    assert codebook.size > 4


def test_large_lambda_stops_at_k_clusters_or_fewer():
    w = weights(n=2000)
    codebook, _ = quantize(w, "ecsq", 6, lam=10 * float(np.var(w)))
    assert codebook.size <= 6


def test_centroids_are_the_means_of_their_clusters():
    w = weights(n=3000, dtype=np.float64, seed=3)
    codebook, idx = quantize(w, "ecsq", 8)
    means = np.bincount(idx, weights=w) / np.bincount(idx)
    assert np.allclose(means, codebook, rtol=1e-12, atol=1e-15)


def test_ecsq_lambda_uses_only_kept_weights_and_validates():
    w = weights(n=2000)
    mask = np.zeros(w.shape, bool)
    assert ecsq_lambda(w, 4, mask=mask) == 0.0
    with pytest.raises(ValueError, match="lam must be"):
        ecsq_lloyd(w, 4, -1.0)
    with pytest.raises(ValueError, match="k must be"):
        ecsq_lambda(w, 0)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 12))
def test_threshold_assignment_equals_brute_force_argmin(data, n):
    c = np.unique(np.array(data.draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)), float))
    b = np.array(data.draw(st.lists(st.floats(0, 30), min_size=c.size, max_size=c.size)))
    active, thr = _envelope(c, b)
    assert np.all(np.diff(thr) > 0)
    x = np.linspace(-70, 70, 2001)
    cost = (x[:, None] - c[None, :]) ** 2 + b[None, :]
    chosen = active[np.searchsorted(thr, x, side="left")]
    assert np.allclose(cost[np.arange(x.size), chosen], cost.min(axis=1), rtol=1e-12, atol=1e-9)


def test_ecsq_on_a_layer_with_few_weights_still_returns_at_most_k_levels():
    # 24 kept weights and k = 8: the 3k start groups are single values, which no
    # lambda merges; the quantizer falls back to 1-D k-means instead of failing.
    import numpy as np

    from compactnn.quantize import quantize

    w = np.random.default_rng(3).standard_normal(24).astype(np.float32)
    codebook, idx = quantize(w, "ecsq", k=8)
    assert codebook.size <= 8
    assert idx.shape == w.shape and np.all(idx < codebook.size)
