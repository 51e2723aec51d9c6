"""House style of the figures: log axes labelled as plain numbers, matplotlib's choice of ticks."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from compactnn.report.tables import finish_layout  # noqa: E402


@pytest.mark.parametrize("lo, hi, major, minor", [
    (1e-3, 2.0, {"0.001", "0.01", "0.1", "1"}, set()),          # decades: majors only
    (0.7, 3.0, {"1"}, {"2", "3"}),                              # under a decade: minors too
])
def test_log_axes_get_plain_labels(lo, hi, major, minor):
    fig, ax = plt.subplots()
    ax.plot([lo, hi], [lo, hi])
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
    finish_layout(fig)
    fig.canvas.draw()
    shown = {t.get_text() for t in ax.get_yticklabels() if t.get_text()}
    shown_minor = {t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()}
    plt.close(fig)
    assert major <= shown and minor <= shown_minor
    assert not any("$" in t or "^" in t for t in shown | shown_minor)  # no mathtext
    if not minor:
        assert not shown_minor
