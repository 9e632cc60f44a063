"""Where the data files live on this machine.

The data folder is, in this order: the one the caller names (``data_dir``, else
the environment variable ``MNIST_DATA_DIR``); the repository's ``data/`` folder
when the package runs from a checkout; a per-user cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``mnist-mlp-lab``).

A data folder holds either one sub-folder per data set (``mnist/``,
``fashion-mnist/``, ``mnist-sample/``) or the four files of a data set directly;
the sub-folder is looked at first, and files lying directly in the folder are
taken to be the data set asked for. Each file may be gzipped or not, under its
standard name with or without ``.gz``. Downloads go to ``<data folder>/<data set>/``.

The sample bundled with the project is read from ``<data folder>/mnist-sample/``
if that exists, else from the checkout's ``data/mnist-sample/``. It is not part
of an installed wheel, only of the source tree.

This module only finds paths; it neither reads nor downloads files.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from framework.data.sources import FILE_NAMES, MNIST_SAMPLE

CACHE_NAME = "mnist-mlp-lab"

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
"""The folder above ``framework/``; a checkout if it holds pyproject.toml and data/."""

SAMPLE_DIR = CHECKOUT_ROOT / "data" / MNIST_SAMPLE
"""The bundled sample's folder in a checkout."""


@dataclass(frozen=True)
class DataFolder:
    """A data folder and why it was chosen (for messages and ``info``)."""

    path: Path
    origin: str


def resolve_data_dir(data_dir=None):
    """Choose the data folder.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        An explicit folder; wins over everything else. ``~`` is expanded.

    Returns
    -------
    DataFolder
        The folder (which may not exist yet) and its origin: "data_dir
        argument", "MNIST_DATA_DIR", "repository checkout" or "user cache".

    Raises
    ------
    TypeError
        If ``data_dir`` is neither None nor a path.
    """
    if data_dir is not None:
        if not isinstance(data_dir, str | os.PathLike):
            raise TypeError(
                f"data_dir must be a folder path (str or os.PathLike) or None, "
                f"got {data_dir!r}"
            )
        return DataFolder(Path(data_dir).expanduser(), "data_dir argument")

    from_env = os.environ.get("MNIST_DATA_DIR", "").strip()
    if from_env:
        return DataFolder(Path(from_env).expanduser(), "MNIST_DATA_DIR")

    if is_checkout(CHECKOUT_ROOT):
        return DataFolder(CHECKOUT_ROOT / "data", "repository checkout")

    return DataFolder(user_cache_dir(), "user cache")


def is_checkout(root):
    """Whether ``root`` looks like this project's source tree."""
    return (root / "pyproject.toml").is_file() and (root / "data").is_dir()


def user_cache_dir():
    """The per-user cache folder: ``$XDG_CACHE_HOME`` or ``~/.cache``, then ours."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / CACHE_NAME


def dataset_dir(dataset, folder):
    """The folder a data set's files are read from or downloaded into.

    For the sample this is ``<folder>/mnist-sample`` if it exists, else the
    bundled ``SAMPLE_DIR``; for the others always ``<folder>/<dataset>``.
    """
    sub_folder = Path(folder) / dataset
    if dataset == MNIST_SAMPLE and not sub_folder.is_dir():
        return SAMPLE_DIR
    return sub_folder


def find_files(dataset, folder):
    """Find the four files of a data set in a data folder.

    Parameters
    ----------
    dataset : str
        One of ``sources.DATASETS``.
    folder : pathlib.Path
        The data folder.

    Returns
    -------
    dict of str to pathlib.Path or None
        For each role in ``sources.FILE_NAMES``, the file found (gzipped name
        preferred, sub-folder before the folder itself) or None. The sample is
        only looked for gzipped, in ``dataset_dir``.
    """
    if dataset == MNIST_SAMPLE:
        folders = [dataset_dir(dataset, folder)]
        suffixes = [".gz"]
    else:
        folders = [dataset_dir(dataset, folder), Path(folder)]
        suffixes = [".gz", ""]

    found = {}
    for role, name in FILE_NAMES.items():
        candidates = (f / (name + suffix) for f in folders for suffix in suffixes)
        found[role] = next((path for path in candidates if path.is_file()), None)
    return found


def display_path(path):
    """A path as shown to people: relative to the checkout when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(CHECKOUT_ROOT))
    except ValueError:
        return str(path)
