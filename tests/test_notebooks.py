"""The format-study notebooks run end to end (papermill, tiny parameters) and stay thin."""
import json
import sys
from pathlib import Path

import nbformat
import pytest

from compactnn.experiments import presets as format_study

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

TINY = {
    "01_space": {"overrides": {"shapes": [[64, 96]], "densities": [1.0, 0.1], "ks": [2, 8],
                               "references": {"zstd": 3, "xz": 0}}},
    "02_time": {"overrides": {"shapes": [[64, 96]], "densities": [1.0, 0.1], "ks": [8],
                              "batches": [1], "threads": [1, 2], "repeat": 1}},
}
OUTPUTS = {
    "01_space": ["space.csv", "space.md", "space_64x96.png", "space_64x96.pdf", "environment.json"],
    "02_time": ["time.csv", "time.md", "time_64x96.png", "time_64x96.pdf", "environment.json"],
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_and_writes_its_figures_and_tables(name, tmp_path):
    import papermill as pm
    kind = name.split("_")[1]
    out = tmp_path / "res" / kind
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                        parameters=TINY[name] | {"results": str(tmp_path / "res")}, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    for fname in OUTPUTS[name]:
        assert (out / fname).stat().st_size > 0, fname
    # The "python3" kernel resolved to this interpreter (the venv), not a global one.
    env = json.loads((out / "environment.json").read_text())
    assert Path(env["executable"]).resolve() == Path(sys.executable).resolve()
    # The measurement is a record, keyed by the configuration.
    assert list((tmp_path / "res" / "records" / kind).glob("*/record.json"))


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_is_thin_and_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in code:
        assert not cell.outputs and cell.execution_count is None
        assert "def " not in cell.source and "class " not in cell.source
    assert len(code) <= 8


@pytest.mark.parametrize("name", sorted(TINY))
def test_paper_parameters_name_exactly_the_notebook_parameters(name):
    import papermill as pm
    declared = set(pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb")))
    assert set(format_study.paper_parameters(name)) == declared
    assert set(format_study.paper_parameters(f"notebooks/{name}.ipynb")) == declared
    assert set(TINY[name]) <= declared


def test_paper_parameters_reject_an_unknown_notebook():
    with pytest.raises(ValueError, match="01_space"):
        format_study.paper_parameters("03_nothing")


def test_walkthrough_runs_with_its_defaults(tmp_path):
    import papermill as pm
    nb = pm.execute_notebook(str(NOTEBOOKS / "00_walkthrough.ipynb"), str(tmp_path / "walk.ipynb"),
                             kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert "traced:" in outputs and "NumPy:" in outputs
    declared = set(pm.inspect_notebook(str(NOTEBOOKS / "00_walkthrough.ipynb")))
    assert {"n", "m", "density", "k", "seed"} <= declared


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_shipped_notebook_is_valid_with_cell_ids(path):
    """nbformat 4.5 cells carry ids (without, nbformat warns on every run and will refuse)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids)


def test_notebooks_run_over_ipc_sockets():
    """The kernels of ``run_notebook`` talk over Unix sockets (no TCP port, no plain-text warning)."""
    from compactnn.experiments.notebooks import _ipc_kernel_manager

    assert _ipc_kernel_manager()().transport == "ipc"
