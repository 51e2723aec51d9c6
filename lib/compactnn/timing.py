"""Timing utilities: medians of repeated runs, BLAS thread control, a quiet CPU.

Two things make naive timings of our kernels next to NumPy misleading:

- OpenBLAS worker threads keep spinning for a while after a BLAS call returns,
  and steal the cores our C threads want.  :func:`quiesce` sleeps long enough
  for them to go idle; call it between a BLAS product and a kernel timing.
- NumPy's product uses every core by default, our kernels as many threads as
  asked.  :func:`blas_threads` pins the BLAS pool (threadpoolctl) so that "1
  thread" means the same for both, and :func:`blas_info` records which BLAS
  library and which kernel (``architecture``, OpenBLAS's core type) ran.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

__all__ = ["Timing", "Paired", "time_call", "time_interleaved", "time_paired", "time_paired_many",
           "quiesce", "blas_threads", "blas_info", "machine_info"]

#: Seconds OpenBLAS threads keep spinning after a call (its default busy-wait is
#: well under this on current versions).
QUIESCE_S = 0.3


@dataclass(frozen=True)
class Timing:
    """Seconds per call of repeated measurements."""

    times: tuple[float, ...] = field(repr=False)
    number: int

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def spread(self) -> float:
        """Relative interquartile range (a noise indicator; 0 for fewer than 4 samples)."""
        return _relative_iqr(self.times)


def _relative_iqr(values) -> float:
    if len(values) < 4:
        return 0.0
    q1, med, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / med if med else 0.0


@dataclass(frozen=True)
class Paired:
    """Two callables timed in alternation (:func:`time_paired`): sample ``i`` of
    ``a`` and sample ``i`` of ``b`` were taken back to back."""

    a: Timing
    b: Timing

    @property
    def ratios(self) -> tuple[float, ...]:
        """``a`` time / ``b`` time, one per pair."""
        return tuple(x / y for x, y in zip(self.a.times, self.b.times))

    @property
    def ratio(self) -> float:
        """Median of the per-pair ratios (``a`` slower than ``b`` when > 1)."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> float:
        """Relative interquartile range of the per-pair ratios."""
        return _relative_iqr(self.ratios)


def time_call(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1,
              number: int | None = None, min_sample_s: float = 2e-3,
              max_number: int = 1000) -> Timing:
    """Median-friendly timing of ``fn()``.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    repeat : int
        Number of samples.
    warmup : int
        Untimed calls first (page faults, caches, lazily built tables, thread pools).
    number : int, optional
        Calls per sample; by default chosen from the warm-up so that one sample
        lasts at least ``min_sample_s`` (timer resolution and call overhead
        matter for sub-millisecond products), at most ``max_number``.

    Returns
    -------
    Timing
        ``times`` are seconds per call, one per sample.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if number is None:
        number = _warm_up(fn, warmup, min_sample_s, max_number)
    else:
        for _ in range(warmup):
            fn()
    return Timing(tuple(_sample(fn, number) for _ in range(repeat)), int(number))


def _sample(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``number`` calls of ``fn`` in a row."""
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def _warm_up(fn: Callable[[], object], warmup: int, min_sample_s: float, max_number: int) -> int:
    """Call ``fn`` ``max(warmup, 1)`` times; the calls per sample that make one
    sample last at least ``min_sample_s`` (judged from the last call), at most
    ``max_number``."""
    elapsed = 0.0
    for _ in range(max(warmup, 1)):
        elapsed = _sample(fn, 1)
    if elapsed >= min_sample_s:
        return 1
    return min(max_number, math.ceil(min_sample_s / max(elapsed, 1e-7)))


def _rotated(keys: list, r: int) -> list:
    """``keys`` rotated left by ``r``: the order of round ``r``, so that no key always follows the same one."""
    shift = r % len(keys) if keys else 0
    return keys[shift:] + keys[:shift]


