"""``formats._coding.symbolize``: both of its paths give ``np.unique``'s answer."""
import numpy as np
import pytest

from compactnn.formats import _coding


def _expected(values):
    bits = values.view(np.uint32 if values.dtype == np.float32 else np.uint64)
    uniq, inverse, counts = np.unique(bits, return_inverse=True, return_counts=True)
    return uniq.view(values.dtype), inverse.reshape(-1), counts


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["few", "many", "small", "signed_zeros", "one_value"])
def test_symbolize_equals_unique(dtype, case):
    rng = np.random.default_rng(7)
    if case == "few":  # the hash path: a quantized, pruned layer
        levels = rng.standard_normal(17)
        values = np.where(rng.random(50_000) < 0.2, levels[rng.integers(0, 17, 50_000)], 0.0)
    elif case == "many":  # the sort path: every value distinct
        values = rng.standard_normal(50_000)
    elif case == "small":  # below the sampling size
        values = rng.integers(-3, 3, 100).astype(float)
    elif case == "signed_zeros":
        values = np.where(rng.random(10_000) < 0.5, 0.0, -0.0)
    else:
        values = np.full(8192, 0.25)
    values = np.ascontiguousarray(values, dtype=dtype)
    got, want = _coding.symbolize(values), _expected(values)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g.view(np.uint8), w.view(np.uint8))
    if case == "signed_zeros":
        assert got[0].size == 2  # -0.0 and 0.0 stay two symbols
