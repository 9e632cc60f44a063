"""MNIST and Fashion-MNIST for the lesson: found, downloaded, checked, prepared.

``load_mnist`` returns a ``Dataset`` of float32 images in [0, 1] and int64
labels, with optional standardisation, one-hot labels, a stratified validation
split and subsets; ``read_idx`` reads any IDX file. A sample of real MNIST
(4,000 training and 1,000 test images) ships in the repository's
``data/mnist-sample/`` so a lesson runs without a network::

    from framework.data import load_mnist
    data = load_mnist(validation=0.1, allow_sample=True)
    print(data.source)

Files are looked for in a data folder (see ``framework.data.locations``) and
downloaded there when missing, from mirrors with checksums (see
``framework.data.download``). ``python -m framework.data download`` fetches them
ahead of time. Only the four standard files of each data set are handled; other
data sets (EMNIST, KMNIST, ...) are not.
"""

from framework.data.download import DownloadError, OfflineError
from framework.data.idx import IDXError, read_idx, write_idx
from framework.data.loader import Dataset, load_mnist
from framework.data.mnist import ChecksumError
from framework.data.sources import DATASETS

__all__ = [
    "DATASETS",
    "ChecksumError",
    "Dataset",
    "DownloadError",
    "IDXError",
    "OfflineError",
    "load_mnist",
    "read_idx",
    "write_idx",
]
