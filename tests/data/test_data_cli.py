import argparse
import logging

import compactnn.data.sources as sources
from compactnn.data import RemoteFile, cli


def _args(*argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_options_parse_repeatable_names_and_root():
    args = _args("--name", "mnist", "--name", "davis", "--root", "/x")
    assert args.name == ["mnist", "davis"] and args.root == "/x" and not args.all
    assert _args("--all").all


def test_without_options_it_lists_the_data_sets(tmp_path, capsys):
    assert cli.run(_args("--root", str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert "mnist5k" in out and "bundled" in out and "not downloaded" in out


def test_bundled_sets_need_nothing(tmp_path):
    assert cli.run(_args("--name", "mnist5k", "--name", "digits", "--root", str(tmp_path))) == 0
    assert not any(tmp_path.iterdir())


def test_unknown_name_is_an_error(tmp_path, caplog):
    assert cli.run(_args("--name", "imagenet", "--root", str(tmp_path))) == 2
    assert "valid names" in caplog.text


def test_offline_fetch_fails_with_placement_help(tmp_path, monkeypatch, caplog):
    files = tuple(RemoteFile(f.path, ("http://127.0.0.1:9/" + f.path,), f.sha256)
                  for f in sources.SOURCES["cifar10"])
    monkeypatch.setitem(sources.SOURCES, "cifar10", files)
    with caplog.at_level(logging.INFO):
        assert cli.run(_args("--name", "cifar10", "--root", str(tmp_path), "--timeout", "2")) == 1
    assert str(tmp_path / "cifar10" / "cifar-10-binary.tar.gz") in caplog.text


def test_cached_and_verified_set_is_reported_ready(tmp_path, fixtures, caplog):
    from compactnn.data.download import sha256_file

    folder = fixtures.write_deepdta(tmp_path, "kiba", {"a": "C"}, {"p": "M"}, [[1.0]], [[0]], [])
    for p in [p for p in folder.rglob("*") if p.is_file()]:
        p.with_name(p.name + ".sha256").write_text(f"{sha256_file(p)}  {p.name}\n")
    with caplog.at_level(logging.INFO):
        assert cli.run(_args("--name", "kiba", "--root", str(tmp_path))) == 0
    assert "kiba: ready" in caplog.text and "recorded" in caplog.text


def test_module_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, compactnn.data, compactnn.data.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
