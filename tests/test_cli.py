"""User errors on the command line: one line on stderr, exit status 2, no traceback."""
import pytest

from compactnn.__main__ import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    err = capsys.readouterr().err
    return exc.value.code, err


@pytest.mark.parametrize("argv, says", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--batch-size", "-5"], "--batch-size"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--net", "nosuch"], "unknown recipe"),
    (["train", "--data", "mnist"], "unknown recipe"),
    (["train", "--device", "tpu"], "--device"),
])
def test_train_user_errors_exit_2_on_one_line(capsys, tmp_path, argv, says):
    out = tmp_path / "run"
    code, err = run(capsys, *argv, "--out", str(out))
    assert code == 2
    assert says in err and "Traceback" not in err
    assert not out.exists()  # no empty output folder left behind


def test_train_cuda_without_cuda(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, err = run(capsys, "train", "--device", "cuda", "--out", str(tmp_path / "r"))
    assert code == 2 and "CUDA is not available" in err
    assert not (tmp_path / "r").exists()


def test_version_and_prog_name(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("compactnn ")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: compactnn")


def test_unknown_command_exits_2(capsys):
    code, err = run(capsys, "nosuch")
    assert code == 2 and "invalid choice" in err
