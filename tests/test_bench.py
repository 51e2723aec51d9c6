"""compactnn.bench: the targets are judged on the paired ratios, reported, and written.

A tiny grid is measured once (real kernels, real timings); the tests then set
the ratio columns to chosen values, so that whether a target is met never
depends on how fast this machine is.
"""
import numpy as np
import pandas as pd
import pytest

from compactnn import bench, timing
from compactnn.experiments import format_study as fs

FORMATS = ["dense", "csr", "ham", "sham", "im"]
TINY = {"shapes": [(64, 96)], "densities": (1.0, 0.1), "ks": (4,), "skewed_shapes": [(64, 96)],
        "skewed_densities": (0.1,), "skewed_k": 3, "batches": (1, 8), "threads": (1, 2), "repeat": 1,
        "pairs": 1}


@pytest.fixture(scope="module")
def measured():
    return bench.measure(TINY, FORMATS, progress=False)


@pytest.fixture
def df(measured):
    return measured.copy()


def _target(results, key):
    return next(r for r in results if r["key"] == key)


def _as_4096(df):
    return df.assign(n=4096, m=4096)


def test_the_grid_has_uniform_and_skewed_matrices():
    assert set(bench.QUICK["skewed_densities"]) == {0.1, 0.05, 0.02, 0.01}
    assert bench.QUICK["batches"] == bench.FULL["batches"] == (1, 8, 64)
    assert (4096, 4096) in bench.FULL["skewed_shapes"] and (192, 1024) in bench.QUICK["shapes"]
    assert bench.FULL["skewed_k"] not in bench.FULL["ks"]  # the tables tell the two apart by k
    kinds = {(kind, d) for kind, n, m, d, k, make in bench.matrices(TINY)}
    assert kinds == {("uniform", 1.0), ("uniform", 0.1), ("skewed", 0.1)}


def test_the_paired_ratios_are_on_the_rows_they_compare(df):
    for b in (1, 8):
        bb = df[df["batch"] == b]
        sham1 = bb[(bb["format"] == "sham") & (bb["threads"] == 1)]
        ham1 = bb[(bb["format"] == "ham") & (bb["threads"] == 1)]
        assert sham1["pair_ratio_csr"].gt(0).all() and ham1["pair_ratio_numpy_1"].gt(0).all()
        others = bb[~bb.index.isin(sham1.index)]
        assert others["pair_ratio_csr"].isna().all()
    two = df[(df["batch"] == 8) & (df["threads"] == 2)]
    threaded = two["format"].map(fs.uses_threads)
    assert two.loc[threaded, "pair_speedup"].gt(0).all()
    assert two.loc[~threaded, "pair_speedup"].isna().all()  # NumPy and SciPy: no own threads
    assert set(df["matrix"]) == {"uniform", "skewed"}


def test_sham_targets_at_batch_1_and_8_on_density_up_to_0_1(df):
    sham = (df["format"] == "sham") & (df["threads"] == 1)
    for b in (1, 8):
        df.loc[sham & (df["batch"] == b), "ratio_csr"] = 2.0  # the unpaired medians say "missed"
    df.loc[sham, "pair_ratio_csr"] = 0.75
    df.loc[sham & (df["density"] == 1.0), "pair_ratio_csr"] = 5.0  # density 1 is not part of it
    res = {r["key"]: r for r in bench.evaluate_targets(df)}
    assert res["sham_b8"]["met"] is True and res["sham_b8"]["stretch"] is False
    assert res["sham_b1"]["met"] is True and res["sham_b1"]["stretch"] is True
    assert res["sham_b8"]["value"] == "max 0.75x (paired)"
    assert "round-robin medians: max 2.00x" in res["sham_b8"]["detail"]

    df.loc[sham & (df["batch"] == 8) & (df["matrix"] == "skewed"), "pair_ratio_csr"] = 1.2
    r = _target(bench.evaluate_targets(df), "sham_b8")
    assert r["met"] is False
    assert "64x96 skewed s=0.1 k=3 (1.20x)" in r["detail"]


def test_without_paired_ratios_the_medians_are_used(df):
    df = df.drop(columns=[c for c in df if c.startswith("pair_")])
    one = (df["batch"] == 8) & (df["threads"] == 1)
    df.loc[one & df["format"].isin(["ham", "im"]), "ratio_numpy_1"] = 1.2
    df.loc[one & (df["format"] == "im") & (df["density"] == 0.1) & (df["matrix"] == "uniform"),
           "ratio_numpy_1"] = 1.9
    r = _target(bench.evaluate_targets(df), "ham_b8")
    assert (r["met"], r["stretch"], r["value"]) == (True, False, "max 1.90x")
    assert "worst 1.90x at im 64x96 s=0.1 k=4" in r["detail"]


