"""The compression study's tables and figures, from hand-written records."""
import pandas as pd
import pytest

from compactnn.report import compress, records
from compactnn.report.tables import latex_table


@pytest.fixture
def loaded(compress_records):
    rows, layers, metas = records.read_compress(compress_records)
    return compress.config_table(rows), rows, layers, metas


def test_reader_keeps_per_layer_k_as_text_and_pairs_variants(loaded):
    cfg, rows, layers, metas = loaded
    assert len(metas) == len(cfg) == 8
    assert "32-2" in set(cfg["k"]) and "" in set(cfg["k"])  # never parsed into a number or NaN
    paper = cfg[(cfg["method"] == "pr-cws") & (cfg["p"] == "97") & (cfg["variant"] == "paper")]
    ref = cfg[(cfg["method"] == "pr-cws") & (cfg["variant"] == "reference")]
    assert paper["pair"].item() == ref["pair"].item()
    assert set(layers["distinct_nonzero"]) >= {2, 3, 32}  # older "distinct" column renamed
    assert set(layers["best_format"]) == {"sham", "csr"}


def test_config_table_has_best_psi_and_its_format_per_scope(loaded):
    cfg = loaded[0]
    assert (cfg["best_format_dense"] == "sham").all()
    assert (cfg["psi_dense_best"] == cfg["psi_dense_sham"]).all()
    assert (cfg["psi_network_best"] >= cfg["psi_dense_best"]).all()
    assert {"time_ratio_sham", "psi_network_csr"} <= set(cfg.columns)


def test_table2_keeps_the_best_performance_per_method_pair_and_target(loaded):
    t2 = compress.best_performance(loaded[0])
    row = t2[(t2["method"] == "pr-cws") & (t2["target"] == "dense") & (t2["variant"] == "paper")]
    assert row["performance"].item() == pytest.approx(0.986)
    # MSE: lower is better
    dta = t2[t2["network"] == "deepdta"]
    assert dta["performance"].item() == pytest.approx(0.30) and dta["p"].item() == "90"
    assert len(t2) == 6  # pr-cws both / dense paper / dense reference, pr, cws, pr-pws


def test_table3_keeps_the_smallest_psi_without_loss_and_skips_lossy_methods(loaded):
    t3 = compress.smallest_psi_no_loss(loaded[0])
    assert (t3["delta"] >= 0).all()
    vgg = t3[(t3["network"] == "small_vgg") & (t3["method"] == "pr-cws")]
    # p=97 paper: no loss and smaller psi than p=90; the reference variant loses 0.001
    assert vgg["p"].item() == "97" and vgg["variant"].item() == "paper"
    assert vgg["psi_dense_best"].item() == pytest.approx(0.025)
    assert "pr" not in set(t3["method"]) and "cws" not in set(t3["method"])


def test_variant_table_lists_only_configurations_run_in_both_variants(loaded):
    cfg, _, layers, _ = loaded
    var = compress.variant_table(cfg, layers)
    assert list(var["variant"]) == ["paper", "reference"]
    assert list(var["distinct_per_layer"]) == ["fc1:32, fc2:32", "fc1:3, fc2:2"]
    assert list(var["distinct_fc2"]) == [32, 2]
    assert var["psi_dense_sham"].tolist() == pytest.approx([0.025, 0.012])


def test_write_tables_writes_csv_markdown_and_latex_with_readable_columns(compress_records, tmp_path):
    rows, layers, _ = records.read_compress(compress_records)
    written = compress.write_tables(rows, layers, tmp_path / "out")
    assert set(written) == {"table2_best_performance", "table3_smallest_psi_no_loss", "occupancy", "variants"}
    for paths in written.values():
        assert sorted(p.suffix for p in paths) == [".csv", ".md", ".tex"]
        assert all(p.stat().st_size > 0 for p in paths)
    full = pd.read_csv(tmp_path / "out" / "occupancy.csv")
    assert {"psi_dense_csr", "psi_network_ham", "psi_network_best"} <= set(full.columns)
    md = (tmp_path / "out" / "table3_smallest_psi_no_loss.md").read_text()
    header = md.splitlines()[2]
    assert "psi dense (best format)" in header and "psi dense sHAM" in header
    assert "0.025 (sHAM)" in md
    assert header.count("|") - 1 <= 10  # a handful of columns, not the grid's dozens
    assert "network / data" in header and "p / k" in header and "(accuracy, baseline" in md
    tex = (tmp_path / "out" / "variants.tex").read_text()
    assert r"\toprule" in tex and "fc1:3, fc2:2" in tex and r"small\_vgg" in tex


def test_latex_escapes_special_characters():
    tex = latex_table(pd.DataFrame({"a_b": ["5% & #1"]}))
    assert r"a\_b" in tex and r"5\% \& \#1" in tex


def test_fig3_writes_one_png_and_pdf_per_method(compress_records, tmp_path):
    rows = records.read_compress(compress_records)[0]
    pngs = compress.plot_fig3(rows, tmp_path)
    assert sorted(p.name for p in pngs) == ["fig3_cws.png", "fig3_pr-cws.png", "fig3_pr-pws.png", "fig3_pr.png"]
    for p in pngs:
        assert p.stat().st_size > 0 and p.with_suffix(".pdf").stat().st_size > 0


def test_fig3_titles_name_network_data_and_metric(compress_records, monkeypatch):
    import matplotlib.figure

    titles, labels = [], []
    real_close = matplotlib.pyplot.close

    def keep(fig=None):
        for ax in fig.axes:
            titles.append(ax.get_title())
            labels.append((ax.get_xlabel(), ax.get_ylabel()))
            assert ax.get_legend() is not None
        real_close(fig)

    monkeypatch.setattr(matplotlib.pyplot, "close", keep)
    compress.plot_fig3(records.read_compress(compress_records)[0], out_dir=None)
    assert "pr-pws: deepdta on davis, mse" in titles
    assert "pr-cws: small_vgg on mnist5k, accuracy" in titles
    assert all(x and y for x, y in labels)
    assert any("(fraction correct)" in y for _, y in labels) and any("float32 bytes" in y for _, y in labels)


def test_records_without_dense_rows_give_an_empty_table3_not_an_error(compress_records, tmp_path):
    rows, layers, _ = records.read_compress(compress_records)
    rows = rows[rows["scope"] == "network"]
    cfg = compress.config_table(rows)
    assert "psi_dense_best" not in cfg and compress.smallest_psi_no_loss(cfg).empty
    written = compress.write_tables(rows, layers, tmp_path)
    assert (tmp_path / "occupancy.md").read_text().count("\n") > 4 and "variants" in written


def test_an_empty_table3_names_the_closest_configuration(compress_records, tmp_path):
    rows, layers, _ = records.read_compress(compress_records)
    rows = rows.assign(performance=rows["baseline"] - 0.01, delta=-0.01)  # nothing reaches the baseline
    cfg = compress.config_table(rows)
    assert compress.smallest_psi_no_loss(cfg).empty
    compress.write_tables(rows, layers, tmp_path)
    title = (tmp_path / "table3_smallest_psi_no_loss.md").read_text().splitlines()[0]
    assert "no configuration reached it; the closest is" in title and "see Table II" in title
