"""Fuzz family: files with a valid checksum and a lying header, for every format.

The cases run in a child process (``_file_fuzz_child.py``) under ``RLIMIT_AS``
and a wall-clock bound; each load must raise ``FormatError`` or give a matrix
whose ``to_dense``, ``nnz`` and product agree, within a traced allocation peak
and a time per case.  ``pytest -s`` prints how many cases ran and the peaks.
Set ``COMPACTNN_FUZZ_EXAMPLES`` (and ``COMPACTNN_FUZZ_SEED``) for a longer run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

HERE = Path(__file__).resolve().parent
LIB = HERE.parents[1] / "lib"
EXAMPLES = int(os.environ.get("COMPACTNN_FUZZ_EXAMPLES", "800"))
SEED = int(os.environ.get("COMPACTNN_FUZZ_SEED", "16"))
#: Slowest case allowed (s): far above an honest load of these small files, far below
#: what a header that drives the work past the file's size would cost.
CASE_SECONDS = 5.0
#: Wall-clock bound of the whole child.
TOTAL_SECONDS = 300


def test_lying_headers_are_refused_within_bounded_time_and_memory():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(LIB), str(HERE)]))
    proc = subprocess.run([sys.executable, str(HERE / "_file_fuzz_child.py"), str(EXAMPLES), str(SEED)],
                          env=env, capture_output=True, text=True, timeout=TOTAL_SECONDS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nfile fuzz: {stats['cases']} cases ({stats['refused']} refused, {stats['loaded']} "
          f"loaded), slowest {stats['max_case_s']:.3f} s, largest traced load peak "
          f"{stats['max_load_peak'] / 2**20:.2f} MiB, ru_maxrss {stats['maxrss_kb'] / 1024:.0f} MiB "
          f"(after imports {stats['maxrss_kb_start'] / 1024:.0f} MiB); lies {stats['lies']}")
    assert stats["error"] is None, stats["error"]
    assert stats["cases"] >= EXAMPLES
    assert stats["refused"] > 0 and stats["loaded"] > 0     # both outcomes are exercised
    assert stats["max_case_s"] < CASE_SECONDS
    assert stats["maxrss_kb"] - stats["maxrss_kb_start"] < 512 * 1024
