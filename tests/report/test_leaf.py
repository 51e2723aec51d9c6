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


def test_importing_every_report_module_loads_nothing_from_experiments():
    import subprocess
    import sys

    names = [p.stem for p in sorted(REPORT.glob("*.py")) if p.stem != "__init__"]
    code = ("import sys, importlib\n"
            f"for n in {names!r}: importlib.import_module('compactnn.report.' + n)\n"
            "bad = sorted(m for m in sys.modules if m.startswith('compactnn.experiments'))\n"
            "print(' '.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
