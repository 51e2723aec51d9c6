"""The compressed model file: round trip, size against psi, and refusal of bad files."""
import json
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from compactnn.errors import FormatError, UsageError
from compactnn.nn import TargetSpec, compress_model, get_model
from compactnn.nn.compressed import CompressedConv2d, CompressedLinear, to_compressed
from compactnn.nn.modelfile import (HEADER_KEY, load_compressed, load_dense, network_psi,
                                    read_header, save_compressed, stored_bytes)

KWARGS = dict(num_classes=10, in_channels=1, input_size=28)
#: bytes of the file beyond the stored arrays (the JSON headers; they do not grow with the weights)
FIXED_HEADER = 16 * 1024


@pytest.fixture(scope="module")
def compressed_vgg():
    torch.manual_seed(0)
    model = get_model("small_vgg", **KWARGS)
    hook = compress_model(model, dense=TargetSpec("cws", p=90, k=32), conv=TargetSpec("cws", p=90, k=32))
    model.eval()
    # non-trivial batch-norm statistics, so a loader that drops them is caught
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return to_compressed(model, hook), hook


@pytest.fixture(scope="module")
def saved(compressed_vgg, tmp_path_factory):
    comp, hook = compressed_vgg
    path = tmp_path_factory.mktemp("model") / "m.cnn.safetensors"
    info = {lc.name: {"method": "cws", "k": lc.k} for lc in hook.layers}
    save_compressed(comp, path, {"accuracy": 0.5}, net="small_vgg", net_kwargs=KWARGS, layers=info)
    return path


def _x():
    return torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_round_trip_predicts_the_same(compressed_vgg, saved):
    comp, hook = compressed_vgg
    back = load_compressed(saved)
    with torch.no_grad():
        assert torch.equal(back(_x()), comp(_x()))
    for lc in hook.layers:
        a, b = comp.get_submodule(lc.name), back.get_submodule(lc.name)
        assert type(a) is type(b) and isinstance(b, (CompressedLinear, CompressedConv2d))
        assert np.array_equal(a.matrix.to_dense(), b.matrix.to_dense())
        assert b.matrix.format == a.matrix.format
    dense = load_dense(saved)
    assert not any(hasattr(m, "matrix") for m in dense.modules())
    with torch.no_grad():
        torch.testing.assert_close(dense(_x()), comp(_x()), rtol=1e-4, atol=1e-5)
    header = read_header(saved)
    assert header["metadata"] == {"accuracy": 0.5}
    rec = header["layers"][hook.layers[0].name]
    assert rec["method"] == "cws" and rec["k"] == 32 and 85 <= rec["p"] <= 95
    assert 1 <= rec["codebook_size"] <= 32


def test_file_size_agrees_with_psi_of_the_whole_network(compressed_vgg, saved):
    comp, _ = compressed_vgg
    stored, dense = stored_bytes(comp)
    psi = network_psi(comp)
    assert psi == pytest.approx(stored / dense) and psi < 0.5
    size = saved.stat().st_size
    assert abs(size - psi * dense) <= 0.02 * psi * dense + FIXED_HEADER
    (header_len,) = struct.unpack("<Q", saved.read_bytes()[:8])
    assert size - 8 - header_len == stored  # the tensors are exactly what psi counts


