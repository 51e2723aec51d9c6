"""The body of the file fuzz family, run in its own process by ``test_file_fuzz.py``.

Hypothesis writes, for every format, archives with a *valid* checksum and a
lying header (shape, nnz and the other integer fields, group sizes, extra or
missing arrays, arrays of the wrong length or content, wrong JSON types) and
loads them from memory.  Each load must raise ``FormatError`` or give a matrix
whose ``to_dense``, ``nnz`` and product agree.  The process runs under
``RLIMIT_AS`` (a safety net) and every case is timed and its traced allocations
measured (tracemalloc sees NumPy's buffers, even ones never touched), so a lie
that makes ``load`` allocate or work past what the file holds is caught even
when the allocation would have succeeded.

Prints one JSON line: cases run, how many were refused, the slowest case, the
largest traced allocation peak of a case, ``ru_maxrss`` before and after.
Usage: ``python _file_fuzz_child.py EXAMPLES SEED``.
"""
from __future__ import annotations

import io
import json
import resource
import sys
import time
import tracemalloc
import traceback

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from compactnn.errors import FormatError
from compactnn.formats import MatrixFormat, load

from _matrices import FORMAT_NAMES, accepts_wordbits, build, check_usable_or_refused, matrices

#: Address space the process may grow by past what the imports left (a safety net).
AS_HEADROOM = 3 << 30
#: Largest traced allocation peak one case may reach while loading.
LOAD_PEAK_LIMIT = 64 << 20
#: Largest matrix (n*m) whose to_dense and product are also exercised.
USE_LIMIT = 1 << 16

STATS = {"cases": 0, "refused": 0, "loaded": 0, "max_case_s": 0.0, "max_load_peak": 0,
         "lies": {}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=4),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=4)
dims = st.one_of(st.integers(0, 24), st.integers(0, 2 ** 40),
                 st.sampled_from([2 ** 31 - 1, 2 ** 31, 4096, 16384, 2 ** 20, 2 ** 26]),
                 st.integers(-3, -1), json_values)
ints = st.one_of(st.integers(-2, 40), st.integers(0, 2 ** 64), st.sampled_from([2 ** 31, 2 ** 32 - 1]),
                 st.floats(0, 100), st.booleans(), st.text(max_size=3), st.none())
LIES = ("shape", "nnz", "field", "extra_field", "missing_field", "extra_array", "missing_array",
        "array_content", "array_length", "array_dtype", "json_type", "spec")


def _int_array(rng, dtype, size, like):
    info = np.iinfo(dtype)
    kind = rng.integers(3)
    if kind == 0 or like.size == 0:
        return rng.integers(0, int(info.max), size, dtype=dtype, endpoint=True)
    base = np.resize(like, size).astype(dtype)
    if kind == 1 and size:
        base[rng.integers(size)] = rng.choice([0, 1, int(info.max), int(like.max()) + 1]).astype(dtype)
    return base


def _array_like(rng, a, size):
    """An array of ``a``'s dtype with ``size`` entries: ``a`` resized and perturbed, or random."""
    flat = a.reshape(-1)
    if a.dtype.kind == "f":
        out = np.resize(flat, size).astype(a.dtype) if flat.size else np.zeros(size, a.dtype)
        if size:
            out[rng.integers(size)] = rng.choice([0.0, -0.0, 1.0, 3.5, 1e30])
    else:
        out = _int_array(rng, a.dtype, size, flat)
    return out.reshape(a.shape) if a.ndim == 2 and size == a.size else out


