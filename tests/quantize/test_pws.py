"""PWS: quantile levels, rounding to a neighbour, and no bias."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compactnn.quantize import quantize


def test_levels_are_the_i_over_k_minus_1_quantiles():
    w = np.random.default_rng(0).normal(size=1001)
    codebook, _ = quantize(w, "pws", 5)
    assert np.allclose(codebook, np.quantile(w, [0, 0.25, 0.5, 0.75, 1]), rtol=0, atol=0)


@settings(max_examples=20, deadline=None)
@given(w=hnp.arrays(np.float64, st.integers(2, 200), elements=st.floats(-3, 3, width=32)),
       k=st.integers(2, 8), seed=st.integers(0, 2**32 - 1))
def test_every_weight_goes_to_one_of_the_two_levels_around_it(w, k, seed):
    codebook, idx = quantize(w, "pws", k, seed=seed)
    q = codebook[idx]
    below = codebook[np.searchsorted(codebook, w, side="right") - 1]
    above = codebook[np.minimum(np.searchsorted(codebook, w, side="left"), codebook.size - 1)]
    assert np.all((q == below) | (q == above))


def test_rounding_is_unbiased_for_every_weight():
    # 40 distinct weights, each repeated n times: the mean of each one's quantized copies
    # is within 5 standard errors of it; the standard error of a two-point variable on
    # [a, b] is at most (b - a) / (2 sqrt(n)), so the test fails by chance with
    # probability < 40 * 6e-7 for a random seed (and never for this fixed one).
    rng = np.random.default_rng(123)
    base, n = rng.normal(size=40), 2500
    w = np.repeat(base, n)
    codebook, idx = quantize(w, "pws", 6, seed=2024)
    q = codebook[idx].reshape(40, n)
    lo = codebook[np.searchsorted(codebook, base, side="right") - 1]
    hi = codebook[np.minimum(np.searchsorted(codebook, base, side="left"), codebook.size - 1)]
    bound = 5 * (hi - lo) / (2 * np.sqrt(n))
    assert np.all(np.abs(q.mean(axis=1) - base) <= bound + 1e-15)
    # the total is unbiased too: variance of the sum <= sum of (b - a)^2 / 4 per weight
    sd_sum = np.sqrt(np.sum(((hi - lo) ** 2) / 4) * n)
    assert abs(q.sum() - w.sum()) <= 5 * sd_sum


def test_unbiased_in_float32_against_the_returned_codebook():
    w = np.random.default_rng(5).laplace(size=200_000).astype(np.float32)
    codebook, idx = quantize(w, "pws", 4, seed=9)
    err = codebook[idx].astype(np.float64) - w
    # each error has |e| <= (b - a) and variance <= (b - a)^2 / 4
    width = np.diff(codebook.astype(np.float64)).max()
    assert abs(err.mean()) <= 5 * width / (2 * np.sqrt(w.size))


def test_k_equal_1_gives_the_mean():
    w = np.array([1.0, 2.0, 6.0])
    assert quantize(w, "pws", 1)[0].tolist() == [3.0]


def test_sorted_quantiles_equal_numpy_quantile_bit_for_bit():
    from compactnn.quantize.pws import sorted_quantiles

    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        for n, k in [(1, 2), (2, 5), (7, 3), (1000, 17), (5000, 70000), (4096, 4096)]:
            x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
            q = np.linspace(0.0, 1.0, k)
            got = sorted_quantiles(np.sort(x), k)
            want = np.quantile(x, q)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_many_levels_on_many_weights_use_the_sorted_quantiles():
    w = np.random.default_rng(0).standard_normal(262_144).astype(np.float32)
    from compactnn.quantize.pws import sorted_quantiles

    cb, idx = quantize(w, "pws", k=70_000, seed=1)
    edges = np.unique(sorted_quantiles(np.sort(w), 70_000).astype(np.float32))
    assert 60_000 < cb.size <= 70_000
    assert np.isin(cb, edges).all()           # every level is one of the quantiles
    assert cb[0] == w.min() and cb[-1] == w.max()
