"""Conformance suite run on every registered weight-sharing method."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compactnn.errors import UnknownNameError
from compactnn.quantize import QUANTIZERS, Quantizer, get_quantizer, magnitude_mask, quantize

METHODS = sorted(QUANTIZERS)


def weights(n=3000, dtype=np.float32, seed=0, shape=None):
    """Bell-shaped weights with heavier tails, like a trained layer's."""
    n = int(np.prod(shape)) if shape else n
    rng = np.random.default_rng(seed)
    w = np.concatenate([rng.normal(0, 0.05, n - n // 10), rng.laplace(0, 0.2, n // 10)])
    return w.astype(dtype).reshape(shape or (n,))


def check_contract(w, codebook, idx, k, method=None):
    assert codebook.dtype == w.dtype
    assert idx.dtype == np.int32 and idx.shape == w.shape
    assert codebook.ndim == 1 and 1 <= codebook.size <= k
    assert np.all(np.diff(codebook) > 0), "codebook must be strictly increasing"
    assert idx.min() >= 0 and idx.max() < codebook.size
    assert np.array_equal(np.unique(idx), np.arange(codebook.size)), "every level is used"
    q = codebook[idx]
    tol = 1e-6 * float(np.abs(w).max() + w.max() - w.min())
    if method == "uq" and k > 1:
        # a uniform grid anchored at the minimum: every weight goes to its nearest
        # level, so the top level may lie up to half a step above the maximum
        from compactnn.quantize.uq import uq_step

        delta = uq_step(w, k)[0]
        if np.isfinite(delta):
            assert float(np.abs(q - w).max()) <= delta / 2 * (1 + 1e-6) + tol
        assert q.min() >= w.min() - tol
    else:
        # centroids (and the midrange for k = 1) stay within the data's range
        assert q.min() >= w.min() - tol and q.max() <= w.max() + tol or k == 1


def test_registry_holds_the_four_methods_of_the_paper():
    assert set(QUANTIZERS) == {"cws", "pws", "uq", "ecsq"}
    for name, cls in QUANTIZERS.items():
        assert issubclass(cls, Quantizer) and cls.name == name
        assert get_quantizer(name.upper()) is cls


def test_unknown_method_name_lists_the_valid_names():
    with pytest.raises(UnknownNameError, match="cws, ecsq, pws, uq") as info:
        get_quantizer("kmeans")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownNameError):
        quantize(np.ones(3), "nope", 2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 7, 32])
def test_output_contract_on_gaussian_like_weights(method, dtype, k):
    w = weights(dtype=dtype, shape=(30, 100))
    codebook, idx = quantize(w, method, k, seed=3)
    check_contract(w, codebook, idx, k, method)


@settings(max_examples=15, deadline=None)
@given(
    w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
                 elements=st.floats(-4, 4, width=32) | st.sampled_from([0.0, 0.5, -0.5])),
    k=st.integers(1, 9),
    method=st.sampled_from(METHODS),
)
def test_output_contract_holds_for_arbitrary_arrays(w, k, method):
    codebook, idx = quantize(w, method, k)
    check_contract(w, codebook, idx, k, method)


def test_uq_top_level_may_exceed_the_maximum_by_less_than_half_a_step():
    # the finest step with at most 3 occupied levels is 0.625: levels j = 0, 2, 4
    w = np.array([0.0, 1.0, -0.3125, 2.0])
    codebook, idx = quantize(w, "uq", 3)
    check_contract(w, codebook, idx, 3, "uq")
    np.testing.assert_allclose(codebook, [-0.3125, 0.9375, 2.1875])


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_gives_identical_results(method):
    w = weights(seed=5)
    a = quantize(w, method, 16, seed=11)
    b = quantize(w, method, 16, seed=11)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("method", ["pws", "cws"])
def test_random_methods_depend_on_the_seed(method):
    w = weights(seed=5)
    a, b = quantize(w, method, 16, seed=1), quantize(w, method, 16, seed=2)
    assert not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))


@pytest.mark.parametrize("method", METHODS)
def test_constant_weights_give_a_single_exact_level(method):
    w = np.full(50, 0.25, dtype=np.float32)
    codebook, idx = quantize(w, method, 8)
    assert codebook.tolist() == [0.25] and not idx.any()


@pytest.mark.parametrize("method", ["cws", "ecsq"])
def test_clustering_methods_reproduce_data_with_at_most_k_distinct_values(method):
    w = np.repeat(np.array([0.1, -0.3, 0.7, 2.0, -1.5], dtype=np.float32), [50, 20, 5, 1, 9])
    codebook, idx = quantize(w, method, 5)
    assert np.array_equal(codebook[idx], w)


# -- Pr-X: the mask convention ------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_pruned_entries_index_an_exact_zero_and_kept_ones_use_at_most_k_levels(method):
    w = weights(shape=(60, 50))
    mask = magnitude_mask(w, 90)
    codebook, idx = quantize(w, method, 8, seed=0, mask=mask)
    assert np.count_nonzero(codebook == 0) == 1
    zero = int(np.flatnonzero(codebook == 0)[0])
    assert np.all(idx[~mask] == zero)
    assert np.count_nonzero(codebook) <= 8 and np.unique(codebook[idx][mask]).size <= 8


