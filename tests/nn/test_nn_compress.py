"""Compression state and its training hook: the model stays exactly representable."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compactnn.errors import CompactnnError
from compactnn.nn import CompressionHook, TargetSpec, compress_model, fit, weight_matrix

METHODS = ("cws", "pws", "uq", "ecsq")


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 4))  # >= 3k kept weights for ECSQ


def tiny_data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = (x[:, 0, :4].mean((1, 2)) * 3).long().clamp(max=2)
    return x, y


def grad_matrix(module):
    g = module.weight.grad
    return g.reshape(g.shape[0], -1).T


def snapshot(hook):
    return [(lc.mask.clone() if lc.mask is not None else None,
             lc.indices.clone() if lc.indices is not None else None) for lc in hook.layers]


def assert_representable(hook):
    hook.check()  # raises CompactnnError otherwise; spelled out below as well
    for lc in hook.layers:
        w = weight_matrix(lc.module).detach()
        if lc.codebook is not None:
            assert torch.equal(w, lc.codebook.detach()[lc.indices])
        if lc.mask is not None:
            assert torch.all(w[~lc.mask] == 0)


@pytest.mark.parametrize("unified", [False, True], ids=["per-layer", "unified"])
@pytest.mark.parametrize("p", [None, 50], ids=["ws", "pr-ws"])
@pytest.mark.parametrize("method", METHODS)
def test_retraining_keeps_weights_equal_to_codebook_of_indices(method, p, unified):
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec(method, p=p, k=8, unified=unified),
                          conv=TargetSpec(method, p=p, k=4, unified=unified), seed=1)
    assert_representable(hook)
    before = [cb.detach().clone() for cb in hook.codebooks]
    state = snapshot(hook)
    fit(model, tiny_data(), epochs=2, lr=1e-2, batch_size=16, hooks=[hook], progress=False)
    assert_representable(hook)
    for (m0, i0), lc in zip(state, hook.layers):  # masks and indices never move
        assert m0 is None or torch.equal(m0, lc.mask)
        assert torch.equal(i0, lc.indices)
    changed = [not torch.equal(b, cb.detach()) for b, cb in zip(before, hook.codebooks)]
    assert all(changed), "every codebook is trained"
    assert len(hook.codebooks) == (2 if unified else len(hook.layers))


def test_pruning_only_keeps_pruned_weights_at_exact_zero():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec(p=80), conv=TargetSpec(p=30))
    kept = [weight_matrix(lc.module).detach().clone() for lc in hook.layers]
    fit(model, tiny_data(), epochs=2, lr=1e-2, batch_size=16, hooks=[hook], progress=False)
    assert_representable(hook)
    for k0, lc in zip(kept, hook.layers):
        w = weight_matrix(lc.module).detach()
        assert lc.mask.float().mean() < 0.75
        assert not torch.equal(w[lc.mask], k0[lc.mask]), "kept weights are trained"
    assert hook.parameters() == []


@pytest.mark.parametrize("unified", [False, True], ids=["per-layer", "unified"])
def test_codebook_gradient_is_the_sum_of_the_weight_gradients(unified):
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("cws", p=40, k=6, unified=unified),
                          conv=TargetSpec("uq", k=5, unified=unified))
    x, y = tiny_data(16)
    F.cross_entropy(model(x), y).backward()
    grads = {lc.name: grad_matrix(lc.module).double().clone() for lc in hook.layers}
    hook.before_step()
    for cb in hook.codebooks:
        expected = torch.zeros(cb.numel(), dtype=torch.float64)
        for lc in hook.layers:
            if lc.codebook is not cb:
                continue
            kept = lc.mask if lc.mask is not None else torch.ones_like(lc.indices, dtype=torch.bool)
            for slot in range(cb.numel()):
                expected[slot] += grads[lc.name][(lc.indices == slot) & kept].sum()
            if lc.mask is not None:  # the zero of Pr-X is not trained
                expected[lc.indices[~lc.mask]] = 0.0
        torch.testing.assert_close(cb.grad.double(), expected, rtol=1e-5, atol=1e-7)
    for lc in hook.layers:  # the optimizer moves the codebook, never the weight itself
        assert lc.module.weight.grad is None


def test_unified_gradient_sums_over_all_layers_sharing_the_codebook():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("cws", k=4, unified=True))
    (cb,) = hook.codebooks
    x, y = tiny_data(8)
    F.cross_entropy(model(x), y).backward()
    per_layer = [torch.zeros(cb.numel()).index_add_(0, lc.indices.flatten(),
                                                    grad_matrix(lc.module).flatten())
                 for lc in hook.layers]
    hook.before_step()
    torch.testing.assert_close(cb.grad, per_layer[0] + per_layer[1])


def test_pruned_gradient_is_masked_before_the_step():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec(p=50))
    x, y = tiny_data(8)
    F.cross_entropy(model(x), y).backward()
    hook.before_step()
    for lc in hook.layers:
        assert torch.all(grad_matrix(lc.module)[~lc.mask] == 0)


def test_state_dict_restores_codebooks_and_weights():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("pws", p=50, k=8))
    saved = hook.state_dict()
    w0 = [weight_matrix(lc.module).detach().clone() for lc in hook.layers]
    fit(model, tiny_data(), epochs=1, lr=1e-2, batch_size=16, hooks=[hook], progress=False)
    hook.load_state_dict(saved)
    for w, lc in zip(w0, hook.layers):
        assert torch.equal(w, weight_matrix(lc.module).detach())


def test_check_detects_a_weight_that_left_its_codebook():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("cws", k=4))
    with torch.no_grad():
        hook.layers[0].module.weight[0, 0] += 1.0
    with pytest.raises(CompactnnError, match="codebook"):
        hook.check()


def test_export_gives_numpy_arrays_that_rebuild_the_weights():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("cws", p=60, k=4), conv=TargetSpec(p=20))
    out = hook.export()
    assert set(out) == {lc.name for lc in hook.layers}
    dense = out["5"]
    assert dense["indices"].dtype == np.int32 and dense["mask"].dtype == bool
    np.testing.assert_array_equal(dense["codebook"][dense["indices"]], dense["weights"])
    assert np.all(out["0"]["weights"][~out["0"]["mask"]] == 0) and "codebook" not in out["0"]


def test_per_layer_k_and_p_sequences():
    model = tiny_net()
    hook = compress_model(model, dense=TargetSpec("cws", p=[50, 10], k=[8, 2]))
    assert [cb.numel() <= k + 1 for cb, k in zip(hook.codebooks, (8, 2))] == [True, True]
    assert hook.layers[0].mask.float().mean() < hook.layers[1].mask.float().mean()


@pytest.mark.parametrize("kwargs,message", [
    ({}, "method"), ({"method": "cws"}, "k"), ({"p": 50, "k": 4}, "k given"),
    ({"p": 100}, "percentile"), ({"method": "cws", "k": [2, 4], "unified": True}, "single k"),
])
def test_target_spec_rejects_incomplete_or_invalid_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TargetSpec(**kwargs)


def test_target_spec_parses_the_paper_names():
    assert TargetSpec.parse("pr", p=90) == TargetSpec(p=90)
    assert TargetSpec.parse("pr-cws", p=90, k=32) == TargetSpec("cws", 90, 32)
    assert TargetSpec.parse("uPWS", k=32) == TargetSpec("pws", None, 32, unified=True)
    assert TargetSpec.parse("uq", k=32) == TargetSpec("uq", None, 32)
    assert TargetSpec.parse("pr-uecsq", p=50, k=8).unified
    with pytest.raises(ValueError):
        TargetSpec.parse("pr-cws-pws", p=1, k=2)


def test_per_layer_list_must_match_the_number_of_layers():
    with pytest.raises(ValueError, match="per-layer"):
        compress_model(tiny_net(), dense=TargetSpec("cws", k=[2, 4, 8]))


def test_compressing_a_missing_family_is_an_error():
    with pytest.raises(ValueError, match="no conv layers"):
        compress_model(nn.Sequential(nn.Linear(3, 2)), conv=TargetSpec(p=50))


def test_hook_is_a_plain_object_built_from_layer_states():
    hook = compress_model(tiny_net(), conv=TargetSpec("cws", k=4, unified=True))
    assert isinstance(hook, CompressionHook)
    assert {lc.kind for lc in hook.layers} == {"conv"}
    assert hook.layers[0].codebook is hook.layers[1].codebook
