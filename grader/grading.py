"""Grading one task of one submission: train in the sandbox, score here.

``grade_task`` writes the submission and a private copy of the framework into
a fresh working folder, runs ``grader.child`` there through
``grader.sandbox.run_isolated`` with the task's limits and only the training
data on stdin, then rebuilds the trained network from the file the child left,
with the framework's own classes, and measures it on the test split. Every way
a task can fail becomes a ``TaskResult`` with a message for the student; this
module raises only for the grader's own faults.
"""

import dataclasses
import io
import json
import logging
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, log_loss

import framework
from framework.layers import Softmax
from grader.sandbox import run_isolated

logger = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent
#: The code a child needs besides the submission: the framework and its own module.
CHILD_CODE = ("framework", "grader/__init__.py", "grader/child.py")
#: Largest network file the grader will read, and the most parameters it scores.
MAX_NET_BYTES = 256 * 2**20
MAX_PARAMETERS = 20_000_000
FILE_SIZE_LIMIT = MAX_NET_BYTES
OUTPUT_LIMIT = 64 * 1024


class GraderError(RuntimeError):
    """A fault of the grader or its machine, not of the submission."""


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """The outcome of one task: points, measurements and a message."""

    name: str
    entry_point: str
    score: float
    max_score: float
    passed: bool
    message: str
    accuracy: float | None = None
    loss: float | None = None
    seconds: float = 0.0
    output: str = ""
    history: list = dataclasses.field(default_factory=list)
    isolation: str | None = None
    grader_fault: bool = False


@dataclasses.dataclass(frozen=True)
class GradingData:
    """What every task of a batch is graded with.

    ``payload`` is the training data as the child receives it on stdin; the
    test split stays in this process.
    """

    name: str
    source: str
    payload: bytes
    x_test: np.ndarray
    y_test: np.ndarray
    n_inputs: int
    n_classes: int
    hidden_paths: tuple

    @classmethod
    def from_dataset(cls, dataset, hidden_paths=()):
        """Prepare a ``framework.data.Dataset`` (with a validation split)."""
        stream = io.BytesIO()
        for array in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val):
            np.lib.format.write_array(
                stream, np.ascontiguousarray(array), allow_pickle=False
            )
        return cls(
            name=dataset.name,
            source=dataset.source,
            payload=stream.getvalue(),
            x_test=dataset.x_test,
            y_test=dataset.y_test,
            n_inputs=dataset.x_train.shape[1],
            n_classes=int(dataset.y_train.max()) + 1,
            hidden_paths=tuple(hidden_paths),
        )


def grade_task(code, task, data, *, seed, threads=1, scratch=None, isolation="auto"):
    """Train and score one task of a submission.

    Parameters
    ----------
    code : str
        The submission's Python code.
    task : grader.rubric.Task
    data : GradingData
    seed : int
        Seeds every generator in the child, for the same score every time.
    threads : int
        BLAS threads of the child.
    scratch : path-like, optional
        Where working folders are made; the system's temporary folder if None.
    isolation : {"auto", "basic"}
        Passed to ``run_isolated``.
    """
    thresholds = task.thresholds_for(data.name)
    workdir = Path(tempfile.mkdtemp(prefix="task-", dir=scratch))
    try:
        _prepare_workdir(workdir, code, task, data, seed)
        run = run_isolated(
            [sys.executable, "-m", "grader.child", "task.json"],
            workdir=workdir,
            time_limit=task.time_limit,
            memory_limit=task.memory_limit * 2**20,
            file_size_limit=FILE_SIZE_LIMIT,
            output_limit=OUTPUT_LIMIT,
            stdin_data=data.payload,
            hide_paths=data.hidden_paths,
            pythonpath=[workdir / "lib"],
            threads=threads,
            isolation=isolation,
        )
        report = _read_report(workdir / "report.json")
        common = {
            "name": task.name,
            "entry_point": task.entry_point,
            "max_score": task.points,
            "seconds": run.wall_time,
            "output": _output_tail(run),
            "history": report.get("history", []),
            "isolation": run.isolation,
        }
        failure = _run_failure(run, report, task)
        if failure is None:
            failure, measured = _measure(workdir / "net.npz", task, data)
        if failure is not None:
            return TaskResult(score=0.0, passed=False, message=failure, **common)
        accuracy, loss = measured
        share = thresholds.share(accuracy, loss)
        return TaskResult(
            score=round(task.points * share, 4),
            passed=share == 1.0,
            message=_verdict(accuracy, loss, thresholds, share),
            accuracy=accuracy,
            loss=loss,
            **common,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare_workdir(workdir, code, task, data, seed):
    (workdir / "submission.py").write_text(code, encoding="utf-8")
    spec = {
        "entry_point": task.entry_point,
        "seed": seed,
        "n_inputs": data.n_inputs,
        "n_classes": data.n_classes,
        "memory_limit": task.memory_limit,
    }
    (workdir / "task.json").write_text(json.dumps(spec), encoding="utf-8")
    lib = workdir / "lib"
    for part in CHILD_CODE:
        source, target = PROJECT / part, lib / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns("__pycache__", "data")
            )
        else:
            shutil.copy(source, target)


