"""``load_mnist``: the one call that gives a lesson its data.

It picks the data folder, finds or downloads the files (or falls back to the
bundled sample when asked to), checks them, and prepares the arrays: pixels as
float32 in [0, 1], optionally standardised, labels as int64 or one-hot, with
optional stratified subsets and a stratified validation split. The result says
which data set was actually used. Where files live is ``locations``' business,
fetching them ``download``'s, and the array arithmetic ``preprocessing``'s.
"""

import dataclasses
import logging
import numbers
import warnings

import numpy as np

from framework.data import preprocessing, sources
from framework.data.download import DownloadError, ensure_files, offline_requested
from framework.data.locations import (
    dataset_dir,
    display_path,
    find_files,
    resolve_data_dir,
)
from framework.data.mnist import N_CLASSES, read_split, verify_checksums

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """The splits of a data set, ready for training.

    Attributes
    ----------
    x_train, x_val, x_test : numpy.ndarray of float32, shape (n, 784)
        Images, in [0, 1] or standardised. ``x_val`` is None without a
        validation split.
    y_train, y_val, y_test : numpy.ndarray
        Labels: int64 of shape (n,) with values 0-9, or float32 of shape
        (n, 10) when one-hot. ``y_val`` is None without a validation split.
    name : str
        The data set actually used: "mnist", "fashion-mnist" or "mnist-sample".
    source : str
        One line saying which files were read and how many images they hold.
    pixel_mean, pixel_scale : numpy.ndarray of float64, shape (784,) or None
        When standardised, the training statistics; new images in [0, 1] are
        prepared the same way by ``(x - pixel_mean) / pixel_scale``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str
    pixel_mean: np.ndarray | None = None
    pixel_scale: np.ndarray | None = None

    def __repr__(self):
        val = "None" if self.x_val is None else f"{self.x_val.shape}"
        return (
            f"Dataset(name={self.name!r}, x_train={self.x_train.shape}, "
            f"x_val={val}, x_test={self.x_test.shape}, source={self.source!r})"
        )


@dataclasses.dataclass(frozen=True)
class _RawData:
    """The four arrays as read from the files, with where they came from."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    name: str
    source: str


def load_mnist(
    dataset="mnist",
    *,
    data_dir=None,
    validation=0,
    n_train=None,
    n_test=None,
    standardize=False,
    one_hot=False,
    seed=0,
    offline=None,
    allow_sample=False,
    progress=True,
):
    """Load MNIST, Fashion-MNIST or the bundled sample as training arrays.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist", "mnist-sample"}, default "mnist"
        Which data set. The sample (4,000 training and 1,000 test images of
        real MNIST digits) ships with the project and is never downloaded.
    data_dir : str or os.PathLike, optional
        The data folder; default ``MNIST_DATA_DIR``, else the checkout's
        ``data/``, else the user cache. See ``framework.data.locations``.
    validation : int or float, default 0
        Images carved from the training data as a stratified validation split:
        a count, or a fraction in (0, 1). 0 means no validation split.
    n_train, n_test : int, optional
        Take stratified subsets of this many images from the training and test
        files, for quick runs. The validation split is carved from the
        training subset, so ``x_train`` holds ``n_train`` minus the validation
        images.
    standardize : bool, default False
        Centre and scale each pixel by the mean and standard deviation of the
        training split (after the validation split is carved off); pixels that
        never vary in training become 0.
    one_hot : bool, default False
        Labels as float32 one-hot rows of shape (n, 10) instead of int64.
    seed : int or None, default 0
        Seed for subsets and the validation split; None draws a fresh one.
    offline : bool, optional
        Never download; default from ``MNIST_OFFLINE`` (1 means offline).
    allow_sample : bool, default False
        If the full data set can be had neither from disk nor from a mirror,
        warn once and use the bundled sample instead of raising.
    progress : bool, default True
        Show download progress bars on stderr.

    Returns
    -------
    Dataset
        Arrays as described there; ``name`` and ``source`` say what was used.

    Raises
    ------
    ValueError, TypeError
        If an option is out of range or of the wrong type.
    DownloadError
        If files are missing and could not be downloaded (``OfflineError`` when
        offline), unless ``allow_sample``.
    IDXError
        If a file on disk is malformed; the message names it.
    ChecksumError
        If the bundled sample was changed.
    """
    _check_options(
        dataset,
        validation,
        n_train,
        n_test,
        seed,
        offline,
        standardize=standardize,
        one_hot=one_hot,
        allow_sample=allow_sample,
        progress=progress,
    )
    folder = resolve_data_dir(data_dir).path
    raw = _read_raw(dataset, folder, offline, allow_sample, progress)
    data = _prepare(raw, validation, n_train, n_test, standardize, one_hot, seed)
    logger.info("Loaded %s", data.source)
    return data


