"""compactnn._files: every write goes through a unique temporary file and one rename.

Planted symlinks (at the names a naive writer would use, and at the very name the
temporary file would get) are never followed; threads and processes saving to one
path leave exactly one complete file; modes follow the umask; a failed write leaves
the target and the folder as they were.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from compactnn._files import atomic_path, write_bytes_atomic, write_text_atomic, write_with
from compactnn.formats import get_format, load

LIB = Path(__file__).resolve().parents[1] / "lib"


def _matrices(count: int, shape=(48, 40)):
    """Distinct matrices, so a file mixing two saves cannot pass for one of them."""
    rng = np.random.default_rng(0)
    return [np.where(rng.random(shape) < 0.3, rng.integers(1, 5, shape), 0).astype(np.float32) + i
            for i in range(count)]


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("name", ["m.npz.tmp", ".m.npz.tmp", "m.tmp", "m.npz.part", "m.npz~"])
def test_a_symlink_at_a_predictable_temporary_name_is_untouched(tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / name).symlink_to(victim)
    W = _matrices(1)[0]
    get_format("sham").from_dense(W).save(tmp_path / "m.npz")
    assert victim.read_text() == "keep"
    assert (tmp_path / name).is_symlink()
    assert np.array_equal(load(tmp_path / "m.npz").to_dense(), W)


def test_a_symlink_at_the_name_the_temporary_file_would_get_is_skipped(tmp_path, monkeypatch):
    # mkstemp opens with O_CREAT | O_EXCL: a name taken (even by a dangling or
    # planted symlink) is skipped, never opened through
    names = iter(["planted", "fresh"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    planted = tmp_path / ".m.npz.planted.tmp"
    planted.symlink_to(victim)
    W = _matrices(1)[0]
    get_format("csr").from_dense(W).save(tmp_path / "m.npz")
    assert victim.read_text() == "keep" and planted.is_symlink()
    assert np.array_equal(load(tmp_path / "m.npz").to_dense(), W)


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "out.txt").symlink_to(victim)
    write_text_atomic(tmp_path / "out.txt", "new")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "out.txt").is_symlink() and (tmp_path / "out.txt").read_text() == "new"


def test_a_temporary_file_swapped_for_a_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.chmod(victim, 0o600)

    def swap(tmp: Path) -> None:
        tmp.unlink()
        tmp.symlink_to(victim)

    with pytest.raises(OSError):
        write_with(tmp_path / "out.bin", swap)
    assert victim.read_text() == "keep" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not (tmp_path / "out.bin").exists()


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        write_with(target, fail)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path, {"t.txt"}) == []


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_written_files_get_the_umask_mode_and_the_umask_is_unchanged(tmp_path, mask):
    old = os.umask(mask)
    try:
        a = write_bytes_atomic(tmp_path / "a.bin", b"x")
        with atomic_path(tmp_path / "b.bin") as tmp:
            os.chmod(tmp, 0o600)     # a writer that leaves its own mode
        b = tmp_path / "b.bin"
        get_format("ham").from_dense(_matrices(1)[0]).save(tmp_path / "c.npz")
        assert os.umask(mask) == mask
    finally:
        os.umask(old)
    for p in (a, b, tmp_path / "c.npz"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, (p, oct(p.stat().st_mode))


def test_two_threads_saving_to_one_path_leave_one_complete_file(tmp_path):
    Ws = _matrices(2)
    mats = [get_format("ham").from_dense(W) for W in Ws]
    target = tmp_path / "m.npz"
    errors: list[BaseException] = []
    old = os.umask(0o022)

    def work(M) -> None:
        try:
            for _ in range(40):
                M.save(target)
        except BaseException as exc:      # reported by the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(M,)) for M in mats]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert os.umask(0o022) == 0o022   # concurrent saves never leave the umask changed
    finally:
        os.umask(old)
    assert errors == []
    got = load(target).to_dense()
    assert any(np.array_equal(got, W) for W in Ws)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _leftovers(tmp_path, {"m.npz"}) == []


_SAVER = """
import sys
import numpy as np
from compactnn.formats import get_format
W = np.load(sys.argv[2])
M = get_format(sys.argv[3]).from_dense(W)
for _ in range(int(sys.argv[4])):
    M.save(sys.argv[1])
"""


def test_two_processes_saving_to_one_path_leave_one_complete_file(tmp_path):
    Ws = _matrices(2)
    target = tmp_path / "out" / "m.npz"
    target.parent.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(LIB), os.environ.get("PYTHONPATH", "")]))
    procs = []
    for i, W in enumerate(Ws):
        np.save(tmp_path / f"W{i}.npy", W)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(target), str(tmp_path / f"W{i}.npy"),
             ("sham", "cer")[i], "60"], env=env, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    got = load(target).to_dense()
    assert any(np.array_equal(got, W) for W in Ws)
    assert _leftovers(target.parent, {"m.npz"}) == []


def test_save_model_writes_through_a_temporary_file(tmp_path):
    pytest.importorskip("torch")
    from compactnn.nn import get_model
    from compactnn.nn.models import load_model, save_model

    kwargs = dict(num_classes=10, in_channels=1, input_size=28)
    model = get_model("small_vgg", **kwargs)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "model.safetensors.tmp").symlink_to(victim)
    (tmp_path / "model.safetensors").symlink_to(tmp_path / "victim.txt")
    save_model(model, tmp_path / "model.safetensors", "small_vgg", kwargs)
    assert victim.read_text() == "keep"
    assert not (tmp_path / "model.safetensors").is_symlink()
    assert load_model(tmp_path / "model.safetensors") is not None
    assert _leftovers(tmp_path, {"model.safetensors", "model.safetensors.tmp", "victim.txt"}) == []
