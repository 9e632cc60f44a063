"""load_mnist on small fake data sets: where files are found, what comes back,
and the preprocessing options checked against scikit-learn and plain numpy."""

import dataclasses
import logging
import warnings

import numpy as np
import pytest
from data_fixtures import (
    CONSTANT_PIXEL,
    ZERO_IN_TRAINING_PIXEL,
    fake_files,
    image_ids,
    isolate,
    write_files,
)
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from framework.data import (
    Dataset,
    IDXError,
    OfflineError,
    load_mnist,
)
from framework.data import locations as locations_module
from framework.data.locations import resolve_data_dir
from framework.data.preprocessing import scale_pixels

# Unequal classes, so that stratification is visible in the counts.
WEIGHTS = [1, 2, 3, 4, 5, 5, 4, 3, 2, 1]


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def fake(tmp_path):
    """A data folder holding a fake MNIST in ``mnist/``; returns (folder, arrays)."""
    files, arrays = fake_files(n_train=400, n_test=100, class_weights=WEIGHTS)
    folder = tmp_path / "data"
    write_files(folder / "mnist", files)
    return folder, arrays


def load(folder, **options):
    return load_mnist(data_dir=folder, progress=False, **options)


# --- what comes back ---


def test_images_are_float32_in_unit_range_and_labels_int64(fake):
    folder, arrays = fake
    data = load(folder)

    assert data.x_train.shape == (400, 784)
    assert data.x_test.shape == (100, 784)
    assert data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int64
    assert data.x_val is None and data.y_val is None
    reference = arrays["train_images"].reshape(400, 784).astype(np.float64) / 255
    np.testing.assert_allclose(data.x_train, reference, rtol=1e-7, atol=0)
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1


def test_every_pixel_value_scales_exactly():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    scaled = scale_pixels(images)
    expected = (np.arange(256) / 255).astype(np.float32)
    np.testing.assert_array_equal(scaled.ravel(), expected)
    assert scaled[0, 0] == 0 and scaled[0, -1] == 1


def test_name_source_and_log_line(fake, caplog):
    folder, _ = fake
    with caplog.at_level(logging.INFO, logger="framework.data"):
        data = load(folder)

    assert data.name == "mnist"
    assert data.source == (
        f"MNIST from {folder / 'mnist'}: 400 training, 100 test images"
    )
    assert any(data.source in record.getMessage() for record in caplog.records)


def test_dataset_is_frozen_and_its_repr_shows_shapes(fake):
    data = load(fake[0], validation=50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"
    assert "x_train=(350, 784)" in repr(data)
    assert "x_val=(50, 784)" in repr(data)
    assert isinstance(data, Dataset)


# --- where files are found ---


@pytest.mark.parametrize("compress", ["debian", "official", None])
def test_files_directly_in_the_folder_gzipped_or_not(tmp_path, compress):
    files, arrays = fake_files(n_train=60, n_test=20)
    write_files(tmp_path / "flat", files, compress=compress)

    data = load(tmp_path / "flat", offline=True)

    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    assert data.source.startswith(f"MNIST from {tmp_path / 'flat'}:")


def test_sub_folder_wins_over_files_beside_it(tmp_path):
    files, _ = fake_files(n_train=60, n_test=20, seed=1)
    sub_files, sub_arrays = fake_files(n_train=80, n_test=30, seed=2)
    write_files(tmp_path, files)
    write_files(tmp_path / "mnist", sub_files)

    data = load(tmp_path)

    np.testing.assert_array_equal(data.y_train, sub_arrays["train_labels"])


def test_fashion_mnist_from_a_folder_of_debian_style_files(tmp_path):
    """Debian's files are gzipped without a name, so sizes and MD5s differ from
    the official table; they are used as they are, checked by structure."""
    files, arrays = fake_files(n_train=120, n_test=40, seed=7)
    folder = write_files(tmp_path / "fashion-mnist-debian", files, compress="debian")

    data = load_mnist(
        "fashion-mnist", data_dir=folder, offline=True, validation=20, progress=False
    )

    assert data.name == "fashion-mnist"
    assert data.source == (f"Fashion-MNIST from {folder}: 120 training, 40 test images")
    assert data.x_train.shape == (100, 784) and data.x_val.shape == (20, 784)
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])


def test_data_dir_from_the_environment(monkeypatch, fake):
    folder, _ = fake
    monkeypatch.setenv("MNIST_DATA_DIR", str(folder))
    data = load_mnist(progress=False)
    assert str(folder) in data.source


def test_data_folder_order(monkeypatch, tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.setattr(locations_module, "CHECKOUT_ROOT", checkout)

    assert resolve_data_dir() == locations_module.DataFolder(
        checkout / "data", "repository checkout"
    )
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir().path == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg").path == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")).origin == "data_dir argument"


