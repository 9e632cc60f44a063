"""Turning raw MNIST arrays into what a network trains on.

Pixels are scaled to float32 in [0, 1]; optionally standardised per pixel with
statistics of the training split only; labels are optionally one-hot encoded;
stratified subsets and validation splits keep the class proportions. Every step
is a plain function of arrays: reading files is ``framework.data.mnist``'s job,
choosing the steps is ``load_mnist``'s.
"""

import numpy as np

_MAX_PIXEL = np.float32(255)


def scale_pixels(images):
    """Flatten images and scale their uint8 pixels to float32 in [0, 1].

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    numpy.ndarray of float32, shape (n, 784)
        ``pixel / 255``, correctly rounded to float32.
    """
    flat = images.reshape(len(images), -1)
    out = np.empty(flat.shape, dtype=np.float32)
    np.divide(flat, _MAX_PIXEL, out=out, dtype=np.float32)
    return out


def fit_standardizer(x, chunk_rows=4096):
    """Per-pixel mean and standard deviation of training images.

    Parameters
    ----------
    x : numpy.ndarray of float32, shape (n, d)
        Training images only; statistics of other splits must not leak in.
    chunk_rows : int, default 4096
        Rows per step when summing squares in float64, to bound memory.

    Returns
    -------
    mean : numpy.ndarray of float64, shape (d,)
    scale : numpy.ndarray of float64, shape (d,)
        The population standard deviation (as scikit-learn's StandardScaler),
        except 1 for pixels that never vary; their mean is their exact value,
        so they are exactly 0 after centring.
    """
    mean = x.mean(axis=0, dtype=np.float64)
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), chunk_rows):
        centred = x[start : start + chunk_rows] - mean
        squares += np.einsum("ij,ij->j", centred, centred)
    scale = np.sqrt(squares / len(x))

    constant = x.min(axis=0) == x.max(axis=0)
    mean[constant] = x[0, constant]
    scale[constant] = 1.0
    return mean, scale


def standardize(x, mean, scale):
    """Centre and scale images in place with given statistics.

    Parameters
    ----------
    x : numpy.ndarray of float32, shape (n, d)
        Overwritten with ``(x - mean) / scale``.
    mean, scale : numpy.ndarray, shape (d,)
        From ``fit_standardizer`` on the training split.

    Returns
    -------
    numpy.ndarray of float32, shape (n, d)
        ``x`` itself.
    """
    x -= mean.astype(np.float32)
    x /= scale.astype(np.float32)
    return x


def one_hot(labels, n_classes=10):
    """Encode class labels as one-hot rows.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n,)
        Values in 0 .. n_classes - 1.
    n_classes : int, default 10

    Returns
    -------
    numpy.ndarray of float32, shape (n, n_classes)
        1 in each row's label column, 0 elsewhere.
    """
    encoded = np.zeros((len(labels), n_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def stratified_subset(labels, size, seed):
    """Indices of a random subset with the class proportions of ``labels``.

    Parameters
    ----------
    labels : numpy.ndarray, shape (n,)
    size : int
        Subset size, at most n; n returns every index in order.
    seed : int or None
        Seed for scikit-learn's ``train_test_split``.

    Returns
    -------
    numpy.ndarray of int, shape (size,)
    """
    if size == len(labels):
        return np.arange(size)
    subset, _ = _split(labels, train_size=size, seed=seed)
    return subset


def stratified_split(labels, second_size, seed):
    """Split indices in two parts, each with the class proportions of ``labels``.

    Parameters
    ----------
    labels : numpy.ndarray, shape (n,)
    second_size : int
        Size of the second part (e.g. the validation split), 0 < size < n.
    seed : int or None

    Returns
    -------
    first, second : numpy.ndarray of int
        Disjoint indices of sizes n - second_size and second_size.
    """
    return _split(labels, test_size=second_size, seed=seed)


def _split(labels, seed, **sizes):
    """``train_test_split`` of the indices of ``labels``, stratified by label."""
    # Imported here: scikit-learn takes about two seconds to import, which the
    # download command and loads without subsets or validation never need.
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    return train_test_split(indices, stratify=labels, random_state=seed, **sizes)
