"""Load a pickled NumPy array without letting the pickle run code.

DeepDTA ships its affinity matrix ``Y`` as a Python 2 pickle.  A pickle can call
any importable function, so this unpickler resolves only the handful of globals a
plain ``ndarray`` needs and refuses everything else before it is called.
"""
from __future__ import annotations

import io
import os
import pickle

import numpy as np

from .errors import UnsafePickleError

try:  # NumPy >= 2 moved the implementation to numpy._core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

#: (module, name) -> object.  Both spellings of the module: pickles written by
#: NumPy 1.x or Python 2 say ``numpy.core``, NumPy 2.x says ``numpy._core``.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and nothing else.

    Raises
    ------
    UnsafePickleError
        From :meth:`find_class`, for any global outside :data:`ALLOWED_GLOBALS`.
    """

    def find_class(self, module: str, name: str):  # noqa: D102
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle the global {module}.{name}: only plain NumPy arrays "
                "are accepted") from None

    def persistent_load(self, pid):  # noqa: D102
        raise UnsafePickleError("refusing a pickle with persistent ids")


def load_array(source: str | os.PathLike | bytes, *, encoding: str = "latin1") -> np.ndarray:
    """Unpickle a NumPy array from a file or bytes with :class:`RestrictedUnpickler`.

    Parameters
    ----------
    source : path or bytes
        The pickle.
    encoding : str
        How to decode Python 2 ``str`` objects; ``"latin1"`` keeps array bytes intact.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    UnsafePickleError
        The pickle names a forbidden global, or is not a numeric array.
    """
    if isinstance(source, (bytes, bytearray)):
        f = io.BytesIO(source)
    else:
        f = open(source, "rb")
    with f:
        try:
            obj = RestrictedUnpickler(f, encoding=encoding).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # malformed stream: EOFError, UnpicklingError, TypeError...
            raise UnsafePickleError(f"not a valid array pickle: {exc}") from exc
    if not isinstance(obj, np.ndarray) or obj.dtype.kind not in "biuf":
        raise UnsafePickleError(f"expected a numeric NumPy array, the pickle holds {type(obj).__name__}"
                                + (f" of dtype {obj.dtype}" if isinstance(obj, np.ndarray) else ""))
    return obj
