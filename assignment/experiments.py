"""The lab's experiments: 1-, 2- and 3-layer perceptrons with three activations.

``python -m assignment`` trains seven nets on MNIST (on the bundled sample of
4,000 training images when full MNIST cannot be had), prints one row per run
and answers the lab's four questions from the numbers (see ``answers``):

- 1 layer:  784-10, no hidden activation, so one run, reported as "none";
- 2 layers: 784-256-10, with tanh, ReLU and sigmoid;
- 3 layers: 784-256-128-10, with tanh, ReLU and sigmoid.

Every run uses the same training settings (``TRAINING``: SGD with momentum 0.9,
learning rate 0.05, minibatches of 64, 30 epochs, no weight decay, a constant
learning rate) and the framework's default initialisation (LeCun, the lesson's),
so that only the architecture differs. Nets of the same depth start from the
same weights and see the minibatches in the same order. A fifth of the training
images is held out, stratified, for validation. The command line trains with one
BLAS thread (see ``single_threaded_blas``), so ``seconds`` compare runs, not
thread counts.

Results go to ``--out``: ``summary.csv`` (one row per run), ``history.csv`` (one
row per run and epoch, epoch 0 being the untrained net), ``report.txt`` (what
is printed) and, when matplotlib is installed, ``learning_curves.png`` and
``weights.png``.

Left out: one seed per run, so no spread between seeds; settings are not tuned
per architecture, so a net that would do better with another learning rate is
not given it.
"""

import argparse
import contextlib
import dataclasses
import itertools
import logging
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from assignment import answers, plots
from framework import (
    Linear,
    Net,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    TrainingDiverged,
    evaluate,
    fit,
    max_abs_weights,
)
from framework.data import (
    DATASETS,
    ChecksumError,
    DownloadError,
    IDXError,
    load_mnist,
)

logger = logging.getLogger(__name__)

ACTIVATIONS = {"tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid}
"""The hidden activations compared, by the name used in the tables."""

HIDDEN = {1: (), 2: (256,), 3: (256, 128)}
"""Hidden layer widths by number of Linear layers."""

TRAINING = {
    "epochs": 30,
    "batch_size": 64,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
}
"""Keyword arguments for ``framework.fit``, the same for every run."""

VALIDATION = 0.2
"""Fraction of the training images held out for validation."""

QUICK = {"n_train": 600, "n_test": 200, "epochs": 2}
"""The tiny subsets and epochs of ``--quick``, a smoke test in seconds."""

DEFAULT_OUT = Path("out") / "experiments"

SUMMARY_COLUMNS = [
    "run",
    "layers",
    "activation",
    "hidden",
    "status",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "seconds",
    "epochs",
    "n_train",
    "n_val",
    "n_test",
    "max_abs_W1",
    "max_abs_W2",
    "max_abs_W3",
    "message",
]

TABLE_COLUMNS = {
    "layers": "layers",
    "activation": "activation",
    "train_accuracy": "train_acc",
    "val_accuracy": "val_acc",
    "test_accuracy": "test_acc",
    "train_loss": "train_loss",
    "val_loss": "val_loss",
    "test_loss": "test_loss",
    "seconds": "seconds",
    "max_abs_W1": "max|W1|",
    "max_abs_W2": "max|W2|",
    "max_abs_W3": "max|W3|",
}
"""The printed table's columns and their headers."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One architecture: the number of Linear layers and the hidden activation.

    ``activation`` is "none" for the 1-layer net, which has no hidden layer.
    """

    layers: int
    activation: str

    @property
    def name(self):
        return f"{self.layers}-layer {self.activation}"

    @property
    def hidden(self):
        return HIDDEN[self.layers]


def planned_runs():
    """The lab's seven runs: the 1-layer net, then 2 and 3 layers × activations."""
    runs = [Run(1, "none")]
    runs += [Run(layers, name) for layers in (2, 3) for name in ACTIVATIONS]
    return runs


def build_net(n_inputs, n_classes, hidden, activation, rng):
    """A perceptron: Linear layers with ``activation`` between them, then Softmax.

    Parameters
    ----------
    n_inputs, n_classes : int
        Widths of the input (784 pixels) and of the output.
    hidden : tuple of int
        Widths of the hidden layers; empty for a single Linear layer.
    activation : str
        A key of ``ACTIVATIONS``; ignored when ``hidden`` is empty.
    rng : numpy.random.Generator
        Source of the initial weights.

    Returns
    -------
    Net
        With ``len(hidden) + 1`` Linear layers, in float32.
    """
    if hidden and activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
        )
    net = Net()
    widths = [n_inputs, *hidden, n_classes]
    for k, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        if k > 0:
            net.add(ACTIVATIONS[activation]())
        net.add(Linear(n_in, n_out, rng=rng))
    return net.add(Softmax())