def time_interleaved(fns: dict, *, repeat: int = 7, warmup: int = 1, min_sample_s: float = 2e-3,
                     max_number: int = 1000) -> dict:
    """Time several callables round-robin: sample ``r`` of each is taken in round ``r``.

    A burst of load from other processes then slows every candidate alike, so
    ratios of medians stay meaningful on a shared machine, where timing one
    candidate after the other would charge the burst to whichever ran then.
    The order within a round rotates, so no candidate always follows the same one.

    Parameters
    ----------
    fns : dict
        Key -> callable taking no arguments.
    repeat, warmup, min_sample_s, max_number
        As in :func:`time_call`.

    Returns
    -------
    dict
        Key -> :class:`Timing`.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    keys = list(fns)
    number = {key: _warm_up(fns[key], warmup, min_sample_s, max_number) for key in keys}
    samples: dict = {key: [] for key in keys}
    for r in range(repeat):
        for key in _rotated(keys, r):
            samples[key].append(_sample(fns[key], number[key]))
    return {key: Timing(tuple(samples[key]), number[key]) for key in keys}


def time_paired(fa: Callable[[], object], fb: Callable[[], object], *, pairs: int = 15,
                min_sample_s: float = 2e-3, max_number: int = 1000) -> Paired:
    """Time ``fa`` against ``fb`` in pairs of back-to-back samples.

    On a shared machine the speed of a core drifts in phases lasting from
    milliseconds to seconds; two candidates timed at different moments can
    differ by more than the effect measured.  Here sample ``i`` of ``fa`` and
    sample ``i`` of ``fb`` follow each other within a few milliseconds, so
    both see the same phase, and :attr:`Paired.ratio` is the median of the
    per-pair ratios.  The order within a pair alternates (``a b``, ``b a``,
    ...), and every sample starts with an untimed call, so that caches and
    thread pools are in the state a run of back-to-back calls leaves them in.

    Parameters
    ----------
    fa, fb : callable
        Called with no arguments; their results are discarded.
    pairs : int
        Number of pairs of samples.
    min_sample_s, max_number
        Calls per sample, chosen from a warm-up as in :func:`time_call` (the
        same count for every sample of a callable).

    Returns
    -------
    Paired
    """
    return time_paired_many({0: (fa, fb)}, pairs=pairs, min_sample_s=min_sample_s,
                            max_number=max_number)[0]


def time_paired_many(ratios: dict, *, pairs: int = 15, min_sample_s: float = 2e-3,
                     max_number: int = 1000) -> dict:
    """Several paired ratios (:func:`time_paired`) with their pairs interleaved.

    Round ``i`` takes pair ``i`` of every ratio, the ratios in rotating order,
    so the pairs of each ratio are spread over the whole measurement instead
    of being taken in one stretch: a phase of the machine lasting seconds (a
    neighbour taking the core of one of the virtual CPUs, say) spoils some
    pairs of every ratio, not every pair of a few ratios, and the medians
    stay with the majority.

    Parameters
    ----------
    ratios : dict
        Key -> ``(fa, fb)``, two callables taking no arguments.
    pairs, min_sample_s, max_number
        As in :func:`time_paired`.

    Returns
    -------
    dict
        Key -> :class:`Paired`.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    keys = list(ratios)
    number = {key: [_warm_up(fn, 2, min_sample_s, max_number) for fn in ratios[key]] for key in keys}

    def sample(fn, count):
        fn()  # untimed
        return _sample(fn, count)

    times: dict = {key: ([], []) for key in keys}
    for i in range(pairs):
        for key in _rotated(keys, i):
            (fa, fb), (na, nb), (ta, tb) = ratios[key], number[key], times[key]
            if i % 2:
                tb.append(sample(fb, nb))
                ta.append(sample(fa, na))
            else:
                ta.append(sample(fa, na))
                tb.append(sample(fb, nb))
    return {key: Paired(Timing(tuple(times[key][0]), number[key][0]),
                        Timing(tuple(times[key][1]), number[key][1])) for key in keys}


def quiesce(seconds: float = QUIESCE_S) -> None:
    """Sleep so that BLAS worker threads stop spinning before the next timing."""
    time.sleep(seconds)


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Limit NumPy's BLAS to ``threads`` threads inside the block (``None``: no limit)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(threads), user_api="blas"):
        yield


def blas_info() -> list[dict]:
    """The BLAS/OpenMP libraries loaded, per threadpoolctl (library, version, kernel, threads)."""
    import numpy  # noqa: F401  (loads the BLAS so that threadpoolctl sees it)
    from threadpoolctl import threadpool_info
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads",
            "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info()]


def machine_info() -> dict:
    """What a benchmark result depends on: CPU, cores, load, library versions, env."""
    import numpy
    import scipy
    info = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO"))},
    }
    try:
        from . import _native
        info["kernels"] = {"variant": _native.VARIANT, "table_bits": _native.TABLE_BITS,
                           "max_threads": _native.MAX_THREADS}
    except ImportError:
        info["kernels"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
