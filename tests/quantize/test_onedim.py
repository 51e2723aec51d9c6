"""The O(n) searchsorted used to assign millions of weights matches numpy.searchsorted."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compactnn.quantize import _onedim


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("n_keys", [2, 9, 33, 1025])
def test_fast_searchsorted_matches_numpy_on_large_inputs(side, n_keys):
    rng = np.random.default_rng(n_keys)
    v = rng.normal(size=1 << 16).astype(np.float32)
    keys = np.quantile(v.astype(np.float64), np.linspace(0, 1, n_keys))
    keys = np.sort(np.concatenate([keys, keys[:3], v[:5], [0.0]]))  # duplicates, exact hits
    assert np.array_equal(_onedim.searchsorted(keys, v, side), np.searchsorted(keys, v, side))


@settings(max_examples=25, deadline=None)
@given(keys=hnp.arrays(np.float64, st.integers(8, 40), elements=st.floats(-5, 5)),
       side=st.sampled_from(["left", "right"]))
def test_fast_searchsorted_matches_numpy_for_any_sorted_keys(keys, side):
    keys = np.sort(keys)
    v = np.concatenate([np.linspace(-6, 6, 1 << 15), keys, np.nextafter(keys, np.inf)])
    assert np.array_equal(_onedim.searchsorted(keys, v, side), np.searchsorted(keys, v, side))
