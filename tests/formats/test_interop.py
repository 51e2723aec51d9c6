"""Interop with scipy.sparse, torch and NumPy, for every registered format."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from _matrices import FORMAT_NAMES, build, same_bits  # noqa: E402

pytestmark = pytest.mark.kernel

# n = 3 inputs, m = 4 outputs, a pruned and quantized pattern with an empty column
W0 = np.array([[0.0, 1.5, 0.0, -2.0],
               [0.5, 0.0, 0.0, 1.5],
               [0.0, -2.0, 0.0, 0.5]], dtype=np.float32)

SPARSE = [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array, sp.coo_array]


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("make", SPARSE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_dense_accepts_scipy_sparse_without_warnings(name, make, dtype):
    W = W0.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M = build(name, make(W))
    assert same_bits(M.to_dense(), W)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grad", [False, True])
def test_from_dense_accepts_torch_tensors_without_warnings(name, dtype, grad):
    T = torch.tensor(W0, dtype=dtype, requires_grad=grad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M = build(name, T)
    assert M.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    assert np.array_equal(M.to_dense(), W0)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32])
def test_torch_weights_of_other_dtypes_are_a_type_error(name, dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        build(name, torch.tensor(W0).to(dtype))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_from_dense_accepts_another_format(name):
    M = build(name, build("sham", W0))
    assert same_bits(M.to_dense(), W0)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("kind, cls", [("csr", sp.csr_array), ("csc", sp.csc_array)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_scipy_and_toarray(name, kind, cls, dtype):
    W = W0.astype(dtype)
    M = build(name, W)
    S = M.to_scipy(kind)
    assert isinstance(S, cls)
    assert S.shape == W.shape and S.dtype == W.dtype and S.nnz == M.nnz == np.count_nonzero(W)
    assert same_bits(S.toarray(), W)
    assert same_bits(M.toarray(), M.to_dense())
    assert isinstance(M.to_scipy(), sp.csr_array)  # csr by default


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("kind", ["coo", "CSR", "", None])
def test_to_scipy_of_other_kinds_is_a_value_error(name, kind):
    with pytest.raises(ValueError, match="'csr' or 'csc'"):
        build(name, W0).to_scipy(kind)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("xshape", [(5, 3), (1, 3), (3,)])
def test_torch_x_at_w_returns_a_tensor_of_x_dtype(name, dtype, xshape):
    M = build(name, W0)
    X = torch.linspace(-1, 1, int(np.prod(xshape))).reshape(xshape).to(dtype)
    Y = X @ M
    assert isinstance(Y, torch.Tensor) and Y.dtype == dtype and Y.device == X.device
    assert tuple(Y.shape) == xshape[:-1] + (4,)
    expected = X.to(torch.float64).numpy() @ W0.astype(np.float64)
    tol = 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-5
    np.testing.assert_allclose(Y.to(torch.float64).numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_torch_x_that_requires_grad_is_refused_outside_no_grad(name):
    M = build(name, W0)
    X = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="no_grad"):
        X @ M
    with torch.no_grad():
        Y = X @ M
    assert torch.equal(Y, torch.ones(2, 3) @ torch.tensor(W0))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_torch_integer_x_is_a_type_error(name):
    with pytest.raises(TypeError, match="float"):
        torch.ones(2, 3, dtype=torch.int64) @ build(name, W0)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("Y", [np.ones((4, 2), np.float32), torch.ones(4, 2), sp.csr_array(np.ones((4, 2)))],
                         ids=["numpy", "torch", "scipy"])
def test_w_at_y_is_a_type_error_naming_the_supported_side(name, Y):
    with pytest.raises(TypeError, match=r"X @ W \(the matrix on the right\)"):
        build(name, W0) @ Y


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda M: np.array([M, M])],
                         ids=["asarray", "array", "list"])
def test_numpy_conversion_is_a_type_error_pointing_to_to_dense(name, convert):
    with pytest.raises(TypeError, match=r"to_dense\(\)"):
        convert(build(name, W0))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_numpy_x_at_w_still_works(name):
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(X @ build(name, W0), X @ W0, rtol=1e-6)
