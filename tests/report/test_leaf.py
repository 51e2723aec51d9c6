"""report/ is a leaf: it reads records and never imports the measuring side."""
import ast
from pathlib import Path

import compactnn

REPORT = Path(compactnn.__file__).parent / "report"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


def test_no_report_module_imports_experiments():
    files = sorted(REPORT.glob("*.py"))
    assert files
    for path in files:
        bad = {n for n in _imports(path) if "experiments" in n.split(".")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_check_sees_a_relative_import_of_experiments(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from ..experiments import records\n")
    assert any("experiments" in n.split(".") for n in _imports(f))
