"""Fixture writers: small files in the exact upstream formats, written into tmp_path."""
from __future__ import annotations

import io
import json
import pickle
import tarfile
from types import SimpleNamespace

import numpy as np
import pytest

from compactnn.data.idx import write_idx


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` opcodes, like the pickles DeepDTA shipped."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + n.to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def py2_pickle(array: np.ndarray) -> bytes:
    """A protocol-2 pickle of ``array`` as Python 2 + NumPy 1.x would write it."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(array)
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def write_mnist(root, n_train=12, n_test=5, seed=0):
    """Write the four gzipped IDX files into ``root/mnist``; return the arrays."""
    rng = np.random.default_rng(seed)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
        arrays[prefix] = (x, y)
    return arrays


def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte then the 3072 R, G, B plane bytes."""
    return b"".join(bytes([int(lab)]) + img.tobytes() for img, lab in zip(images, labels))


def write_cifar10(root, per_batch=3, seed=0, corrupt=None):
    """Write ``root/cifar10/cifar-10-binary.tar.gz`` like the official archive."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name in [*names, "batches.meta.txt", "readme.html"]:
            if name.endswith(".bin"):
                x = rng.integers(0, 256, size=(per_batch, 3, 32, 32), dtype=np.uint8)
                y = rng.integers(0, 10, size=per_batch)
                batches[name] = (x, y)
                data = cifar_records(x, y)
                if name == corrupt:
                    data = data[:-1]
            else:
                data = b"airplane\nautomobile\n"
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return batches


def write_deepdta(root, name, ligands, proteins, Y, train_folds, test, *, y_bytes=None):
    """Write the DeepDTA layout ``root/name/{ligands_can.txt, proteins.txt, Y, folds/}``."""
    folder = root / name
    (folder / "folds").mkdir(parents=True, exist_ok=True)
    (folder / "ligands_can.txt").write_text(json.dumps(ligands))
    (folder / "proteins.txt").write_text(json.dumps(proteins))
    (folder / "Y").write_bytes(py2_pickle(Y) if y_bytes is None else y_bytes)
    (folder / "folds" / "train_fold_setting1.txt").write_text(json.dumps(train_folds))
    (folder / "folds" / "test_fold_setting1.txt").write_text(json.dumps(test))
    return folder


@pytest.fixture
def fixtures():
    """The writer functions, for the tests in this folder."""
    return SimpleNamespace(py2_pickle=py2_pickle, write_mnist=write_mnist, cifar_records=cifar_records,
                           write_cifar10=write_cifar10, write_deepdta=write_deepdta)
