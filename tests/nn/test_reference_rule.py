"""The reference codebook rules of the retraining hook, and the reference recipes."""
import pytest
import torch
from torch import nn

from compactnn.nn.compress import (RULES, CompressionHook, LayerCompression, TargetSpec,
                                   compress_model)
from compactnn.nn.models import get_model
from compactnn.nn.recipes import get_recipe


def _hook(rule, lr_cum=1e-3, mask=None):
    layer = nn.Linear(3, 2, bias=False)
    codebook = nn.Parameter(torch.tensor([0.0, 0.5, -1.0]))
    # (n, m) = (in, out) = (3, 2) view of the weight
    idx = torch.tensor([[1, 2], [1, 1], [2, 0]])
    lc = LayerCompression("fc", "dense", layer, mask=mask, codebook=codebook, indices=idx)
    return layer, codebook, CompressionHook([lc], rule=rule, lr_cum=lr_cum)


def _step(layer, hook, grad, lr):
    layer.weight.grad = grad.clone()
    hook.before_step()
    with torch.no_grad():  # plain SGD step on the weights
        layer.weight -= lr * layer.weight.grad
    hook.after_step()


def test_reference_centroid_update_is_lr_cum_times_summed_weight_change():
    layer, cb, hook = _hook("reference", lr_cum=0.1)
    assert hook.parameters() == []  # the optimizer moves the weights, not the codebook
    # weight (out=2, in=3); matrix entry (i, j) is weight[j, i]
    grad = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    _step(layer, hook, grad, lr=0.5)
    # w_before - w_after = 0.5 * grad; index 1 holds entries (0,0),(1,0),(1,1) = grads 1, 2, 5
    # index 2: (0,1),(2,0) = grads 4, 3; index 0: (2,1) = grad 6
    expected = torch.tensor([0.0 - 0.1 * 0.5 * 6, 0.5 - 0.1 * 0.5 * (1 + 2 + 5),
                             -1.0 - 0.1 * 0.5 * (4 + 3)])
    assert torch.allclose(cb.detach(), expected)
    assert torch.equal(layer.weight.detach().T, cb.detach()[hook.layers[0].indices])
    _step(layer, hook, grad, lr=0.5)  # accumulates
    assert torch.allclose(cb.detach(), 2 * expected - torch.tensor([0.0, 0.5, -1.0]))


def test_reference_2021_does_not_accumulate():
    layer, cb, hook = _hook("reference-2021", lr_cum=0.1)
    grad = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    _step(layer, hook, grad, lr=0.5)
    first = cb.detach().clone()
    _step(layer, hook, grad, lr=0.5)
    assert torch.allclose(cb.detach(), first)  # restarted from the initial codebook
    assert not torch.allclose(first, torch.tensor([0.0, 0.5, -1.0]))


def test_reference_rule_ignores_pruned_entries():
    mask = torch.tensor([[True, True], [True, True], [True, False]])  # entry (2,1) pruned
    layer, cb, hook = _hook("reference", lr_cum=0.1, mask=mask)
    _step(layer, hook, torch.ones(2, 3), lr=0.5)
    assert cb.detach()[0] == 0.0  # index 0 is used only by the pruned entry
    hook.check()


def test_paper_rule_still_trains_codebook_through_the_optimizer():
    _, cb, hook = _hook("paper")
    assert hook.parameters() == [cb]


def test_compress_model_picks_reference_rule_with_reference_variant():
    torch.manual_seed(0)
    model = get_model("small_vgg", num_classes=10, in_channels=1, input_size=8, width=4, hidden=64)
    hook = compress_model(model, dense=TargetSpec("pws", p=90, k=8, variant="reference"))
    assert hook.rule == "reference"
    hook.check()
    torch.manual_seed(0)
    model = get_model("small_vgg", num_classes=10, in_channels=1, input_size=8, width=4, hidden=64)
    hook = compress_model(model, dense=TargetSpec("cws", p=90, k=8), variant="reference",
                          rule="reference-2021")
    assert hook.rule == "reference-2021" and hook.parameters() == []
    assert set(RULES) == {"paper", "reference", "reference-2021"}
    with pytest.raises(ValueError, match="rule"):
        compress_model(model, dense=TargetSpec("cws", k=8), rule="keras")
    with pytest.raises(ValueError, match="variant"):
        TargetSpec("cws", k=8, variant="authors")


def test_deepdta_reference_recipe_has_smiles_filter_length_12():
    recipe = get_recipe("deepdta-davis-reference")
    model = get_model("deepdta", **recipe.model)
    assert model.ligand.convs[0].kernel_size == (12,)
    assert model.protein.convs[0].kernel_size == (8,)
    assert get_recipe("deepdta-kiba-reference").model["smiles_filter_length"] == 12
    assert get_model("deepdta").ligand.convs[0].kernel_size == (4,)  # paper default kept


def test_vgg_reference_recipes():
    cifar = get_recipe("vgg19-cifar10-reference")
    assert (cifar.epochs, cifar.weight_decay, cifar.lr_schedule.milestones) == (200, 2e-4, (80, 160))
    assert cifar.input_transform == "imagenet-mean" and cifar.conv_init == "imagenet"
    mnist = get_recipe("vgg19-mnist-reference")
    assert mnist.epochs == 200 and [mnist.lr * mnist.lr_schedule(e) for e in (0, 100, 199)] == \
        pytest.approx([0.1, 0.01, 0.001])


def test_imagenet_mean_transform_and_conv_weight_file(tmp_path):
    import dataclasses

    import numpy as np

    from compactnn.data.dataset import Dataset
    from compactnn.nn.models import load_conv_weights

    x = np.full((4, 3, 2, 2), 0.5, dtype=np.float32)
    ds = Dataset("toy", x, np.zeros(4, dtype=np.int64), x.copy(), np.zeros(4, dtype=np.int64),
                 "classification", 10, (3, 2, 2))
    out = get_recipe("vgg19-cifar10-reference").prepare(ds)
    assert np.allclose(out.x_train[0, :, 0, 0], [127.5 - 123.68, 127.5 - 116.779, 127.5 - 103.939])
    gray = dataclasses.replace(ds, input_shape=(1, 2, 2))
    with pytest.raises(ValueError, match="RGB"):
        get_recipe("vgg19-cifar10-reference").prepare(gray)

    model = get_model("small_vgg", num_classes=10, in_channels=1, input_size=8, width=2, hidden=8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    kernels = {f"k{i}": np.full(tuple(c.weight.shape), float(i), np.float32).transpose(2, 3, 1, 0)
               for i, c in enumerate(convs)}  # Keras layout
    np.savez(tmp_path / "convs.npz", **kernels)
    assert load_conv_weights(model, tmp_path / "convs.npz") == len(convs)
    assert all(torch.all(c.weight == i) for i, c in enumerate(convs))
    with pytest.raises(FileNotFoundError, match="offline"):
        load_conv_weights(model, tmp_path / "missing.npz")