@pytest.mark.parametrize("method", METHODS)
def test_kept_weights_are_quantized_as_if_alone(method):
    w = weights(seed=2, shape=(50, 40))
    mask = magnitude_mask(w, 70)
    cb_m, idx_m = quantize(w, method, 8, seed=4, mask=mask)
    cb_k, idx_k = quantize(w[mask], method, 8, seed=4)
    assert np.array_equal(cb_m[idx_m][mask], cb_k[idx_k])


@pytest.mark.parametrize("method", METHODS)
def test_mask_keeping_everything_still_puts_zero_in_the_codebook(method):
    w = weights(seed=3) + np.float32(1.0)  # all positive: no level near zero
    codebook, idx = quantize(w, method, 4, mask=np.ones(w.shape, bool))
    assert codebook[0] == 0 and np.count_nonzero(codebook) <= 4 and idx.min() > 0


@pytest.mark.parametrize("method", METHODS)
def test_mask_pruning_everything_gives_the_codebook_zero(method):
    w = weights()
    codebook, idx = quantize(w, method, 4, mask=np.zeros(w.shape, bool))
    assert codebook.tolist() == [0.0] and codebook.dtype == w.dtype and not idx.any()


def test_zero_is_positive_zero_and_appears_once_even_if_a_level_is_zero():
    w = np.array([-1.0, 0.0, 0.0, 1.0, 5.0, -0.0])
    codebook, idx = quantize(w, "cws", 3, mask=np.array([True, True, True, True, False, True]))
    assert codebook.tolist() == [-1.0, 0.0, 1.0]
    assert not np.signbit(codebook[1])


# -- errors -------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_invalid_arguments_raise_value_or_type_errors(method):
    w = weights(n=100)
    with pytest.raises(ValueError, match="k must be >= 1"):
        quantize(w, method, 0)
    for bad_k in (2.0, True, "4"):
        with pytest.raises(TypeError, match="k must be an integer"):
            quantize(w, method, bad_k)
    with pytest.raises(TypeError, match="float32 or float64"):
        quantize(np.arange(10), method, 2)
    with pytest.raises(ValueError, match="empty"):
        quantize(np.zeros(0, np.float32), method, 2)
    with pytest.raises(ValueError, match="NaN or Inf"):
        quantize(np.array([0.0, np.nan]), method, 2)
    with pytest.raises(ValueError, match="shape"):
        quantize(w, method, 2, mask=np.ones(99, bool))
    with pytest.raises(TypeError, match="boolean"):
        quantize(w, method, 2, mask=np.ones(100))


def test_method_options_are_validated():
    w = weights(n=100)
    with pytest.raises(ValueError, match="init"):
        quantize(w, "cws", 4, init="random")
    with pytest.raises(ValueError, match="lam"):
        quantize(w, "ecsq", 4, lam=-1.0)
    with pytest.raises(TypeError):
        quantize(w, "uq", 4, init="linear")  # not an option of UQ


@pytest.mark.parametrize("method", METHODS)
def test_levels_stay_within_the_range_of_the_weights(method):
    # a single-value cluster at the maximum, whose mean from prefix sums used to
    # round a little above it
    w = np.array([0.5, 0.0, 1.0, 2.0])
    codebook, idx = quantize(w, method, k=3)
    check_contract(w, codebook, idx, 3, method)


def _fit_bounded(method, w, k, seconds=60.0):
    """quantize() in a daemon thread, failing instead of hanging past ``seconds``."""
    import threading

    out = {}

    def run():
        try:
            out["r"] = quantize(w, method, k=k, seed=0)
        except Exception as e:  # noqa: BLE001 - re-raised in the test thread
            out["e"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{method} did not return within {seconds} s"
    if "e" in out:
        raise out["e"]
    return out["r"]


HUGE = [np.array([-1.7e308, -1e308, -1.0, 0.0, 2.0, 1e308, 1.7e308]),
        np.concatenate([np.linspace(-1.0, 1.0, 400) * 1.7e308, np.linspace(-1, 1, 200)]),
        np.linspace(1e200, 1.5e200, 300)]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", range(len(HUGE)))
@pytest.mark.parametrize("k", [1, 2, 4, 16])
def test_weights_whose_range_overflows_never_hang_nan_or_collapse(method, case, k):
    w = HUGE[case]
    cb, idx = _fit_bounded(method, w, k)
    assert np.isfinite(cb).all()
    assert 1 <= cb.size <= k
    e = int(np.frexp(np.abs(w).max())[1])
    ordinary, _ = quantize(np.ldexp(w, -e), method, k=k, seed=0)   # same weights, max in [0.5, 1)
    np.testing.assert_allclose(cb, np.ldexp(ordinary, e), rtol=1e-12)   # the fit is scale-free
    if k > 1 and method != "ecsq":   # ECSQ may merge tiny inputs to one level at any scale
        assert cb.size > 1, f"{method} returned one level for k={k} on {np.unique(w).size} values"
    assert cb.min() >= w.min() and cb.max() <= w.max()
    assert np.array_equal(np.unique(idx), np.arange(cb.size))
    if k == 1 and method == "pws":
        assert cb[0] == pytest.approx(np.ldexp(np.mean(np.ldexp(w, -1024)), 1024), rel=1e-9)
