"""Layer access: the (n, m) matrix view is the one the formats multiply by."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compactnn.nn import compressible_layers, set_weight_matrix, weight_matrix


def test_dense_matrix_is_weight_transposed_and_computes_the_layer():
    layer = nn.Linear(5, 3)
    x = torch.randn(4, 5)
    w = weight_matrix(layer)
    assert w.shape == (5, 3)
    torch.testing.assert_close(x @ w + layer.bias, layer(x))


def test_conv2d_matrix_is_the_im2col_view():
    layer = nn.Conv2d(3, 6, 3, padding=1)
    x = torch.randn(2, 3, 5, 5)
    w = weight_matrix(layer)
    assert w.shape == (3 * 9, 6)
    cols = F.unfold(x, 3, padding=1).transpose(1, 2)  # (batch, positions, in*kh*kw)
    out = (cols @ w + layer.bias).transpose(1, 2).reshape(2, 6, 5, 5)
    torch.testing.assert_close(out, layer(x))


def test_conv1d_matrix_has_in_times_kernel_rows():
    layer = nn.Conv1d(4, 7, 3)
    assert weight_matrix(layer).shape == (12, 7)


def test_matrix_view_shares_memory_with_the_weight():
    layer = nn.Linear(3, 2)
    set_weight_matrix(layer, torch.arange(6.0).reshape(3, 2))
    assert torch.equal(layer.weight, torch.arange(6.0).reshape(3, 2).T)
    with pytest.raises(ValueError, match="shape"):
        set_weight_matrix(layer, torch.zeros(2, 3))


def test_weight_matrix_rejects_other_layers():
    with pytest.raises(TypeError):
        weight_matrix(nn.Embedding(3, 2))


def test_compressible_layers_split_dense_and_conv_in_order_and_skip_embeddings():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Conv1d(4, 4, 2), nn.Linear(4, 3),
                          nn.Conv2d(1, 2, 3), nn.Linear(3, 1), nn.BatchNorm1d(1))
    layers = compressible_layers(model)
    assert [r.name for r in layers["dense"]] == ["2", "4"]
    assert [r.name for r in layers["conv"]] == ["1", "3"]
    assert layers["conv"][1].shape == (9, 2)
    assert all(r.kind == "dense" for r in layers["dense"])