def test_user_cache_outside_a_checkout(monkeypatch, tmp_path):
    folder = resolve_data_dir()
    assert folder == locations_module.DataFolder(
        tmp_path / "cache" / "mnist-mlp-lab", "user cache"
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir().path == tmp_path / "home" / ".cache" / "mnist-mlp-lab"


def test_offline_with_missing_files_fails_fast_naming_them(tmp_path):
    with pytest.raises(OfflineError) as caught:
        load(tmp_path / "empty", offline=True)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in message
    assert str(tmp_path / "empty" / "mnist") in message
    assert "MNIST_OFFLINE=1" in message


def test_offline_falls_back_to_the_sample_with_one_warning(tmp_path):
    with pytest.warns(UserWarning) as caught:
        data = load(tmp_path / "empty", allow_sample=True)

    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message
    assert message.startswith("MNIST is unavailable (offline")
    assert "falling back to the MNIST sample bundled with the project" in message
    assert caught[0].filename == __file__
    assert data.name == "mnist-sample"
    assert data.x_train.shape == (4000, 784)


def test_no_warning_when_the_full_data_set_is_there(fake):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load(fake[0], allow_sample=True)
    assert data.name == "mnist"


def test_a_damaged_file_on_disk_is_an_error_not_a_fallback(fake):
    folder, _ = fake
    path = folder / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(IDXError, match="gzip stream is truncated") as caught:
        load(folder, allow_sample=True)
    assert str(path) in str(caught.value)


# --- preprocessing ---


def test_standardisation_matches_standard_scaler_fitted_on_training_only(fake):
    folder, _ = fake
    plain = load(folder, validation=50, seed=3)
    data = load(folder, validation=50, seed=3, standardize=True)

    scaler = StandardScaler().fit(plain.x_train.astype(np.float64))
    for ours, raw in [
        (data.x_train, plain.x_train),
        (data.x_val, plain.x_val),
        (data.x_test, plain.x_test),
    ]:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, scaler.transform(raw), atol=2e-5)
    np.testing.assert_allclose(data.pixel_mean, scaler.mean_, rtol=1e-6)
    np.testing.assert_allclose(data.pixel_scale, scaler.scale_, rtol=1e-6)


