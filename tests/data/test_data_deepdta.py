import json
import pickle

import numpy as np
import pytest

from compactnn.data import DataFormatError, UnsafePickleError, get_dataset
from compactnn.data.deepdta import CHARISOSMISET, CHARPROTSET, label_encode
from compactnn.data.download import read_record, sha256_file

LIGANDS = {  # ordered JSON object, like ligands_can.txt
    "11314340": "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5",
    "24889392": "C[C@@H]1CC\\C=C/Br",
    "9926054": "C" * 90,  # longer than DAVIS's 85 characters: truncated
}
PROTEINS = {
    "AAK1": "MKKFFDSRREQGGSGLGSGSS",
    "ABL1": "MLEICLKLVGCKSKKGLSSSSSCYLEEALQRPVASDFEPQGLSEAARWNSKENLLAGPSENDPNLFVALYDFVASGDNTLSITKGEKLRVLGYNHNGEWCEAQTKNGQGWVPSNYITPVN",
    "ABL2": "MGQQVGRVGEAPGLQQPQPRGIRGSSAARPSGRRRDPAGRTTETGFNIFTQHDHFASCVEDGFEGDKTGGSSPEALHRPYGCDVEPQALNEAIRWSSKENLLGATESDPNLFVALYDFVASGDNTLSITKGEKLRVLGYNQNGEWSEVRSKNGQGWVPSNYITPVNS",
    "AKT1": "XUZBO" * 300,  # 1500 > 1200: truncated
}
KD = np.array([[10000.0, 5.0, 0.1, 1000.0],
               [3.0, 10000.0, 70.0, 0.5],
               [1.0, 2.0, 10000.0, 45.0]])


@pytest.fixture
def davis(tmp_path, fixtures):
    folds = [[0, 5], [1, 7], [11, 2], [3], [9, 10]]
    fixtures.write_deepdta(tmp_path, "davis", LIGANDS, PROTEINS, KD, folds, [4, 6, 8])
    return tmp_path, folds


def test_davis_transforms_kd_to_pkd_and_keeps_deepdta_pair_order(davis):
    root, folds = davis
    ds = get_dataset("davis", root=root, trust_local=True)
    rows, cols = np.where(~np.isnan(KD))
    train = np.concatenate(folds)
    expected = -np.log10(KD[rows[train], cols[train]] / 1e9)
    np.testing.assert_allclose(ds.y_train, expected, rtol=1e-6)
    assert ds.y_train.dtype == np.float32
    np.testing.assert_allclose(ds.y_test, -np.log10(KD[rows[[4, 6, 8]], cols[[4, 6, 8]]] / 1e9), rtol=1e-6)
    assert ds.y_train[0] == pytest.approx(5.0)  # Kd 10,000 nM = 10 uM -> pKd 5


def test_davis_inputs_are_label_encoded_pairs_with_deepdta_lengths(davis):
    root, folds = davis
    ds = get_dataset("davis", root=root, trust_local=True)
    lig, prot = ds.x_train
    assert lig.shape == (9, 85) and prot.shape == (9, 1200)
    assert lig.dtype == np.int64 and prot.dtype == np.int64
    assert ds.input_shape == ((85,), (1200,)) and ds.task == "regression" and ds.num_classes is None
    # training pair 2 is flattened index 1 = (ligand 0, protein 1)
    smi = LIGANDS["11314340"]
    assert lig[2, :len(smi)].tolist() == [CHARISOSMISET[c] for c in smi] and not lig[2, len(smi):].any()
    seq = PROTEINS["ABL1"]
    assert prot[2, :len(seq)].tolist() == [CHARPROTSET[c] for c in seq] and not prot[2, len(seq):].any()
    # truncation to the maximum lengths
    assert (ds.meta["ligands"][2] == CHARISOSMISET["C"]).all()
    assert (ds.meta["proteins"][3] > 0).all()
    assert ds.meta["ligand_vocab"] == 64 and ds.meta["protein_vocab"] == 25
    assert ds.meta["ligand_ids"] == list(LIGANDS) and ds.meta["protein_ids"] == list(PROTEINS)


def test_davis_smiles_escape_characters_are_encoded(davis):
    root, _ = davis
    ds = get_dataset("davis", root=root, trust_local=True)
    enc = ds.meta["ligands"][1]
    assert CHARISOSMISET["\\"] in enc and CHARISOSMISET["@"] in enc and CHARISOSMISET["/"] in enc


