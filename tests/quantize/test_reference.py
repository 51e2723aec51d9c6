"""The "reference" variant (the authors' code) of every method, against the paper's."""
import numpy as np
import pytest

from compactnn.quantize import (ECSQ_REFERENCE_LAMBDAS, UQ_REFERENCE_DELTAS, VARIANTS, distinct_nonzero_values,
                                get_quantizer, magnitude_mask, quantize, quantize_layers)


@pytest.fixture(scope="module")
def laplace():
    return np.random.default_rng(2026).laplace(0.0, 0.02, (256, 256)).astype(np.float32)


@pytest.mark.parametrize("method", ["pws", "cws"])
def test_reference_prx_collapses_to_a_few_nonzero_values_at_p97_k32(laplace, method):
    mask = magnitude_mask(laplace, 97)
    counts = {}
    for variant in VARIANTS:
        cb, idx = quantize(laplace, method, 32, seed=0, mask=mask, variant=variant)
        q = cb[idx]
        assert np.all(q[~mask] == 0) and 0.0 in cb
        counts[variant] = distinct_nonzero_values(q)
    assert counts["paper"] == 32
    assert counts["reference"] <= 4


def test_reference_prx_kept_weights_may_become_zero(laplace):
    mask = magnitude_mask(laplace, 97)
    cb, idx = quantize(laplace, "pws", 32, seed=0, mask=mask, variant="reference")
    assert np.any(cb[idx][mask] == 0)  # the paper variant never does this


@pytest.mark.parametrize("k", [2, 7, 32, 1024])
def test_reference_uq_always_has_zero_as_a_level(k):
    rng = np.random.default_rng(k)
    for w in (rng.normal(0, 0.03, 5000), rng.laplace(0.01, 0.02, 5000)):
        cb, _ = quantize(w.astype(np.float32), "uq", k, variant="reference")
        assert 0.0 in cb and cb.size <= k


def test_reference_uq_grid_is_anchored_at_zero_even_off_centre():
    w = np.random.default_rng(0).normal(0.5, 0.03, 5000)  # float64: exact multiples
    cb, _ = quantize(w, "uq", 32, variant="reference")
    assert any(np.allclose(cb / d, np.round(cb / d), rtol=0, atol=1e-6) for d in UQ_REFERENCE_DELTAS)


def test_reference_uq_contains_zero_on_centered_weights():
    for seed in range(5):
        w = np.random.default_rng(seed).laplace(0, 0.02, 4000).astype(np.float32)
        for k in (3, 16, 64):
            cb, _ = quantize(w, "uq", k, variant="reference")
            assert 0.0 in cb


def test_reference_uq_uses_fewer_levels_than_paper_at_k1024():
    w = np.random.default_rng(1).normal(0, 0.03, 20000).astype(np.float32)
    ref = quantize(w, "uq", 1024, variant="reference")[0].size
    paper = quantize(w, "uq", 1024)[0].size
    assert ref < paper and ref < 1024


def test_reference_ecsq_leaves_more_than_k_clusters_with_vgg_lambdas(laplace):
    k = 32
    cb, idx = quantize(laplace, "ecsq", k, variant="reference", net="vgg19")
    assert cb.size > k
    assert get_quantizer("ecsq")(k).fit(laplace)[0].size <= k


def test_reference_ecsq_lambda_lists_are_data():
    assert set(ECSQ_REFERENCE_LAMBDAS) == {"vgg19", "deepdta"}
    for lists in ECSQ_REFERENCE_LAMBDAS.values():
        for lams in lists.values():
            assert list(lams) == sorted(lams, reverse=True)  # tried largest first


def test_reference_ecsq_large_lambda_merges_clusters(laplace):
    cb_small = quantize(laplace, "ecsq", 8, variant="reference", lam=1e-12)[0]
    cb_big = quantize(laplace, "ecsq", 8, variant="reference", lam=1e-3)[0]
    assert cb_big.size < cb_small.size


def test_reference_cws_is_deterministic_and_at_most_k(laplace):
    a = quantize(laplace, "cws", 16, seed=0, variant="reference")
    b = quantize(laplace, "cws", 16, seed=5, variant="reference")  # fixed random_state
    assert np.array_equal(a[0], b[0]) and a[0].size <= 16


def test_reference_pws_without_mask_equals_paper(laplace):
    a = quantize(laplace, "pws", 16, seed=3, variant="reference")
    b = quantize(laplace, "pws", 16, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_reference_unified_shares_one_codebook(laplace):
    layers = [laplace[:128], laplace[128:]]
    masks = [magnitude_mask(w, 90) for w in layers]
    pairs = quantize_layers(layers, "pws", 16, masks=masks, variant="reference")
    assert pairs[0][0] is pairs[1][0] or np.array_equal(pairs[0][0], pairs[1][0])
    for (cb, idx), w, m in zip(pairs, layers, masks):
        assert idx.shape == w.shape and np.all(cb[idx][~m] == 0)


def test_unknown_variant_is_refused(laplace):
    with pytest.raises(ValueError, match="variant"):
        quantize(laplace, "cws", 4, variant="authors")


def test_distinct_nonzero_values():
    assert distinct_nonzero_values(np.array([0.0, 1.0, 1.0, -2.0, 0.0])) == 2
    assert distinct_nonzero_values(np.zeros(3)) == 0
