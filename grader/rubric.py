"""The grading rubric: which tasks a submission must solve and how each is scored.

A rubric is a TOML file (the lab's own is ``grader/rubric.toml``). Each task
names a submission's entry point (a function returning an untrained network),
the number of Linear layers that network must have, its points, its limits,
and per data set an accuracy threshold and a loss threshold (mean
cross-entropy on the test split). With partial credit, points are scaled
linearly between a floor (no points) and the threshold (all points).
A rubric that cannot be used is one ``RubricError`` naming the key at fault.
"""

import dataclasses
import hashlib
import tomllib
from pathlib import Path

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")
DATASETS = ("mnist", "mnist-sample", "fashion-mnist")


class RubricError(ValueError):
    """A rubric file that is malformed or inconsistent."""


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """What a task must reach on one data set.

    Full points need accuracy >= ``accuracy`` and loss <= ``loss``. With
    ``accuracy_floor`` and ``loss_ceiling`` set, a result in between earns a
    share: the smaller of its two shares, each linear from 0 at the floor (or
    ceiling) to 1 at the threshold.
    """

    accuracy: float
    loss: float
    accuracy_floor: float | None = None
    loss_ceiling: float | None = None

    def share(self, accuracy, loss):
        """The fraction of the task's points that ``accuracy`` and ``loss`` earn."""
        if accuracy >= self.accuracy and loss <= self.loss:
            return 1.0
        if self.accuracy_floor is None:
            return 0.0
        by_accuracy = (accuracy - self.accuracy_floor) / (
            self.accuracy - self.accuracy_floor
        )
        by_loss = (self.loss_ceiling - loss) / (self.loss_ceiling - self.loss)
        return min(1.0, max(0.0, min(by_accuracy, by_loss)))


@dataclasses.dataclass(frozen=True)
class Task:
    """One graded task: build a network with ``linear_layers`` Linear layers."""

    name: str
    entry_point: str
    linear_layers: int
    points: float
    time_limit: float
    memory_limit: int
    thresholds: dict

    def thresholds_for(self, dataset):
        """The thresholds on ``dataset``; a RubricError when the rubric has none."""
        if dataset not in self.thresholds:
            raise RubricError(
                f"The rubric gives task {self.name!r} no thresholds for data set "
                f"{dataset!r}; add a [task.thresholds.{dataset}] table."
            )
        return self.thresholds[dataset]


@dataclasses.dataclass(frozen=True)
class Rubric:
    """A parsed rubric: its tasks in order, and what is common to them."""

    title: str
    seed: int
    validation: float
    tasks: tuple
    path: Path
    digest: str

    @property
    def max_score(self):
        return sum(task.points for task in self.tasks)


def load_rubric(path=None):
    """Read and check a rubric file; the lab's default when ``path`` is None."""
    path = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        raw = path.read_bytes()
        document = tomllib.loads(raw.decode("utf-8"))
    except OSError as error:
        raise RubricError(f"Cannot read the rubric {path}: {error.strerror}.") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RubricError(f"The rubric {path} is not valid TOML: {error}.") from None
    return _parse(document, path, hashlib.sha256(raw).hexdigest())


def _parse(document, path, digest):
    where = _Where(path)
    _only_keys(document, {"title", "seed", "validation", "limits", "task"}, where)
    limits = _table(document, "limits", where, required=False)
    _only_keys(limits, {"time", "memory"}, where.key("limits"))
    limits = {
        "time": _number(limits, "time", where.key("limits"), default=600, minimum=1),
        "memory": _number(
            limits,
            "memory",
            where.key("limits"),
            default=2048,
            minimum=256,
            integer=True,
        ),
    }
    tasks = document.get("task")
    if not isinstance(tasks, list) or not tasks:
        raise where.error("task", "must be a list of [[task]] tables, at least one")

    parsed = tuple(
        _parse_task(entry, limits, where.key(f"task[{i + 1}]"))
        for i, entry in enumerate(tasks)
    )
    for attribute in ("name", "entry_point"):
        values = [getattr(task, attribute) for task in parsed]
        if len(set(values)) != len(values):
            raise where.error(f"task.{attribute}", f"repeats a value: {values}")
    return Rubric(
        title=_string(document, "title", where, default="Grading rubric"),
        seed=int(_number(document, "seed", where, default=0, minimum=0, integer=True)),
        validation=_number(
            document, "validation", where, default=0.1, minimum=0, maximum=0.5
        ),
        tasks=parsed,
        path=path,
        digest=digest,
    )


