"""quantize_layers: one shared codebook (unified) or one per layer."""
import numpy as np
import pytest

from compactnn.quantize import magnitude_mask, quantize, quantize_layers

from .test_common import METHODS, weights


def layers(dtype=np.float32):
    return [weights(seed=1, shape=(40, 30), dtype=dtype), weights(seed=2, shape=(7, 5, 3), dtype=dtype) * 3,
            weights(seed=3, shape=(500,), dtype=dtype)]


@pytest.mark.parametrize("method", METHODS)
def test_unified_mode_shares_one_codebook_fitted_on_all_layers(method):
    ls = layers()
    pairs = quantize_layers(ls, method, 8, seed=7, unified=True)
    assert len(pairs) == 3 and all(cb is pairs[0][0] for cb, _ in pairs)
    assert pairs[0][0].size <= 8
    flat_cb, flat_idx = quantize(np.concatenate([w.ravel() for w in ls]), method, 8, seed=7)
    assert np.array_equal(flat_cb, pairs[0][0])
    assert np.array_equal(flat_idx, np.concatenate([idx.ravel() for _, idx in pairs]))
    for w, (_, idx) in zip(ls, pairs):
        assert idx.shape == w.shape and idx.dtype == np.int32


@pytest.mark.parametrize("method", METHODS)
def test_per_layer_mode_fits_each_layer_on_its_own(method):
    ls = layers()
    pairs = quantize_layers(ls, method, 4, seed=7, unified=False)
    for w, (cb, idx) in zip(ls, pairs):
        assert cb.size <= 4 and idx.shape == w.shape
        assert cb.min() >= w.min() and cb.max() <= w.max()  # fitted on this layer only
    again = quantize_layers(ls, method, 4, seed=7, unified=False)
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) for a, b in zip(pairs, again))


def test_one_layer_in_unified_mode_equals_quantize():
    w = weights(seed=9)
    (cb, idx), = quantize_layers([w], "pws", 16, seed=3)
    cb2, idx2 = quantize(w, "pws", 16, seed=3)
    assert np.array_equal(cb, cb2) and np.array_equal(idx, idx2)


@pytest.mark.parametrize("unified", [True, False])
def test_masks_apply_pr_x_to_every_layer(unified):
    ls = layers()
    masks = [magnitude_mask(w, 80) for w in ls]
    pairs = quantize_layers(ls, "cws", 8, masks=masks, unified=unified)
    for w, m, (cb, idx) in zip(ls, masks, pairs):
        assert np.count_nonzero(cb == 0) == 1 and np.count_nonzero(cb) <= 8
        assert np.all(cb[idx][~m] == 0)


def test_unified_mode_refuses_layers_of_different_dtypes():
    with pytest.raises(TypeError, match="one dtype"):
        quantize_layers([np.ones(3, np.float32), np.ones(3)], "uq", 2)
    quantize_layers([np.ones(3, np.float32), np.ones(3)], "uq", 2, unified=False)  # fine


@pytest.mark.parametrize("unified", [True, False])
def test_bad_layer_lists_are_refused(unified):
    w = weights(n=100)
    with pytest.raises(ValueError, match="non-empty sequence"):
        quantize_layers([], "cws", 2, unified=unified)
    with pytest.raises(ValueError, match="non-empty sequence"):
        quantize_layers(w, "cws", 2, unified=unified)  # an array, not a list of arrays
    with pytest.raises(ValueError, match="one per layer"):
        quantize_layers([w, w], "cws", 2, masks=[np.ones(100, bool)], unified=unified)
    with pytest.raises(ValueError, match="empty"):
        quantize_layers([w, np.zeros(0, np.float32)], "cws", 2, unified=unified)
