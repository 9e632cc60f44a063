"""Checking that IDX files hold an MNIST-style data set, and reading them.

MNIST and Fashion-MNIST share one layout: images as uint8 of shape (n, 28, 28),
labels as uint8 of shape (n,) with values 0-9, and as many labels as images.
Files found on disk are checked by this structure, not by checksum, so re-packed
copies (such as Debian's) work; only the bundled sample, whose bytes are fixed,
is also checked against its MD5. Scaling and splitting live in
``framework.data.preprocessing``.
"""

import hashlib
from pathlib import Path

import numpy as np

from framework.data import sources
from framework.data.idx import IDXError, read_idx

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


class ChecksumError(ValueError):
    """A file whose bytes are known in advance has different bytes."""


def read_images(path):
    """Read an IDX file of MNIST-style images.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 28, 28)
        Possibly a read-only view of the file's bytes.

    Raises
    ------
    IDXError
        If the file is malformed or does not hold (n, 28, 28) uint8 images.
    """
    images = read_idx(path, copy=False)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise IDXError(
            f"{path}: expected images as uint8 of shape (n, 28, 28), found "
            f"{images.ndim} dimension(s) of {images.dtype} with shape "
            f"{images.shape}{'; is this a labels file?' if images.ndim == 1 else ''}"
        )
    return images


def read_labels(path):
    """Read an IDX file of digit labels.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    numpy.ndarray of uint8, shape (n,)
        Values 0-9. Possibly a read-only view of the file's bytes.

    Raises
    ------
    IDXError
        If the file is malformed, not one-dimensional uint8, or holds a label
        outside 0-9.
    """
    labels = read_idx(path, copy=False)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXError(
            f"{path}: expected labels as uint8 of shape (n,), found "
            f"{labels.ndim} dimension(s) of {labels.dtype} with shape "
            f"{labels.shape}{'; is this an images file?' if labels.ndim == 3 else ''}"
        )
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise IDXError(
            f"{path}: labels must be 0-{N_CLASSES - 1}, found {labels[bad[0]]} at "
            f"index {bad[0]:,} ({bad.size:,} labels out of range in all)"
        )
    return labels


def read_split(images_path, labels_path):
    """Read the images and labels of one split and check they pair up.

    Returns
    -------
    images : numpy.ndarray of uint8, shape (n, 28, 28)
    labels : numpy.ndarray of uint8, shape (n,)

    Raises
    ------
    IDXError
        If either file is malformed or their counts differ.
    """
    images = read_images(images_path)
    labels = read_labels(labels_path)
    if len(images) != len(labels):
        raise IDXError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels; the files do not belong together"
        )
    return images, labels


def verify_checksums(dataset, paths):
    """Check files against the MD5s of ``sources.CHECKSUMS[dataset]``.

    Parameters
    ----------
    dataset : str
    paths : iterable of pathlib.Path
        Files named as in the table.

    Raises
    ------
    ChecksumError
        If a file's MD5 differs, naming the file, both checksums and the fix.
    """
    table = sources.CHECKSUMS[dataset]
    for path in paths:
        path = Path(path)
        expected = table[path.name].md5
        actual = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"{path}: MD5 is {actual}, expected {expected}; the "
                f"{sources.TITLES[dataset]} file is damaged or was changed, restore "
                "it from the repository (git checkout -- data/)"
            )
