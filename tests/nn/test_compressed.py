"""Compressed modules: the same outputs as the dense quantized layers, through the kernels."""
import pytest
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from compactnn.formats import FORMATS
from compactnn.nn import TargetSpec, compress_model, fit, get_model, weight_matrix
from compactnn.nn.compressed import (CompressedConv1d, CompressedConv2d, CompressedLinear,
                                     computable_in_c, to_compressed)

ALL = sorted(FORMATS)


def close(a, b, rel=1e-4):
    scale = max(float(b.abs().max()), 1e-6)
    assert float((a - b).abs().max()) <= rel * scale


@pytest.fixture(scope="module")
def mnist_quantized():
    """SmallVGG on the embedded default, one short epoch, then Pr-CWS p=90 k=32 on both families."""
    from compactnn.data import get_dataset
    ds = get_dataset("mnist5k")
    torch.manual_seed(0)
    model = get_model("small_vgg", num_classes=10, in_channels=1, input_size=28)
    fit(model, (ds.x_train[:1000], ds.y_train[:1000]), epochs=1, batch_size=64, progress=False)
    hook = compress_model(model, dense=TargetSpec("cws", p=90, k=32),
                          conv=TargetSpec("cws", p=90, k=32))
    model.eval()
    return model, hook, torch.as_tensor(ds.x_test)


@pytest.mark.parametrize("fmt", ALL)
def test_compressed_small_vgg_predicts_as_the_dense_quantized_model(mnist_quantized, fmt):
    model, hook, x = mnist_quantized
    comp = to_compressed(model, hook, formats=fmt)
    assert all(isinstance(comp.get_submodule(lc.name), (CompressedLinear, CompressedConv2d))
               for lc in hook.layers)
    cls = FORMATS[fmt]
    # threads apply to the package's own kernels; NumPy/SciPy products ignore them
    thread_counts = (1, 2) if cls.threaded and not cls.baseline else (1,)
    with torch.no_grad():
        ref = torch.cat([model(x[i:i + 256]) for i in range(0, len(x), 256)])
        for threads in thread_counts:
            for m in comp.modules():
                if hasattr(m, "matrix"):
                    m.threads = threads
            for batch in (256, 1):  # the whole test split at each batch size
                with threadpool_limits(1, user_api="blas"):  # no BLAS pool spinning beside torch's
                    got = torch.cat([comp(x[i:i + batch]) for i in range(0, len(x), batch)])
                assert torch.equal(got.argmax(1), ref.argmax(1)), (threads, batch)
                close(got, ref)


def test_smallest_picks_a_c_format_with_the_fewest_bytes(mnist_quantized):
    model, hook, _ = mnist_quantized
    comp = to_compressed(model, hook)
    for lc in hook.layers:
        M = comp.get_submodule(lc.name).matrix
        assert computable_in_c(type(M))
        W = weight_matrix(lc.module).detach().numpy()
        for name, cls in FORMATS.items():
            if computable_in_c(cls):
                assert M.nbytes <= cls.from_dense(W).nbytes
    assert isinstance(model.get_submodule(hook.layers[0].name), nn.Module)  # original untouched
    assert not hasattr(model.get_submodule(hook.layers[0].name), "matrix")


def test_deepdta_small_compressed_mse_matches():
    torch.manual_seed(0)
    model = get_model("deepdta", embed_dim=8, num_filters=4).eval()
    hook = compress_model(model, dense=TargetSpec("cws", p=90, k=32), conv=TargetSpec("cws", p=50, k=16))
    g = torch.Generator().manual_seed(0)
    lig, prot = torch.randint(0, 65, (32, 20), generator=g), torch.randint(0, 26, (32, 40), generator=g)
    y = torch.randn(32, generator=g)
    comp = to_compressed(model, hook, formats="sham")
    assert isinstance(comp.ligand.convs[0], CompressedConv1d)
    with torch.no_grad():
        ref, got = model(lig, prot), comp(lig, prot)
    close(got, ref)
    assert abs(float(((got - y) ** 2).mean()) - float(((ref - y) ** 2).mean())) < 1e-5


@pytest.mark.parametrize("conv", [
    nn.Conv2d(3, 5, 3, stride=2, padding=1, dilation=1), nn.Conv2d(3, 5, (2, 3), padding="same"),
    nn.Conv2d(3, 4, 3, dilation=2, padding_mode="reflect", padding=2), nn.Conv1d(3, 4, 5, stride=2, padding=1)])
def test_conv_hyper_parameters_are_kept(conv):
    x = torch.randn(2, 3, 11, 9) if isinstance(conv, nn.Conv2d) else torch.randn(2, 3, 17)
    comp = to_compressed(nn.Sequential(conv), formats="csr")
    with torch.no_grad():
        close(comp(x), conv(x), rel=1e-5)


def test_bad_inputs_and_layers_give_clear_errors():
    lin = nn.Linear(4, 3)
    comp = to_compressed(nn.Sequential(lin), formats="ham")
    with pytest.raises(RuntimeError, match="inference only"):
        comp(torch.randn(2, 4, requires_grad=True))
    with torch.no_grad():
        comp(torch.randn(2, 4, requires_grad=True))
        assert comp(torch.randn(4)).shape == (3,)
    with pytest.raises(TypeError, match="float32"):
        comp(torch.randn(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="groups"):
        to_compressed(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)))
    with pytest.raises(ValueError, match="not compressed"):
        to_compressed(nn.Sequential(lin), formats={"nope": "csr"})
