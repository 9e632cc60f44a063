"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the items in C order,
big-endian. Files may be gzipped; that is recognised by the first two bytes
(1f 8b), whatever the file is called.

Parsing is a single ``np.frombuffer`` over the decompressed bytes and is strict:
anything that does not follow the format raises ``IDXError`` naming the file and
the problem. This module knows nothing of images or labels; the checks that a
file holds MNIST images (n, 28, 28) or digit labels live in ``framework.data.mnist``.
"""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code to the big-endian numpy dtype of the items."""


class IDXError(ValueError):
    """A file is not a well-formed IDX file (or not the one expected)."""


def read_idx(path, *, copy=True):
    """Read an IDX file, gzipped or not, into a numpy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from its first bytes.
    copy : bool, default True
        If False, the array may be a read-only view of the decompressed bytes,
        which saves one copy of the data.

    Returns
    -------
    numpy.ndarray
        Shape as declared in the header, native byte order, dtype uint8, int8,
        int16, int32, float32 or float64 following the type code.

    Raises
    ------
    IDXError
        If the file is not well-formed; the message names the file.
    OSError
        If the file cannot be read.
    """
    data = read_bytes(path)
    array = parse_idx(data, source=os.fspath(path))
    if copy and not array.flags.writeable:
        array = array.copy()
    return array


def read_bytes(path):
    """Return the content of a file, decompressed if it is gzipped.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bytes
        The file's bytes, or the decompressed bytes of every gzip member.

    Raises
    ------
    IDXError
        If the gzip stream is truncated, corrupt or followed by other bytes.
    """
    data = Path(path).read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    return _gunzip(data, source=os.fspath(path))


def _gunzip(data, source):
    """Decompress all gzip members of ``data`` in one pass each."""
    parts = []
    rest = data
    while rest:
        if rest[:2] != GZIP_MAGIC:
            raise IDXError(
                f"{source}: {len(rest):,} extra bytes after the end of the gzip "
                "stream; the file is damaged, download it again"
            )
        stream = zlib.decompressobj(wbits=31)
        try:
            parts.append(stream.decompress(rest))
        except zlib.error as error:
            raise IDXError(
                f"{source}: corrupt gzip data ({error}); download the file again"
            ) from None
        if not stream.eof:
            raise IDXError(
                f"{source}: the gzip stream is truncated (ends before its "
                "end-of-stream marker); the download was probably interrupted, "
                "download the file again"
            )
        rest = stream.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_idx(data, source="<bytes>"):
    """Parse the bytes of an uncompressed IDX file.

    Parameters
    ----------
    data : bytes-like
        The whole file, header and items.
    source : str, default "<bytes>"
        Where the bytes came from, used in error messages.

    Returns
    -------
    numpy.ndarray
        Native byte order, shape from the header. A read-only view of ``data``
        when the items are single bytes and ``data`` is read-only.

    Raises
    ------
    IDXError
        On a wrong magic number, an unknown type code, a truncated header or
        payload, extra bytes, or gzip-compressed input.
    """
    dtype, shape, offset = _parse_header(data, source)
    _check_payload_size(len(data) - offset, dtype, shape, source)

    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array.reshape(shape)


def _parse_header(data, source):
    """Return (big-endian dtype, shape, offset of the first item)."""
    if bytes(data[:2]) == GZIP_MAGIC:
        raise IDXError(
            f"{source}: the data is gzip-compressed (starts with 1f 8b), "
            "decompress it first; a file that is still gzipped after one "
            "decompression was compressed twice"
        )
    if len(data) < 4:
        raise IDXError(
            f"{source}: {len(data)} bytes is too short for an IDX file, which "
            "starts with a 4-byte magic number"
        )

    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(
            f"{source}: not an IDX file: magic number 0x{magic:08X} should start "
            "with two zero bytes, as in 0x00000803 (images) or 0x00000801 (labels)"
        )
    if data[2] not in TYPE_CODES:
        known = ", ".join(f"0x{code:02X}" for code in TYPE_CODES)
        raise IDXError(
            f"{source}: unknown IDX type code 0x{data[2]:02X} in magic number "
            f"0x{magic:08X}; expected one of {known}"
        )
    ndim = data[3]
    if ndim == 0:
        raise IDXError(
            f"{source}: magic number 0x{magic:08X} declares 0 dimensions; "
            "an IDX file has at least one"
        )

    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise IDXError(
            f"{source}: truncated header: {ndim} dimensions need {offset} header "
            f"bytes, the file has {len(data)}"
        )
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    return TYPE_CODES[data[2]], shape, offset


def _check_payload_size(size, dtype, shape, source):
    """Raise IDXError unless ``size`` bytes are exactly the items of ``shape``."""
    expected = dtype.itemsize
    for n in shape:
        expected *= n
    described = f"shape {shape} of {dtype.name} ({expected:,} bytes)"
    if size < expected:
        raise IDXError(
            f"{source}: truncated: the header declares {described}, but only "
            f"{size:,} bytes of data follow; download the file again"
        )
    if size > expected:
        raise IDXError(
            f"{source}: {size - expected:,} extra bytes after the data: the header "
            f"declares {described}, but {size:,} bytes follow"
        )


def write_idx(path, array, *, compress=None):
    """Write an array as an IDX file, reproducibly.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; overwritten if it exists.
    array : array_like
        Items of dtype uint8, int8, int16, int32, float32 or float64, at least
        one dimension, each dimension below 2**32.
    compress : bool or None, default None
        Gzip the file; None means: if ``path`` ends in ``.gz``. Gzipped output
        carries no file name and a zero time stamp, so the same array gives the
        same bytes on every run (with the same zlib).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If the dtype has no IDX type code.
    ValueError
        If the array has no dimensions or a dimension too large for IDX.
    """
    path = Path(path)
    array = np.asarray(array)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)
    return path


def idx_bytes(array):
    """Return the uncompressed IDX encoding of ``array`` (see ``write_idx``)."""
    code = _type_code(array.dtype)
    if array.ndim == 0:
        raise ValueError(
            "an IDX file holds at least one dimension, got a 0-dimensional array; "
            "reshape it to (1,) first"
        )
    if max(array.shape) >= 2**32:
        raise ValueError(
            f"IDX dimensions are uint32, got shape {array.shape}; split the array"
        )
    header = bytes([0, 0, code, array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    items = np.ascontiguousarray(array, dtype=TYPE_CODES[code])
    return header + items.tobytes()


def _type_code(dtype):
    """Return the IDX type code for a numpy dtype, whatever its byte order."""
    for code, idx_dtype in TYPE_CODES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    names = ", ".join(d.name for d in TYPE_CODES.values())
    raise TypeError(
        f"IDX cannot store dtype {dtype}; convert the array to one of {names}"
    )
