"""The report reads a compression record written by the real writer (one tiny configuration)."""
import pytest

pytestmark = pytest.mark.slow


def test_report_reads_a_real_compress_record(tmp_path, monkeypatch):
    from compactnn.experiments.configs import CompressConfig
    from compactnn.experiments.sweep import sweep
    from compactnn.nn import recipes
    from compactnn.report import compress, records

    name = "small_vgg-digits"
    monkeypatch.setitem(recipes.RECIPES, name, recipes.RECIPES[name].replace(epochs=1))
    configs = [CompressConfig(recipe=name, method="pr-cws", p=60, k=4, epochs=1, variant=v)
               for v in ("paper", "reference")]
    assert sweep(configs, tmp_path, workers=0, progress=False) == 2
    rows, layers, metas = records.read_compress(tmp_path)
    assert len(metas) == 2 and set(rows["p"]) == {"60"} and set(rows["k"]) == {"4"}
    cfg = compress.config_table(rows)
    assert cfg["psi_dense_best"].between(0, 1).all() and cfg["best_format_dense"].notna().all()
    assert (layers["distinct_nonzero"] <= 4).all()
    var = compress.variant_table(cfg, layers)
    assert list(var["variant"]) == ["paper", "reference"] and var["distinct_per_layer"].str.len().gt(0).all()
    written = compress.write_tables(rows, layers, tmp_path / "out")
    assert "variants" in written and (tmp_path / "out" / "table2_best_performance.md").is_file()
