"""The two entry points: `quick` and `paper` say what they do, plan without training, refuse bad input."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compactnn.__main__ import main
from compactnn.experiments import pipeline_paper, pipeline_quick
from compactnn.experiments.grids import load_grid, shipped_grids
from compactnn.experiments.notebooks import notebook_path

LIB = str(Path(__file__).resolve().parents[2] / "lib")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "compactnn", *args], capture_output=True, text=True,
                          cwd=cwd, env=os.environ | {"PYTHONPATH": LIB})


def test_every_paper_grid_and_the_quick_grid_are_shipped():
    assert set(pipeline_paper.PAPER_GRIDS) | {pipeline_quick.QUICK_GRID} <= set(shipped_grids())


def test_every_quick_notebook_is_shipped():
    for name in pipeline_quick.QUICK_NOTEBOOKS + pipeline_paper.PAPER_NOTEBOOKS:
        assert notebook_path(name) is not None, name


@pytest.mark.parametrize("command, words", [
    ("quick", ["RESULTS/records", "RESULTS/notebooks", "RESULTS/report", "grids/quick.yaml",
               *pipeline_quick.QUICK_NOTEBOOKS]),
    ("paper", ["RESULTS/records", "RESULTS/notebooks", "RESULTS/report", "make data",
               "DASK_SCHEDULER_ADDRESS", *pipeline_paper.PAPER_GRIDS, *pipeline_paper.PAPER_NOTEBOOKS]),
])
def test_help_says_where_outputs_go_and_what_runs(command, words):
    r = _cli(command, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for word in words:
        assert word in text, word


def test_paper_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    assert main(["paper", "--dry-run", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in pipeline_paper.PAPER_GRIDS:
        n = len(load_grid(name).configs)
        assert f"grid {name} " in out and f"{n} configurations, 0 done, {n} to run" in out
    assert "h on gpu" in out and "h on cpu" in out
    assert not (tmp_path / "records").exists()


def test_paper_one_grid_dry_run(tmp_path, capsys):
    assert main(["paper", "--dry-run", "--grid", "deepdta-davis", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "grid deepdta-davis " in out and "vgg19" not in out


def test_quick_dry_run_prints_the_plan(tmp_path, capsys):
    assert main(["quick", "--dry-run", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    n = len(load_grid("quick").configs)
    assert f"grid quick: {n} configurations, 0 done" in out
    assert str(tmp_path / "report") in out
    assert not (tmp_path / "records").exists()


def test_paper_unknown_grid_exits_2_with_one_line(tmp_path):
    r = _cli("paper", "--grid", "nope", "--results", str(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no grid file 'nope'" in r.stderr


def test_paper_without_the_data_sets_asks_for_make_data(tmp_path):
    r = _cli("paper", "--grid", "vgg19-mnist", "--results", str(tmp_path / "r"), cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "make data" in r.stderr
    assert not (tmp_path / "r" / "records").exists()


def test_quick_rejects_negative_workers(tmp_path):
    r = _cli("quick", "--workers", "-1", "--results", str(tmp_path))
    assert r.returncode == 2 and "--workers" in r.stderr
