"""IDX reading and writing against bytes built by hand from the format's spec,
and each way a file can be malformed."""

import gzip
import struct

import numpy as np
import pytest

from framework.data.idx import IDXError, parse_idx, read_idx, write_idx
from framework.data.mnist import read_images, read_labels, read_split

# (type code, big-endian struct format char, numpy dtype) from the IDX spec.
TYPES = [
    (0x08, "B", np.uint8),
    (0x09, "b", np.int8),
    (0x0B, "h", np.int16),
    (0x0C, "i", np.int32),
    (0x0D, "f", np.float32),
    (0x0E, "d", np.float64),
]


def idx_by_hand(code, fmt, shape, values):
    """Bytes of an IDX file built with struct, independent of the code tested."""
    header = struct.pack(">BBBB", 0, 0, code, len(shape))
    header += struct.pack(f">{len(shape)}I", *shape)
    return header + struct.pack(f">{len(values)}{fmt}", *values)


def sample_values(dtype, n):
    """n values spanning the dtype's range, including negatives and extremes."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return [int(v) for v in np.linspace(info.min, info.max, n).astype(dtype)]
    return [float(v) for v in np.linspace(-1e3, 1e3, n).astype(dtype)]


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(
    ("code", "fmt", "dtype"), TYPES, ids=[t[2].__name__ for t in TYPES]
)
def test_read_every_type_code(tmp_path, code, fmt, dtype, compressed):
    shape = (3, 2, 4)
    values = sample_values(dtype, 24)
    data = idx_by_hand(code, fmt, shape, values)
    path = tmp_path / "file.idx"
    path.write_bytes(gzip.compress(data) if compressed else data)

    array = read_idx(path)

    assert array.dtype == np.dtype(dtype)
    assert array.dtype.isnative
    assert array.shape == shape
    np.testing.assert_array_equal(array.ravel(), np.array(values, dtype=dtype))
    assert array.flags.writeable


def test_gzip_is_detected_by_content_not_name(tmp_path):
    data = idx_by_hand(0x08, "B", (4,), [1, 2, 3, 4])
    (tmp_path / "gzipped-but-plain-name").write_bytes(gzip.compress(data))
    (tmp_path / "plain-but-named.gz").write_bytes(data)

    np.testing.assert_array_equal(
        read_idx(tmp_path / "gzipped-but-plain-name"), [1, 2, 3, 4]
    )
    np.testing.assert_array_equal(
        read_idx(tmp_path / "plain-but-named.gz"), [1, 2, 3, 4]
    )


def test_one_dimensional_and_many_dimensional(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(idx_by_hand(0x08, "B", (1, 1, 1, 1, 2), [7, 9]))
    assert read_idx(path).shape == (1, 1, 1, 1, 2)


def test_empty_dimension_is_valid(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(idx_by_hand(0x08, "B", (0, 28, 28), []))
    assert read_idx(path).shape == (0, 28, 28)


def test_concatenated_gzip_members_are_one_file(tmp_path):
    data = idx_by_hand(0x08, "B", (6,), [1, 2, 3, 4, 5, 6])
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(data[:9]) + gzip.compress(data[9:]))
    np.testing.assert_array_equal(read_idx(path), [1, 2, 3, 4, 5, 6])


def test_copy_false_may_return_a_read_only_view(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(idx_by_hand(0x08, "B", (2,), [5, 6]))
    view = read_idx(path, copy=False)
    np.testing.assert_array_equal(view, [5, 6])


@pytest.mark.parametrize(
    ("code", "fmt", "dtype"), TYPES, ids=[t[2].__name__ for t in TYPES]
)
def test_write_idx_matches_hand_built_bytes(tmp_path, code, fmt, dtype):
    values = sample_values(dtype, 6)
    array = np.array(values, dtype=dtype).reshape(2, 3)

    write_idx(tmp_path / "f", array)

    assert (tmp_path / "f").read_bytes() == idx_by_hand(code, fmt, (2, 3), values)


def test_write_idx_accepts_any_byte_order(tmp_path):
    array = np.array([1, -2, 300], dtype="<i2")
    write_idx(tmp_path / "f", array)
    assert (tmp_path / "f").read_bytes() == idx_by_hand(0x0B, "h", (3,), [1, -2, 300])


def test_write_idx_gz_is_reproducible_and_carries_no_name_or_time(tmp_path):
    array = np.arange(100, dtype=np.uint8).reshape(10, 10)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()

    assert first == second
    flags, mtime = first[3], struct.unpack("<I", first[4:8])[0]
    assert flags & 0x08 == 0  # FNAME bit: no file name stored
    assert mtime == 0
    assert gzip.decompress(first) == idx_by_hand(0x08, "B", (10, 10), list(range(100)))


@pytest.mark.parametrize(
    ("array", "error"),
    [
        (np.zeros(3, dtype=np.int64), TypeError),
        (np.zeros(3, dtype=np.float16), TypeError),
        (np.zeros(3, dtype=bool), TypeError),
        (np.array(5, dtype=np.uint8), ValueError),
    ],
    ids=["int64", "float16", "bool", "0-d"],
)
def test_write_idx_rejects_what_idx_cannot_hold(tmp_path, array, error):
    with pytest.raises(error, match="IDX"):
        write_idx(tmp_path / "f", array)


# --- malformed files: each a clear IDXError naming the file and the problem ---

VALID = idx_by_hand(0x08, "B", (2, 3), [0, 1, 2, 3, 4, 5])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "too short"),
        (b"\x00\x00\x08", "too short"),
        (b"\x01\x00\x08\x01" + VALID[4:], r"magic number 0x01000801"),
        (b"\x00\x00\x07\x02" + VALID[4:], "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (VALID[:6], "truncated header"),
        (VALID[:-1], "truncated"),
        (VALID[:12], r"only 0 bytes of data follow"),
        (VALID + b"\x00\x00", "2 extra bytes"),
        (gzip.compress(gzip.compress(VALID)), "gzip-compressed"),
        (b"<html><body>503 Service Unavailable</body></html>", "not an IDX file"),
    ],
    ids=[
        "empty",
        "3-bytes",
        "wrong-magic",
        "unknown-type",
        "no-dimensions",
        "truncated-header",
        "truncated-payload",
        "header-only",
        "extra-bytes",
        "gzipped-twice",
        "html-page",
    ],
)
def test_malformed_file_is_a_clear_error(tmp_path, content, problem):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(content)

    with pytest.raises(IDXError, match=problem) as caught:
        read_idx(path)

    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_payload_message_gives_both_sizes(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(VALID[:-2])
    with pytest.raises(IDXError, match=r"shape \(2, 3\) of uint8 \(6 bytes\).*only 4"):
        read_idx(path)


def test_wide_items_truncated_mid_item(tmp_path):
    data = idx_by_hand(0x0E, "d", (2,), [1.0, 2.0])
    path = tmp_path / "f"
    path.write_bytes(data[:-3])
    with pytest.raises(IDXError, match="truncated"):
        read_idx(path)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda gz: gz[: len(gz) // 2], "gzip stream is truncated"),
        (lambda gz: gz[:-4], "gzip stream is truncated"),
        (lambda gz: gz[:-8] + b"\x00" * 8, "corrupt gzip data"),
        (lambda gz: gz + b"trailing junk", "extra bytes after the end of the gzip"),
    ],
    ids=["cut-in-half", "no-trailer", "bad-crc", "junk-after"],
)
def test_damaged_gzip_is_a_clear_error(tmp_path, damage, problem):
    data = idx_by_hand(0x08, "B", (200,), list(range(200)))
    path = tmp_path / "f.gz"
    path.write_bytes(damage(gzip.compress(data)))

    with pytest.raises(IDXError, match=problem) as caught:
        read_idx(path)

    assert str(path) in str(caught.value)


def test_parse_idx_refuses_gzip_bytes():
    with pytest.raises(IDXError, match="<bytes>: the data is gzip-compressed"):
        parse_idx(gzip.compress(VALID))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nowhere")


# --- MNIST layout on top of IDX ---


def write(path, code, fmt, shape, values):
    path.write_bytes(idx_by_hand(code, fmt, shape, values))
    return path


def test_images_and_labels_of_the_mnist_layout(tmp_path):
    images = write(tmp_path / "i", 0x08, "B", (2, 28, 28), [3] * 2 * 784)
    labels = write(tmp_path / "l", 0x08, "B", (2,), [0, 9])

    x, y = read_split(images, labels)

    assert x.shape == (2, 28, 28)
    np.testing.assert_array_equal(y, [0, 9])


@pytest.mark.parametrize(
    ("code", "fmt", "shape", "problem"),
    [
        (0x08, "B", (2, 784), r"found 2 dimension\(s\) of uint8"),
        (0x08, "B", (2, 28, 27), r"shape \(2, 28, 27\)"),
        (0x0C, "i", (1, 28, 28), "int32"),
        (0x08, "B", (1568,), "is this a labels file"),
    ],
    ids=["flat", "27-wide", "int32", "labels-file"],
)
def test_images_of_the_wrong_layout(tmp_path, code, fmt, shape, problem):
    path = write(tmp_path / "images", code, fmt, shape, [0] * int(np.prod(shape)))
    with pytest.raises(IDXError, match=problem) as caught:
        read_images(path)
    assert str(path) in str(caught.value)


def test_labels_of_the_wrong_layout(tmp_path):
    path = write(tmp_path / "labels", 0x08, "B", (1, 28, 28), [0] * 784)
    with pytest.raises(IDXError, match="is this an images file") as caught:
        read_labels(path)
    assert str(path) in str(caught.value)


def test_labels_outside_0_to_9(tmp_path):
    path = write(tmp_path / "labels", 0x08, "B", (5,), [0, 3, 12, 9, 255])
    with pytest.raises(IDXError, match=r"found 12 at index 2 \(2 labels out of range"):
        read_labels(path)


def test_image_and_label_counts_differ(tmp_path):
    images = write(tmp_path / "images", 0x08, "B", (3, 28, 28), [0] * 3 * 784)
    labels = write(tmp_path / "labels", 0x08, "B", (2,), [1, 2])
    with pytest.raises(IDXError, match=r"3 images but .* 2 labels") as caught:
        read_split(images, labels)
    assert str(images) in str(caught.value)
    assert str(labels) in str(caught.value)
