"""Execute the parameterized notebooks with papermill.

Each notebook in ``notebooks/`` is one artifact of the paper; this module runs
it with a parameter set into ``results/notebooks/`` (the executed copy, with its
outputs) while the notebook itself writes its tables and figures.  A run that
completed with the same parameters is skipped, so an interrupted ``make``
resumes where it stopped: completion is recorded in a small JSON file written
atomically after the notebook finished.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _notebook_dir() -> Path:
    """``notebooks/`` shipped inside the package, else the source tree's top-level ``notebooks/``."""
    inside = Path(__file__).resolve().parent.parent / "notebooks"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent.parent.parent / "notebooks"


NOTEBOOK_DIR = _notebook_dir()


def notebook_path(name: str) -> Path | None:
    """``NOTEBOOK_DIR/<name>.ipynb`` if it exists, else None."""
    path = NOTEBOOK_DIR / f"{Path(name).stem}.ipynb"
    return path if path.is_file() else None


def _digest(name: str, params: dict, source: bytes, inputs: str) -> str:
    text = json.dumps({"notebook": name, "parameters": params, "inputs": inputs,
                       "source": hashlib.sha256(source).hexdigest()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_notebook(name: str, params: dict | None = None, out_dir: str | os.PathLike = "results/notebooks",
                 force: bool = False, kernel_name: str | None = None, inputs: str = "") -> Path:
    """Run ``notebooks/<name>.ipynb`` with ``params``; return the executed copy's path.

    Skipped when the same notebook (same source file) already completed with
    the same parameters and the same ``inputs`` (unless ``force``): ``inputs``
    is a fingerprint of what the notebook reads, e.g. the keys of the records
    it shows, so that a view is rerun when its records change.  The notebook
    runs with this interpreter's kernel.
    """
    import papermill as pm

    params = dict(params or {})
    src = notebook_path(name)
    if src is None:
        raise FileNotFoundError(f"no notebook {NOTEBOOK_DIR / (Path(name).stem + '.ipynb')}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / src.name
    stamp = out_dir / f".{src.stem}.done.json"
    digest = _digest(src.stem, params, src.read_bytes(), inputs)
    if not force and stamp.exists():
        try:
            if json.loads(stamp.read_text()).get("digest") == digest and out.exists():
                log.info("%s: already complete with these parameters, skipped", src.stem)
                return out
        except (OSError, ValueError):
            pass
    log.info("running %s", src.stem)
    t0 = time.perf_counter()
    from .._files import atomic_path, write_text_atomic

    # papermill writes the executed copy as it goes: into a unique temporary file,
    # renamed over ``out`` once the notebook finished; a failed run's copy is kept
    # (also renamed atomically) as ``<name>.failed.ipynb`` to read its traceback
    failed = out.with_name(out.stem + ".failed.ipynb")
    with atomic_path(out, suffix=".ipynb") as tmp:
        try:
            pm.execute_notebook(str(src), str(tmp), parameters=params, cwd=os.getcwd(),
                                kernel_name=kernel_name or _kernel_name(),
                                kernel_manager_class=_ipc_kernel_manager(),
                                progress_bar=sys.stderr.isatty(),  # a bar over cells, terminals only
                                log_output=False)
        except pm.PapermillExecutionError:
            with atomic_path(failed, suffix=".ipynb") as keep:
                os.replace(tmp, keep)
            raise
    record = {"digest": digest, "parameters": params, "seconds": round(time.perf_counter() - t0, 1)}
    write_text_atomic(stamp, json.dumps(record, indent=1, default=str))
    log.info("%s done in %.1f s", src.stem, record["seconds"])
    return out


def _ipc_kernel_manager():
    """The kernel manager class of the runs: the kernel talks over local (Unix) sockets.

    Over TCP, ipykernel warns on every start that the traffic is unencrypted;
    IPC sockets live beside the kernel's connection file, readable by the user
    alone, and reach no network.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IPCKernelManager


def _kernel_name() -> str:
    """A Jupyter kernel that runs this interpreter (registered in the venv if missing)."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = "compactnn"
    prefix = Path(sys.prefix)
    ksm = KernelSpecManager()
    spec_dir = prefix / "share" / "jupyter" / "kernels" / name
    if not spec_dir.exists():
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (compactnn)", "language": "python"}
        from .._files import write_text_atomic

        write_text_atomic(spec_dir / "kernel.json", json.dumps(spec, indent=1))
    if name not in ksm.find_kernel_specs():
        return "python3"
    return name
