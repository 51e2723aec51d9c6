import pickle

import numpy as np
import pytest

from compactnn.data.errors import UnsafePickleError
from compactnn.data.safe_pickle import load_array


def test_python2_latin1_pickle_of_a_float_matrix_loads(fixtures):
    Y = np.array([[1.5, np.nan, 3.0], [4.0, 5.25, 1e4]])
    raw = fixtures.py2_pickle(Y)
    assert b"numpy.core.multiarray" in raw and b"_codecs" not in raw
    back = load_array(raw)
    np.testing.assert_array_equal(back, Y)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_numpy_pickles_load_or_are_refused_cleanly(protocol):
    Y = np.arange(6, dtype=np.float64).reshape(2, 3)
    raw = pickle.dumps(Y, protocol=protocol)
    if protocol == 4:
        np.testing.assert_array_equal(load_array(raw), Y)
    else:  # protocol 2 needs _codecs.encode, 5 needs _frombuffer: both outside the allow-list
        with pytest.raises(UnsafePickleError):
            load_array(raw)


def test_file_path_is_accepted(tmp_path):
    path = tmp_path / "Y"
    path.write_bytes(pickle.dumps(np.eye(3), protocol=4))
    np.testing.assert_array_equal(load_array(path), np.eye(3))


class _System:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > /dev/null",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", [_System(), _Eval()], ids=["os.system", "builtins.eval"])
def test_code_executing_pickles_are_refused_before_any_call(payload, monkeypatch):
    import os

    raw = pickle.dumps(payload, protocol=2)
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    with pytest.raises(UnsafePickleError, match="refusing to unpickle the global"):
        load_array(raw)
    assert calls == []


def test_array_smuggled_next_to_a_forbidden_global_is_refused():
    raw = pickle.dumps({"y": np.zeros(2), "f": print}, protocol=4)
    with pytest.raises(UnsafePickleError, match="builtins"):
        load_array(raw)


@pytest.mark.parametrize("obj", [[1.0, 2.0], np.array(["a", "b"], dtype=object)],
                         ids=["list", "object-array"])
def test_anything_but_a_numeric_array_is_refused(obj):
    with pytest.raises(UnsafePickleError):
        load_array(pickle.dumps(obj, protocol=4))


def test_garbage_is_reported_as_an_unpickling_error():
    with pytest.raises(pickle.UnpicklingError):
        load_array(b"not a pickle")