def _check_options(dataset, validation, n_train, n_test, seed, offline, **flags):
    """Raise ValueError or TypeError for an option that cannot work."""
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a string, got {dataset!r}")
    if dataset not in sources.DATASETS:
        known = ", ".join(repr(name) for name in sources.DATASETS)
        raise ValueError(f"dataset={dataset!r} is not known; use one of {known}")

    _check_validation(validation)
    for name, size in (("n_train", n_train), ("n_test", n_test)):
        if size is not None and not _is_int(size):
            raise TypeError(f"{name} must be an int or None, got {size!r}")
        if size is not None and size < 1:
            raise ValueError(f"{name}={size} must be at least 1, or None for all")

    if seed is not None and not _is_int(seed):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    if seed is not None and not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed} must be between 0 and 2**32 - 1")

    for name, value in flags.items():
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if offline is not None and not isinstance(offline, bool | np.bool_):
        raise TypeError(f"offline must be True, False or None, got {offline!r}")


def _check_validation(validation):
    """``validation`` is an int >= 0 or a float in (0, 1)."""
    if _is_int(validation):
        if validation < 0:
            raise ValueError(
                f"validation={validation} must be a count >= 0 or a fraction in (0, 1)"
            )
    elif isinstance(validation, numbers.Real) and not isinstance(validation, bool):
        if not 0 < validation < 1:
            raise ValueError(
                f"validation={validation} as a fraction must lie strictly between "
                "0 and 1; use an int for a count, or 0 for no validation split"
            )
    else:
        raise TypeError(
            f"validation must be an int count or a float fraction, got {validation!r}"
        )


def _is_int(value):
    """An integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(
        value, bool | np.bool_
    )


def _read_raw(dataset, folder, offline, allow_sample, progress):
    """Read the data set's files, falling back to the sample if allowed."""
    if dataset == sources.MNIST_SAMPLE:
        return _read_sample(folder)
    offline = offline_requested(offline)
    try:
        paths = ensure_files(dataset, folder, offline=offline, progress=progress)
    except DownloadError as error:
        if not allow_sample:
            raise
        sample = _read_sample(folder)
        warnings.warn(
            f"{sources.TITLES[dataset]} is unavailable ({error.summary}); falling "
            f"back to the {sample.source}",
            UserWarning,
            stacklevel=3,
        )
        return sample
    return _read_files(dataset, paths)


def _read_files(dataset, paths):
    """Read and check the four files found for a data set."""
    train_images, train_labels = read_split(
        paths["train_images"], paths["train_labels"]
    )
    test_images, test_labels = read_split(paths["test_images"], paths["test_labels"])

    folders = {path.parent for path in paths.values()}
    where = folders.pop() if len(folders) == 1 else ", ".join(map(str, paths.values()))
    source = (
        f"{sources.TITLES[dataset]} from {where}: {len(train_images):,} training, "
        f"{len(test_images):,} test images"
    )
    return _RawData(
        train_images, train_labels, test_images, test_labels, dataset, source
    )