@st.composite
def lying_files(draw):
    """(bytes of an archive with a valid checksum and a lying header, lies told)."""
    name = draw(st.sampled_from(FORMAT_NAMES))
    W = draw(matrices(max_side=8))
    opts = {"wordbits": draw(st.sampled_from([32, 64]))} if accepts_wordbits(name) else {}
    M = build(name, W, opts)
    arrays = {k: np.ascontiguousarray(v) for k, v in M._arrays().items()}
    meta = dict(M._meta)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    lies = draw(st.lists(st.sampled_from(LIES), min_size=1, max_size=3))
    header_changes, spec_changes = {}, {}
    for lie in lies:
        if lie == "shape":
            header_changes["shape"] = draw(st.one_of(st.lists(dims, min_size=2, max_size=2),
                                                     json_values))
        elif lie == "nnz":
            meta["nnz"] = draw(st.one_of(st.integers(-1, 100), ints))
        elif lie == "field" and meta:
            meta[draw(st.sampled_from(sorted(meta)))] = draw(ints)
        elif lie == "extra_field":
            meta[draw(st.sampled_from(["extra", "group", "lit", "width", "wordbits", "k"]))] = draw(ints)
        elif lie == "missing_field" and meta:
            meta.pop(draw(st.sampled_from(sorted(meta))), None)
        elif lie == "extra_array":
            arrays[draw(st.sampled_from(["extra", "vi", "ri", "cb", "gp", "words"]))] = \
                _int_array(rng, np.uint32, int(rng.integers(0, 9)), np.zeros(0, np.uint32))
        elif lie == "missing_array" and arrays:
            arrays.pop(draw(st.sampled_from(sorted(arrays))))
        elif lie in ("array_content", "array_length") and arrays:
            key = draw(st.sampled_from(sorted(arrays)))
            a = arrays[key]
            size = a.size if lie == "array_content" else int(draw(st.integers(0, 2 * a.size + 3)))
            arrays[key] = np.ascontiguousarray(_array_like(rng, a, size))
        elif lie == "array_dtype" and arrays:
            key = draw(st.sampled_from(sorted(arrays)))
            dt = draw(st.sampled_from(["<u1", "<u2", "<u4", "<u8", "<i4", "<i8", "<f4", "<f8"]))
            arrays[key] = np.ascontiguousarray(arrays[key]).astype(dt)
        elif lie == "json_type":
            header_changes[draw(st.sampled_from(["version", "format", "dtype", "meta", "arrays",
                                                 "magic"]))] = draw(json_values)
        elif lie == "spec" and arrays:
            key = draw(st.sampled_from(sorted(arrays)))
            spec_changes[key] = {"dtype": arrays[key].dtype.str,
                                 "shape": draw(st.lists(dims, min_size=1, max_size=2))}
    header = M._header(arrays)
    header["meta"] = meta
    header["arrays"].update(spec_changes)
    header.update(header_changes)
    header = json.loads(json.dumps(header))
    header["sha256"] = MatrixFormat._digest(header, arrays)
    payload = {f"a_{k}": v for k, v in arrays.items()}
    payload["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **payload)
    return buf.getvalue(), (name, tuple(lies))


def check_one(data: bytes, lies) -> None:
    """Load ``data``: FormatError, or a matrix whose views agree; bounded time and memory."""
    STATS["cases"] += 1
    for lie in lies[1]:
        STATS["lies"][lie] = STATS["lies"].get(lie, 0) + 1
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        L = load(io.BytesIO(data))
    except FormatError:
        L = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    STATS["max_load_peak"] = max(STATS["max_load_peak"], peak)
    assert peak <= LOAD_PEAK_LIMIT, f"load traced {peak} bytes for {lies}"
    if L is None:
        STATS["refused"] += 1
    else:
        STATS["loaded"] += 1
        n, m = L.shape
        assert 0 <= L.nnz <= n * m
        if n * m <= USE_LIMIT:
            X = np.random.default_rng(0).standard_normal((2, n))
            check_usable_or_refused(L, X)
            try:
                D = L.to_dense()
            except FormatError:
                D = None
            if D is not None:
                assert L.nnz == np.count_nonzero(D), f"nnz {L.nnz} but {np.count_nonzero(D)} nonzeros"
    dt = time.perf_counter() - t0
    STATS["max_case_s"] = max(STATS["max_case_s"], dt)


def main(examples: int, seed_value: int) -> int:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + AS_HEADROOM, resource.getrlimit(resource.RLIMIT_AS)[1]))

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(lying_files())
    def fuzz(case):
        check_one(*case)

    error = None
    try:
        fuzz()
    except BaseException:   # reported to the test, which fails with it
        error = traceback.format_exc(limit=8)
    STATS.update(maxrss_kb_start=rss0, maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 error=error)
    print(json.dumps(STATS))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
