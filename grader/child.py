"""The grader's child process: build and train one task of one submission.

Run by the grader inside the sandbox as ``python -m grader.child TASK.json``,
in a fresh working folder that holds ``submission.py``. The training data
arrives on stdin (x_train, y_train, x_val, y_val as four .npy arrays); the test
split never comes here. The child imports the submission, calls the task's
entry point, trains the network (with the submission's ``train`` function, or
with ``framework.fit`` and its ``HYPERPARAMETERS``), and saves it as
``net.npz``. Along the way it rewrites ``report.json`` with the stage reached
and, on failure, what went wrong, in words for the student.

Nothing here is trusted by the grader: the submission runs in this very
process and could rewrite any of it. The grader reads the network file and
scores it itself; the report only helps explain a failure.
"""

import json
import os
import random
import sys
import traceback

import numpy as np

import framework

#: Training settings a submission may give in HYPERPARAMETERS.
FIT_OPTIONS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "restore_best",
    "shuffle",
)
SOURCE = "submission.py"


class TaskFailed(Exception):
    """A failure of the submission, already worded for the student."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as file:
        task = json.load(file)
    report = Report()
    try:
        data = read_arrays(sys.stdin.buffer, 4)
        report.stage("import")
        module = import_submission(task["seed"])
        report.stage("build")
        net = build(module, task)
        report.stage("train")
        report.update(history=train(module, net, task, *data))
        report.stage("save")
        save(net)
        report.stage("done")
    except TaskFailed as failure:
        report.fail(str(failure))
    except MemoryError:
        report.fail(
            f"The submission ran out of memory during {report.current}; the limit "
            f"is {task['memory_limit']} MB. Use smaller layers or minibatches."
        )
    except BaseException as error:  # the grader must hear of every ending
        report.fail(f"During {report.current}: {describe(error)}")
    sys.stdout.flush()
    os._exit(0)  # skip the submission's atexit handlers and threads


def read_arrays(stream, count):
    """Read ``count`` .npy arrays written one after another on ``stream``."""
    arrays = []
    for _ in range(count):
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        view = memoryview(array.reshape(-1, order="A")).cast("B")
        filled = 0
        while filled < len(view):
            got = stream.readinto(view[filled:])
            if not got:
                raise EOFError("the training data ended early")
            filled += got
        arrays.append(array)
    return arrays


def seed_everything(seed):
    """Seed every generator a submission is likely to use."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (submissions may use the legacy API)
    framework.set_seed(seed)


def import_submission(seed):
    """Run the submission's code as the module ``submission``."""
    with open(SOURCE, encoding="utf-8") as file:
        source = file.read()
    try:
        code = compile(source, SOURCE, "exec")
    except SyntaxError as error:
        raise TaskFailed(
            f"Syntax error on line {error.lineno}: {error.msg}. "
            f"The line reads: {(error.text or '').strip()!r}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise TaskFailed(f"The code cannot be compiled: {error}") from None

    module = type(sys)("submission")
    module.__file__ = SOURCE
    sys.modules["submission"] = module
    seed_everything(seed)
    try:
        exec(code, module.__dict__)
    except MemoryError:
        raise
    except SystemExit as error:
        raise TaskFailed(
            f"The submission called sys.exit({error.code!r}) while being imported. "
            "Remove top-level code that exits; define functions only."
        ) from None
    except Exception as error:
        raise TaskFailed(
            f"Importing the submission failed: {describe(error)}"
        ) from None
    return module


def build(module, task):
    """Call the entry point and check that it returned a framework Net."""
    name = task["entry_point"]
    function = getattr(module, name, None)
    if function is None:
        raise TaskFailed(
            f"The submission defines no function {name}(n_inputs, n_classes)."
        )
    if not callable(function):
        raise TaskFailed(f"{name} must be a function, got {type(function).__name__}.")
    seed_everything(task["seed"])
    try:
        net = function(task["n_inputs"], task["n_classes"])
    except NotImplementedError as error:
        raise TaskFailed(_not_implemented(name, str(error))) from None
    except MemoryError:
        raise
    except Exception as error:
        raise TaskFailed(
            f"Calling {name}({task['n_inputs']}, {task['n_classes']}) "
            f"failed: {describe(error)}"
        ) from None
    if not isinstance(net, framework.Net):
        raise TaskFailed(
            f"{name} returned {type(net).__name__}; it must return a framework Net "
            "(from framework import Net)."
        )
    return net


def _not_implemented(name, text):
    """The student's own words when they say what is missing, else ours."""
    if "not implemented yet" in text:
        return text
    return f"{name} is not implemented yet" + (f" ({text})." if text else ".")


def train(module, net, task, x_train, y_train, x_val, y_val):
    """Train ``net``; return its per-epoch history as a list of dicts, if known."""
    seed_everything(task["seed"])
    try:
        if callable(getattr(module, "train", None)):
            module.train(net, x_train, y_train, x_val, y_val)
            return []
        options = hyperparameters(module, task["entry_point"])
        history = framework.fit(
            net,
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            rng=task["seed"],
            progress=False,
            **options,
        )
    except framework.TrainingDiverged as error:
        raise TaskFailed(f"Training diverged: {error}") from None
    except (TaskFailed, MemoryError):
        raise
    except Exception as error:
        raise TaskFailed(f"Training failed: {describe(error)}") from None
    return json.loads(history.reset_index().to_json(orient="records"))


def hyperparameters(module, entry_point):
    """The fit options for ``entry_point`` from the submission's HYPERPARAMETERS."""
    settings = getattr(module, "HYPERPARAMETERS", {})
    if not isinstance(settings, dict):
        raise TaskFailed(
            f"HYPERPARAMETERS must be a dict, got {type(settings).__name__}."
        )
    if entry_point in settings or any(isinstance(v, dict) for v in settings.values()):
        settings = settings.get(entry_point, {})
        if not isinstance(settings, dict):
            raise TaskFailed(f"HYPERPARAMETERS[{entry_point!r}] must be a dict.")
    unknown = sorted(set(map(str, settings)) - set(FIT_OPTIONS))
    if unknown:
        raise TaskFailed(
            f"HYPERPARAMETERS has unknown settings {unknown}; "
            f"the known ones are {list(FIT_OPTIONS)}."
        )
    return settings


def save(net):
    try:
        framework.save(net, "net.npz")
    except TypeError as error:
        raise TaskFailed(
            f"The network cannot be handed to the grader: {error}"
        ) from None


def describe(error, frames=3):
    """An exception, and the last ``frames`` lines of the submission it passed."""
    text = "".join(traceback.format_exception_only(error)).strip()
    tail = [
        f"  {SOURCE}, line {frame.lineno}, in {frame.name}: {frame.line}"
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == SOURCE
    ]
    return "\n".join([text, *tail[-frames:]])


class Report:
    """``report.json``, rewritten at every stage so a killed child leaves a trace."""

    def __init__(self):
        self.content = {"stage": "start", "error": None, "history": []}

    @property
    def current(self):
        return self.content["stage"]

    def stage(self, name):
        self.update(stage=name)

    def fail(self, message):
        self.update(error=message)

    def update(self, **fields):
        self.content.update(fields)
        with open("report.json.tmp", "w", encoding="utf-8") as file:
            json.dump(self.content, file)
        os.replace("report.json.tmp", "report.json")


if __name__ == "__main__":
    main()
