"""experiments.notebooks.run_notebook writes the executed copy atomically.

papermill is replaced by a stand-in that writes its output path, so the test needs
no kernel: the executed copy appears only complete, a planted symlink at the old
predictable name is untouched, and a failed run keeps its copy as ``.failed.ipynb``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pm = pytest.importorskip("papermill")

from compactnn.experiments import notebooks  # noqa: E402


def _fake(fail: bool):
    def execute_notebook(src, out, **kwargs):
        Path(out).write_text('{"cells": "executed"}')
        if fail:
            raise pm.PapermillExecutionError(0, 1, "boom", "ValueError", "boom", [])
    return execute_notebook


def _name() -> str:
    return sorted(p.stem for p in notebooks.NOTEBOOK_DIR.glob("*.ipynb"))[0]


def test_the_executed_copy_is_renamed_into_place_and_no_symlink_is_followed(tmp_path, monkeypatch):
    name = _name()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / f"{name}.running.ipynb").symlink_to(victim)
    monkeypatch.setattr(pm, "execute_notebook", _fake(False))
    out = notebooks.run_notebook(name, {}, out_dir=tmp_path, kernel_name="python3")
    assert out.read_text() == '{"cells": "executed"}'
    assert victim.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, f".{name}.done.json", f"{name}.running.ipynb", "victim.txt"])


def test_a_failed_run_keeps_its_copy_and_leaves_the_previous_result(tmp_path, monkeypatch):
    name = _name()
    previous = tmp_path / f"{name}.ipynb"
    previous.write_text("previous")
    monkeypatch.setattr(pm, "execute_notebook", _fake(True))
    with pytest.raises(pm.PapermillExecutionError):
        notebooks.run_notebook(name, {}, out_dir=tmp_path, kernel_name="python3", force=True)
    assert previous.read_text() == "previous"
    assert (tmp_path / f"{name}.failed.ipynb").read_text() == '{"cells": "executed"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([previous.name, f"{name}.failed.ipynb"])


def test_a_completed_run_is_skipped_until_its_parameters_or_inputs_change(tmp_path, monkeypatch):
    name = _name()
    calls = []

    def execute_notebook(src, out, **kwargs):
        calls.append(kwargs.get("parameters"))
        Path(out).write_text('{"cells": "executed"}')
    monkeypatch.setattr(pm, "execute_notebook", execute_notebook)
    run = lambda **kw: notebooks.run_notebook(name, out_dir=tmp_path, kernel_name="python3", **kw)  # noqa: E731
    run(params={"a": 1}, inputs="r1")
    run(params={"a": 1}, inputs="r1")           # same parameters, same records: skipped
    assert len(calls) == 1
    run(params={"a": 1}, inputs="r1,r2")        # a view whose records changed: rerun
    run(params={"a": 2}, inputs="r1,r2")        # other parameters: rerun
    run(params={"a": 2}, inputs="r1,r2", force=True)
    assert len(calls) == 4


def test_the_quick_run_fingerprints_the_records_that_03_compress_shows(tmp_path):
    from compactnn.experiments.pipeline_quick import records_fingerprint
    assert records_fingerprint(tmp_path) == ""
    for key in ("b2", "a1", "no_rows"):
        (tmp_path / "records" / "compress" / key).mkdir(parents=True)
        (tmp_path / "records" / "compress" / key / "record.json").write_text("{}")
        if key != "no_rows":  # a finished record has its rows too
            (tmp_path / "records" / "compress" / key / "rows.csv").write_text("scope\n")
    (tmp_path / "records" / "compress" / "unfinished").mkdir()
    assert records_fingerprint(tmp_path) == "a1,b2"
