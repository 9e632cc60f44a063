"""Save and load networks as data-only ``.npz`` files.

A saved network is a NumPy ``.npz`` archive holding one JSON string, the
architecture (each layer's class name and constructor settings), and one array
per parameter (``"0.W"``, ``"0.b"``, ...). Loading never unpickles anything:
it reads the JSON, rebuilds each layer from the framework's own classes, and
copies the arrays in after checking their shapes. A file that names a layer the
framework does not have, or that is malformed in any way, is a ``NetFileError``.
Optimiser state is not saved: a loaded network is for prediction or for a fresh
round of training.
"""

import itertools
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from framework.layers import LAYERS
from framework.net import Net

FORMAT = "framework.Net"
VERSION = 1
#: Loading refuses archives whose arrays would take more memory than this.
MAX_BYTES = 1 << 30


class NetFileError(ValueError):
    """A saved network that cannot be loaded: malformed, or not ours."""


def save(net, path):
    """Write ``net`` to ``path`` (an ``.npz`` file), atomically.

    The file appears complete or not at all: it is written beside the target
    under a temporary name, then renamed.
    """
    if not isinstance(net, Net):
        raise TypeError(f"save expects a framework Net, got {type(net).__name__}.")
    unknown = [
        type(layer).__name__
        for layer in net.layers
        if LAYERS.get(type(layer).__name__) is not type(layer)
    ]
    if unknown:
        raise TypeError(
            f"Cannot save layers the framework does not define: {unknown}. "
            f"Saved networks may use {sorted(LAYERS)}."
        )
    architecture = {
        "format": FORMAT,
        "version": VERSION,
        "layers": [
            {"type": type(layer).__name__, "config": layer.config()}
            for layer in net.layers
        ],
    }
    arrays = {name: value for name, value, _ in net.parameters()}

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, architecture=np.array(json.dumps(architecture)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path, max_bytes=MAX_BYTES):
    """Rebuild a network saved by ``save``.

    Parameters
    ----------
    path : str or Path
    max_bytes : int
        Refuse archives whose arrays add up to more than this when unpacked.

    Returns
    -------
    Net
        In evaluation mode, with the saved float type.

    Raises
    ------
    NetFileError
        When the file is not a saved network, names a layer the framework does
        not have, or holds arrays that do not fit the architecture.
    """
    path = Path(path)
    try:
        _check_archive_size(path, max_bytes)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except NetFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise NetFileError(f"{path}: not a readable .npz archive ({error}).") from None

    architecture = _read_architecture(path, arrays.pop("architecture", None))
    net = Net()
    for index, entry in enumerate(architecture["layers"]):
        net.add(_build_layer(path, index, entry, arrays))
    _fill_parameters(path, net, arrays)
    _check_widths(path, net)
    return net.eval()


def _check_archive_size(path, max_bytes):
    with zipfile.ZipFile(path) as archive:
        size = sum(info.file_size for info in archive.infolist())
    if size > max_bytes:
        raise NetFileError(
            f"{path}: its arrays take {size:,} bytes unpacked, more than the "
            f"{max_bytes:,} allowed."
        )


def _read_architecture(path, raw):
    if raw is None or raw.dtype.kind != "U" or raw.shape != ():
        raise NetFileError(
            f"{path}: no architecture string; was it written by framework.save?"
        )
    try:
        architecture = json.loads(str(raw))
    except json.JSONDecodeError as error:
        raise NetFileError(
            f"{path}: the architecture is not valid JSON ({error})."
        ) from None
    if not isinstance(architecture, dict) or architecture.get("format") != FORMAT:
        raise NetFileError(
            f"{path}: not a saved framework network (format {FORMAT!r} expected)."
        )
    if architecture.get("version") != VERSION:
        raise NetFileError(
            f"{path}: format version {architecture.get('version')!r}, this framework "
            f"reads version {VERSION}."
        )
    layers = architecture.get("layers")
    if not isinstance(layers, list) or not all(isinstance(e, dict) for e in layers):
        raise NetFileError(f"{path}: 'layers' must be a list of objects.")
    return architecture


def _build_layer(path, index, entry, arrays):
    kind, config = entry.get("type"), entry.get("config", {})
    if kind not in LAYERS:
        raise NetFileError(
            f"{path}: layer {index} is {kind!r}, which the framework does not have; "
            f"known layers: {sorted(LAYERS)}."
        )
    if not isinstance(config, dict):
        raise NetFileError(
            f"{path}: layer {index} ({kind}) has a config that is not an object."
        )
    # Compare the shapes the settings imply with the stored arrays before
    # building: forged widths must not make loading allocate a huge matrix.
    for name, shape in LAYERS[kind].parameter_shapes(config).items():
        stored = arrays.get(f"{index}.{name}")
        if stored is None or stored.shape != shape:
            found = "nothing" if stored is None else f"shape {stored.shape}"
            raise NetFileError(
                f"{path}: layer {index} ({kind}) needs parameter {index}.{name} of "
                f"shape {shape}, the file holds {found}."
            )
    try:
        return LAYERS[kind].from_config(config)
    except (TypeError, ValueError) as error:
        raise NetFileError(
            f"{path}: layer {index} ({kind}) cannot be built: {error}"
        ) from None


def _fill_parameters(path, net, arrays):
    dtypes = {arrays[name].dtype for name, _, _ in net.parameters() if name in arrays}
    if len(dtypes) > 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise NetFileError(
            f"{path}: parameters must all be float32 or all float64, "
            f"got {sorted(map(str, dtypes))}."
        )
    net.astype(dtypes.pop() if dtypes else np.float32)
    for name, value, _ in net.parameters():
        if name not in arrays:
            raise NetFileError(f"{path}: parameter {name} is missing.")
        saved = arrays.pop(name)
        if saved.shape != value.shape:
            raise NetFileError(
                f"{path}: parameter {name} should have shape {value.shape}, "
                f"got {saved.shape}."
            )
        value[...] = saved
    if arrays:
        raise NetFileError(f"{path}: arrays {sorted(arrays)} belong to no layer.")


def _check_widths(path, net):
    linear = net.linear_layers()
    for before, after in itertools.pairwise(linear):
        if before.n_out != after.n_in:
            raise NetFileError(
                f"{path}: a Linear layer gives {before.n_out} outputs to a Linear "
                f"layer expecting {after.n_in}."
            )