def _read_report(path):
    """The child's report, or an empty one when it is missing or not ours."""
    try:
        if path.stat().st_size > 1_000_000:
            return {}
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(report, dict):
        return {}
    for key in ("stage", "error"):
        if not isinstance(report.get(key), str | None):
            report[key] = None
    report["history"] = _clean_history(report.get("history"))
    return report


def _clean_history(history, max_epochs=1000):
    """The per-epoch history as plain finite numbers; anything else is dropped.

    The report comes from the submission's process, so it may hold anything;
    what reaches results.json must be valid JSON of a sensible size.
    """
    if not isinstance(history, list):
        return []
    rows = []
    for entry in history[:max_epochs]:
        if not isinstance(entry, dict):
            continue
        rows.append(
            {
                str(key)[:40]: value
                for key, value in list(entry.items())[:20]
                if isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            }
        )
    return rows


STAGES = {
    "start": "start-up",
    "import": "the import of the submission",
    "build": "the building of the network",
    "train": "training",
    "save": "saving the network",
    "done": "the end of the run",
}


def _run_failure(run, report, task):
    """What went wrong in the child, in words for the student; None if nothing."""
    stage = STAGES.get(report.get("stage"), "start-up")
    if run.returncode is None:
        raise GraderError(f"The sandbox could not start the child: {run.setup_error}")
    if run.timed_out:
        return (
            f"Stopped at the time limit of {task.time_limit:g} s, during {stage}. "
            "Train for fewer epochs, or use fewer or smaller layers."
        )
    if run.memory_exceeded:
        return (
            f"Ran out of memory (the limit is {task.memory_limit} MB) during "
            f"{stage}. Use smaller layers or smaller minibatches."
        )
    if run.cpu_time_exceeded:
        return f"Used up the CPU time allowed during {stage}."
    if run.file_size_exceeded:
        return f"Wrote a file larger than the {FILE_SIZE_LIMIT // 2**20} MB allowed."
    if run.signal:
        return f"The process was killed by {run.signal} during {stage}."
    if report.get("error"):
        return report["error"]
    if report.get("stage") != "done":
        return (
            f"The run ended during {stage} without a trained network and without "
            f"an error (exit status {run.returncode}). Does the submission call "
            "os._exit() or sys.exit()?"
        )
    return None


def _measure(path, task, data):
    """Load the trained network, check it, and measure it on the test split.

    Returns ``(failure message, None)`` or ``(None, (accuracy, loss))``.
    """
    try:
        net = framework.load(path, max_bytes=MAX_NET_BYTES)
    except FileNotFoundError:
        return "The run ended without leaving a trained network.", None
    except framework.NetFileError as error:
        return f"The trained network could not be read: {error}", None
    problem = _structure_problem(net, task, data)
    if problem:
        return problem, None
    probabilities = _probabilities(net, data.x_test)
    if not np.isfinite(probabilities).all():
        return "The network's outputs on the test images are not finite.", None
    accuracy = accuracy_score(data.y_test, probabilities.argmax(axis=1))
    loss = log_loss(data.y_test, probabilities, labels=range(data.n_classes))
    return None, (float(accuracy), float(loss))


def _structure_problem(net, task, data):
    linear = net.linear_layers()
    if len(linear) != task.linear_layers:
        return (
            f"{task.entry_point} must build a network with exactly "
            f"{task.linear_layers} Linear layer(s); it has {len(linear)}."
        )
    if linear[0].n_in != data.n_inputs or linear[-1].n_out != data.n_classes:
        return (
            f"The network maps {linear[0].n_in} inputs to {linear[-1].n_out} outputs; "
            f"it must map {data.n_inputs} pixels to {data.n_classes} classes."
        )
    parameters = net.parameters()
    if sum(value.size for _, value, _ in parameters) > MAX_PARAMETERS:
        return f"The network has more than {MAX_PARAMETERS:,} parameters."
    for name, value, _ in parameters:
        if not np.isfinite(value).all():
            return (
                f"Parameter {name} of the trained network holds NaN or infinite "
                "values: training diverged. Lower the learning rate."
            )
    return None


def _probabilities(net, x, batch_size=2000):
    """Class probabilities in float64, from the logits when the net ends in Softmax.

    A net that does not end in Softmax has its outputs taken as logits.
    """
    layers = net.layers[:-1] if isinstance(net.layers[-1], Softmax) else net.layers
    parts = []
    for i in range(0, len(x), batch_size):
        z = x[i : i + batch_size]
        for layer in layers:
            z = layer.forward(z)
        parts.append(Softmax().forward(np.asarray(z, dtype=np.float64)))
    return np.concatenate(parts)


def _verdict(accuracy, loss, thresholds, share):
    measured = (
        f"accuracy {accuracy:.4f} (threshold {thresholds.accuracy:.4f}), "
        f"loss {loss:.4f} (threshold {thresholds.loss:.4f})"
    )
    if share == 1.0:
        return f"Passed: {measured}."
    if share > 0:
        return f"Partial credit, {share:.0%} of the points: {measured}."
    return f"Below the thresholds: {measured}."


def _output_tail(run, lines=20):
    """The last lines the child printed, for the student to see."""
    text = (run.stdout.rstrip() + "\n" + run.stderr.rstrip()).strip()
    return "\n".join(text.splitlines()[-lines:])
