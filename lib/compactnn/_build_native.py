"""cffi build script for the C kernels (API mode).

setuptools runs it through ``cffi_modules`` in ``setup.py``; the declarations
are read from the section of ``csrc/compactnn.h`` between the ``CDEF BEGIN``
and ``CDEF END`` markers, so the compiler checks the header against the cdef.

Run directly with ``--asan`` to build ``compactnn._cnative_asan``, the same
kernels compiled with ``-fsanitize=address,undefined`` (used by ``make
test-asan``).  ``COMPACTNN_CFLAGS`` replaces the default optimisation flags
(``-O3 -march=native``), e.g. ``COMPACTNN_CFLAGS=-O2`` for a portable build.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
HEADER = CSRC / "compactnn.h"


def _cdef_text() -> str:
    text = HEADER.read_text()
    m = re.search(r"/\* CDEF BEGIN \*/(.*?)/\* CDEF END \*/", text, re.S)
    if m is None:
        raise RuntimeError(f"{HEADER}: CDEF markers not found")
    # cffi's parser does not understand comments spanning declarations; strip them.
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    body = re.sub(r"//[^\n]*", "", body)
    return body


def _sources(absolute: bool) -> list[str]:
    paths = sorted(CSRC.glob("*.c"))
    return [str(p) if absolute else os.path.relpath(p, ROOT) for p in paths]


def make_builder(asan: bool = False, absolute: bool = False) -> FFI:
    """cffi builder; ``absolute`` paths for ``FFI.compile`` (which changes directory)."""
    ffi = FFI()
    ffi.cdef(_cdef_text())
    default = "-O3 -march=native"
    opt = shlex.split(os.environ.get("COMPACTNN_CFLAGS", default))
    cflags = ["-std=c11", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"] + opt
    ldflags = ["-pthread"]
    if asan:
        # -Wno-psabi: without -march the vector arguments of the batch-8 helpers
        # draw a note about a calling convention change of GCC 4.6
        cflags = ["-std=c11", "-pthread", "-O1", "-g", "-fno-omit-frame-pointer", "-Wno-psabi",
                  "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
        ldflags = ["-pthread", "-fsanitize=address,undefined"]
    ffi.set_source(
        "compactnn._cnative_asan" if asan else "compactnn._cnative",
        '#include "compactnn.h"',
        sources=_sources(absolute),
        include_dirs=[str(CSRC) if absolute else os.path.relpath(CSRC, ROOT)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return ffi


ffibuilder = make_builder(asan=False)

def _umask() -> int:
    """The process umask (the build runs single-threaded, so reading it by setting it is safe)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    asan = "--asan" in sys.argv
    os.chdir(ROOT)
    builder = make_builder(asan=asan, absolute=True)
    out = builder.compile(tmpdir=str(ROOT / "build" / ("asan" if asan else "native")), verbose=False)
    target = ROOT / "lib" / "compactnn" / Path(out).name
    if Path(out).resolve() != target.resolve():
        # Write beside and rename: a running process keeps its mapping of the old file.
        # a fresh temporary name in the target's folder (never a planted symlink), then rename
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(Path(out).read_bytes())
            os.chmod(tmp, 0o755 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    print(target)
