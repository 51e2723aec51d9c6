"""``python -m compactnn report`` rebuilds from records and never touches them or times anything."""
import hashlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from compactnn import timing
from compactnn.__main__ import main
from compactnn.experiments import format_study, presets

TIMING_FUNCTIONS = ("time_call", "time_interleaved", "time_paired", "time_paired_many", "quiesce", "_sample")


def _fingerprint(folder):
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.links


def _refuse(*args, **kwargs):
    raise AssertionError("the report must not time anything")


@pytest.fixture
def no_timing(monkeypatch):
    """Every timing function of compactnn.timing raises: a report that measures fails."""
    for name in TIMING_FUNCTIONS:
        monkeypatch.setattr(timing, name, _refuse)


def _executed_notebook(path: Path, text: str):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hello')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook"), cell]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def built(tmp_path_factory, compress_writer_module):
    """A results root with format-study records (measured before the report runs), compression records
    and two executed notebooks, after one ``report`` run with every timing function raising.

    Returns ``(root, fingerprint of records/ before the report, fingerprint after)``.
    """
    root = tmp_path_factory.mktemp("results")
    space = presets.space_config("quick", {"shapes": [[32, 48]], "densities": [1.0, 0.1],
                                           "ks": [4], "references": {}})
    timed = presets.time_config("quick", {"shapes": [[32, 48]], "densities": [0.1], "ks": [4],
                                          "batches": [1], "threads": [1], "repeat": 1})
    format_study.space_records(space, root, progress=False)
    format_study.time_records(timed, root, progress=False)
    compress_writer_module(root)
    _executed_notebook(root / "notebooks" / "00_walkthrough.ipynb", "walkthrough output")
    _executed_notebook(root / "notebooks" / "03_compress.ipynb", "compress output")
    before = _fingerprint(root / "records")
    with pytest.MonkeyPatch.context() as mp:
        for name in TIMING_FUNCTIONS:
            mp.setattr(timing, name, _refuse)
        assert main(["report", "--results", str(root)]) == 0
    return root, before, _fingerprint(root / "records")


def test_report_writes_everything_without_touching_the_records_or_timing(built):
    results, before, after = built
    assert after == before
    report = results / "report"
    for name in ("space/space.csv", "space/space.md", "space/space_32x48.png",
                 "time/time.csv", "time/time_32x48.pdf",
                 "compress/table2_best_performance.md", "compress/table3_smallest_psi_no_loss.tex",
                 "compress/occupancy.csv", "compress/variants.md", "compress/fig3_pr-cws.png",
                 "compress/fig3_pr-cws.pdf", "notebooks/00_walkthrough.html"):
        assert (report / name).stat().st_size > 0, name
    assert "walkthrough output" in (report / "notebooks" / "00_walkthrough.html").read_text()


def test_the_timing_guard_would_catch_a_measurement(no_timing):
    with pytest.raises(AssertionError, match="must not time"):
        timing.time_call(lambda: None)


def test_index_links_every_table_figure_and_notebook_and_every_link_resolves(built):
    results = built[0]
    index = results / "index.html"
    links = _links(index)
    local = [unquote(urlsplit(link).path) for link in links if not urlsplit(link).scheme]
    assert local and len(local) == len(links)
    for link in local:
        assert (results / link).exists(), link
    linked = {Path(link).as_posix() for link in local}
    for p in (results / "report").rglob("*"):
        if p.is_file():
            assert p.relative_to(results).as_posix() in linked, p
    assert "report/notebooks/00_walkthrough.html" in linked and "report/notebooks/03_compress.html" in linked
    text = index.read_text()
    for item in ("compactnn", "BLAS", "kernel threads", "torch threads", "machine"):
        assert item in text, item


def test_the_link_check_sees_a_missing_file(tmp_path):
    page = tmp_path / "index.html"
    page.write_text('<a href="report/missing.md">x</a>')
    assert not (tmp_path / _links(page)[0]).exists()


def test_notebooks_are_exported_again_only_when_they_changed(tmp_path):
    import os

    from compactnn.report.index import export_notebooks

    src = tmp_path / "notebooks" / "01_space.ipynb"
    _executed_notebook(src, "first")
    (html,) = export_notebooks(tmp_path)
    stamp = html.stat().st_mtime_ns
    assert export_notebooks(tmp_path) == [html] and html.stat().st_mtime_ns == stamp
    _executed_notebook(src, "second")
    os.utime(src, ns=(stamp + 10**9, stamp + 10**9))
    export_notebooks(tmp_path)
    assert "second" in html.read_text()


def test_report_on_a_missing_results_folder_is_a_one_line_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--results", str(tmp_path / "nothing")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such folder" in err


def test_report_without_records_still_writes_an_index(tmp_path, no_timing):
    assert main(["report", "--results", str(tmp_path)]) == 0
    assert "No tables" in (tmp_path / "index.html").read_text()
