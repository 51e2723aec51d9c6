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
    (["train", "--net", "nosuch"], "unknown network"),
    (["train", "--data", "nosuch"], "unknown data set"),
    (["train", "--data", "mnist"], "does not fit --net small_vgg"),
    (["train", "--recipe", "nosuch"], "unknown recipe"),
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


def test_bench_unknown_format_fails_before_measuring(capsys, tmp_path):
    out = tmp_path / "bench"
    code, err = run(capsys, "bench", "--formats", "nosuch", "csc", "--out", str(out), "--no-progress")
    assert code == 2 and "unknown format 'nosuch'" in err and "csc" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("argv, says", [
    (["bench", "--seed", "-1"], "--seed"),
    (["bench", "--repeat", "0"], "--repeat"),
    (["bench", "--pairs", "-5"], "--pairs"),
    (["data", "--timeout", "nan", "--name", "mnist"], "--timeout"),
    (["data", "--timeout", "-1", "--name", "mnist"], "--timeout"),
])
def test_option_out_of_range_exits_2(capsys, argv, says):
    code, err = run(capsys, *argv)
    assert code == 2 and says in err and "Traceback" not in err


def test_bench_unwritable_out_fails_before_measuring(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(capsys, "bench", "--out", str(blocker / "sub"), "--formats", "csc")
    assert code == 2 and "not a folder" in err


def test_train_out_under_a_file_exits_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(capsys, "train", "--epochs", "1", "--out", str(blocker / "sub"))
    assert code == 2 and "Not a directory" in err and "Traceback" not in err


def test_train_missing_data_files_exits_2(capsys, tmp_path):
    out = tmp_path / "run"
    code, err = run(capsys, "train", "--net", "vgg19", "--data", "cifar10",
                    "--data-root", str(tmp_path / "nodata"), "--out", str(out))
    assert code == 2 and "not complete" in err and "compactnn data" in err
    assert not out.exists()


def test_data_unknown_name_exits_2(capsys):
    assert main(["data", "--name", "nosuch"]) == 2


def test_quick_unknown_notebook_exits_2(capsys, tmp_path):
    code, err = run(capsys, "quick", "--only", "nosuch", "--out", str(tmp_path / "nb"))
    assert code == 2 and "no notebook" in err


def test_verbose_shows_the_traceback(tmp_path):
    from compactnn.errors import UnknownNameError
    with pytest.raises(UnknownNameError):
        main(["--verbose", "bench", "--formats", "nosuch", "--out", str(tmp_path / "b")])


def test_shared_checkers():
    import argparse

    from compactnn import _cli
    assert _cli.positive_int("3") == 3 and _cli.seed("0") == 0 and _cli.positive_float("1e-3") == 1e-3
    for check, text in [(_cli.positive_int, "0"), (_cli.positive_int, "1.5"), (_cli.seed, "-1"),
                        (_cli.seed, str(2 ** 32)), (_cli.positive_float, "inf"), (_cli.positive_float, "0")]:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_make_help_lists_every_target():
    import re
    import subprocess
    from pathlib import Path

    makefile = Path(__file__).resolve().parents[1] / "Makefile"
    phony = re.search(r"^\.PHONY:(.*)$", makefile.read_text(), re.M).group(1).split()
    text = subprocess.run(["make", "-s", "-f", str(makefile), "help"], capture_output=True, text=True,
                          cwd=makefile.parent, check=True).stdout
    rows = [line.lstrip("# ").split() for line in text.splitlines()]
    listed = {row[1] for row in rows if len(row) > 1 and row[0] == "make"}
    listed |= {"all"} if "make " in text else set()  # `make` alone is the default target
    assert set(phony) <= listed, sorted(set(phony) - listed)
