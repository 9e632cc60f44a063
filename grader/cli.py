"""``python -m grader``: grade submissions against a rubric.

Exit status: 0 when every submission was graded; 1 when ``--fail-under`` is
given and a submission scored below it; 2 for a usage error or a fault of the
grader (no data, no sandbox, a broken rubric); 130 when interrupted (Ctrl-C),
after which the gradebook holds every submission finished before.
"""

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from framework.data import load_mnist
from framework.data.locations import resolve_data_dir, user_cache_dir
from grader.batch import default_workers, grade_batch
from grader.grading import PROJECT, GraderError, GradingData
from grader.outputs import (
    Gradebook,
    dump_json,
    failed_run_json,
    results_json,
    task_table,
    write_atomically,
)
from grader.rubric import DATASETS, RubricError, load_rubric
from grader.submission import find_submissions

logger = logging.getLogger("grader")

GRADESCOPE_RESULTS = Path("/autograder/results/results.json")
#: Folders that may hold test images, hidden from every submission.
DATA_LOCATIONS = (PROJECT / "data", Path("/usr/share/datasets"))

EXIT_OK, EXIT_BELOW, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="grader: %(message)s",
        stream=sys.stderr,
    )
    results_path = args.results
    if results_path is None and GRADESCOPE_RESULTS.parent.is_dir():
        results_path = GRADESCOPE_RESULTS
    try:
        return _grade(args, results_path)
    except KeyboardInterrupt:
        # Every finished submission is already in the gradebook. Exiting at
        # once takes the running children with it (their sandbox dies with
        # the grader); waiting for them could take a whole time limit.
        print("grader: interrupted; grades already given are kept.", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    except (RubricError, GraderError, FileNotFoundError, ValueError, OSError) as error:
        print(f"grader: {error}", file=sys.stderr)
        if results_path is not None:
            write_atomically(results_path, dump_json(failed_run_json(str(error))))
        return EXIT_ERROR


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Train and score MNIST lab submissions in a sandbox.",
    )
    parser.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        metavar="SUBMISSION",
        help=".py file, .ipynb notebook, or folder of submissions",
    )
    parser.add_argument(
        "--rubric", type=Path, help="rubric TOML file (default: the lab's)"
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        help="data set (default: full MNIST, or the bundled sample when it is not "
        "available)",
    )
    parser.add_argument("--data-dir", type=Path, help="folder holding the data files")
    parser.add_argument(
        "--results",
        type=Path,
        help="Gradescope results.json to write (one submission only; default "
        f"{GRADESCOPE_RESULTS} inside a Gradescope container)",
    )
    parser.add_argument(
        "--gradebook",
        type=Path,
        help="CSV gradebook (default gradebook.csv when grading several submissions)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=default_workers(),
        help="tasks trained at once (default: the number of cores)",
    )
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="SCORE",
        help="exit with status 1 if a submission scores below SCORE",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="grade again submissions the gradebook already holds",
    )
    parser.add_argument(
        "--isolation",
        choices=("auto", "basic"),
        default="auto",
        help="sandbox strength: the strongest available, or limits only",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _grade(args, results_path):
    submissions = find_submissions(args.submissions)
    rubric = load_rubric(args.rubric)
    if not submissions:
        raise FileNotFoundError("No .py or .ipynb submission found in the given paths.")
    if results_path is not None and len(submissions) > 1:
        raise ValueError(
            f"--results writes one submission's results, but {len(submissions)} "
            "were found; use --gradebook for a batch."
        )
    gradebook_path = args.gradebook
    if gradebook_path is None and len(submissions) > 1:
        gradebook_path = Path("gradebook.csv")
    gradebook = Gradebook(gradebook_path) if gradebook_path else None

    data, note = _load_data(args, rubric)
    print(note)
    for task in rubric.tasks:
        task.thresholds_for(data.name)  # a missing threshold fails before training
    hidden = _hidden_paths(args, submissions, results_path, gradebook)
    grading_data = GradingData.from_dataset(data, hidden_paths=hidden)

    todo = [
        s for s in submissions if not _already_graded(s, gradebook, rubric, data, args)
    ]
    if len(todo) < len(submissions):
        print(
            f"Skipping {len(submissions) - len(todo)} submission(s) already in "
            f"{gradebook_path} (use --force to grade them again)."
        )
    bar = tqdm(
        total=len(todo),
        unit="submission",
        desc="grading",
        disable=args.no_progress or len(todo) < 2,
        file=sys.stderr,
    )

    def record(result):
        if gradebook is not None:
            gradebook.add(result, rubric)
        if results_path is not None:
            document = results_json(result, rubric, grading_data, notes=[note])
            write_atomically(results_path, dump_json(document))
        bar.update()

    started = time.perf_counter()
    with bar:
        results = grade_batch(
            todo,
            rubric,
            grading_data,
            workers=args.workers,
            on_result=record,
            isolation=args.isolation,
        )
    _print_results(results, rubric, data.name, gradebook_path)
    tasks = sum(len(result.tasks) for result in results)
    print(
        f"Graded {len(results)} submission(s), {tasks} task(s), in "
        f"{time.perf_counter() - started:.1f} s with {args.workers} worker(s)."
    )
    if any(result.grader_fault for result in results):
        return EXIT_ERROR
    if args.fail_under is not None and any(
        result.score < args.fail_under for result in results
    ):
        return EXIT_BELOW
    return EXIT_OK


def _load_data(args, rubric):
    """The data set to grade on, and one line saying which it is."""
    fallback = args.dataset is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_mnist(
            args.dataset or "mnist",
            data_dir=args.data_dir,
            validation=rubric.validation,
            seed=rubric.seed,
            allow_sample=fallback,
            progress=not args.no_progress,
        )
    note = f"Data: {data.source}."
    if fallback and data.name == "mnist-sample":
        note += (
            " Full MNIST is not available here (python -m framework.data info "
            "tells why); the sample's thresholds apply."
        )
    for warning in caught:
        logger.info("%s", warning.message)
    return data, note


def _hidden_paths(args, submissions, results_path, gradebook):
    """Everything a submission must not read: test data, other work, grades."""
    paths = {*DATA_LOCATIONS, user_cache_dir(), resolve_data_dir(args.data_dir).path}
    if args.data_dir:
        paths.add(args.data_dir)
    if os.environ.get("MNIST_DATA_DIR"):
        paths.add(Path(os.environ["MNIST_DATA_DIR"]))
    paths.update(Path(p) for p in args.submissions)
    paths.update(s.path for s in submissions if s.path)
    if gradebook is not None and gradebook.path.exists():
        paths.add(gradebook.path)
    if results_path is not None and Path(results_path).exists():
        paths.add(Path(results_path))
    return tuple(sorted(str(Path(p).resolve()) for p in paths if Path(p).exists()))


def _already_graded(submission, gradebook, rubric, data, args):
    if gradebook is None or args.force or submission.path is None:
        return False
    try:
        _, digest = submission.read()
    except ValueError:
        return False
    return gradebook.graded(submission.path, digest, rubric, data.name)


def _print_results(results, rubric, dataset, gradebook_path):
    if len(results) == 1:
        result = results[0]
        print(f"\n{result.name}: {result.score:g} of {result.max_score:g} points")
        print(task_table(result, rubric, dataset))
    elif results:
        summary = pd.DataFrame(
            {
                "submission": [r.name for r in results],
                "score": [f"{r.score:g}/{r.max_score:g}" for r in results],
                "time": [f"{r.seconds:.0f} s" for r in results],
            }
        )
        print(summary.to_string(index=False))
    if gradebook_path:
        print(f"Gradebook: {gradebook_path}")
