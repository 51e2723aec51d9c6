"""The common return type of every loader, and a stratified split."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union

import numpy as np

#: Inputs: one array, or a tuple of arrays for multi-input networks (DeepDTA:
#: ``(ligand, protein)``), all with the samples along the first axis.
Inputs = Union[np.ndarray, tuple[np.ndarray, ...]]


def _n(x: Inputs) -> int:
    return len(x[0]) if isinstance(x, tuple) else len(x)


def _take(x: Inputs, idx) -> Inputs:
    return tuple(a[idx] for a in x) if isinstance(x, tuple) else x[idx]


def _describe(x: Inputs) -> str:
    if isinstance(x, tuple):
        return "(" + ", ".join(_describe(a) for a in x) + ")"
    return f"{x.dtype}{list(x.shape)}"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split, as NumPy arrays.

    Attributes
    ----------
    name : str
        Registry name (``"mnist5k"``, ``"cifar10"``, ``"davis"``, ...).
    x_train, x_test : numpy.ndarray or tuple of numpy.ndarray
        Images: ``float32`` NCHW in [0, 1].  DeepDTA: ``(ligand, protein)``, ``int64``
        label-encoded sequences ``[N, max_smi_len]`` and ``[N, max_seq_len]``, 0 = padding.
    y_train, y_test : numpy.ndarray
        Class labels (``int64``) or regression targets (``float32``), shape ``[N]``.
    task : {"classification", "regression"}
    num_classes : int or None
        Number of classes; ``None`` for regression.
    input_shape : tuple
        Shape of one sample: ``(C, H, W)``, or one shape per input for tuple inputs.
    meta : dict
        Provenance and extras (source, seed, split indices, vocabulary sizes, ...).
    """

    name: str
    x_train: Inputs = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: Inputs = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    task: Literal["classification", "regression"]
    num_classes: int | None
    input_shape: tuple
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', not {self.task!r}")
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if _n(x) != len(y) or (isinstance(x, tuple) and len({len(a) for a in x}) != 1):
                raise ValueError(f"{split}: inputs and targets have different lengths")

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return len(self.y_test)

    def head(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """Return a copy keeping the first ``n_train``/``n_test`` samples (for quick runs)."""
        tr, te = slice(n_train), slice(n_test)
        return replace(self, x_train=_take(self.x_train, tr), y_train=self.y_train[tr],
                       x_test=_take(self.x_test, te), y_test=self.y_test[te],
                       meta={**self.meta, "head": (n_train, n_test)})

    def holdout(self, fraction: float, seed: int = 0):
        """Split ``fraction`` of the training set off as validation data.

        Stratified for classification, a seeded permutation for regression.

        Returns
        -------
        ((x, y), (x, y) or None)
            Training and validation data; ``None`` when ``fraction`` rounds to no sample.
        """
        n_val = int(round(fraction * self.n_train))
        if n_val == 0:
            return (self.x_train, self.y_train), None
        if self.task == "classification":
            train, val = stratified_split(self.y_train, n_val, seed)
        else:
            perm = np.random.default_rng(seed).permutation(self.n_train)
            train, val = perm[n_val:], perm[:n_val]
        return ((_take(self.x_train, train), self.y_train[train]),
                (_take(self.x_train, val), self.y_train[val]))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, {self.task}, train={self.n_train} x {_describe(self.x_train)}, "
                f"test={self.n_test}, num_classes={self.num_classes}, input_shape={self.input_shape})")


def stratified_split(y: np.ndarray, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into train and test, keeping class proportions.

    Each class gets ``n_test * n_c / n`` test samples, rounded by largest
    remainder so the total is exactly ``n_test``.  Plain NumPy (no scikit-learn),
    so the split depends only on ``seed`` and NumPy's ``PCG64``.

    Parameters
    ----------
    y : numpy.ndarray
        Integer labels, shape ``[n]``.
    n_test : int
        Size of the test part, ``0 < n_test < n``.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray
        Disjoint ``int64`` indices covering ``range(n)``, each in shuffled order.
    """
    y = np.asarray(y)
    if not 0 < n_test < len(y):
        raise ValueError(f"n_test must be in (0, {len(y)}), got {n_test}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n_test / len(y)
    take = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: n_test - take.sum()]] += 1
    train, test = [], []
    for c, k in zip(classes, take):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
