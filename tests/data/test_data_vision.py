import numpy as np
import pytest

from compactnn.data import ChecksumError, DataFormatError, get_dataset
from compactnn.data.vision import parse_cifar_batch


def test_mnist_loads_the_four_gzipped_idx_files(tmp_path, fixtures):
    arrays = fixtures.write_mnist(tmp_path)
    ds = get_dataset("mnist", root=tmp_path, trust_local=True)
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.x_train[:, 0], arrays["train"][0] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k"][1])
    assert ds.meta["checked"]["t10k-images-idx3-ubyte.gz"] == "trusted"


def test_mnist_refuses_files_that_do_not_match_the_pinned_checksum(tmp_path, fixtures):
    fixtures.write_mnist(tmp_path)
    with pytest.raises(ChecksumError, match="pinned"):
        get_dataset("mnist", root=tmp_path)


def test_mnist_rejects_labels_that_do_not_match_images(tmp_path, fixtures):
    from compactnn.data.idx import write_idx

    fixtures.write_mnist(tmp_path)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DataFormatError, match="t10k"):
        get_dataset("mnist", root=tmp_path, trust_local=True)


def test_cifar10_reads_binary_records_from_the_tar_gz(tmp_path, fixtures):
    batches = fixtures.write_cifar10(tmp_path, per_batch=3)
    ds = get_dataset("cifar10", root=tmp_path, trust_local=True)
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    x1, y1 = batches["data_batch_1.bin"]
    np.testing.assert_allclose(ds.x_train[:3], x1 / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train[:3], y1)
    x5, _ = batches["data_batch_5.bin"]
    np.testing.assert_allclose(ds.x_train[12:], x5 / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, batches["test_batch.bin"][1])
    assert ds.meta["classes"][0] == "airplane" and ds.input_shape == (3, 32, 32)


def test_cifar_record_is_label_then_red_green_blue_planes(fixtures):
    record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
    images, labels = parse_cifar_batch(record * 2)
    assert labels.tolist() == [7, 7] and labels.dtype == np.int64
    assert images.shape == (2, 3, 32, 32)
    assert images[0, :, 5, 9].tolist() == [10, 20, 30]


def test_cifar10_rejects_a_truncated_batch(tmp_path, fixtures):
    fixtures.write_cifar10(tmp_path, corrupt="data_batch_3.bin")
    with pytest.raises(DataFormatError, match="data_batch_3.bin"):
        get_dataset("cifar10", root=tmp_path, trust_local=True)


def test_cifar_rejects_out_of_range_labels():
    with pytest.raises(DataFormatError, match="label"):
        parse_cifar_batch(bytes([10]) + bytes(3072))
