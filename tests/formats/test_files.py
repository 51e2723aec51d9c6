"""Matrix files: no pickle, tag/version/checksum, truncated and flipped bytes.

``load`` must answer every damaged or inconsistent file with ``FormatError``:
never a crash, a hang, another exception type, or a silently different matrix.
Archives whose structure is wrong but whose checksum is valid are tested in
``test_file_structure.py``; self-consistent tampering in ``test_file_tampering.py``.
"""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compactnn.errors import FormatError
from compactnn.formats import load

from _matrices import (FORMAT_NAMES, W_REF, build, file_parts, format_options, from_parts,
                       matrices, same_bits, saved_bytes, write_parts)

pytestmark = pytest.mark.kernel

FUZZ = settings(max_examples=8, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- no pickle, tag, version, checksum ------------------------------------------------

@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_load_never_unpickles(name, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("pickle used by load()")

    M = build(name, W_REF)
    M.save(tmp_path / "m.npz")
    arrays = {k: v for k, v in M._arrays().items()}
    first = sorted(arrays)[0]
    arrays[first] = np.array([{"evil": 1}, None], dtype=object)
    header, _ = file_parts(M)
    write_parts(tmp_path / "obj.npz", header, arrays)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert np.array_equal(load(tmp_path / "m.npz").to_dense(), W_REF)
    with pytest.raises(FormatError):
        load(tmp_path / "obj.npz")


def test_object_array_header_is_refused(tmp_path):
    np.savez(tmp_path / "o.npz", header=np.array([{"magic": "compactnn-matrix"}], dtype=object))
    with pytest.raises(FormatError):
        load(tmp_path / "o.npz")


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 40,
                                     b"\x93NUMPY\x01\x00"])
def test_files_that_are_not_archives_are_refused(content, tmp_path):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(FormatError):
        load(tmp_path / "x.npz")


def test_other_npz_archives_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", values=np.ones((2, 2), np.float32))
    with pytest.raises(FormatError, match="header"):
        load(tmp_path / "plain.npz")
    np.savez(tmp_path / "junk.npz", header=np.frombuffer(b"{not json", np.uint8))
    with pytest.raises(FormatError):
        load(tmp_path / "junk.npz")
    np.savez(tmp_path / "list.npz", header=np.frombuffer(b"[1, 2]", np.uint8))
    with pytest.raises(FormatError):
        load(tmp_path / "list.npz")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("change, message", [
    ({"magic": "other-matrix"}, "not a compactnn"),
    ({"magic": None}, "not a compactnn"),
    ({"version": 2}, "version"),
    ({"version": "1"}, "version"),
    ({"format": "no-such-format"}, "unknown format"),
    ({"format": None}, "unknown format"),
    ({"shape": [-1, 4]}, ""),
    ({"shape": [5]}, ""),
    ({"shape": [5, 4, 1]}, ""),
    ({"shape": "5x4"}, ""),
    ({"dtype": "<f2"}, ""),
    ({"dtype": "|O"}, ""),
    ({"dtype": "not a dtype"}, ""),
    ({"meta": "abc"}, ""),
    ({"meta": [1, 2]}, ""),
])
def test_bad_header_fields_are_refused_even_with_a_valid_checksum(name, change, message, tmp_path):
    header, arrays = file_parts(build(name, W_REF), **change)
    with pytest.raises(FormatError, match=message or None):
        from_parts(header, arrays)
    write_parts(tmp_path / "m.npz", header, arrays)
    with pytest.raises(FormatError, match=message or None):
        load(tmp_path / "m.npz")


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_checksum_mismatch_is_refused(name, tmp_path):
    M = build(name, W_REF)
    header, arrays = file_parts(M)
    target = max(arrays, key=lambda k: arrays[k].nbytes)
    a = arrays[target].copy()
    a.view(np.uint8)[0] ^= 1
    write_parts(tmp_path / "m.npz", header, {**arrays, target: a})
    with pytest.raises(FormatError, match="checksum"):
        load(tmp_path / "m.npz")
    for bad in (None, "0" * 64, header["sha256"].upper()):
        h = dict(header, sha256=bad)
        with pytest.raises(FormatError, match="checksum"):
            from_parts(h, arrays)
    h = dict(header, meta=dict(header["meta"], extra=1))
    with pytest.raises(FormatError, match="checksum"):
        from_parts(h, arrays)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_arrays_must_match_the_header_listing(name):
    M = build(name, W_REF)
    header, arrays = file_parts(M)
    some = sorted(arrays)[0]
    with pytest.raises(FormatError, match="do not match"):
        from_parts(header, {k: v for k, v in arrays.items() if k != some})
    with pytest.raises(FormatError, match="do not match"):
        from_parts(header, {**arrays, "extra": np.zeros(1)})
    with pytest.raises(FormatError):  # same names, other dtype than the header lists
        from_parts(header, {**arrays, some: arrays[some].astype(np.float16)})
    with pytest.raises(FormatError):  # same names, other shape
        from_parts(header, {**arrays, some: np.concatenate([arrays[some].ravel()] * 2)})


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_missing_array_is_refused_with_a_valid_checksum(name):
    M = build(name, W_REF)
    for drop in M._arrays():
        arrays = {k: v for k, v in M._arrays().items() if k != drop}
        with pytest.raises(FormatError):
            from_parts(*file_parts(M, arrays))


# ---- damaged files ----------------------------------------------------------------------

@pytest.mark.parametrize("name, options", format_options())
@FUZZ
@given(W=matrices(max_side=6), data=st.data())
def test_truncated_or_flipped_files_are_refused_or_unchanged(name, options, W, data):
    M = build(name, W, options)
    blob = saved_bytes(M)
    original = M.to_dense()
    cuts = data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=25), label="cuts")
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255)),
                               min_size=1, max_size=25), label="flips")
    damaged = [blob[:c] for c in cuts]
    for pos, x in flips:
        b = bytearray(blob)
        b[pos] ^= x
        damaged.append(bytes(b))
    for i, d in enumerate(damaged):
        try:
            L = load(io.BytesIO(d))
        except FormatError:
            continue
        # Only bytes that change nothing (zip timestamps, JSON whitespace) may pass.
        assert i >= len(cuts), f"truncation at {cuts[i]} of {len(blob)} bytes was accepted"
        assert type(L) is type(M) and L.shape == M.shape and L.dtype == M.dtype
        assert same_bits(L.to_dense(), original), f"flip {flips[i - len(cuts)]} changed the matrix"


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_every_truncation_of_a_small_file_is_refused(name):
    blob = saved_bytes(build(name, W_REF))
    for cut in range(0, len(blob), 7):
        with pytest.raises(FormatError):
            load(io.BytesIO(blob[:cut]))
