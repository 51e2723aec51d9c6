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


def _flags(asan: bool) -> tuple[list[str], list[str]]:
    """Compile and link flags of the kernels (``asan``: the sanitizer build)."""
    if asan:
        # -Wno-psabi: without -march the vector arguments of the batch-8 helpers
        # draw a note about a calling convention change of GCC 4.6
        return (["-std=c11", "-pthread", "-O1", "-g", "-fno-omit-frame-pointer", "-Wno-psabi",
                 "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"],
                ["-pthread", "-fsanitize=address,undefined"])
    opt = shlex.split(os.environ.get("COMPACTNN_CFLAGS", "-O3 -march=native"))
    return ["-std=c11", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"] + opt, ["-pthread"]


def make_builder(asan: bool = False, absolute: bool = False, objects: list[str] | None = None) -> FFI:
    """cffi builder; ``absolute`` paths for ``FFI.compile`` (which changes directory).

    With ``objects`` (the kernels compiled already, :func:`compile_objects`),
    only cffi's own module is compiled and the objects are linked in.
    """
    ffi = FFI()
    ffi.cdef(_cdef_text())
    cflags, ldflags = _flags(asan)
    ffi.set_source(
        "compactnn._cnative_asan" if asan else "compactnn._cnative",
        '#include "compactnn.h"',
        sources=_sources(absolute) if objects is None else [],
        extra_objects=list(objects or []),
        include_dirs=[str(CSRC) if absolute else os.path.relpath(CSRC, ROOT)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return ffi


ffibuilder = make_builder(asan=False)


def compile_objects(asan: bool, tmpdir: Path) -> list[str]:
    """Compile every ``csrc/*.c`` into ``tmpdir``, one compiler process per core.

    setuptools compiles an extension's sources one after the other; the
    kernels' files take 0.1-14 s each (about 50 s in all with -O3), so on
    two cores this halves ``make build``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    cflags, _ = _flags(asan)
    sources = sorted(_sources(absolute=True), key=lambda s: -Path(s).stat().st_size)
    tmpdir.mkdir(parents=True, exist_ok=True)

    compilers = []
    for _ in sources:  # set up here: distutils' configuration is not thread-safe
        cc = new_compiler()
        customize_compiler(cc)
        compilers.append(cc)

    def one(cc, src: str) -> str:
        return cc.compile([src], output_dir=str(tmpdir), include_dirs=[str(CSRC)],
                          extra_postargs=cflags)[0]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(one, compilers, sources))

def _umask() -> int:
    """The process umask (the build runs single-threaded, so reading it by setting it is safe)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    asan = "--asan" in sys.argv
    os.chdir(ROOT)
    tmpdir = ROOT / "build" / ("asan" if asan else "native")
    builder = make_builder(asan=asan, absolute=True, objects=compile_objects(asan, tmpdir / "kernels"))
    out = builder.compile(tmpdir=str(tmpdir), verbose=False)
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
