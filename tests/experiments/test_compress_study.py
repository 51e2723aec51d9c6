"""The compression study: one configuration end to end, as a record; the baseline trained once."""
import json

import pandas as pd
import pytest

from compactnn.experiments import compress_study as cs
from compactnn.experiments.configs import CompressConfig
from compactnn.experiments.records import is_complete, read_record, record_dir
from compactnn.experiments.sweep import best_per_configuration, grid_records, pending, sweep

pytestmark = pytest.mark.slow

COLUMNS = ["recipe", "network", "dataset", "method", "variant", "target", "p", "k", "p_conv", "k_conv",
           "unified", "label", "metric", "higher_is_better", "baseline", "before", "performance", "delta",
           "scope", "format", "bytes", "psi", "time_ratio"]


@pytest.fixture
def short_recipe(monkeypatch):
    from compactnn.nn import recipes

    name = "small_vgg-digits"
    monkeypatch.setitem(recipes.RECIPES, name, recipes.RECIPES[name].replace(epochs=1))
    return name


def test_a_configuration_writes_a_compress_record_in_long_format(tmp_path, short_recipe):
    cfg = CompressConfig(recipe=short_recipe, method="pr-cws", p=60, k=4, epochs=1)
    assert sweep([cfg], tmp_path, workers=0, progress=False) == 1
    folder = record_dir("compress", cfg, tmp_path)
    assert is_complete(folder) and pending([cfg], tmp_path) == []
    meta, rows = read_record(folder)
    assert meta["kind"] == "compress" and meta["metric"] == "accuracy" and meta["config"]["p"] == 60
    assert meta["epochs_run"] == 1 and 0 <= meta["performance"] <= 1
    assert list(rows.columns) == COLUMNS
    assert set(rows["scope"]) == {"dense", "conv", "network"}
    dense = rows[rows["scope"] == "dense"]
    assert dense["psi"].between(0, 2).all() and not pd.isna(dense["time_ratio"]).all()
    assert pd.isna(rows[rows["scope"] != "dense"]["time_ratio"]).all()
    assert (rows[rows["scope"] == "conv"]["psi"] == 1).all()  # conv layers left as float32
    assert (rows["bytes"] > 0).all()
    net = rows[rows["scope"] == "network"]
    assert (net["bytes"].values > dense.set_index("format").loc[net["format"], "bytes"].values).all()
    assert (rows["delta"] == rows["performance"] - rows["baseline"]).all()
    layers = pd.read_csv(folder / "layers.csv")
    assert list(layers.columns[:10]) == ["layer", "kind", "rows", "cols", "nnz", "distinct_nonzero",
                                         "p", "k", "best_format", "best_bytes"]
    assert (layers["distinct_nonzero"] <= 4).all() and (layers["kind"] == "dense").all()
    assert (layers["best_bytes"] == layers[[c for c in layers if c.startswith("bytes_")]].min(axis=1)).all()
    # the record ships the compressed network itself, loadable and matching layers.csv
    from compactnn.nn import load_compressed
    from compactnn.nn.compressed import _Compressed

    assert meta["model_file"] == "model.cnn.safetensors"
    model = load_compressed(folder / meta["model_file"])
    mods = {name: m for name, m in model.named_modules() if isinstance(m, _Compressed)}
    assert sorted(mods) == sorted(layers["layer"])
    for row in layers.itertuples():
        W = mods[row.layer].matrix.to_dense()
        assert W.shape == (row.rows, row.cols) and int((W != 0).sum()) == row.nnz
    assert sweep([cfg], tmp_path, workers=0, progress=False) == 0  # done: skipped
    table = best_per_configuration(grid_records([cfg], tmp_path))
    assert len(table) == 1 and table["psi"][0] == dense["psi"].min()


def test_the_baseline_is_a_record_trained_once_and_reused(tmp_path, short_recipe):
    folder = cs.baseline(short_recipe, 0, tmp_path, device="cpu")
    meta = json.loads((folder / "record.json").read_text())
    assert meta["kind"] == "baseline" and meta["recipe"] == short_recipe and meta["epochs"] == 1
    assert meta["test"] > 0.5  # a trained network, not chance (10 classes)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    a = CompressConfig(recipe=short_recipe, method="pr", p=50, epochs=0)
    b = CompressConfig(recipe=short_recipe, method="uq", k=4, target="conv", epochs=0)
    assert sweep([a, b], tmp_path, workers=0, progress=False) == 2
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    for cfg in (a, b):
        meta_c, rows = read_record(record_dir("compress", cfg, tmp_path))
        assert meta_c["baseline"] == meta["test"] and meta_c["epochs_run"] == 0
        assert meta_c["performance"] == meta_c["before"]  # nothing retrained
    rows_b = read_record(record_dir("compress", b, tmp_path))[1]
    assert (rows_b[rows_b["scope"] == "dense"]["psi"] == 1).all()  # conv target: dense left float32
    assert pd.isna(rows_b["time_ratio"]).all()  # no compressed dense layer to time
    assert (rows_b[rows_b["scope"] == "conv"]["psi"] < 1).any()
