"""Networks: layer shapes, forward shapes, registry, save/load."""
import pytest
import torch
from torch import nn

from compactnn.errors import UnknownNameError
from compactnn.nn import (MODELS, DeepDTA, SmallVGG, VGG19, compressible_layers, get_model,
                          load_model, save_model)


@pytest.fixture(scope="module")
def vgg_mnist():
    torch.manual_seed(0)
    return VGG19(num_classes=10, in_channels=1, input_size=28).eval()


def test_vgg19_dense_layers_are_512x4096_4096x4096_4096x10(vgg_mnist):
    layers = compressible_layers(vgg_mnist)
    assert [ref.shape for ref in layers["dense"]] == [(512, 4096), (4096, 4096), (4096, 10)]


def test_vgg19_has_16_conv3x3_layers_with_the_vgg_widths(vgg_mnist):
    convs = compressible_layers(vgg_mnist)["conv"]
    widths = [ref.module.out_channels for ref in convs]
    assert widths == [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8
    assert all(ref.module.kernel_size == (3, 3) for ref in convs)
    assert convs[0].shape == (1 * 9, 64) and convs[1].shape == (64 * 9, 64)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in vgg_mnist.modules()) == 16
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg_mnist.modules()) == 5


def test_vgg19_pads_mnist_by_two_zero_pixels_per_side(vgg_mnist):
    pad = vgg_mnist.features[0]
    assert isinstance(pad, nn.ZeroPad2d) and tuple(pad.padding) == (2, 2, 2, 2)
    with torch.no_grad():
        assert vgg_mnist(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_vgg19_cifar_takes_32x32_colour_without_padding():
    model = VGG19(num_classes=10, in_channels=3, input_size=32).eval()
    assert not isinstance(model.features[0], nn.ZeroPad2d)
    assert [r.shape for r in compressible_layers(model)["dense"]][0] == (512, 4096)
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("smi_len,seq_len", [(85, 1200), (100, 1000)])  # DAVIS, KIBA
def test_deepdta_forward_gives_one_affinity_per_pair(smi_len, seq_len):
    model = DeepDTA().eval()
    lig = torch.randint(0, 65, (3, smi_len))
    prot = torch.randint(0, 26, (3, seq_len))
    with torch.no_grad():
        assert model(lig, prot).shape == (3,)


def test_deepdta_layers_follow_the_original_hyper_parameters():
    layers = compressible_layers(DeepDTA())
    assert [r.shape for r in layers["dense"]] == [(192, 1024), (1024, 1024), (1024, 512), (512, 1)]
    convs = [r.module for r in layers["conv"]]
    assert [c.out_channels for c in convs] == [32, 64, 96] * 2
    assert [c.kernel_size[0] for c in convs] == [4] * 3 + [8] * 3
    assert layers["conv"][0].shape == (128 * 4, 32)


def test_small_vgg_forward_and_layers():
    model = SmallVGG().eval()
    layers = compressible_layers(model)
    assert len(layers["conv"]) == 4 and len(layers["dense"]) == 3
    with torch.no_grad():
        assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_get_model_builds_every_registered_name():
    assert set(MODELS) == {"vgg19", "deepdta", "small_vgg"}
    assert isinstance(get_model("small_vgg", hidden=16), SmallVGG)


def test_get_model_rejects_unknown_names():
    with pytest.raises(UnknownNameError, match="vgg16"):
        get_model("vgg16")


def test_save_and_load_round_trip(tmp_path):
    model = get_model("small_vgg", width=4, hidden=8).eval()
    save_model(model, tmp_path / "m.safetensors", "small_vgg", {"width": 4, "hidden": 8})
    back = load_model(tmp_path / "m.safetensors")
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), back(x))


def test_every_public_name_of_compactnn_nn_resolves():
    import compactnn.nn as cnn
    for name in cnn.__all__:
        assert getattr(cnn, name) is not None
    with pytest.raises(AttributeError):
        cnn.no_such_name