def test_ham_ns_per_entry_must_not_grow_as_density_falls(df):
    # without paired ratios: the HAM medians
    df = df.drop(columns=[c for c in df if c.startswith("pair_")])
    ham = (df["format"] == "ham") & (df["batch"] == 1) & (df["threads"] == 1)
    uni = ham & (df["matrix"] == "uniform")
    df.loc[uni & (df["density"] == 1.0), "time_s"] = 2e-6
    df.loc[uni & (df["density"] == 0.1), "time_s"] = 1e-6
    assert _target(bench.evaluate_targets(df), "ham_ns")["met"] is True
    df.loc[uni & (df["density"] == 0.1), "time_s"] = 3e-6
    r = _target(bench.evaluate_targets(df), "ham_ns")
    assert r["met"] is False and r["value"] == "max growth 1.50x"
    assert "64x96 s=0.1 k=4" in r["detail"] and "from the medians" in r["detail"]


def test_ham_ns_per_entry_from_paired_ratios_ignores_the_drift_of_the_medians(df):
    # the machine twice as slow while the sparser matrix was timed: its median
    # grows, its paired ratio to NumPy dense (sampled in the same phase) does not
    df = df.drop(columns="pair_ham_ns_rel")  # without the series' own pairs
    ham = (df["format"] == "ham") & (df["batch"] == 1) & (df["threads"] == 1)
    uni = ham & (df["matrix"] == "uniform")
    dense1, dense01 = uni & (df["density"] == 1.0), uni & (df["density"] == 0.1)
    df.loc[dense1, ["time_s", "t_numpy_1", "pair_ratio_numpy_1"]] = [2e-6, 1e-6, 2.0]
    df.loc[dense01, ["time_s", "t_numpy_1", "pair_ratio_numpy_1"]] = [3e-6, 2e-6, 1.5]
    r = _target(bench.evaluate_targets(df), "ham_ns")
    assert r["met"] is True and r["value"].endswith("(paired)") and "paired ratio" in r["detail"]
    df.loc[dense01, "pair_ratio_numpy_1"] = 2.5  # dearer per entry than at density 1
    r = _target(bench.evaluate_targets(df), "ham_ns")
    assert r["met"] is False and r["value"] == "max growth 1.25x (paired)"


def test_ham_ns_series_are_timed_against_their_densest_matrix(df):
    ham = (df["format"] == "ham") & (df["batch"] == 1) & (df["threads"] == 1)
    rel = df.loc[ham].set_index(["matrix", "density"])["pair_ham_ns_rel"]
    assert rel["uniform", 1.0] == 1.0 and rel["skewed", 0.1] == 1.0  # a series of one
    assert 0 < rel["uniform", 0.1] < 10
    assert df.loc[~ham, "pair_ham_ns_rel"].isna().all()


def test_ham_ns_growth_from_the_series_pairs_ignores_the_other_columns(df):
    ham = (df["format"] == "ham") & (df["batch"] == 1) & (df["threads"] == 1)
    uni = ham & (df["matrix"] == "uniform")
    dense1, dense01 = uni & (df["density"] == 1.0), uni & (df["density"] == 0.1)
    # the paired ratios to NumPy say it grows 1.5x; HAM against HAM says it costs 0.9x
    df.loc[dense1, ["time_s", "t_numpy_1", "pair_ratio_numpy_1"]] = [2e-6, 1e-6, 2.0]
    df.loc[dense01, ["time_s", "t_numpy_1", "pair_ratio_numpy_1"]] = [3e-6, 1e-6, 3.0]
    df.loc[dense01, "pair_ham_ns_rel"] = 0.9
    r = _target(bench.evaluate_targets(df), "ham_ns")
    assert r["met"] is True and r["value"] == "max growth 0.90x (paired)"
    assert "densest matrix of the series" in r["detail"]
    df.loc[dense01, "pair_ham_ns_rel"] = 1.2
    r = _target(bench.evaluate_targets(df), "ham_ns")
    assert r["met"] is False and r["value"] == "max growth 1.20x (paired)"
    assert "64x96 s=0.1 k=4 (1.20x)" in r["detail"]


def test_batch_1_ham_targets_split_by_size(df):
    res = {r["key"]: r for r in bench.evaluate_targets(df)}
    assert res["ham_b1"]["met"] is None and res["ham_b1_small"]["met"] is None  # 64 x 96 only
    big = _as_4096(df)
    one = (big["batch"] == 1) & (big["threads"] == 1) & big["format"].isin(["ham", "im"])
    big.loc[one, ["ratio_numpy_1", "pair_ratio_numpy_1"]] = 2.5
    r = _target(bench.evaluate_targets(big), "ham_b1")
    assert r["met"] is True and r["stretch"] is False


def test_thread_target_needs_4096_and_names_every_slow_cell(df):
    assert _target(bench.evaluate_targets(df), "threads")["met"] is None  # 64 x 96 only
    df = _as_4096(df)
    two = (df["threads"] == 2) & df["pair_speedup"].notna()
    df.loc[two, "pair_speedup"] = 1.7
    r = _target(bench.evaluate_targets(df), "threads")
    assert (r["met"], r["value"]) == (True, "min 1.70x (paired)")
    df.loc[two & (df["format"] == "im") & (df["density"] == 0.1) & (df["matrix"] == "uniform"),
           "pair_speedup"] = 1.5
    r = _target(bench.evaluate_targets(df), "threads")
    assert r["met"] is False and r["value"] == "min 1.50x (paired)"
    assert "/" in r["detail"] and "im uniform s=0.1 k=4 (1.50x)" in r["detail"]
    assert "round-robin medians" in r["detail"]