def run_experiments(data, runs=None, *, training=None, seed=0, progress=True):
    """Train and measure every run on ``data``.

    Parameters
    ----------
    data : framework.data.Dataset
        With a validation split.
    runs : list of Run, optional
        Default ``planned_runs()``.
    training : dict, optional
        Keyword arguments for ``framework.fit``; default ``TRAINING``.
    seed : int, default 0
        Seeds the initial weights (one stream per depth) and the shuffling.
    progress : bool, default True
        Show a progress bar over the runs on stderr. fit's own bar is left
        off: nested bars garble each other when stderr is a file or a pipe.

    Returns
    -------
    summary : pandas.DataFrame
        One row per run, with ``SUMMARY_COLUMNS``.
    histories : pandas.DataFrame
        One row per run and epoch, epoch 0 being the untrained net (validation
        loss and accuracy, max |W|), then fit's columns.
    """
    runs = planned_runs() if runs is None else runs
    training = TRAINING if training is None else training
    if data.x_val is None:
        raise ValueError("run_experiments needs a Dataset with a validation split.")

    rows, histories = [], []
    bar = tqdm(runs, desc="runs", unit="run", disable=not progress, file=sys.stderr)
    for run in bar:
        bar.set_postfix_str(run.name)
        row, history = run_one(run, data, training, seed)
        rows.append(row)
        histories.append(history)
    summary = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    return summary, pd.concat(histories, ignore_index=True)


def run_one(run, data, training, seed, progress=False):
    """Train one net; return its summary row (a dict) and its history.

    ``progress`` is passed to fit, for its bar over the minibatches.
    """
    n_classes = int(data.y_train.max()) + 1
    net = build_net(
        data.x_train.shape[1],
        n_classes,
        run.hidden,
        run.activation,
        np.random.default_rng([seed, run.layers]),
    )
    row = {
        "run": run.name,
        "layers": run.layers,
        "activation": run.activation,
        "hidden": "-".join(map(str, run.hidden)) or "-",
        "n_train": len(data.x_train),
        "n_val": len(data.x_val),
        "n_test": len(data.x_test),
    }
    untrained = _untrained_row(net, data)

    start = time.perf_counter()
    try:
        history = fit(
            net,
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            rng=np.random.default_rng([seed, 0]),
            progress=progress,
            **training,
        )
    except TrainingDiverged as error:
        logger.warning("%s diverged: %s", run.name, error)
        row.update(status="diverged", message=str(error))
        row["seconds"] = time.perf_counter() - start
        history = pd.DataFrame([untrained])
    else:
        row["seconds"] = time.perf_counter() - start
        row.update(status="ok", message="", epochs=len(history))
        row.update(measure(net, data))
        history = pd.concat([pd.DataFrame([untrained]), history.reset_index()])
    history.insert(0, "run", run.name)
    history.insert(1, "layers", run.layers)
    history.insert(2, "activation", run.activation)
    return row, history.reset_index(drop=True)


def _untrained_row(net, data):
    """Epoch 0 of a history: the untrained net on the validation data."""
    val_loss, val_accuracy = evaluate(net, data.x_val, data.y_val)
    return {
        "epoch": 0,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        **max_abs_weights(net),
    }


def measure(net, data):
    """Loss and accuracy of ``net`` on each split, and its max |W| per layer.

    Parameters
    ----------
    net : Net
    data : framework.data.Dataset
        With a validation split.

    Returns
    -------
    dict
        ``train_loss``, ``train_accuracy``, ``val_loss``, ... measured by
        ``framework.evaluate`` in evaluation mode (not the running means fit
        reports), and ``max_abs_W1`` ... for each Linear layer.
    """
    measures = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        measures[f"{split}_loss"], measures[f"{split}_accuracy"] = evaluate(net, x, y)
    return measures | max_abs_weights(net)


def format_table(summary):
    """The summary as a text table, one row per run (``TABLE_COLUMNS``)."""
    columns = list(TABLE_COLUMNS)
    if (summary["status"] != "ok").any():
        columns.insert(2, "status")
    table = summary.reindex(columns=columns).rename(columns=TABLE_COLUMNS)
    return table.to_string(
        index=False,
        na_rep="-",
        formatters={"seconds": "{:.1f}".format},
        float_format="{:.4f}".format,
    )


