"""The bundled MNIST sample: its checksums, its shape, and that it is real digits."""

import hashlib
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import isolate

from framework.data import ChecksumError, load_mnist, sources
from framework.data import locations as locations_module

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "mnist-sample"


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample as loaded from a checkout (the real one, not a test folder)."""
    empty = tmp_path_factory.mktemp("empty-data-folder")
    return load_mnist("mnist-sample", data_dir=empty, progress=False)


def test_files_match_the_table_in_code_and_the_readme():
    readme = (REPO / "data" / "README.md").read_text()
    for name, checksum in sources.CHECKSUMS["mnist-sample"].items():
        data = (SAMPLE / name).read_bytes()
        assert hashlib.md5(data).hexdigest() == checksum.md5
        assert len(data) == checksum.size
        row = re.search(rf"`{re.escape(name)}` .*", readme).group()
        assert checksum.md5 in row and f"{checksum.size:,}" in row


def test_sample_is_a_few_hundred_kilobytes():
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 2_000_000


def test_shapes_range_and_name(sample):
    assert sample.name == "mnist-sample"
    assert sample.x_train.shape == (4000, 784) and sample.y_train.shape == (4000,)
    assert sample.x_test.shape == (1000, 784) and sample.y_test.shape == (1000,)
    assert sample.x_train.dtype == np.float32 and sample.y_train.dtype == np.int64
    assert sample.x_train.min() == 0 and sample.x_train.max() == 1
    assert sample.source == (
        "MNIST sample bundled with the project (data/mnist-sample): "
        "4,000 training, 1,000 test images"
    )


def test_classes_are_balanced(sample):
    np.testing.assert_array_equal(np.bincount(sample.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(sample.y_test), [100] * 10)


def test_training_and_test_images_are_distinct(sample):
    train = {row.tobytes() for row in sample.x_train}
    test = {row.tobytes() for row in sample.x_test}
    assert len(train) == 4000 and len(test) == 1000
    assert not train & test


def test_images_look_like_centred_handwritten_digits(sample):
    images = sample.x_train.reshape(-1, 28, 28)
    ink = (images > 0.5).mean()
    assert 0.08 < ink < 0.25  # MNIST digits cover roughly an eighth of the image
    border = np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel()])
    assert (border > 0.5).mean() < 0.01  # digits are centred, the frame is blank
    assert images[:, 10:18, 10:18].mean() > 5 * images[:, :4].mean()


def test_digits_are_recognisable_by_their_mean_image(sample):
    """Real digits: nearest class mean already classifies most test images
    (about 80% on MNIST); random or mislabelled images would score about 10%."""
    means = np.stack([sample.x_train[sample.y_train == k].mean(0) for k in range(10)])
    distances = ((sample.x_test[:, None, :] - means[None]) ** 2).sum(-1)
    accuracy = (distances.argmin(1) == sample.y_test).mean()
    assert accuracy > 0.7


def test_a_changed_sample_is_a_clear_error(tmp_path):
    copy = tmp_path / "data" / "mnist-sample"
    shutil.copytree(SAMPLE, copy)
    damaged = copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(
        ChecksumError, match=r"MD5 is [0-9a-f]{32}, expected 4272"
    ) as caught:
        load_mnist("mnist-sample", data_dir=tmp_path / "data", progress=False)
    assert str(damaged) in str(caught.value)


def test_a_missing_sample_says_where_it_ships(monkeypatch, tmp_path):
    monkeypatch.setattr(locations_module, "SAMPLE_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="data/mnist-sample/"):
        load_mnist("mnist-sample", data_dir=tmp_path / "data", progress=False)


def test_build_script_splits_each_digit_the_same_way_every_time():
    spec = importlib.util.spec_from_file_location(
        "build_sample", REPO / "data" / "build_sample.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    labels = np.repeat(np.arange(10), 500)

    train, test = build.split_per_digit(labels)
    again_train, again_test = build.split_per_digit(labels)

    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    np.testing.assert_array_equal(np.bincount(labels[train]), [400] * 10)
    np.testing.assert_array_equal(np.bincount(labels[test]), [100] * 10)
    assert not set(train) & set(test)