def test_user_architecture_needs_a_skeleton(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Linear(30, 4)).eval()
    comp = to_compressed(net, formats="sham")
    path = tmp_path / "user.cnn.safetensors"
    save_compressed(comp, path)
    with pytest.raises(UsageError, match="model="):
        load_compressed(path)
    skeleton = nn.Sequential(nn.Linear(20, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Linear(30, 4))
    back = load_compressed(path, model=skeleton)
    x = torch.randn(5, 20)
    with torch.no_grad():
        assert torch.allclose(back(x), net(x), rtol=1e-5, atol=1e-6)
    wrong = nn.Sequential(nn.Linear(20, 31), nn.BatchNorm1d(31), nn.ReLU(), nn.Linear(31, 4))
    with pytest.raises(FormatError, match="does not fit"):
        load_compressed(path, model=wrong)


def test_baseline_and_foreign_files_are_refused(tmp_path):
    from compactnn.nn import save_model
    from safetensors.numpy import save_file

    model = get_model("small_vgg", **KWARGS)
    save_model(model, tmp_path / "base.safetensors", "small_vgg", KWARGS)
    with pytest.raises(FormatError, match="load_model"):
        load_compressed(tmp_path / "base.safetensors")
    (tmp_path / "junk").write_bytes(b"not a safetensors file at all")
    with pytest.raises(FormatError):
        load_compressed(tmp_path / "junk")
    save_file({"a": np.zeros(3, np.float32)}, str(tmp_path / "other"), metadata={HEADER_KEY: "[]"})
    with pytest.raises(FormatError):
        load_compressed(tmp_path / "other")
    with pytest.raises(FileNotFoundError):
        load_compressed(tmp_path / "missing")
    with pytest.raises(FormatError, match="regular file"):
        load_compressed(tmp_path)


def _rewrite(path, out, edit_header=None, edit_tensors=None, keep_checksum=True):
    """Rewrite a model file with an edited header and/or tensors (checksum kept or recomputed)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from compactnn.nn.modelfile import _digest

    with safe_open(str(path), framework="numpy") as f:
        header = json.loads(f.metadata()[HEADER_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    if not keep_checksum:
        header["sha256"] = _digest({k: v for k, v in header.items() if k != "sha256"}, tensors)
    save_file(tensors, str(out), metadata={HEADER_KEY: json.dumps(header)})
    return out


def test_lying_files_are_refused(saved, tmp_path):
    layer = next(iter(read_header(saved)["layers"]))

    def unknown_format(h):
        h["layers"][layer]["format"] = "nosuch"

    def wrong_shape(h):
        h["layers"][layer]["shape"][0] += 1

    def drop_tensor(t):
        t.pop(next(k for k in t if k.startswith("state::")))

    def cast_state(t):
        k = next(k for k in t if k.startswith("state::"))
        t[k] = t[k].astype(np.float64)

    cases = [dict(edit_header=unknown_format), dict(edit_header=wrong_shape),
             dict(edit_tensors=drop_tensor), dict(edit_tensors=cast_state)]
    for i, case in enumerate(cases):
        for keep in (True, False):  # stale checksum, and a recomputed (self-consistent) one
            bad = _rewrite(saved, tmp_path / f"bad{i}{keep}", keep_checksum=keep, **case)
            with pytest.raises(FormatError):
                load_compressed(bad)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_or_bit_flipped_files_are_refused(saved, tmp_path, data):
    raw = saved.read_bytes()
    if data.draw(st.booleans(), label="truncate"):
        cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
        bad = raw[:cut]
    else:
        flips = data.draw(st.lists(st.integers(0, 8 * len(raw) - 1), min_size=1, max_size=3,
                                   unique=True), label="bits")
        buf = bytearray(raw)
        for bit in flips:
            buf[bit // 8] ^= 1 << (bit % 8)
        bad = bytes(buf)
    path = tmp_path / "tampered.cnn.safetensors"
    path.write_bytes(bad)
    try:
        back = load_compressed(path)
    except FormatError:
        return
    # a flip the format cannot see (e.g. inside JSON whitespace-insensitive text that
    # parses to the same header) must give the same model
    ref = load_compressed(saved)
    with torch.no_grad():
        assert torch.equal(back(_x()), ref(_x()))


def test_header_length_flip_is_refused(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    raw[:8] = struct.pack("<Q", n + 8)
    path = tmp_path / "len.cnn.safetensors"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError):
        load_compressed(path)


def test_load_model_of_a_user_architecture_says_to_pass_model(tmp_path, saved):
    from compactnn.nn import load_model, save_model

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 2))
    save_model(net, tmp_path / "user.safetensors")
    with pytest.raises(UsageError, match="model="):
        load_model(tmp_path / "user.safetensors")
    back = load_model(tmp_path / "user.safetensors",
                      model=nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 2)))
    x = torch.randn(4, 6)
    with torch.no_grad():
        assert torch.equal(back(x), net(x))
    with pytest.raises(FormatError, match="do not fit"):
        load_model(tmp_path / "user.safetensors", model=nn.Sequential(nn.Linear(6, 4)))
    with pytest.raises(FormatError, match="load_compressed"):
        load_model(saved)
    (tmp_path / "junk").write_bytes(b"\x00" * 20)
    with pytest.raises(FormatError):
        load_model(tmp_path / "junk")
