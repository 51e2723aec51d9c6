"""Bad input to every format: each error path raises the documented exception."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from compactnn.errors import CompactnnError, UnknownNameError
from compactnn.formats import get_format

from _matrices import FORMAT_NAMES, build, format_options

pytestmark = pytest.mark.kernel

# n = 2 inputs, m = 3 outputs: X must have 2 columns.
W0 = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 0.0]], dtype=np.float32)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_weights_are_a_value_error_naming_the_problem(name, bad, word, dtype):
    W = W0.astype(dtype)
    W[1, 2] = bad
    with pytest.raises(ValueError, match=word) as info:
        build(name, W)
    assert "(1, 2)" in str(info.value)  # and where it is


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.bool_, np.complex64,
                                   np.longdouble])
def test_weights_of_other_dtypes_are_a_type_error(name, dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        build(name, np.ones((2, 3), dtype=dtype))


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("shape", [(), (6,), (2, 3, 1), (1, 1, 1, 1)])
def test_weights_that_are_not_matrices_are_a_value_error(name, shape):
    with pytest.raises(ValueError, match="2-D"):
        build(name, np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_sparse_weights_of_other_dtypes_are_a_type_error(name):
    # sparse input is converted (see test_interop.py), then checked like dense input
    with pytest.raises(TypeError, match="float32 or float64"):
        build(name, sp.csr_matrix(W0.astype(np.int32)))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_nested_lists_of_floats_are_accepted(name):
    assert np.array_equal(build(name, W0.astype(np.float64).tolist()).to_dense(), W0)


@pytest.mark.parametrize("name, options", format_options())
@pytest.mark.parametrize("xshape", [(4, 3), (4, 1), (3,), (1,), (1, 0), (0,)])
def test_x_with_the_wrong_number_of_columns_is_a_value_error(name, options, xshape):
    M = build(name, W0, options)
    X = np.ones(xshape, dtype=np.float32)
    with pytest.raises(ValueError, match="shape mismatch"):
        X @ M
    with pytest.raises(ValueError, match="shape mismatch"):
        M.matmul(X, threads=1)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("xshape", [(), (1, 1, 2), (2, 3, 2)])
def test_x_of_other_dimensions_is_a_value_error(name, xshape):
    M = build(name, W0)
    with pytest.raises(ValueError):
        M.matmul(np.ones(xshape, dtype=np.float32))


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.complex128])
def test_x_of_non_float_dtype_is_a_type_error(name, dtype):
    M = build(name, W0)
    X = np.ones((3, 2), dtype=dtype)
    with pytest.raises(TypeError, match="float"):
        X @ M
    with pytest.raises(TypeError, match="float"):
        M.matmul(X, threads=1)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_sparse_x_is_a_type_error(name):
    with pytest.raises(TypeError):
        build(name, W0).matmul(sp.csr_matrix(np.ones((3, 2), np.float32)))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_float16_x_is_cast_to_the_matrix_dtype(name):
    Y = build(name, W0).matmul(np.ones((1, 2), np.float16), threads=1)
    assert Y.dtype == np.float32 and np.array_equal(Y, np.ones((1, 2)) @ W0)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("threads", [0, -1, -(2**40)])
def test_threads_below_one_is_a_value_error(name, threads):
    with pytest.raises(ValueError, match="threads"):
        build(name, W0).matmul(np.ones((1, 2), np.float32), threads=threads)


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("threads", [1.5, "2", True])
def test_threads_that_are_not_ints_are_a_type_error(name, threads):
    with pytest.raises(TypeError, match="threads"):
        build(name, W0).matmul(np.ones((1, 2), np.float32), threads=threads)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_huge_thread_counts_are_capped(name):
    Y = build(name, W0).matmul(np.ones((1, 2), np.float32), threads=10**6)
    assert np.array_equal(Y, np.ones((1, 2), np.float32) @ W0)


@pytest.mark.parametrize("bad", ["nope", "HAM", "", "sham ", None, 3])
def test_unknown_format_names_raise_unknown_name_error(bad):
    with pytest.raises(UnknownNameError) as info:
        get_format(bad)
    assert isinstance(info.value, (KeyError, ValueError, CompactnnError))
    assert "available" in str(info.value)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_w_at_y_is_not_a_supported_product(name):
    M = build(name, W0)
    with pytest.raises(TypeError, match="X @ W"):
        M @ np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match="X @ W"):
        M @ build(name, W0.T.copy())


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_non_numeric_left_operands_are_not_implemented(name):
    M = build(name, W0)
    assert M.__rmatmul__(build(name, W0)) is NotImplemented
    assert M.__rmatmul__(np.array([object(), object()])) is NotImplemented
    with pytest.raises(TypeError):
        "ab" @ M