def test_space_and_product_checks(df):
    res = {r["key"]: r for r in bench.evaluate_targets(df)}
    assert res["psi_sum"]["met"] is True
    assert res["products"]["met"] is True
    assert res["ham_entropy"]["met"] is True
    bad = df.copy()
    bad.loc[bad["format"] == "im", "max_rel_err"] = 1e-2
    assert _target(bench.evaluate_targets(bad), "products")["met"] is False


def test_summary_shows_targets_and_paired_table(df):
    df = _as_4096(df)
    results = bench.evaluate_targets(df)
    grid = bench.FULL | {"shapes": [(4096, 4096)], "pairs": 3}
    text = bench.summary_markdown(df, results, grid, quick=False, seconds=1.0, env=timing.machine_info(),
                                  blas=timing.blas_info(), load_after=None)
    assert "## Targets (1 thread, medians of paired ratios)" in text
    assert "3 pairs of back-to-back samples" in text
    for r in results:
        assert r["target"] in text
    table = text.split("## Paired ratios")[1].split("##")[0]
    assert "sham / CSR" in table and "ham / dense" in table and "speedup sham" in table
    assert "im / dense" in table  # IM's targets are judged on paired ratios too
    assert "speedup csr" not in table


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--quick", "--pairs", "--repeat", "--strict", "--formats"):
        assert opt in out


@pytest.mark.parametrize("option", ["--repeat", "--pairs"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_counts_must_be_positive_whole_numbers(option, value, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main([option, value])
    assert e.value.code == 2
    assert option in capsys.readouterr().err


def test_run_writes_csv_and_summary_and_strict_fails_on_a_miss(tmp_path, monkeypatch):
    tiny = {"shapes": [(48, 64)], "densities": (0.1,), "ks": (4,), "skewed_shapes": [(48, 64)],
            "skewed_densities": (0.05,), "batches": (8,), "threads": (1, 2), "repeat": 1}
    monkeypatch.setattr(bench, "QUICK", tiny)
    args = ["--quick", "--out", str(tmp_path), "--no-progress", "--formats", *FORMATS, "--pairs", "1",
            "--no-network"]
    assert bench.main(args) == 0
    csv = pd.read_csv(tmp_path / "formats.csv")
    assert set(csv["format"]) == set(FORMATS)
    assert np.isfinite(csv.loc[csv["format"] == "sham", "pair_ratio_csr"]).any()
    assert "## Targets" in (tmp_path / "summary.md").read_text()

    def missed(df):
        return [{"key": "products", "target": "t", "value": "v", "met": False, "stretch": None,
                 "detail": ""}]
    monkeypatch.setattr(bench, "evaluate_targets", missed)
    assert bench.main(args) == 0
    assert bench.main(args + ["--strict"]) == 1


TINY_NETWORK = {"models": {"tiny": [(12, 16), (16, 5)]}, "ps": (90, 99), "k": 4, "batches": (1, 3),
                "threads": (1, None), "pairs": 1}


def test_network_table_has_a_row_per_model_p_format_batch_and_threads():
    from compactnn import bench_network as bn
    df = bn.measure_network(TINY_NETWORK, ["sham", "csr"])
    assert list(df.columns) == bn.COLUMNS
    assert len(df) == 2 * 2 * 2 * 2
    assert set(df["threads"]) == {1, "default"} and set(df["batch"]) == {1, 3}
    assert (df["compressed_s"] > 0).all() and (df["dense_s"] > 0).all() and np.isfinite(df["ratio"]).all()
    params = 12 * 16 + 16 + 16 * 5 + 5
    np.testing.assert_allclose(df["psi"], df["nbytes"] / (4.0 * params))
    assert (df["file_bytes"] >= df["nbytes"]).all()
    assert (df.loc[df["p"] == 99, "nbytes"].max() < df.loc[df["p"] == 90, "nbytes"].min())
    md = bn.network_markdown(df)
    assert md.count("| tiny |") == len(df) and "ratio" in md


def test_small_vgg_dense_layers_come_from_the_model_constructor():
    from compactnn import bench_network as bn
    shapes = bn._shapes("small_vgg", None)
    assert len(shapes) >= 2 and shapes[-1][1] == 10
    assert all(a[1] == b[0] for a, b in zip(shapes, shapes[1:]))


def test_run_writes_the_network_table(tmp_path, monkeypatch):
    from compactnn import bench_network as bn
    monkeypatch.setattr(bn, "NETWORK_QUICK", TINY_NETWORK)
    monkeypatch.setattr(bench, "run", lambda args: bench.run_network(args) or 0)
    assert bench.main(["--quick", "--out", str(tmp_path), "--formats", "sham", "--pairs", "1"]) == 0
    csv = pd.read_csv(tmp_path / "network.csv")
    assert list(csv.columns) == bn.COLUMNS and set(csv["format"]) == {"sham"}
    assert "| tiny |" in (tmp_path / "network.md").read_text()
