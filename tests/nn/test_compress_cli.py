"""`python -m compactnn compress` and `evaluate`: the file they write and the errors a user can make."""
import pytest
import torch

from compactnn.__main__ import main
from compactnn.nn import get_model, save_model
from compactnn.nn.modelfile import load_compressed, read_header

KWARGS = dict(num_classes=10, in_channels=1, input_size=28)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("base") / "model.safetensors"
    save_model(get_model("small_vgg", **KWARGS), path, "small_vgg", KWARGS)
    return path


@pytest.fixture(scope="module")
def compressed(baseline):
    out = baseline.parent / "m.cnn.safetensors"
    assert main(["compress", str(baseline), "--method", "pr-cws", "--p", "90", "--k", "16",
                 "--epochs", "1", "--limit", "300", "--no-progress", "--out", str(out)]) == 0
    return out


def test_compress_writes_a_loadable_file_and_prints_the_table(compressed, capsys):
    header = read_header(compressed)
    assert header["architecture"] == {"net": "small_vgg", "kwargs": KWARGS}
    meta = header["metadata"]
    assert meta["data"] == "mnist5k" and meta["config"]["k"] == 16
    for key in ("baseline", "before_retraining", "after_retraining", "compressed"):
        assert 0 <= meta[key] <= 1
    assert abs(meta["compressed"] - meta["after_retraining"]) <= 1 / 300 + 1e-9
    assert 0 < meta["psi"]["network"] < 0.5 and meta["psi"]["dense"] < 0.5
    for rec in header["layers"].values():
        assert rec["method"] == "cws" and rec["k"] == 16 and rec["codebook_size"] <= 16
        assert 85 <= rec["p"] <= 95
    model = load_compressed(compressed)
    assert any(hasattr(m, "matrix") for m in model.modules())


def test_evaluate_prints_metric_and_time_ratio(compressed, capsys):
    assert main(["evaluate", str(compressed), "--limit", "64", "--batch", "32", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "time ratio" in out


def _fails(argv, capsys, match):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert match in err, err


@pytest.mark.parametrize("extra, match", [
    (["--method", "pr-foo"], "unknown method"),
    (["--format", "nosuch"], "unknown format"),
    (["--p", "100"], "--p must be in [0, 100)"),
    (["--p", "-1"], "--p must be in [0, 100)"),
    (["--p-conv", "nan"], "--p-conv must be"),
    (["--k", "0"], "--k must be >= 1"),
    (["--k-conv", "0"], "--k-conv must be >= 1"),
    (["--data", "digits"], "does not fit"),
    (["--data", "davis"], "does not fit"),
])
def test_compress_user_errors_are_one_line_exit_2(baseline, tmp_path, capsys, extra, match):
    _fails(["compress", str(baseline), "--epochs", "0", "--limit", "50", "--no-progress",
            "--out", str(tmp_path / "x.safetensors"), *extra], capsys, match)
    assert not (tmp_path / "x.safetensors").exists()


def test_wrong_and_missing_files_are_one_line_exit_2(baseline, compressed, tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a model")
    _fails(["compress", str(tmp_path / "missing.safetensors")], capsys, "not found")
    _fails(["compress", str(junk)], capsys, "not a model file")
    _fails(["compress", str(compressed)], capsys, "compressed model file")
    _fails(["evaluate", str(tmp_path / "missing")], capsys, "not found")
    _fails(["evaluate", str(junk)], capsys, "not a compactnn compressed model file")
    _fails(["evaluate", str(baseline)], capsys, "not a compactnn compressed model file")
    _fails(["evaluate", str(compressed), "--data", "digits", "--limit", "10"], capsys, "does not fit")
    _fails(["evaluate", str(compressed), "--batch", "0"], capsys, "--batch must be >= 1")
