"""DAVIS and KIBA drug-target affinity data, prepared exactly as DeepDTA does.

Source layout (``hkmztrk/DeepDTA``, folder ``data/davis/`` or ``data/kiba/``):
``ligands_can.txt`` and ``proteins.txt`` are JSON objects id -> SMILES / amino-acid
sequence, in a meaningful order; ``Y`` is a Python 2 pickle of the affinity matrix
(ligands x proteins, NaN where unmeasured); ``folds/train_fold_setting1.txt`` is a
JSON list of five lists and ``folds/test_fold_setting1.txt`` a JSON list, of indices
into the measured pairs in ``np.where(~np.isnan(Y))`` order.

Preprocessing follows DeepDTA's ``source/datahelper.py`` and
``source/run_experiments.py`` (Öztürk, Özgür, Ozkirimli, Bioinformatics 2018):
DAVIS Kd (nM) -> ``-log10(Kd / 1e9)``, KIBA scores as they are; label encoding
with ``CHARISOSMISET`` and ``CHARPROTSET`` (0 = padding), truncated or zero-padded
to 85/1200 (DAVIS) and 100/1000 (KIBA) characters, the lengths of the DeepDTA paper.
Training uses the union of the five training folds (as in the ICPR/2021 papers,
which retrain on the whole training set), the test set is the held-out fold.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset
from .download import ensure_files
from .errors import DataFormatError, UnsafePickleError
from .safe_pickle import load_array

# Copied from DeepDTA source/datahelper.py (CHARISOSMISET, CHARISOSMILEN = 64),
# the set its DataSet class uses for ligands_can.txt.
CHARISOSMISET = {
    "#": 29, "%": 30, ")": 31, "(": 1, "+": 32, "-": 33, "/": 34, ".": 2,
    "1": 35, "0": 3, "3": 36, "2": 4, "5": 37, "4": 5, "7": 38, "6": 6,
    "9": 39, "8": 7, "=": 40, "A": 41, "@": 8, "C": 42, "B": 9, "E": 43,
    "D": 10, "G": 44, "F": 11, "I": 45, "H": 12, "K": 46, "M": 47, "L": 13,
    "O": 48, "N": 14, "P": 15, "S": 49, "R": 16, "U": 50, "T": 17, "W": 51,
    "V": 18, "Y": 52, "[": 53, "Z": 19, "]": 54, "\\": 20, "a": 55, "c": 56,
    "b": 21, "e": 57, "d": 22, "g": 58, "f": 23, "i": 59, "h": 24, "m": 60,
    "l": 25, "o": 61, "n": 26, "s": 62, "r": 27, "u": 63, "t": 28, "y": 64,
}
CHARISOSMILEN = 64

# DeepDTA source/datahelper.py (CHARPROTSET, CHARPROTLEN = 25).
CHARPROTSET = {
    "A": 1, "C": 2, "B": 3, "E": 4, "D": 5, "G": 6, "F": 7, "I": 8, "H": 9,
    "K": 10, "M": 11, "L": 12, "O": 13, "N": 14, "Q": 15, "P": 16, "S": 17,
    "R": 18, "U": 19, "T": 20, "W": 21, "V": 22, "Y": 23, "X": 24, "Z": 25,
}
CHARPROTLEN = 25


@dataclass(frozen=True)
class DeepDTASetting:
    """Per-data-set constants of the DeepDTA paper (Table: max lengths; DAVIS log transform)."""

    max_smi_len: int
    max_seq_len: int
    log_kd: bool


SETTINGS = {
    "davis": DeepDTASetting(max_smi_len=85, max_seq_len=1200, log_kd=True),
    "kiba": DeepDTASetting(max_smi_len=100, max_seq_len=1000, log_kd=False),
}


def label_encode(strings, charset: dict[str, int], max_len: int, *, kind: str = "sequence",
                 ids=None) -> np.ndarray:
    """Label-encode strings, truncating or zero-padding each to ``max_len``.

    Parameters
    ----------
    strings : iterable of str
    charset : dict
        Character -> code in ``1..len(charset)``; 0 is padding.
    max_len : int
    kind : str
        Word used in error messages (``"SMILES"``, ``"protein"``).
    ids : sequence, optional
        Names of the strings, for error messages.

    Returns
    -------
    numpy.ndarray
        ``int64 [n, max_len]``.

    Raises
    ------
    DataFormatError
        A character is not in ``charset`` (DeepDTA would fail with a KeyError).
    """
    strings = list(strings)
    out = np.zeros((len(strings), max_len), dtype=np.int64)
    for i, s in enumerate(strings):
        try:
            out[i, : min(len(s), max_len)] = [charset[ch] for ch in s[:max_len]]
        except KeyError as exc:
            who = ids[i] if ids is not None else i
            raise DataFormatError(f"{kind} {who!r}: character {exc.args[0]!r} is not in the charset") from None
    return out


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)  # dicts keep the file's order, as DeepDTA's OrderedDict did
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot read {what}: {exc}") from exc


def _indices(obj, n_pairs, path) -> np.ndarray:
    idx = np.asarray(obj)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise DataFormatError(f"{path}: expected a list of integer indices")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_pairs):
        raise DataFormatError(f"{path}: index out of range for {n_pairs} measured pairs")
    return idx


def load_deepdta(name: str, root="data", download=False, seed: int = 0, *,
                 trust_local: bool = False) -> Dataset:
    """Load DAVIS or KIBA in DeepDTA's setting 1 split.

    Parameters
    ----------
    name : {"davis", "kiba"}
    root : path
        Cache root; files in ``<root>/<name>/`` in the DeepDTA layout.
    download : bool
        Fetch missing files from the DeepDTA repository.
    seed : int
        Unused: the split is DeepDTA's.
    trust_local : bool
        Do not check the files' SHA-256, and accept ``Y`` without a pinned or
        recorded hash (fixtures, hand-placed copies).  ``Y`` is unpickled with
        :class:`~compactnn.data.safe_pickle.RestrictedUnpickler` either way.

    Returns
    -------
    Dataset
        ``x = (ligand int64 [N, max_smi_len], protein int64 [N, max_seq_len])``,
        ``y`` float32 affinities.  ``meta`` holds the per-entity encodings
        (``"ligands"``, ``"proteins"``), the ``(row, col)`` pairs of each split,
        the five training folds, ids, lengths and vocabulary sizes.

    Raises
    ------
    UnsafePickleError
        ``Y`` has no pinned or recorded checksum and ``trust_local`` is false, or it
        holds anything but a numeric array.
    """
    setting = SETTINGS[name]
    files = ensure_files(name, root, download=download, trust_local=trust_local)
    y_file = files["Y"]
    if y_file.status == "unverified":
        raise UnsafePickleError(
            f"refusing to unpickle {y_file.path}: it has no pinned checksum and no "
            f"{y_file.path.name}.sha256 record from a download. Download it with "
            "download=True (which records its hash), or check it and pass trust_local=True")
    ligands = _read_json(files["ligands_can.txt"].path, "ligands")
    proteins = _read_json(files["proteins.txt"].path, "proteins")
    if not isinstance(ligands, dict) or not isinstance(proteins, dict):
        raise DataFormatError(f"{name}: ligands_can.txt and proteins.txt must be JSON objects")
    affinity = load_array(y_file.path).astype(np.float64)
    if affinity.shape != (len(ligands), len(proteins)):
        raise DataFormatError(f"{name}: Y has shape {affinity.shape}, expected "
                              f"{(len(ligands), len(proteins))} (ligands x proteins)")
    if setting.log_kd:
        affinity = -np.log10(affinity / 1e9)
    rows, cols = np.where(~np.isnan(affinity))  # DeepDTA's pair order
    path = files["folds/train_fold_setting1.txt"].path
    folds = _read_json(path, "training folds")
    if not isinstance(folds, list) or not all(isinstance(f, list) for f in folds):
        raise DataFormatError(f"{path}: expected a JSON list of fold lists")
    folds = [_indices(f, len(rows), path) for f in folds]
    train = np.concatenate(folds) if folds else np.zeros(0, np.int64)
    path = files["folds/test_fold_setting1.txt"].path
    test = _indices(_read_json(path, "test fold"), len(rows), path)

    lig_ids, prot_ids = list(ligands), list(proteins)
    xd = label_encode(ligands.values(), CHARISOSMISET, setting.max_smi_len, kind="SMILES", ids=lig_ids)
    xt = label_encode(proteins.values(), CHARPROTSET, setting.max_seq_len, kind="protein", ids=prot_ids)

    def split(idx):
        r, c = rows[idx], cols[idx]
        return (xd[r], xt[c]), affinity[r, c].astype(np.float32), (r, c)

    x_train, y_train, train_pairs = split(train)
    x_test, y_test, test_pairs = split(test)
    meta = {
        "source": "hkmztrk/DeepDTA data/" + name,
        "inputs": ("ligand", "protein"),
        "ligand_vocab": CHARISOSMILEN, "protein_vocab": CHARPROTLEN,
        "max_smi_len": setting.max_smi_len, "max_seq_len": setting.max_seq_len,
        "transform": "-log10(Kd/1e9)" if setting.log_kd else None,
        "ligand_ids": lig_ids, "protein_ids": prot_ids,
        "ligands": xd, "proteins": xt,
        "train_pairs": train_pairs, "test_pairs": test_pairs, "train_folds": folds,
        "checked": {k: v.status for k, v in files.items()},
    }
    return Dataset(name, x_train, y_train, x_test, y_test, "regression", None,
                   ((setting.max_smi_len,), (setting.max_seq_len,)), meta)


def load_davis(root="data", download=False, seed: int = 0, *, trust_local: bool = False) -> Dataset:
    """DAVIS (68 ligands x 442 kinases, 30,056 Kd values); see :func:`load_deepdta`."""
    return load_deepdta("davis", root, download, seed, trust_local=trust_local)


def load_kiba(root="data", download=False, seed: int = 0, *, trust_local: bool = False) -> Dataset:
    """KIBA (2,111 ligands x 229 kinases, 118,254 scores); see :func:`load_deepdta`."""
    return load_deepdta("kiba", root, download, seed, trust_local=trust_local)
