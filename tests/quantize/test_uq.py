"""UQ: evenly spaced levels with the finest step leaving at most k of them."""
import numpy as np
import pytest

from compactnn.quantize import magnitude_mask, quantize, uq_step

from .test_common import weights


@pytest.mark.parametrize("k", [2, 3, 16, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_lie_on_one_evenly_spaced_grid(k, dtype):
    w = weights(n=5000, dtype=dtype, seed=k)
    codebook, idx = quantize(w, "uq", k)
    delta, lo = uq_step(w, k)
    assert codebook.size <= k and codebook[0] == w.min() == lo
    steps = (codebook.astype(np.float64) - lo) / delta
    assert np.allclose(steps, np.round(steps), rtol=0, atol=1e-3 if dtype == np.float32 else 1e-9)
    # nearest level (up to the float cast), ties rounding up
    assert np.all(np.abs(codebook[idx] - w) <= delta / 2 * (1 + 1e-5) + 1e-7)


def test_step_is_the_finest_that_leaves_k_levels():
    # values 0, 0.01, ..., 1 with k = 11 levels from 0: any step above 1/10.5 rounds 1.0
    # to level 10 (11 levels); at 1/10.5 it would round up to a 12th level
    w = np.linspace(0, 1, 101)
    delta, lo = uq_step(w, 11)
    assert lo == 0 and delta == pytest.approx(1 / 10.5, rel=1e-6) and delta > 1 / 10.5


def test_empty_stretches_of_the_range_cost_no_levels():
    # after pruning, the kept weights leave a gap around zero: the grid gets finer
    w = weights(n=4000, dtype=np.float64)
    mask = magnitude_mask(w, 90)
    full_range_step = (w[mask].max() - w[mask].min()) / 7
    delta, _ = uq_step(w[mask], 8)
    assert delta < full_range_step
    codebook, _ = quantize(w, "uq", 8, mask=mask)
    assert np.count_nonzero(codebook) <= 8


def test_k_equal_1_gives_the_midrange():
    w = np.array([-1.0, 0.0, 5.0])
    assert quantize(w, "uq", 1)[0].tolist() == [2.0]


def test_data_with_few_clumps_gets_a_fine_grid():
    w = np.array([0.0, 0.0, 1.0, 1.0, 3.0])
    codebook, idx = quantize(w, "uq", 3)
    assert np.allclose(codebook[idx], w, atol=1e-6)
