"""``python -m compactnn report`` rebuilds from records and never touches them."""
import hashlib

from compactnn.__main__ import main
from compactnn.experiments import format_study, presets


def _fingerprint(folder):
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_report_writes_tables_and_figures_without_touching_the_records(tmp_path):
    space = presets.space_config("quick", {"shapes": [[32, 48]], "densities": [1.0, 0.1],
                                           "ks": [4], "references": {}})
    timed = presets.time_config("quick", {"shapes": [[32, 48]], "densities": [0.1], "ks": [4],
                                          "batches": [1], "threads": [1], "repeat": 1})
    format_study.space_records(space, tmp_path, progress=False)
    format_study.time_records(timed, tmp_path, progress=False)
    before = _fingerprint(tmp_path / "records")
    assert main(["report", "--results", str(tmp_path)]) == 0
    assert _fingerprint(tmp_path / "records") == before
    for name in ("space/space.csv", "space/space.md", "space/space_32x48.png",
                 "time/time.csv", "time/time_32x48.pdf"):
        assert (tmp_path / "report" / name).stat().st_size > 0, name
