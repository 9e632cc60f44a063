"""Where the MNIST files come from and how to recognise them.

This module is only tables: the four standard file names, the checksums of each
data set's files, and the mirrors that serve them. The downloader and the loader
look the tables up each time they run, so tests can point them at fixture files
with ``monkeypatch.setitem``. Nothing here touches the network or the disk.

MD5 is the authority for a downloaded file; the size, when known, is only an
early check. Files already on disk are not checksummed (see ``framework.data``),
with one exception: the sample bundled with the project, whose bytes are fixed.

Debian's ``fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``) holds
the same images and labels re-gzipped without the original file name in the
gzip header, so its files are 24 bytes shorter and their MD5s differ from the
official table: train-images 26,421,856 bytes cf8536b0aa1a6ac5fa3f23001093305c,
train-labels 29,491 bytes 10bea18fdb374794d4bb42e356e600c9, t10k-images
4,422,079 bytes f78720b4224f21cce2f2ccf2d7a94c9a, t10k-labels 5,125 bytes
0d30e22e447f3c33dab9ed536400ac01. Such a folder works as a data folder, since
files already present are checked by structure only.
"""

from typing import NamedTuple

MNIST = "mnist"
FASHION_MNIST = "fashion-mnist"
MNIST_SAMPLE = "mnist-sample"

DATASETS = (MNIST, FASHION_MNIST, MNIST_SAMPLE)
"""Data set names accepted by ``load_mnist``, in the order they are documented."""

DOWNLOADABLE = (MNIST, FASHION_MNIST)
"""Data sets that have mirrors; the sample ships with the project."""

TITLES = {
    MNIST: "MNIST",
    FASHION_MNIST: "Fashion-MNIST",
    MNIST_SAMPLE: "MNIST sample",
}

FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The standard names of the four files, without ``.gz``, keyed by their role."""


class FileChecksum(NamedTuple):
    """What a downloadable file must look like: size in bytes (None if not
    known) and MD5 as lower-case hex."""

    size: int | None
    md5: str


CHECKSUMS = {
    MNIST: {
        "train-images-idx3-ubyte.gz": FileChecksum(
            9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"
        ),
        "train-labels-idx1-ubyte.gz": FileChecksum(
            28_881, "d53e105ee54ea40749a09fcbcd1e9432"
        ),
        "t10k-images-idx3-ubyte.gz": FileChecksum(
            1_648_877, "9fb629c4189551a2d022fa330f9573f3"
        ),
        "t10k-labels-idx1-ubyte.gz": FileChecksum(
            4_542, "ec29112dd5afa0611ce80d1b7f02629c"
        ),
    },
    FASHION_MNIST: {
        "train-images-idx3-ubyte.gz": FileChecksum(
            26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
        ),
        "train-labels-idx1-ubyte.gz": FileChecksum(
            29_515, "25c81989df183df01b3e8a0aad5dffbe"
        ),
        "t10k-images-idx3-ubyte.gz": FileChecksum(
            4_422_102, "bef4ecab320f06d8554ea6380940ec79"
        ),
        "t10k-labels-idx1-ubyte.gz": FileChecksum(
            5_148, "bb300cfdad3c16e7a12a480ee83cd310"
        ),
    },
    # Built by data/build_sample.py; see data/README.md.
    MNIST_SAMPLE: {
        "train-images-idx3-ubyte.gz": FileChecksum(
            652_183, "e72ea18f929afe3a606daf30931bcbb1"
        ),
        "train-labels-idx1-ubyte.gz": FileChecksum(
            2_060, "ae0051f49ee7df56e7d67235267f9808"
        ),
        "t10k-images-idx3-ubyte.gz": FileChecksum(
            162_874, "7fcdcf1620fecfbb8252a7b097e7f2a4"
        ),
        "t10k-labels-idx1-ubyte.gz": FileChecksum(
            524, "42728e81db9be872fbe981bf0e599305"
        ),
    },
}
"""Per data set, the expected size and MD5 of each gzipped file."""

MIRRORS = {
    MNIST: (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    FASHION_MNIST: ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    MNIST_SAMPLE: (),
}
"""Base URLs tried in order; ``MNIST_MIRRORS`` puts others in front of them."""
