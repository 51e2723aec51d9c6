"""The cffi boundary's worker pool: shared by products, safe across threads and fork."""
import multiprocessing
import os
import threading

import numpy as np
import pytest

from compactnn import _native
from compactnn.formats import get_format

pytestmark = pytest.mark.kernel


def _case(seed=0, n=300, m=64, density=0.3):
    rng = np.random.default_rng(seed)
    W = np.where(rng.random((n, m)) < density, rng.integers(1, 9, (n, m)) / 8, 0).astype(np.float32)
    X = rng.standard_normal((8, n)).astype(np.float32)
    return W, X, X.astype(np.float64) @ W


def test_pool_is_made_once_per_process():
    assert _native._pool() is _native._pool()


@pytest.mark.parametrize("name", ["ham", "sham", "im", "cer"])
def test_products_from_several_python_threads_at_once(name):
    # one caller holds the pool, the others start their own threads; all results exact
    W, X, ref = _case(1)
    F = get_format(name).from_dense(W)
    errors = []

    def work():
        try:
            for threads in (2, 2, 3, 1) * 5:
                np.testing.assert_allclose(F.matmul(X, threads=threads), ref, rtol=1e-4, atol=1e-4)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors


def _child(conn):
    W, X, ref = _case(2)
    F = get_format("sham").from_dense(W)
    conn.send(bool(np.allclose(F.matmul(X, threads=2), ref, rtol=1e-4, atol=1e-4)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_pool():
    W, X, ref = _case(2)
    get_format("sham").from_dense(W).matmul(X, threads=2)  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child, args=(child,))
    p.start()
    assert parent.poll(60) and parent.recv()
    p.join(60)
    assert p.exitcode == 0


def test_pool_create_rejects_bad_worker_counts_and_polling_times():
    out = _native.ffi.new("cnn_pool **")
    lib = _native.lib
    assert lib.cnn_pool_create(-1, 0, out) == lib.CNN_ERR_ARG
    assert lib.cnn_pool_create(_native.MAX_THREADS, 0, out) == lib.CNN_ERR_ARG
    assert lib.cnn_pool_create(1, -1, out) == lib.CNN_ERR_ARG
    assert lib.cnn_pool_create(1, lib.CNN_MAX_SPIN_MS * 1000000 + 1, out) == lib.CNN_ERR_ARG
    assert out[0] == _native.ffi.NULL
    assert lib.cnn_pool_create(0, 0, out) == lib.CNN_OK
    lib.cnn_pool_destroy(out[0])
    lib.cnn_pool_destroy(_native.ffi.NULL)


@pytest.mark.parametrize("spin_ns", [0, 1000, 50_000_000])
def test_a_pool_with_any_polling_time_runs_products_back_to_back_and_after_a_pause(spin_ns):
    # 0: the workers sleep at once, so every product wakes them; 50 ms: they
    # are still polling when the next product comes, and asleep after the pause
    import time

    out = _native.ffi.new("cnn_pool **")
    assert _native.lib.cnn_pool_create(1, spin_ns, out) == _native.lib.CNN_OK
    pool = out[0]
    try:
        W = np.random.default_rng(0).standard_normal((64, 40)).astype(np.float32)
        S = get_format("sham").from_dense(np.where(np.abs(W) > 1, np.round(W), 0).astype(np.float32))
        xt = np.ascontiguousarray(np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32).T)
        ref = (xt.T.astype(np.float64) @ S.to_dense()).T
        kernel = S._kernel
        for pause in (0, 0, 0.06, 0):
            time.sleep(pause)
            res = _native.ffi.new("float[]", 40 * 8)
            st = kernel._fn(*kernel._args, _native._ptr(xt), 8, res, 2, pool)
            assert st == _native.lib.CNN_OK
            np.testing.assert_allclose(np.frombuffer(_native.ffi.buffer(res), np.float32).reshape(40, 8),
                                       ref, rtol=1e-5, atol=1e-5)
    finally:
        _native.lib.cnn_pool_destroy(pool)


@pytest.mark.parametrize("text", ["-1", "abc", "nan", "1e9", "inf"])
def test_a_bad_worker_spin_setting_is_an_error_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("COMPACTNN_WORKER_SPIN_MS", text)
    with pytest.raises(ValueError, match="COMPACTNN_WORKER_SPIN_MS"):
        _native.worker_spin_ms()


def test_worker_spin_setting(monkeypatch):
    monkeypatch.delenv("COMPACTNN_WORKER_SPIN_MS", raising=False)
    assert _native.worker_spin_ms() == _native.WORKER_SPIN_MS
    monkeypatch.setenv("COMPACTNN_WORKER_SPIN_MS", "0.5")
    assert _native.worker_spin_ms() == 0.5
    monkeypatch.setenv("COMPACTNN_WORKER_SPIN_MS", "0")
    assert _native.worker_spin_ms() == 0.0


@pytest.mark.parametrize("b", [0, 1, 3, 8, 9, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_matches_numpy(b, dtype):
    X = np.random.default_rng(b).standard_normal((b, 37)).astype(dtype)
    T = _native.transpose(X)
    assert T.flags.c_contiguous and T.dtype == dtype
    np.testing.assert_array_equal(T, X.T)


@pytest.mark.parametrize("shape", [(1, 37), (37, 1), (1, 1)])
def test_transpose_of_one_row_or_column_is_a_view_the_products_leave_alone(shape):
    from compactnn.formats import SHAM

    X = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    T = _native.transpose(X)
    assert np.shares_memory(T, X) and T.flags.c_contiguous
    np.testing.assert_array_equal(T, X.T)
    W = np.zeros((shape[1], 5), np.float32)
    W[0, 1], W[-1, 3] = 2.0, -1.5
    keep = X.copy()
    np.testing.assert_allclose(SHAM.from_dense(W).matmul(X, threads=1), X @ W, rtol=1e-6)
    assert X.tobytes() == keep.tobytes()


def test_transpose_rejects_what_the_products_cannot_read():
    with pytest.raises(TypeError):
        _native.transpose(np.zeros((8, 5), dtype=np.int32))
    with pytest.raises(TypeError):
        _native.transpose(np.zeros((5, 8), dtype=np.float32).T)
    with pytest.raises(TypeError):
        _native.transpose(np.zeros(8, dtype=np.float32))
