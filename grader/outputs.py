"""What the grader writes: Gradescope's results.json, a terminal table, a gradebook.

Files are written atomically (a temporary file beside the target, then a
rename), so a reader never sees half a file and an interrupted grader leaves
the previous version intact. The gradebook is a CSV file with one row per
submission; it is rewritten after every result, so an interrupted batch keeps
every grade already given, and a later run can skip what it holds.
"""

import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def results_json(result, rubric, data, notes=()):
    """Gradescope's results.json for one submission, as a dict.

    Parameters
    ----------
    result : grader.batch.SubmissionResult
    rubric : grader.rubric.Rubric
    data : grader.grading.GradingData
    notes : iterable of str
        Lines for the top-level output (the data set used, warnings).
    """
    tests = []
    for number, task in enumerate(result.tasks, start=1):
        thresholds = rubric.tasks[number - 1].thresholds.get(data.name)
        output = task.message + (
            f"\n\nLast lines printed:\n{task.output}"
            if (task.output and not task.passed)
            else ""
        )
        tests.append(
            {
                "name": f"{task.name} ({task.entry_point})",
                "number": str(number),
                "score": task.score,
                "max_score": task.max_score,
                "status": "passed" if task.passed else "failed",
                "output": output,
                "visibility": "visible",
                "extra_data": {
                    "accuracy": task.accuracy,
                    "loss": task.loss,
                    "accuracy_threshold": thresholds and thresholds.accuracy,
                    "loss_threshold": thresholds and thresholds.loss,
                    "dataset": data.name,
                    "seconds": round(task.seconds, 2),
                    "isolation": task.isolation,
                    # Per epoch, as the training run reported it (not checked).
                    "history": task.history,
                },
            }
        )
    lines = [*notes, f"Score: {result.score:g} of {result.max_score:g}."]
    if result.problem:
        lines.insert(0, result.problem)
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 2),
        "output": "\n".join(lines),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "dataset": data.name,
            "data_source": data.source,
            "rubric": rubric.title,
            "rubric_sha256": rubric.digest,
            "submission_sha256": result.sha256,
        },
    }


def failed_run_json(problem, notes=()):
    """A results.json for a run that could not grade at all (a grader fault)."""
    return {
        "score": 0,
        "output": "\n".join([*notes, f"The grader could not run: {problem}"]),
        "output_format": "text",
        "tests": [],
    }


def task_table(result, rubric, dataset):
    """One submission's tasks as a table for the terminal."""
    rows = []
    for task, spec in zip(result.tasks, rubric.tasks, strict=True):
        thresholds = spec.thresholds.get(dataset)
        rows.append(
            {
                "task": task.name,
                "accuracy": _pair(
                    task.accuracy, thresholds and thresholds.accuracy, ">="
                ),
                "loss": _pair(task.loss, thresholds and thresholds.loss, "<="),
                "points": f"{task.score:g}/{task.max_score:g}",
                "time": f"{task.seconds:.1f} s",
                "result": _short(task),
            }
        )
    return pd.DataFrame(rows).to_string(index=False, justify="left")


def _short(task):
    """A task's result in a few words; the measured numbers have their columns."""
    if task.accuracy is None:
        return task.message.splitlines()[0] if task.message else "failed"
    if task.passed:
        return "passed"
    share = task.score / task.max_score if task.max_score else 0
    return f"partial credit ({share:.0%})" if share else "below the thresholds"


def _pair(value, threshold, relation):
    if value is None:
        return "-"
    return f"{value:.4f} ({relation} {threshold:.4f})" if threshold else f"{value:.4f}"


def gradebook_row(result, rubric):
    """One submission's gradebook row, as a dict of plain values."""
    row = {
        "submission": result.name,
        "path": result.path,
        "sha256": result.sha256,
        "rubric": rubric.digest[:16],
        "dataset": result.dataset,
        "score": result.score,
        "max_score": result.max_score,
        "status": _status(result),
        "seconds": round(result.seconds, 2),
    }
    for task in result.tasks:
        prefix = task.entry_point
        row[f"{prefix}_score"] = task.score
        row[f"{prefix}_accuracy"] = task.accuracy
        row[f"{prefix}_loss"] = task.loss
        row[f"{prefix}_status"] = "passed" if task.passed else "failed"
        row[f"{prefix}_seconds"] = round(task.seconds, 2)
        row[f"{prefix}_message"] = task.message.splitlines()[0] if task.message else ""
    return row


def _status(result):
    if result.grader_fault:
        return "grader error"
    if result.problem:
        return "unreadable"
    return "passed" if all(task.passed for task in result.tasks) else "graded"


class Gradebook:
    """A CSV gradebook, kept in memory and rewritten after every new row."""

    def __init__(self, path):
        self.path = Path(path)
        self.rows = []
        if self.path.exists():
            try:
                frame = pd.read_csv(self.path, dtype={"sha256": str, "rubric": str})
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as e:
                raise ValueError(
                    f"The gradebook {self.path} is not a readable CSV ({e}); "
                    "move it away or choose another --gradebook."
                ) from None
            self.rows = frame.to_dict("records")

    def graded(self, path, sha256, rubric, dataset):
        """Whether this file, as it is, was graded with this rubric and data set."""
        return any(
            row.get("path") == str(path)
            and row.get("sha256") == sha256
            and row.get("rubric") == rubric.digest[:16]
            and row.get("dataset") == dataset
            and row.get("status") != "grader error"
            for row in self.rows
        )

    def add(self, result, rubric):
        """Record a result, replacing any earlier row of the same submission file."""
        row = gradebook_row(result, rubric)
        self.rows = [r for r in self.rows if r.get("path") != row["path"]] + [row]
        write_atomically(self.path, pd.DataFrame(self.rows).to_csv(index=False))


def dump_json(document):
    return json.dumps(document, indent=2, allow_nan=False) + "\n"