def test_standardisation_ignores_the_test_images(tmp_path):
    files, _ = fake_files(n_train=300, n_test=100, seed=4)
    write_files(tmp_path / "a" / "mnist", files)
    other_test, _ = fake_files(n_train=300, n_test=100, seed=99)
    changed = {**files, "t10k-images-idx3-ubyte": other_test["t10k-images-idx3-ubyte"]}
    write_files(tmp_path / "b" / "mnist", changed)

    first = load(tmp_path / "a", standardize=True, validation=30)
    second = load(tmp_path / "b", standardize=True, validation=30)

    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.pixel_mean, second.pixel_mean)
    assert not np.array_equal(first.x_test, second.x_test)
    varying = first.x_train.std(axis=0) > 0
    np.testing.assert_allclose(first.x_train[:, varying].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(first.x_train[:, varying].std(axis=0), 1, rtol=1e-4)
    assert np.abs(first.x_test.mean(axis=0)[varying]).max() > 1e-3


def test_pixels_constant_in_training_are_zero_after_centring(fake):
    folder, arrays = fake
    data = load(folder, standardize=True)

    assert np.all(data.x_train[:, CONSTANT_PIXEL] == 0)
    assert np.all(data.x_train[:, ZERO_IN_TRAINING_PIXEL] == 0)
    assert np.all(data.x_test[:, CONSTANT_PIXEL] == 0)
    assert data.pixel_scale[ZERO_IN_TRAINING_PIXEL] == 1
    # Centred but not scaled: a test pixel that never varied in training keeps
    # its distance from the training value, in units of the [0, 1] scale.
    test_pixel = arrays["test_images"].reshape(-1, 784)[:, ZERO_IN_TRAINING_PIXEL]
    np.testing.assert_allclose(
        data.x_test[:, ZERO_IN_TRAINING_PIXEL], test_pixel / 255, rtol=1e-6
    )
    assert np.isfinite(data.x_test).all()


def test_validation_split_is_stratified_and_disjoint(fake):
    folder, arrays = fake
    data = load(folder, validation=100, seed=5)

    assert len(data.x_val) == 100 and len(data.x_train) == 300
    all_labels = arrays["train_labels"]
    expected = np.bincount(all_labels, minlength=10) / len(all_labels)
    for labels in (data.y_train, data.y_val):
        share = np.bincount(labels, minlength=10) / len(labels)
        np.testing.assert_allclose(share, expected, atol=1.5 / len(labels))

    train_ids, val_ids = image_ids(data.x_train), image_ids(data.x_val)
    assert not set(train_ids) & set(val_ids)
    assert sorted([*train_ids, *val_ids]) == list(range(400))
    np.testing.assert_array_equal(data.y_train, all_labels[train_ids])
    np.testing.assert_array_equal(data.y_val, all_labels[val_ids])


def test_validation_fraction_rounds_up(fake):
    data = load(fake[0], validation=0.125)
    assert len(data.x_val) == 50 and len(data.x_train) == 350
    data = load(fake[0], validation=0.1001)
    assert len(data.x_val) == 41


def test_subsets_are_stratified_and_validation_comes_out_of_them(fake):
    folder, arrays = fake
    data = load(folder, n_train=200, n_test=50, validation=40, seed=1)

    assert len(data.x_train) == 160 and len(data.x_val) == 40
    assert len(data.x_test) == 50
    full = np.bincount(arrays["test_labels"], minlength=10) / 100
    share = np.bincount(data.y_test, minlength=10) / 50
    np.testing.assert_allclose(share, full, atol=1.5 / 50)
    np.testing.assert_array_equal(
        data.y_test, arrays["test_labels"][image_ids(data.x_test)]
    )
    assert len(set(image_ids(data.x_train)) | set(image_ids(data.x_val))) == 200


def test_subset_of_every_image_keeps_the_file_order(fake):
    data = load(fake[0], n_train=400, n_test=100)
    np.testing.assert_array_equal(image_ids(data.x_train), np.arange(400))


def test_one_hot_matches_label_binarizer(fake):
    folder, _ = fake
    plain = load(folder, validation=50)
    data = load(folder, validation=50, one_hot=True)

    binarizer = LabelBinarizer().fit(np.arange(10))
    for ours, labels in [
        (data.y_train, plain.y_train),
        (data.y_val, plain.y_val),
        (data.y_test, plain.y_test),
    ]:
        assert ours.dtype == np.float32 and ours.shape == (len(labels), 10)
        np.testing.assert_array_equal(ours, binarizer.transform(labels))


def test_same_seed_same_arrays_other_seed_other_split(fake):
    folder, _ = fake
    options = {"validation": 0.2, "n_train": 300, "n_test": 60, "standardize": True}
    first = load(folder, seed=11, **options)
    again = load(folder, seed=11, **options)
    other = load(folder, seed=12, **options)

    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert set(image_ids(first.x_val)) != set(image_ids(other.x_val))


# --- bad options ---


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"dataset": "cifar10"}, ValueError, "dataset='cifar10' is not known"),
        ({"dataset": 3}, TypeError, "dataset must be a string"),
        ({"validation": -1}, ValueError, "validation=-1"),
        ({"validation": 1.0}, ValueError, "strictly between 0 and 1"),
        ({"validation": 0.0}, ValueError, "strictly between 0 and 1"),
        ({"validation": "10%"}, TypeError, "validation must be an int"),
        ({"validation": True}, TypeError, "validation must be an int"),
        ({"n_train": 0}, ValueError, "n_train=0 must be at least 1"),
        ({"n_test": 2.5}, TypeError, "n_test must be an int"),
        ({"seed": -1}, ValueError, "seed=-1"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"standardize": "yes"}, TypeError, "standardize must be True or False"),
        ({"one_hot": 1}, TypeError, "one_hot must be True or False"),
        ({"offline": "no"}, TypeError, "offline must be True, False or None"),
        ({"data_dir": 3}, TypeError, "data_dir must be a folder path"),
    ],
)
def test_bad_option_is_named_with_the_fix(options, error, message):
    with pytest.raises(error, match=message):
        load_mnist(progress=False, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_train": 5}, r"n_train=5 cannot be a stratified subset of 400 images"),
        ({"n_train": 10_000}, r"use 10 to 390, or None for all 400"),
        ({"n_test": 95}, r"n_test=95 cannot be a stratified subset of 100"),
        ({"validation": 5}, r"validation=5 gives 5 of 400 training images"),
        ({"validation": 395}, r"needs 10 to 390"),
        ({"n_train": 50, "validation": 0.9}, r"validation=0.9 gives 45 of 50"),
    ],
)
def test_sizes_that_do_not_fit_the_data(fake, options, message):
    with pytest.raises(ValueError, match=message):
        load(fake[0], **options)


def test_bad_offline_environment_variable(monkeypatch, fake):
    monkeypatch.setenv("MNIST_OFFLINE", "perhaps")
    with pytest.raises(ValueError, match="MNIST_OFFLINE='perhaps' is not understood"):
        load(fake[0])
