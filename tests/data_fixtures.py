"""Helpers for the data tests: small fake data sets in the MNIST layout, and an
environment in which nothing can reach the network or the user's folders.

The fake images carry their own index in their first two pixels, so a test can
tell which original image ended up in which split.
"""

import gzip
import hashlib

import numpy as np

from framework.data import locations, sources
from framework.data.idx import idx_bytes

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CONSTANT_PIXEL = 783
"""A pixel that holds the same value (17) in every fake training image."""

ZERO_IN_TRAINING_PIXEL = 782
"""A pixel that is 0 in every fake training image but not in the test images."""


def isolate(monkeypatch, tmp_path):
    """No mirrors, offline, and every default folder inside ``tmp_path``."""
    for name in ("MNIST_DATA_DIR", "MNIST_MIRRORS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for dataset in sources.MIRRORS:
        monkeypatch.setitem(sources.MIRRORS, dataset, ())
    monkeypatch.setattr(locations, "CHECKOUT_ROOT", tmp_path / "not-a-checkout")


def fake_split(n, seed, *, test=False, class_weights=None):
    """Images uint8 (n, 28, 28) and labels uint8 (n,), every class present.

    Class k appears in proportion to ``class_weights[k]`` (default equal).
    Pixels 0 and 1 hold the image's index (high, low byte).
    """
    rng = np.random.default_rng(seed)
    weights = np.ones(10) if class_weights is None else np.asarray(class_weights)
    counts = np.maximum(2, np.floor(n * weights / weights.sum())).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    labels = rng.permutation(np.repeat(np.arange(10), counts)).astype(np.uint8)

    images = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
    images[:, 0], images[:, 1] = np.arange(n) // 256, np.arange(n) % 256
    images[:, CONSTANT_PIXEL] = 17
    images[:, ZERO_IN_TRAINING_PIXEL] = rng.integers(1, 256, n) if test else 0
    return images.reshape(n, 28, 28), labels


def image_ids(x):
    """Indices encoded by ``fake_split`` in rows of scaled images (n, 784)."""
    pixels = np.rint(np.asarray(x)[:, :2] * 255).astype(int)
    return pixels[:, 0] * 256 + pixels[:, 1]


def fake_files(n_train=200, n_test=50, seed=0, class_weights=None):
    """The four uncompressed IDX files of a fake data set, and its arrays.

    Returns
    -------
    files : dict of str to bytes
        Standard name (no ``.gz``) to IDX bytes.
    arrays : dict of str to numpy.ndarray
        Role (as in ``NAMES``) to the array.
    """
    train = fake_split(n_train, seed, class_weights=class_weights)
    test = fake_split(n_test, seed + 1, test=True, class_weights=class_weights)
    arrays = dict(zip(NAMES, (*train, *test), strict=True))
    files = {NAMES[role]: idx_bytes(array) for role, array in arrays.items()}
    return files, arrays


def gzip_like_official(data, name):
    """Gzip as the original MNIST files are: the file name in the header."""
    out = gzip.compress(data, mtime=0)
    flags_with_name = bytes([out[3] | 0x08])
    return out[:3] + flags_with_name + out[4:10] + name.encode() + b"\0" + out[10:]


def gzip_like_debian(data):
    """Gzip as Debian's copies are: no file name in the header."""
    return gzip.compress(data, mtime=0)


def write_files(folder, files, *, compress="debian"):
    """Write fake files into ``folder``; compress is "debian", "official" or None."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if compress == "official":
            (folder / f"{name}.gz").write_bytes(gzip_like_official(data, name))
        elif compress == "debian":
            (folder / f"{name}.gz").write_bytes(gzip_like_debian(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def checksum_table(gz_files):
    """A table like ``sources.CHECKSUMS[...]`` for the given gzipped files."""
    return {
        name: sources.FileChecksum(len(data), hashlib.md5(data).hexdigest())
        for name, data in gz_files.items()
    }


def leftovers(folder):
    """Temporary or partial files left in ``folder`` (recursively)."""
    return sorted(
        str(path)
        for path in folder.rglob("*")
        if path.name.startswith(".") or path.suffix == ".part"
    )
