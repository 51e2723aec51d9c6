"""Where the full data sets come from: URLs, sizes and SHA-256 checksums.

Every file lands in ``<root>/<data set>/<path>``.  The MNIST and CIFAR-10 checksums
are the published SHA-256 values of the official archives (the same values pinned by
TensorFlow Datasets, torchvision's prototype datasets and others).  The DeepDTA
files have no published checksum: their ``sha256`` is ``None``, and the
downloader records the hash it computed in ``<file>.sha256`` (``sha256sum``
format) so later loads can check against it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One file of a full data set.

    Parameters
    ----------
    path : str
        Path relative to the data set's folder, ``/``-separated.
    urls : tuple of str
        Mirrors, tried in order.
    sha256 : str or None
        Pinned SHA-256 (lower-case hex), or ``None`` where no value is published.
    size : int or None
        Size in bytes where known (used for the progress bar only).
    """

    path: str
    urls: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_MNIST = {  # file -> (sha256, size)
    "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}

# The DeepDTA repository's own copy of the data (Öztürk et al. 2018), pinned at the
# default branch: the files have not changed since 2018.
_DEEPDTA = "https://raw.githubusercontent.com/hkmztrk/DeepDTA/master/data/"
_DEEPDTA_FILES = (
    "ligands_can.txt",
    "proteins.txt",
    "Y",
    "folds/train_fold_setting1.txt",
    "folds/test_fold_setting1.txt",
)


def _deepdta(name: str) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(p, (f"{_DEEPDTA}{name}/{p}",)) for p in _DEEPDTA_FILES)


#: data set name -> files to fetch into ``<root>/<name>/``.
SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": tuple(
        RemoteFile(f, tuple(m + f for m in _MNIST_MIRRORS), sha, size)
        for f, (sha, size) in _MNIST.items()
    ),
    "cifar10": (
        RemoteFile(
            "cifar-10-binary.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            170052171,
        ),
    ),
    "davis": _deepdta("davis"),
    "kiba": _deepdta("kiba"),
}