def format_answers(answered, width=88):
    """The questions, numbered, each followed by its answer wrapped to ``width``."""
    blocks = []
    for number, (question, answer) in enumerate(answered.items(), start=1):
        body = textwrap.fill(
            answer, width=width, initial_indent="   ", subsequent_indent="   "
        )
        blocks.append(f"{number}. {question}\n{body}")
    return "\n\n".join(blocks)


def load_data(dataset, data_dir, quick, seed, progress):
    """Load the data for the experiments; return it and one line saying what it is.

    Full MNIST falls back to the bundled sample when it cannot be had; the
    line then says so. Other data sets must be found, or DownloadError is raised.
    """
    subsets = {"n_train": QUICK["n_train"], "n_test": QUICK["n_test"]} if quick else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        data = load_mnist(
            dataset,
            data_dir=data_dir,
            validation=VALIDATION,
            seed=seed,
            allow_sample=dataset == "mnist",
            progress=progress,
            **subsets,
        )
    # Only the fallback to the sample is expected here: it becomes the data line.
    notice = None
    if data.name != dataset:
        notice = next((w for w in caught if w.category is UserWarning), None)
    for warning in caught:
        if warning is not notice:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    used = (
        f"{len(data.x_train):,} training, {len(data.x_val):,} validation and "
        f"{len(data.x_test):,} test images"
    )
    if notice is not None:
        line = f"Data: {notice.message} (using {used})"
    else:
        line = f"Data: {data.source} (using {used})"
    return data, line


def parse_args(argv=None):
    """The command line of ``python -m assignment``; bad options exit with 2."""
    parser = argparse.ArgumentParser(
        prog="python -m assignment",
        description=(
            "Train 1-, 2- and 3-layer perceptrons with tanh, ReLU and sigmoid on "
            "MNIST, print one row per run and answer the lab's questions."
        ),
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="mnist",
        help="data set (default mnist; falls back to the bundled sample if absent)",
    )
    parser.add_argument("--data-dir", type=Path, help="folder holding the data files")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the CSV files, report and plots (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--epochs",
        type=_int_in(1),
        help=f"epochs per run (default {TRAINING['epochs']}, {QUICK['epochs']} "
        "with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny subsets ({QUICK['n_train']} training, {QUICK['n_test']} test "
        "images) and few epochs: a smoke test",
    )
    parser.add_argument(
        "--seed", type=_int_in(0, 2**32 - 1), default=0, help="random seed (default 0)"
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars on stderr",
    )
    args = parser.parse_args(argv)
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    return args


def _int_in(low, high=None):
    """An argparse type: a whole number from ``low`` to ``high`` (inclusive)."""

    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return convert


def main(argv=None):
    """Run the experiments from the command line; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("assignment").setLevel(logging.INFO)

    try:
        data, data_line = load_data(
            args.dataset, args.data_dir, args.quick, args.seed, args.progress
        )
    except (DownloadError, FileNotFoundError, IDXError, ChecksumError) as error:
        print(f"python -m assignment: error: {error}", file=sys.stderr)
        return 1
    print(data_line, flush=True)

    training = dict(TRAINING)
    if args.quick:
        training["epochs"] = QUICK["epochs"]
    if args.epochs is not None:
        training["epochs"] = args.epochs
    start = time.perf_counter()
    with single_threaded_blas():
        summary, histories = run_experiments(
            data, training=training, seed=args.seed, progress=args.progress
        )
    n_classes = int(data.y_train.max()) + 1
    answered = answers.answer_questions(summary, histories, n_classes)

    settings = ", ".join(f"{key} {value}" for key, value in training.items())
    body = "\n\n".join(
        [
            f"Training: {settings}; {time.perf_counter() - start:.0f} s in all.",
            format_table(summary),
            format_answers(answered),
        ]
    )
    print("\n" + body)
    report = data_line + "\n\n" + body
    write_results(summary, histories, report, args.out)
    return 0


def single_threaded_blas():
    """A context in which numpy's BLAS uses one thread (if threadpoolctl is there).

    Minibatches of 64 are too small for more threads to pay off, and on a
    shared machine they cost dearly: with 2 cores and a load of 5, one epoch of
    the 2-layer net on the sample took 1.5 s with OpenBLAS's two threads
    against 0.17 s with one, as the waiting threads spun for a busy core.
    threadpoolctl comes with scikit-learn; without it nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def write_results(summary, histories, report, out):
    """Write the CSV files, the report and, if matplotlib is there, the plots."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "summary.csv", index=False)
    histories.to_csv(out / "history.csv", index=False)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    written = ["summary.csv", "history.csv", "report.txt"]
    written += [path.name for path in plots.save_plots(histories, out)]
    logger.info("Wrote %s to %s", ", ".join(written), out)
