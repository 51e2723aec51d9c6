"""Magnitude pruning: exact count, order by magnitude, deterministic ties, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compactnn.quantize import magnitude_mask, n_pruned


def test_prunes_exactly_floor_p_n_over_100_entries():
    w = np.random.default_rng(0).normal(size=(37, 11)).astype(np.float32)
    for p in [0, 30, 50, 90, 95, 99, 99.9]:
        mask = magnitude_mask(w, p)
        assert mask.dtype == np.bool_ and mask.shape == w.shape
        assert np.count_nonzero(~mask) == n_pruned(w.size, p) == int(np.floor(p * w.size / 100))


def test_pruned_count_is_computed_exactly_not_in_floating_point():
    # 0.7 * 10 and 0.3 * 10 are not exact in binary floating point
    assert n_pruned(10, 70) == 7 and n_pruned(10, 30) == 3 and n_pruned(3, 99.99) == 2


def test_p_zero_keeps_everything_and_at_least_one_weight_survives():
    w = np.arange(1.0, 6.0)
    assert magnitude_mask(w, 0).all()
    assert np.count_nonzero(magnitude_mask(w, 99.999)) == 1


def test_ties_prune_earlier_entries_in_c_order_first():
    w = np.array([[1.0, -1.0, 1.0], [3.0, 1.0, -1.0]])
    mask = magnitude_mask(w, 50)  # 3 of the five entries with |w| = 1
    assert mask.tolist() == [[False, False, False], [True, True, True]]


def test_repruning_keeps_already_pruned_zeros_pruned():
    w = np.random.default_rng(1).normal(size=1000)
    w1 = np.where(magnitude_mask(w, 50), w, 0.0)
    mask2 = magnitude_mask(w1, 80)
    assert not mask2[w1 == 0].any()


@settings(max_examples=30, deadline=None)
@given(
    w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=12),
                 elements=st.floats(-10, 10, width=32)),
    p=st.floats(0, 99.99),
)
def test_every_pruned_magnitude_is_at_most_every_kept_magnitude(w, p):
    mask = magnitude_mask(w, p)
    assert np.count_nonzero(~mask) == n_pruned(w.size, p)
    if (~mask).any():
        assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min()
    assert np.array_equal(mask, magnitude_mask(w.copy(), p))  # deterministic


@pytest.mark.parametrize("p", [100, 100.5, -1, float("nan")])
def test_percentile_outside_0_100_is_a_value_error(p):
    with pytest.raises(ValueError, match="p must lie in"):
        magnitude_mask(np.ones(4), p)


@pytest.mark.parametrize("p", [True, "50", None])
def test_percentile_that_is_not_a_number_is_a_type_error(p):
    with pytest.raises(TypeError):
        magnitude_mask(np.ones(4), p)


@pytest.mark.parametrize("w, exc, msg", [
    (np.arange(4), TypeError, "float32 or float64"),
    (np.ones(4, dtype=np.float16), TypeError, "float32 or float64"),
    (np.ones(0), ValueError, "empty"),
    (np.array([1.0, np.nan]), ValueError, "NaN or Inf"),
    (np.array([1.0, -np.inf]), ValueError, "NaN or Inf"),
])
def test_bad_weights_are_refused_with_a_clear_message(w, exc, msg):
    with pytest.raises(exc, match=msg):
        magnitude_mask(w, 50)
