"""How much loading costs beyond gzip decompression, which it cannot avoid.

Times, in one run and alternating so both see the same machine state, (a) gzip
decompression alone of the four files (read from disk, ``gzip.decompress``) and
(b) ``load_mnist`` on the same files: read, decompress, parse, check, scale all
70,000 images to float32 in [0, 1]. Prints the medians and their ratio; the
target is a ratio of at most 1.5. No standardisation, subsets or validation
split: those are options, not the cost of loading.

    python benchmarks/idx_parsing.py --data-dir /usr/share/datasets/fashion-mnist

Files must be gzipped and present; this never downloads.
"""

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

# The benchmark runs as a file, so the package is found through the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framework.data import load_mnist
from framework.data.locations import find_files, resolve_data_dir

TARGET_RATIO = 1.5


def main(argv=None):
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (default as load_mnist)")
    parser.add_argument(
        "--dataset", choices=["mnist", "fashion-mnist"], default="mnist"
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each")
    args = parser.parse_args(argv)

    folder = resolve_data_dir(args.data_dir).path
    paths = list(find_files(args.dataset, folder).values())
    if None in paths or any(path.suffix != ".gz" for path in paths):
        print(
            f"error: the four gzipped {args.dataset} files are not all in {folder}; "
            "run 'python -m framework.data download' or pass --data-dir",
            file=sys.stderr,
        )
        return 1

    def decompress_only():
        return [gzip.decompress(path.read_bytes()) for path in paths]

    def load():
        return load_mnist(args.dataset, data_dir=folder, offline=True, progress=False)

    data = load()
    decompress_only()
    times = {decompress_only: [], load: []}
    for _ in range(args.repeat):
        for run, laps in times.items():
            start = time.perf_counter()
            run()
            laps.append(time.perf_counter() - start)

    baseline = statistics.median(times[decompress_only])
    full = statistics.median(times[load])
    ratio = full / baseline
    verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
    n_images = len(data.x_train) + len(data.x_test)
    print(f"data:  {n_images:,} images in {paths[0].parent}")
    print(f"runs:  {args.repeat} of each, alternating, after one warm-up; medians")
    print(f"gzip decompression alone of the 4 files:          {baseline:.3f} s")
    print(f"load_mnist (read, decompress, parse, check, scale): {full:.3f} s")
    print(f"ratio: {ratio:.2f} ({verdict} the target of {TARGET_RATIO})")
    fastest = min(times[load]) / min(times[decompress_only])
    print(f"ratio of the fastest runs: {fastest:.2f} (less sensitive to other load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
