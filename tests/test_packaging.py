"""Packaging: dependency bounds, shipped marker files, permissions of written files."""
import os
import re
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_torch_is_a_lower_bound_and_the_pin_lives_in_the_constraints():
    deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)
    torch = [d for d in re.findall(r'"([^"]+)"', deps.group(1)) if d.startswith("torch")]
    assert torch and all(">=" in d and "==" not in d for d in torch), torch
    assert re.search(r"^torch==\d", (ROOT / "constraints.txt").read_text(), re.M)
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_environment_yml_usage_builds_no_second_environment():
    usage = [line for line in (ROOT / "environment.yml").read_text().splitlines() if line.startswith("#")]
    text = "\n".join(usage)
    assert "conda env create -f environment.yml" in text
    assert "make build" not in text and "make env" not in text.split("Usage", 1)[-1]


def test_py_typed_is_shipped():
    assert (ROOT / "lib" / "compactnn" / "py.typed").is_file()
    assert "py.typed" in (ROOT / "pyproject.toml").read_text()


def test_written_files_follow_the_umask(tmp_path):
    from compactnn._files import write_text_atomic, write_with

    mask = os.umask(0o022)
    try:
        a = write_text_atomic(tmp_path / "a.json", "{}")
        b = write_with(tmp_path / "b.bin", lambda p: Path(p).write_bytes(b"x"))
    finally:
        os.umask(mask)
    for path in (a, b):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, oct(os.stat(path).st_mode)


def test_saved_model_file_follows_the_umask(tmp_path):
    pytest.importorskip("torch")
    from compactnn._files import write_with
    from compactnn.nn import get_model
    from compactnn.nn.models import save_model

    kwargs = dict(num_classes=10, in_channels=1, input_size=28)
    model = get_model("small_vgg", **kwargs)
    mask = os.umask(0o022)
    try:
        path = write_with(tmp_path / "model.safetensors", lambda p: save_model(model, p, "small_vgg", kwargs))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_layer_compression_repr_shows_the_users_k():
    pytest.importorskip("torch")
    from compactnn.nn import TargetSpec, compress_model, get_model

    model = get_model("small_vgg", num_classes=10, in_channels=1, input_size=28)
    hook = compress_model(model, dense=TargetSpec("cws", p=90, k=32))
    text = repr(hook.layers[0])
    assert "k=32" in text and "k=33" not in text, text
