"""compactnn.timing: samples, round-robin and paired timing, on a simulated clock.

The callables below advance a fake clock instead of taking time, so every
expected number is exact: these tests check how samples are taken and
combined, never how fast anything runs.
"""
import statistics
from types import SimpleNamespace

import numpy as np
import pytest

from compactnn import timing


class Clock:
    """A clock that only moves when a simulated product runs.

    ``phase(t)`` scales the cost of every call started at time ``t``: a slow
    phase of a shared machine slows whatever runs during it.
    """

    def __init__(self, phase=lambda t: 1.0):
        self.t = 0.0
        self.phase = phase
        self.calls = []

    def now(self):
        return self.t

    def product(self, name, cost):
        def run():
            self.calls.append(name)
            self.t += cost * self.phase(self.t)
        return run


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=c.now, sleep=lambda s: None))
    return c


def test_timing_median_best_and_spread():
    t = timing.Timing((3.0, 1.0, 2.0, 4.0, 5.0), number=2)
    assert (t.median, t.best, t.number) == (3.0, 1.0, 2)
    q1, _, q3 = statistics.quantiles(t.times, n=4)
    assert t.spread == pytest.approx((q3 - q1) / 3.0)
    assert timing.Timing((1.0, 9.0, 5.0), number=1).spread == 0.0  # too few samples


def test_time_call_makes_each_sample_last_min_sample_s(clock):
    f = clock.product("f", 1e-4)
    t = timing.time_call(f, repeat=5, min_sample_s=1e-3)
    assert t.number == 10
    assert t.times == pytest.approx((1e-4,) * 5)
    assert len(clock.calls) == 1 + 5 * 10  # one warm-up call
    with pytest.raises(ValueError, match="repeat"):
        timing.time_call(f, repeat=0)


def test_time_interleaved_takes_sample_r_of_every_candidate_in_round_r(clock):
    fns = {name: clock.product(name, cost) for name, cost in (("a", 3e-3), ("b", 2e-3), ("c", 5e-3))}
    found = timing.time_interleaved(fns, repeat=3, warmup=1, min_sample_s=1e-3)
    assert {k: v.median for k, v in found.items()} == pytest.approx({"a": 3e-3, "b": 2e-3, "c": 5e-3})
    rounds = clock.calls[3:]  # after one warm-up call each
    assert rounds == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # the order rotates
    with pytest.raises(ValueError, match="repeat"):
        timing.time_interleaved(fns, repeat=0)


def test_time_paired_alternates_the_order_and_warms_every_sample(clock):
    fa, fb = clock.product("a", 3e-3), clock.product("b", 1e-3)
    p = timing.time_paired(fa, fb, pairs=4, min_sample_s=2e-3)
    assert (p.a.number, p.b.number) == (1, 2)
    assert p.a.times == pytest.approx((3e-3,) * 4) and p.b.times == pytest.approx((1e-3,) * 4)
    assert p.ratio == pytest.approx(3.0) and p.spread == pytest.approx(0.0)
    timed = clock.calls[4:]  # two warm-up calls each, then the pairs
    a, b = ["a", "a"], ["b", "b", "b"]  # one untimed call, then `number` timed calls
    assert timed == a + b + b + a + a + b + b + a
    with pytest.raises(ValueError, match="pairs"):
        timing.time_paired(fa, fb, pairs=0)


def test_paired_ratio_ignores_slow_phases_of_the_machine(monkeypatch):
    # The machine is 3x slower for long stretches; both sides of most pairs
    # fall in the same stretch.
    c = Clock(phase=lambda t: 3.0 if int(t / 0.05) % 3 == 0 else 1.0)
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=c.now, sleep=lambda s: None))
    fa, fb = c.product("a", 2e-3), c.product("b", 1e-3)
    p = timing.time_paired(fa, fb, pairs=41, min_sample_s=1e-3)
    assert max(p.a.times) / min(p.a.times) > 2.5  # the phases are there
    assert p.ratio == pytest.approx(2.0, rel=1e-9)
    assert sum(r == pytest.approx(2.0) for r in p.ratios) > 41 // 2


def test_time_paired_many_interleaves_the_pairs_of_every_ratio(clock):
    ratios = {"x": (clock.product("a", 1e-3), clock.product("b", 2e-3)),
              "y": (clock.product("c", 3e-3), clock.product("d", 1e-3))}
    found = timing.time_paired_many(ratios, pairs=3, min_sample_s=1e-3)
    assert found["x"].ratio == pytest.approx(0.5) and found["y"].ratio == pytest.approx(3.0)
    timed = [c for c in clock.calls[8:] if c not in ("a", "c")]  # a and c: one call per sample
    assert timed == ["b", "b", "d", "d", "d", "d", "b", "b", "b", "b", "d", "d"]
    assert clock.calls[8:12] == ["a", "a", "b", "b"]  # x first in round 0, its `a` first
    assert found["x"].a.number == 1 and found["x"].b.number == 1
    with pytest.raises(ValueError, match="pairs"):
        timing.time_paired_many(ratios, pairs=0)


def test_interleaved_pairs_survive_a_long_slow_stretch_of_one_side(monkeypatch):
    # For the first 40% of the measurement every `b` (the two-thread side, say)
    # runs 3x slower.  Timed one after the other, the ratios measured in that
    # stretch would all be wrong; interleaved, every ratio keeps a majority of
    # good pairs.
    end = 6 * 21 * 2e-3  # about the length of the whole measurement
    slow = {"b1", "b2", "b3"}
    c = Clock()

    def product(name, cost):
        def run():
            c.calls.append(name)
            c.t += cost * (3.0 if name in slow and c.t < 0.4 * end else 1.0)
        return run

    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=c.now, sleep=lambda s: None))
    ratios = {j: (product(f"a{j}", 2e-3), product(f"b{j}", 1e-3)) for j in (1, 2, 3)}
    found = timing.time_paired_many(ratios, pairs=21, min_sample_s=1e-3)
    assert all(p.ratio == pytest.approx(2.0) for p in found.values())
    assert all(min(p.ratios) < 1.0 for p in found.values())  # the stretch was there for each


def test_blas_threads_pins_the_pool_inside_the_block_only():
    from threadpoolctl import threadpool_info
    np.ones((4, 4)) @ np.ones((4, 4))  # load the BLAS
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    before = [i["num_threads"] for i in blas]
    with timing.blas_threads(1):
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    with timing.blas_threads(None):  # no limit: nothing changes
        assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before


def test_machine_info_records_what_a_benchmark_depends_on():
    info = timing.machine_info()
    for key in ("processor", "cpus_usable", "python", "numpy", "scipy", "env", "kernels"):
        assert key in info
    assert info["cpus_usable"] >= 1
    assert info["kernels"]["table_bits"] > 0
    assert all(set(b) >= {"internal_api", "num_threads"} for b in timing.blas_info())
