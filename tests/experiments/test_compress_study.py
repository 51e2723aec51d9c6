"""The compression study: one configuration end to end, cached baseline, resumed results."""
import json

import pytest

from compactnn.experiments import compress_study as cs

pytestmark = pytest.mark.slow


@pytest.fixture
def short_recipe(monkeypatch):
    from compactnn.nn import recipes

    name = "small_vgg-digits"
    monkeypatch.setitem(recipes.RECIPES, name, recipes.RECIPES[name].replace(epochs=1))
    return name


def test_one_configuration_runs_and_is_read_back_without_retraining(tmp_path, short_recipe):
    cfg = cs.CompressConfig(recipe=short_recipe, method="pr-cws", p=60, k=4, epochs=1)
    formats = ["sham", "ham", "csr"]
    r = cs.run_config(cfg, tmp_path, formats=formats, device="cpu", progress=False)
    assert r["key"] == cfg.key() and r["metric"] == "accuracy"
    for key in ("baseline", "before_retraining", "after_retraining"):
        assert 0.0 <= r[key] <= 1.0
    assert r["baseline"] > 0.5  # a trained network, not chance (10 classes)
    assert set(r["psi_dense"]) == set(formats)
    assert r["psi_dense"]["sham"] < 0.5  # 60% pruned, 4 levels: far below float32
    base = tmp_path / f"{short_recipe}-s0" / "baseline"
    assert json.loads((base / "metrics.json").read_text())["test"] == r["baseline"]
    stamp = (base / "model.safetensors").stat().st_mtime_ns

    # a finished configuration is read back; a new one reuses the cached baseline
    assert cs.run_config(cfg, tmp_path, formats=formats, device="cpu", progress=False) == r
    other = cs.CompressConfig(recipe=short_recipe, method="cws", k=4, epochs=1)
    r2 = cs.run_config(other, tmp_path, formats=formats, device="cpu", progress=False)
    assert r2["baseline"] == r["baseline"] and r2["key"] != r["key"]
    assert (base / "model.safetensors").stat().st_mtime_ns == stamp


def test_run_record_writes_a_compress_record_in_long_format(tmp_path, short_recipe):
    import pandas as pd

    from compactnn.experiments.configs import CompressConfig
    from compactnn.experiments.records import is_complete, read_record, record_dir
    from compactnn.experiments.sweep import pending, sweep

    cfg = CompressConfig(recipe=short_recipe, method="pr-cws", p=60, k=4, epochs=1)
    assert sweep([cfg], tmp_path, workers=0, progress=False) == 1
    folder = record_dir("compress", cfg, tmp_path)
    assert is_complete(folder) and pending([cfg], tmp_path) == []
    meta, rows = read_record(folder)
    assert meta["kind"] == "compress" and meta["metric"] == "accuracy" and meta["config"]["p"] == 60
    assert list(rows.columns) == ["recipe", "network", "dataset", "method", "variant", "target", "p", "k",
                                  "p_conv", "k_conv", "unified", "label", "metric", "higher_is_better",
                                  "baseline", "before", "performance", "delta", "scope", "format",
                                  "bytes", "psi", "time_ratio"]
    assert set(rows["scope"]) == {"dense", "network"}
    dense = rows[rows["scope"] == "dense"]
    assert dense["psi"].between(0, 2).all() and not pd.isna(dense["time_ratio"]).all()
    assert (rows["bytes"] > 0).all()
    net = rows[rows["scope"] == "network"]
    assert (net["bytes"] >= dense.set_index("format").loc[net["format"], "bytes"].values).all()
    layers = pd.read_csv(folder / "layers.csv")
    assert {"layer", "kind", "rows", "cols", "nnz", "distinct"} <= set(layers.columns)
    assert (layers["distinct"] <= 4).all()
    # the record ships the compressed network itself, loadable and predicting as the record says
    from compactnn.nn import load_compressed

    assert meta["model_file"] == "model.cnn.safetensors"
    model = load_compressed(folder / meta["model_file"])
    from compactnn.nn.compressed import _Compressed

    mods = {name: m for name, m in model.named_modules() if isinstance(m, _Compressed)}
    assert sorted(mods) == sorted(layers["layer"])
    for row in layers.itertuples():
        W = mods[row.layer].matrix.to_dense()
        assert W.shape == (row.rows, row.cols) and int((W != 0).sum()) == row.nnz
    assert sweep([cfg], tmp_path, workers=0, progress=False) == 0  # done: skipped
