"""Benchmark: what the grader costs beyond training, and what its workers gain.

Two measurements, each repeated and reported as medians:

1. Overhead. A script trains and scores the reference solution's three
   networks in one process (seeded as the grader seeds them, on the same data
   split, with one BLAS thread as in each of the grader's children); then
   ``python -m grader`` grades the
   same submission with one worker. Both are timed as whole commands, imports
   and data loading included. The difference is the price of isolation:
   starting a child per task, sending it the training data, saving and
   reloading networks. Target: at most 10% of the script's time plus 2 s per
   submission.
2. Parallel batches. Four quick submissions (tests/submissions/good.py) are
   graded with one worker, then with two, timed as whole commands and by the
   grading phase the grader reports (after its imports and data loading).
   Target: at least 1.7 times faster with two workers on two cores.

::

    python benchmarks/grading.py [--rounds 3] [--dataset mnist-sample]
        [--data-dir DIR]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SOLUTION = PROJECT / "assignment" / "solution.py"
QUICK = PROJECT / "tests" / "submissions" / "good.py"
QUICK_RUBRIC = PROJECT / "tests" / "grader_rubric.toml"
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


IN_PROCESS = """
import importlib.util, sys
import numpy as np
import framework
from framework.data import load_mnist
from grader.rubric import load_rubric

dataset, data_dir, solution_path = sys.argv[1:4]
rubric = load_rubric()
data = load_mnist(dataset, data_dir=data_dir or None, validation=rubric.validation,
                  seed=rubric.seed, progress=False)
spec = importlib.util.spec_from_file_location("solution", solution_path)
solution = importlib.util.module_from_spec(spec)
spec.loader.exec_module(solution)
for task in rubric.tasks:
    np.random.seed(rubric.seed)
    framework.set_seed(rubric.seed)
    net = getattr(solution, task.entry_point)(784, 10)
    framework.fit(net, data.x_train, data.y_train, progress=False,
                  validation_data=(data.x_val, data.y_val), rng=rubric.seed,
                  **solution.HYPERPARAMETERS[task.entry_point])
    framework.evaluate(net, data.x_test, data.y_test)
"""


def in_process(dataset, data_dir):
    """Wall time of a script that loads the data, trains and scores each network.

    It runs in a fresh process with one BLAS thread, as each of the grader's
    children does, and pays for its imports as the grader does for its own.
    """
    command = [
        sys.executable,
        "-c",
        IN_PROCESS,
        dataset,
        str(data_dir or ""),
        str(SOLUTION),
    ]
    environment = {**os.environ, **dict.fromkeys(BLAS_THREADS, "1")}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=environment)
    return time.perf_counter() - start


def grade(paths, workers, dataset, data_dir, rubric=None):
    """Wall time of one ``python -m grader`` run, and of its grading phase."""
    command = [
        sys.executable,
        "-m",
        "grader",
        *map(str, paths),
        "--workers",
        str(workers),
        "--dataset",
        dataset,
        "--no-progress",
        "--force",
    ]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    if rubric:
        command += ["--rubric", str(rubric)]
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        out = subprocess.run(
            command, check=True, cwd=scratch, capture_output=True, text=True
        ).stdout
        wall = time.perf_counter() - start
    phase = re.search(r"task\(s\), in ([0-9.]+) s", out)
    return wall, float(phase.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()

    times = {name: [] for name in ("in-process", "grader", "1 worker", "2 workers")}
    phases = {"1 worker": [], "2 workers": []}
    with tempfile.TemporaryDirectory() as folder:
        batch = [Path(folder) / f"student{i}.py" for i in range(4)]
        for path in batch:
            shutil.copy(QUICK, path)
        for round_ in range(args.rounds):
            times["in-process"].append(in_process(args.dataset, args.data_dir))
            wall, _ = grade([SOLUTION], 1, args.dataset, args.data_dir)
            times["grader"].append(wall)
            for workers, label in ((1, "1 worker"), (2, "2 workers")):
                wall, phase = grade(batch, workers, "mnist-sample", None, QUICK_RUBRIC)
                times[label].append(wall)
                phases[label].append(phase)
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)

    median = {label: statistics.median(values) for label, values in times.items()}
    print(
        f"Reference solution on {args.dataset}, 3 tasks, one worker; "
        f"medians of {args.rounds} runs:"
    )
    print(f"  trained and scored in one process: {median['in-process']:7.2f} s")
    print(f"  graded by python -m grader:        {median['grader']:7.2f} s")
    overhead = median["grader"] - median["in-process"]
    budget = 0.10 * median["in-process"] + 2.0
    print(
        f"  overhead {overhead:.2f} s ({overhead / median['in-process']:.1%}); "
        f"allowed 10% + 2 s = {budget:.2f} s"
    )
    print("Four quick submissions (tests/submissions/good.py, 2 tasks each):")
    for label in ("1 worker", "2 workers"):
        print(
            f"  {label:<9} whole command {median[label]:6.2f} s, grading phase "
            f"{statistics.median(phases[label]):6.2f} s"
        )
    whole = median["1 worker"] / median["2 workers"]
    phase = statistics.median(phases["1 worker"]) / statistics.median(
        phases["2 workers"]
    )
    print(
        f"  2 workers vs 1: {whole:.2f}x faster for the whole command, "
        f"{phase:.2f}x for the grading phase (target >= 1.7)"
    )


if __name__ == "__main__":
    main()