def _read_sample(folder):
    """Read the bundled sample after checking its MD5s."""
    name = sources.MNIST_SAMPLE
    paths = find_files(name, folder)
    missing = [role for role, path in paths.items() if path is None]
    if missing:
        where = dataset_dir(name, folder)
        raise FileNotFoundError(
            f"the MNIST sample is missing from {where} ({', '.join(missing)} not "
            "found): it ships with the project's source tree in data/mnist-sample/, "
            "not with an installed package; restore it with git, or load 'mnist'"
        )
    verify_checksums(name, paths.values())

    raw = _read_files(name, paths)
    where = display_path(paths["train_images"].parent)
    source = (
        f"MNIST sample bundled with the project ({where}): "
        f"{len(raw.train_images):,} training, {len(raw.test_images):,} test images"
    )
    return dataclasses.replace(raw, source=source)


def _prepare(raw, validation, n_train, n_test, standardize, one_hot, seed):
    """Subset, split, scale and encode the raw arrays into a Dataset."""
    train, val, test = _split_indices(raw, validation, n_train, n_test, seed)

    x_train = preprocessing.scale_pixels(_take(raw.train_images, train))
    x_val = None if val is None else preprocessing.scale_pixels(raw.train_images[val])
    x_test = preprocessing.scale_pixels(_take(raw.test_images, test))
    mean = scale = None
    if standardize:
        mean, scale = preprocessing.fit_standardizer(x_train)
        for x in (x_train, x_val, x_test):
            if x is not None:
                preprocessing.standardize(x, mean, scale)

    return Dataset(
        x_train=x_train,
        y_train=_labels(raw.train_labels, train, one_hot),
        x_val=x_val,
        y_val=None if val is None else _labels(raw.train_labels, val, one_hot),
        x_test=x_test,
        y_test=_labels(raw.test_labels, test, one_hot),
        name=raw.name,
        source=raw.source,
        pixel_mean=mean,
        pixel_scale=scale,
    )


def _split_indices(raw, validation, n_train, n_test, seed):
    """Indices (train, val, test) into the raw arrays; None means all, in order.

    The validation split is carved from the training subset.
    """
    train = _subset_indices(raw.train_labels, n_train, "n_train", seed)
    test = _subset_indices(raw.test_labels, n_test, "n_test", seed)
    if not validation:
        return train, None, test

    pool = np.arange(len(raw.train_labels)) if train is None else train
    n_val = _validation_count(validation, len(pool))
    fit, val = preprocessing.stratified_split(raw.train_labels[pool], n_val, seed)
    return pool[fit], pool[val], test


def _labels(labels, indices, one_hot):
    """Selected labels as int64 (n,), or float32 one-hot rows (n, 10)."""
    y = _take(labels, indices).astype(np.int64)
    return preprocessing.one_hot(y, N_CLASSES) if one_hot else y


def _take(array, indices):
    """``array[indices]``, or ``array`` itself when ``indices`` is None."""
    return array if indices is None else array[indices]


def _subset_indices(labels, size, option, seed):
    """Indices of a stratified subset, or None to keep every image."""
    if size is None or size == len(labels):
        return None
    low, high = N_CLASSES, len(labels) - N_CLASSES
    if not low <= size <= high:
        raise ValueError(
            f"{option}={size} cannot be a stratified subset of {len(labels):,} "
            f"images in {N_CLASSES} classes; use {low} to {high:,}, "
            f"or None for all {len(labels):,}"
        )
    return preprocessing.stratified_subset(labels, size, seed)


def _validation_count(validation, n):
    """The number of validation images out of ``n`` training images."""
    count = validation if _is_int(validation) else int(np.ceil(validation * n))
    low, high = N_CLASSES, n - N_CLASSES
    if not low <= count <= high:
        raise ValueError(
            f"validation={validation} gives {count:,} of {n:,} training images; a "
            f"stratified split over {N_CLASSES} classes needs {low} to {high:,}"
        )
    return count