def _parse_task(entry, limits, where):
    if not isinstance(entry, dict):
        raise where.error("", "must be a table")
    allowed = {
        "name",
        "entry_point",
        "linear_layers",
        "points",
        "time_limit",
        "memory_limit",
        "thresholds",
    }
    _only_keys(entry, allowed, where)
    entry_point = _string(entry, "entry_point", where)
    if not entry_point.isidentifier():
        raise where.error("entry_point", f"must be a Python name, got {entry_point!r}")
    thresholds = _table(entry, "thresholds", where)
    if not thresholds:
        raise where.error("thresholds", "must give at least one data set")
    return Task(
        name=_string(entry, "name", where, default=entry_point),
        entry_point=entry_point,
        linear_layers=int(
            _number(entry, "linear_layers", where, minimum=1, integer=True)
        ),
        points=_number(entry, "points", where, minimum=0),
        time_limit=_number(
            entry, "time_limit", where, default=limits["time"], minimum=1
        ),
        memory_limit=int(
            _number(
                entry,
                "memory_limit",
                where,
                default=limits["memory"],
                minimum=256,
                integer=True,
            )
        ),
        thresholds={
            dataset: _parse_thresholds(table, where.key(f"thresholds.{dataset}"))
            for dataset, table in thresholds.items()
            if _known_dataset(dataset, where)
        },
    )


def _parse_thresholds(table, where):
    if not isinstance(table, dict):
        raise where.error("", "must be a table")
    _only_keys(table, {"accuracy", "loss", "accuracy_floor", "loss_ceiling"}, where)
    accuracy = _number(table, "accuracy", where, minimum=0, maximum=1)
    loss = _number(table, "loss", where, minimum=0)
    floor = _number(table, "accuracy_floor", where, default=None, minimum=0)
    ceiling = _number(table, "loss_ceiling", where, default=None, minimum=0)
    if (floor is None) != (ceiling is None):
        raise where.error(
            "", "partial credit needs both accuracy_floor and loss_ceiling"
        )
    if floor is not None and not (floor < accuracy and ceiling > loss):
        raise where.error(
            "", "needs accuracy_floor below accuracy and loss_ceiling above loss"
        )
    return Thresholds(accuracy, loss, floor, ceiling)


def _known_dataset(dataset, where):
    if dataset not in DATASETS:
        raise where.error(f"thresholds.{dataset}", f"is not a data set of {DATASETS}")
    return True


class _Where:
    """The position of a key in the rubric, for error messages."""

    def __init__(self, path, prefix=""):
        self.path, self.prefix = path, prefix

    def key(self, name):
        return _Where(self.path, f"{self.prefix}.{name}" if self.prefix else name)

    def error(self, name, problem):
        key = ".".join(part for part in (self.prefix, name) if part)
        return RubricError(f"Rubric {self.path}: {key} {problem}.")


def _only_keys(table, allowed, where):
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise where.error(unknown[0], f"is not a known key (known: {sorted(allowed)})")


def _table(document, key, where, required=True):
    value = document.get(key, None if required else {})
    if not isinstance(value, dict):
        raise where.error(key, "must be a table")
    return value


def _string(document, key, where, default=None):
    value = document.get(key, default)
    if not isinstance(value, str) or not value:
        raise where.error(key, f"must be a non-empty string, got {value!r}")
    return value


def _number(
    document, key, where, default=..., minimum=None, maximum=None, integer=False
):
    if key not in document:
        if default is ...:
            raise where.error(key, "is missing")
        return default
    value = document[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise where.error(key, f"must be {kind}, got {value!r}")
    if (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise where.error(key, f"must be {bounds}, got {value!r}")
    return float(value)
