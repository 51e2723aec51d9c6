"""MNIST (IDX files) and CIFAR-10 (binary version), the full image data sets."""
from __future__ import annotations

import posixpath
import tarfile

import numpy as np

from .dataset import Dataset
from .download import ensure_files
from .errors import DataFormatError
from .idx import read_idx

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32  # label byte, then 1024 red, 1024 green, 1024 blue, row-major


def _to_float(images: np.ndarray) -> np.ndarray:
    return (images / np.float32(255)).astype(np.float32)


def _checked(files: dict) -> dict:
    return {k: v.status for k, v in files.items()}


def load_mnist(root="data", download=False, seed: int = 0, *, trust_local: bool = False) -> Dataset:
    """MNIST, 60,000 + 10,000 digits, from the four IDX files in ``<root>/mnist/``.

    Parameters
    ----------
    root : path
        Cache root.
    download : bool
        Fetch missing files.
    seed : int
        Unused: the official split is fixed.
    trust_local : bool
        Do not check the SHA-256 of files on disk (test fixtures).

    Returns
    -------
    Dataset
        ``x``: ``float32 [N, 1, 28, 28]`` in [0, 1]; ``y``: ``int64``.
    """
    files = ensure_files("mnist", root, download=download, trust_local=trust_local)

    def pair(prefix):
        x = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"].path)
        y = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"].path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or x.dtype != np.uint8:
            raise DataFormatError(f"MNIST {prefix}: images {x.dtype}{x.shape} do not match labels {y.shape}")
        return _to_float(x[:, None]), y.astype(np.int64)

    x_train, y_train = pair("train")
    x_test, y_test = pair("t10k")
    return Dataset("mnist", x_train, y_train, x_test, y_test, "classification", 10,
                   x_train.shape[1:], {"source": "MNIST IDX files", "checked": _checked(files)})


def parse_cifar_batch(data: bytes, name: str = "batch") -> tuple[np.ndarray, np.ndarray]:
    """Decode CIFAR-10 binary records: 1 label byte + 3072 pixel bytes (R, G, B planes).

    Returns
    -------
    images : numpy.ndarray
        ``uint8 [N, 3, 32, 32]``.
    labels : numpy.ndarray
        ``int64 [N]``.
    """
    if len(data) == 0 or len(data) % _RECORD:
        raise DataFormatError(f"{name}: {len(data)} bytes is not a whole number of {_RECORD}-byte records")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() >= 10:
        raise DataFormatError(f"{name}: label {labels.max()} out of range 0..9")
    return rec[:, 1:].reshape(-1, 3, 32, 32), labels


def read_cifar10_archive(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read every ``*.bin`` batch of ``cifar-10-binary.tar.gz`` without extracting to disk.

    Returns
    -------
    dict
        Batch file name (e.g. ``"data_batch_1.bin"``) -> ``(images, labels)``.
    """
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = posixpath.basename(member.name)
                if member.isfile() and base in (*CIFAR10_TRAIN, CIFAR10_TEST):
                    batches[base] = parse_cifar_batch(tar.extractfile(member).read(), base)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: {exc}") from exc
    missing = [b for b in (*CIFAR10_TRAIN, CIFAR10_TEST) if b not in batches]
    if missing:
        raise DataFormatError(f"{path}: missing {', '.join(missing)}")
    return batches


def load_cifar10(root="data", download=False, seed: int = 0, *, trust_local: bool = False) -> Dataset:
    """CIFAR-10, 50,000 + 10,000 colour images, from ``<root>/cifar10/cifar-10-binary.tar.gz``.

    The binary version is read record by record; the pickled Python version is
    never used.  Parameters as in :func:`load_mnist`.

    Returns
    -------
    Dataset
        ``x``: ``float32 [N, 3, 32, 32]`` in [0, 1]; ``y``: ``int64``;
        ``meta["classes"]`` the class names.
    """
    files = ensure_files("cifar10", root, download=download, trust_local=trust_local)
    batches = read_cifar10_archive(files["cifar-10-binary.tar.gz"].path)
    x_train = np.concatenate([batches[b][0] for b in CIFAR10_TRAIN])
    y_train = np.concatenate([batches[b][1] for b in CIFAR10_TRAIN])
    x_test, y_test = batches[CIFAR10_TEST]
    return Dataset("cifar10", _to_float(x_train), y_train, _to_float(x_test), y_test,
                   "classification", 10, (3, 32, 32),
                   {"source": "CIFAR-10 binary version", "classes": CIFAR10_CLASSES,
                    "checked": _checked(files)})