def test_kiba_skips_nan_pairs_and_keeps_scores_untransformed(tmp_path, fixtures):
    Y = np.array([[11.1, np.nan, 12.5], [np.nan, 13.0, 10.2]])
    ligands = {"CHEMBL1": "CCO", "CHEMBL2": "c1ccccc1"}
    proteins = {"O00141": "MTVKT", "O14920": "MSWSP", "O15111": "MERPP"}
    fixtures.write_deepdta(tmp_path, "kiba", ligands, proteins, Y, [[0], [3], [], [1], []], [2])
    ds = get_dataset("kiba", root=tmp_path, trust_local=True)
    # measured pairs in np.where order: (0,0) (0,2) (1,1) (1,2)
    np.testing.assert_allclose(ds.y_train, [11.1, 10.2, 12.5], rtol=1e-6)
    np.testing.assert_allclose(ds.y_test, [13.0], rtol=1e-6)
    assert [r.tolist() for r in ds.meta["train_pairs"]] == [[0, 1, 0], [0, 2, 2]]
    assert ds.x_train[0].shape == (3, 100) and ds.x_train[1].shape == (3, 1000)
    assert ds.meta["transform"] is None and len(ds.meta["train_folds"]) == 5


def test_charsets_are_deepdtas_bijections():
    assert sorted(CHARISOSMISET.values()) == list(range(1, 65))
    assert sorted(CHARPROTSET.values()) == list(range(1, 26))
    assert CHARISOSMISET["("] == 1 and CHARISOSMISET["y"] == 64 and CHARPROTSET["Z"] == 25


def test_label_encode_rejects_unknown_characters_naming_the_entry():
    with pytest.raises(DataFormatError, match="protein 'P1': character 'J'"):
        label_encode(["MKJ"], CHARPROTSET, 5, kind="protein", ids=["P1"])


def test_fold_indices_out_of_range_are_rejected(tmp_path, fixtures):
    fixtures.write_deepdta(tmp_path, "davis", LIGANDS, PROTEINS, KD, [[0, 12]], [1])
    with pytest.raises(DataFormatError, match="out of range"):
        get_dataset("davis", root=tmp_path, trust_local=True)


def test_y_with_the_wrong_shape_is_rejected(tmp_path, fixtures):
    fixtures.write_deepdta(tmp_path, "davis", LIGANDS, PROTEINS, KD.T, [[0]], [1])
    with pytest.raises(DataFormatError, match="shape"):
        get_dataset("davis", root=tmp_path, trust_local=True)


def test_unverified_y_is_not_unpickled_without_trust(davis):
    root, _ = davis
    with pytest.raises(UnsafePickleError, match="trust_local"):
        get_dataset("davis", root=root)


def test_y_matching_its_download_record_loads_without_trust(davis):
    root, _ = davis
    folder = root / "davis"
    for path in [p for p in folder.rglob("*") if p.is_file()]:
        path.with_name(path.name + ".sha256").write_text(f"{sha256_file(path)}  {path.name}\n")
    ds = get_dataset("davis", root=root)
    assert set(ds.meta["checked"].values()) == {"recorded"}
    assert read_record(folder / "Y") == sha256_file(folder / "Y")


def test_y_that_changed_since_its_download_is_refused(davis):
    from compactnn.data import ChecksumError

    root, _ = davis
    y = root / "davis" / "Y"
    y.with_name("Y.sha256").write_text("0" * 64 + "  Y\n")
    with pytest.raises(ChecksumError, match="recorded"):
        get_dataset("davis", root=root)


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_y_is_refused_even_with_trust(tmp_path, fixtures):
    fixtures.write_deepdta(tmp_path, "davis", LIGANDS, PROTEINS, KD, [[0]], [1],
                           y_bytes=pickle.dumps(_Evil()))
    with pytest.raises(UnsafePickleError, match="system"):
        get_dataset("davis", root=tmp_path, trust_local=True)


def test_folds_file_must_be_a_list_of_lists(tmp_path, fixtures):
    folder = fixtures.write_deepdta(tmp_path, "davis", LIGANDS, PROTEINS, KD, [[0]], [1])
    (folder / "folds" / "train_fold_setting1.txt").write_text(json.dumps({"a": 1}))
    with pytest.raises(DataFormatError, match="fold"):
        get_dataset("davis", root=tmp_path, trust_local=True)
