"""notebooks/04_report.ipynb runs with papermill on a tiny records folder and stays thin."""
import json
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_report.ipynb"


def test_report_notebook_runs_on_records_and_shows_the_tables(compress_records, tmp_path):
    import papermill as pm

    before = {p: p.stat().st_mtime_ns for p in (compress_records / "records").rglob("*")}
    nb = pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "04_report.ipynb"),
                             parameters={"results": str(compress_records)}, kernel_name="python3",
                             progress_bar=False, cwd=str(tmp_path))
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert "0.025 (sHAM)" in outputs  # Table III
    assert "fc1:3, fc2:2" in outputs  # the variant table
    assert "image/png" in outputs  # Fig. 3
    assert (compress_records / "index.html").is_file()
    assert (compress_records / "report" / "compress" / "table2_best_performance.tex").is_file()
    assert {p: p.stat().st_mtime_ns for p in (compress_records / "records").rglob("*")} == before


def test_report_notebook_is_thin_and_committed_without_outputs():
    import papermill as pm

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in code:
        assert not cell.outputs and cell.execution_count is None
        assert "def " not in cell.source and "class " not in cell.source
        assert "experiments" not in cell.source  # the report reads records, it never measures
    assert len(code) <= 8
    assert set(pm.inspect_notebook(str(NOTEBOOK))) == {"results"}
