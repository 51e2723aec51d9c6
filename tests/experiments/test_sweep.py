"""Grids expand and validate; the sweep command skips finished configurations and resumes after a kill."""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compactnn.__main__ import main
from compactnn.errors import UsageError
from compactnn.experiments.grids import expand, load_grid, shipped_grids
from compactnn.experiments.records import is_complete
from compactnn.experiments.sweep import pending

LIB = str(Path(__file__).resolve().parents[2] / "lib")

RUNNER = '''
import time
from pathlib import Path
import pandas as pd
from compactnn.experiments.records import record_dir, write_record

def run(cfg, results=None):
    time.sleep(0.4)
    folder = record_dir("compress", cfg, results)
    write_record(folder, cfg, pd.DataFrame([{"label": cfg.label(), "psi": 0.01}]), "compress", 0.4)
    with open(Path(results) / "finished.log", "a") as f:
        f.write(cfg.label() + "\\n")
    return {"metric": "accuracy", "performance": 1.0, "psi": 0.01}
'''

TINY = "recipe: small_vgg-mnist5k\nruns:\n  - {method: pr, target: dense, p: [%s], epochs: 0}\n"


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "tiny_runner.py").write_text(RUNNER)

    def make(n):
        grid = tmp_path / "tiny.yaml"
        grid.write_text(TINY % ", ".join(str(10 + i) for i in range(n)))
        return grid
    return make


def _sweep_cmd(grid, results, *extra):
    return [sys.executable, "-m", "compactnn", "sweep", str(grid), "--results", str(results),
            "--runner", "tiny_runner:run", *extra]


def _env(tmp_path):
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), LIB])}


def _check_all_once(grid, results):
    configs = load_grid(grid).configs
    assert pending(configs, results) == []
    folders = list((Path(results) / "records" / "compress").iterdir())
    assert len(folders) == len(configs)
    assert all(is_complete(f) for f in folders)
    done = (Path(results) / "finished.log").read_text().split("\n")[:-1]
    assert sorted(done) == sorted(c.label() for c in configs)  # each finished exactly once


@pytest.mark.parametrize("name", sorted(shipped_grids()))
def test_every_shipped_grid_expands_and_dry_runs(name, tmp_path, capsys):
    grid = load_grid(name)
    assert len(grid.configs) > 0
    assert len(set(grid.configs)) == len(grid.configs)
    assert main(["sweep", name, "--dry-run", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(grid.configs)} configurations, 0 done" in out
    assert "estimated cost on cpu" in out


def test_quick_grid_has_every_method_target_and_both_variants():
    configs = load_grid("quick").configs
    for m in ("pr", "cws", "pws", "uq", "ecsq", "pr-cws", "pr-pws", "pr-uq", "pr-ecsq"):
        assert {c.target for c in configs if c.method == m} == {"dense", "conv", "both"}, m
    assert {"ucws", "pr-ucws"} <= {c.method for c in configs}  # unified codebooks
    assert any(isinstance(c.k, tuple) for c in configs)  # per-layer k
    assert any(isinstance(c.p, tuple) for c in configs)  # per-layer p
    assert len({c.label() for c in configs}) == len(configs)  # one row per label in the report
    for m in ("pr-cws", "pr-pws"):
        assert {c.variant for c in configs if c.method == m} == {"paper", "reference"}
        assert {c.target for c in configs if c.method == m} == {"dense", "conv", "both"}
    # every reference configuration has its paper twin: the report's variant table pairs them
    reference = [c for c in configs if c.variant == "reference"]
    assert reference and all(dataclasses.replace(c, variant="paper") in configs for c in reference)


def test_paper_grids_use_per_layer_k():
    cfg = load_grid("vgg19-mnist").configs
    assert (32, 32, 2) in {c.k for c in cfg}
    assert max(c.epochs for c in cfg) == 100


@pytest.mark.parametrize("data, message", [
    ({"recipe": "r", "runs": [{"method": "pr", "p": 90, "colour": 1}]}, "unknown key(s) colour"),
    ({"recipe": "r", "runs": [{"method": "zip", "k": 2}]}, "unknown method 'zip'"),
    ({"recipe": "r", "runs": [{"method": "pr", "p": 90, "target": "all"}]}, "unknown target 'all'"),
    ({"recipe": "r", "runs": [{"method": "pr", "p": 120}]}, "percentile"),
    ({"recipe": "r", "runs": [{"method": "cws", "k": 0.5}]}, "positive integer"),
    ({"recipe": "r", "runs": [{"method": "cws"}]}, "needs a codebook size"),
    ({"recipe": "r", "runs": [{"method": "cws", "k": 2, "variant": "x"}]}, "unknown variant"),
    ({"recipe": "r", "runs": []}, "non-empty 'runs'"),
    ({"recipe": "r", "runs": [{"p": 3}], "extra": 1}, "unknown key(s) extra"),
])
def test_bad_grids_fail_with_one_line(data, message):
    with pytest.raises(UsageError, match=None) as info:
        expand(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_expansion_is_a_product_with_per_layer_choices():
    g = expand({"recipe": "r", "defaults": {"epochs": 3},
                "runs": [{"method": ["pr-cws", "pr-pws"], "p": [90, 99], "k": [[32, 32, 2], 8]}]})
    assert len(g.configs) == 8
    assert {c.k for c in g.configs} == {(32, 32, 2), 8}
    assert all(c.epochs == 3 for c in g.configs)


def test_bad_grid_file_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: r\nruns:\n  - {method: nope, k: 2}\n")
    r = subprocess.run([sys.executable, "-m", "compactnn", "sweep", str(bad), "--dry-run"],
                       capture_output=True, text=True, env=os.environ | {"PYTHONPATH": LIB})
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "unknown method" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_sweep_resumes_and_runs_each_configuration_once(tiny, tmp_path, sig):
    grid, results = tiny(6), tmp_path / "results"
    proc = subprocess.Popen(_sweep_cmd(grid, results, "--workers", "0"), env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = results / "finished.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and len(log.read_text().split()) >= 4):
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    configs = load_grid(grid).configs
    left = pending(configs, results)
    assert 0 < len(left) < len(configs)  # killed mid-run
    r = subprocess.run(_sweep_cmd(grid, results, "--dry-run"), env=_env(tmp_path),
                       capture_output=True, text=True)
    assert f"{len(configs) - len(left)} done" in r.stdout
    r = subprocess.run(_sweep_cmd(grid, results, "--workers", "0"), env=_env(tmp_path),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _check_all_once(grid, results)


def test_local_dask_cluster(tiny, tmp_path):
    grid, results = tiny(3), tmp_path / "results"
    r = subprocess.run(_sweep_cmd(grid, results, "--workers", "2"), env=_env(tmp_path),
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    _check_all_once(grid, results)
    assert r.stderr.count("done pr/") == 3


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_existing_dask_scheduler(tiny, tmp_path):
    grid, results = tiny(3), tmp_path / "results"
    env = _env(tmp_path)
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                              "--port", port, "--no-dashboard"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nthreads", "1", "--no-dashboard"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = subprocess.run(_sweep_cmd(grid, results), env=env | {"DASK_SCHEDULER_ADDRESS": address},
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        _check_all_once(grid, results)
    finally:
        for p in (worker, sched):
            p.terminate()
            p.wait(timeout=30)
