"""Every code block of the README runs as written.

Blocks run in order, in one temporary folder (a block may use a file an
earlier one wrote): ``python`` blocks with this interpreter, ``sh``/``bash``
blocks with bash, ``python`` resolving to this interpreter.  A block preceded
by ``<!-- readme-test: skip (reason) -->`` is not run; only the long entry
points (``make``, a whole grid, a cluster) may be skipped, and each says why.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"(?P<marker><!-- readme-test: skip \((?P<reason>[^)]*)\) -->\n)?"
                   r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.M | re.S)
#: The only commands a skipped block may contain (long or needing a cluster).
SKIPPABLE = re.compile(r"^(make\b|python -m compactnn (sweep|paper|quick)\b|DASK_SCHEDULER_ADDRESS=|#|$)")


def _blocks():
    text = README.read_text(encoding="utf-8")
    out = []
    for i, m in enumerate(FENCE.finditer(text)):
        first = m["body"].strip().splitlines()[0] if m["body"].strip() else ""
        out.append(pytest.param(m["lang"], m["body"], m["reason"], id=f"{i:02d}-{m['lang']}-{first[:40]}"))
    return out


BLOCKS = _blocks()


def test_the_readme_has_code_blocks_of_every_kind():
    langs = {p.values[0] for p in BLOCKS}
    assert {"python", "sh"} <= langs
    assert all(lang in ("python", "sh", "bash", "") for lang in langs), langs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize("lang,body,reason", BLOCKS)
def test_readme_block_runs(lang, body, reason, workdir):
    if lang == "":
        pytest.skip("plain text block (a layout listing)")
    if reason is not None:
        assert reason.strip(), "a skipped README block must say why"
        bad = [ln for ln in body.splitlines() if not SKIPPABLE.match(ln.strip())]
        assert not bad, f"only long entry points may be skipped, not {bad}"
        pytest.skip(reason)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("COMPACTNN_RESULTS", None)
    if lang == "python":
        cmd = [sys.executable, "-c", body]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", body]
    r = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"README block failed ({r.returncode}):\n{body}\n--- stdout\n{r.stdout[-3000:]}" \
                              f"\n--- stderr\n{r.stderr[-3000:]}"
