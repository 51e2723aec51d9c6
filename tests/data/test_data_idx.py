import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactnn.data.errors import DataFormatError
from compactnn.data.idx import parse_idx, read_idx, write_idx


def test_parse_idx_reads_mnist_label_header_by_hand():
    # magic 0x00000801, 3 items: the layout of train-labels-idx1-ubyte
    raw = struct.pack(">IIBBB", 0x801, 3, 7, 2, 1)
    arr = parse_idx(raw)
    assert arr.dtype == np.uint8 and arr.tolist() == [7, 2, 1]


def test_parse_idx_reads_big_endian_int32_images():
    raw = struct.pack(">HBB", 0, 0x0C, 2) + struct.pack(">II", 2, 2) + struct.pack(">4i", 1, -2, 3, 70000)
    arr = parse_idx(raw)
    assert arr.dtype == np.int32 and arr.dtype.isnative
    assert arr.tolist() == [[1, -2], [3, 70000]]


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from(["u1", "i1", "i2", "i4", "f4", "f8"]),
       shape=st.lists(st.integers(0, 4), min_size=1, max_size=3))
def test_write_then_parse_round_trips_every_idx_type(dtype, shape, tmp_path_factory):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path_factory.mktemp("idx") / "a.idx.gz"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("raw, why", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "first two bytes"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "type byte"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 1), "truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00\x00", "payload"),
    (b"\x00\x00", "first two bytes"),
])
def test_parse_idx_rejects_malformed_headers(raw, why):
    with pytest.raises(DataFormatError, match=why):
        parse_idx(raw)


def test_read_idx_reports_a_corrupt_gzip_with_its_path(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIB", 0x801, 1, 5))[:-6])
    with pytest.raises(DataFormatError, match="x-idx1-ubyte.gz"):
        read_idx(path)
