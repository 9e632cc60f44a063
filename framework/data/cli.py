"""The ``python -m framework.data`` command: fetch the data ahead of time, or
say which data a lesson would use.

    python -m framework.data download [--dataset mnist|fashion-mnist]
                                      [--data-dir DIR] [--no-progress]
    python -m framework.data info [--dataset NAME] [--data-dir DIR]

Results go to stdout, progress bars and log lines to stderr. Exit status: 0 on
success, 1 when the data cannot be had (the error is printed without a
traceback), 2 for a usage error. Training and preprocessing are not done here.
"""

import argparse
import logging
import sys

from framework.data import sources
from framework.data.download import ensure_files, mirror_urls, offline_requested
from framework.data.locations import dataset_dir, find_files, resolve_data_dir
from framework.data.mnist import read_split


def main(argv=None):
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.run(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m framework.data",
        description="Fetch MNIST or Fashion-MNIST, or show which data would be used.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    download = commands.add_parser(
        "download", help="download the four files of a data set if missing"
    )
    download.add_argument("--dataset", choices=sources.DOWNLOADABLE, default="mnist")
    download.add_argument("--no-progress", action="store_true", help="no progress bars")
    download.set_defaults(run=_download)

    info = commands.add_parser("info", help="show the data folder and the files found")
    info.add_argument("--dataset", choices=sources.DATASETS, default="mnist")
    info.set_defaults(run=_info)

    for command in (download, info):
        command.add_argument(
            "--data-dir", help="data folder (default: MNIST_DATA_DIR, checkout, cache)"
        )
        command.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def _download(args):
    """Make sure the files are in the data folder and readable; list them."""
    folder = resolve_data_dir(args.data_dir).path
    before = find_files(args.dataset, folder)
    paths = ensure_files(
        args.dataset,
        folder,
        offline=offline_requested(),
        progress=not args.no_progress,
    )
    train_images, _ = read_split(paths["train_images"], paths["train_labels"])
    test_images, _ = read_split(paths["test_images"], paths["test_labels"])

    for role, path in paths.items():
        status = "already present" if before[role] else "downloaded"
        print(f"{path}  ({status})")
    print(
        f"{sources.TITLES[args.dataset]}: {len(train_images):,} training and "
        f"{len(test_images):,} test images in {dataset_dir(args.dataset, folder)}"
    )
    return 0


def _info(args):
    """Say which data folder and files ``load_mnist`` would use, offline."""
    folder = resolve_data_dir(args.data_dir)
    found = find_files(args.dataset, folder.path)
    offline = offline_requested()

    print(f"data set:    {sources.TITLES[args.dataset]} ({args.dataset})")
    print(f"data folder: {folder.path} ({folder.origin})")
    for role, path in found.items():
        print(f"  {sources.FILE_NAMES[role]}: {path or 'missing'}")
    if args.dataset == sources.MNIST_SAMPLE:
        return 0

    print(f"downloads:   {'off (offline)' if offline else 'on'}")
    print(f"mirrors:     {', '.join(mirror_urls(args.dataset)) or 'none'}")
    if all(found.values()):
        action = "would read the files above (checked by structure, not checksum)"
    elif offline:
        action = "would fail (offline); allow_sample=True would use the bundled sample"
    else:
        target = dataset_dir(args.dataset, folder.path)
        action = f"would download the missing files into {target}"
    print(f"loading:     {action}")
    return 0
