"""The grader end to end: a batch of bad submissions beside a good one.

The submissions live in tests/submissions: ``good.py`` passes, each file in
``bad/`` fails in its own way, and each file in ``attacks/`` tries to change
its score or another's. They are graded once, together, on the bundled sample
with tests/grader_rubric.toml (two tasks, 15 s and 1 GB each).
"""

import hashlib
import json
import os
import shutil
import string
import time
from pathlib import Path

import pandas as pd
import pytest

from grader.batch import grade_batch
from grader.cli import main
from grader.grading import PROJECT, GradingData
from grader.rubric import load_rubric
from grader.submission import find_submissions

TESTS = Path(__file__).parent
SUBMISSIONS = TESTS / "submissions"
RUBRIC = TESTS / "grader_rubric.toml"
COMMON = ["--rubric", str(RUBRIC), "--dataset", "mnist-sample", "--no-progress"]


def project_digest():
    """A hash of the framework's and grader's code, to see that nothing changed it."""
    digest = hashlib.sha256()
    for path in sorted(
        [*PROJECT.glob("framework/**/*.py"), *PROJECT.glob("grader/*.py")]
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def render_attacks(folder, results, gradebook):
    for path in sorted((SUBMISSIONS / "attacks").glob("*.py")):
        text = string.Template(path.read_text()).safe_substitute(
            RESULTS=results, GRADEBOOK=gradebook, PROJECT=PROJECT
        )
        (folder / path.name).write_text(text)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every test submission in one batch with two workers."""
    root = tmp_path_factory.mktemp("batch")
    folder = root / "submissions"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "good.py", folder)
    for path in (SUBMISSIONS / "bad").glob("*.py"):
        shutil.copy(path, folder)
    gradebook = root / "gradebook.csv"
    render_attacks(folder, results=root / "results.json", gradebook=gradebook)
    before = project_digest()

    status = main(
        [str(folder), "--gradebook", str(gradebook), "--workers", "2", *COMMON]
    )

    time.sleep(4)  # give any daemon a submission left behind time to act
    frame = pd.read_csv(gradebook).set_index("submission")
    return {
        "status": status,
        "frame": frame,
        "gradebook": gradebook,
        "digest_before": before,
    }


def row(batch, name):
    return batch["frame"].loc[name]


def test_the_batch_is_graded_and_every_submission_has_a_row(batch):
    expected = {p.stem for p in SUBMISSIONS.glob("**/*.py")}
    assert batch["status"] == 0
    assert set(batch["frame"].index) == expected
    assert (
        row(batch, "good")["score"] == 10 and row(batch, "good")["status"] == "passed"
    )


FAILURES = {
    "syntax_error": ("one_layer", r"Syntax error on line 4: '\(' was never closed"),
    "import_error": ("one_layer", "Importing the submission failed: FileNotFoundError"),
    "training_error": ("one_layer", "Training failed: TypeError"),
    "missing_entry": ("two_layer", r"defines no function two_layer\(n_inputs"),
    "wrong_return": ("one_layer", "returned list; it must return a framework Net"),
    "wrong_structure": ("one_layer", "exactly 1 Linear layer.*it has 2"),
    "infinite_loop": (
        "one_layer",
        "Stopped at the time limit of 15 s, during the building",
    ),
    "memory_bomb": (
        "one_layer",
        "ran out of memory during build; the limit is 1024 MB",
    ),
    "killed_by_signal": ("one_layer", "killed by SIGSEGV during training"),
    "nan_weights": ("one_layer", "holds NaN or infinite values"),
    "wrong_shapes": ("one_layer", "maps 100 inputs to 10 outputs; it must map 784"),
    "custom_layer": ("one_layer", r"does not define: \['ScaledLinear'\]"),
    "os_exit": ("one_layer", "ended during the import .* without an error .*os._exit"),
    "sys_exit": ("one_layer", r"called sys.exit\('done'\) while being imported"),
    "no_output": (
        "one_layer",
        r"ended during training without a trained network .*status 3",
    ),
    "unknown_setting": ("one_layer", r"unknown settings \['epoch', 'learning_rate'\]"),
    "loss_too_high": (
        "one_layer",
        r"Below the thresholds: .*loss \d+\.\d+ \(threshold 1",
    ),
}


@pytest.mark.parametrize(
    ("name", "task", "message"), [(k, *v) for k, v in FAILURES.items()]
)
def test_each_bad_submission_fails_with_a_message_a_student_can_act_on(
    batch, name, task, message
):
    result = row(batch, name)
    assert result[f"{task}_status"] == "failed"
    assert result[f"{task}_score"] == 0
    assert pd.Series([result[f"{task}_message"]]).str.contains(message).all(), result[
        f"{task}_message"
    ]


def test_a_custom_activation_is_an_unsupported_layer_too(batch):
    assert (
        "does not define: ['Swish']" in row(batch, "custom_layer")["two_layer_message"]
    )


def test_a_failing_task_does_not_cost_the_others(batch):
    assert row(batch, "missing_entry")["one_layer_score"] == 4
    assert row(batch, "missing_entry")["score"] == 4


def test_megabytes_of_output_and_fake_results_change_nothing(batch):
    assert row(batch, "loud")["one_layer_score"] == 4
    assert (
        row(batch, "loud")["one_layer_accuracy"]
        == row(batch, "good")["one_layer_accuracy"]
    )


def test_the_test_split_on_disk_is_out_of_reach(batch):
    # Trained on the test images, a 1-layer net scores above 0.95 on them.
    assert row(batch, "read_test_data")["one_layer_accuracy"] < 0.5
    assert row(batch, "read_test_data")["score"] == 0


def test_patching_the_framework_changes_neither_the_score_nor_the_code(batch):
    assert row(batch, "patch_framework")["score"] == 0
    assert row(batch, "patch_framework")["one_layer_accuracy"] < 0.5
    assert project_digest() == batch["digest_before"]


def test_the_gradebook_survives_a_submission_that_writes_to_it_and_a_daemon(batch):
    frame = pd.read_csv(batch["gradebook"])
    assert len(frame) == len(batch["frame"])
    assert row(batch, "overwrite_results")["score"] == 0


def test_a_single_submission_writes_gradescope_results(tmp_path):
    results = tmp_path / "results.json"
    assert main([str(SUBMISSIONS / "good.py"), "--results", str(results), *COMMON]) == 0
    document = json.loads(results.read_text())

    assert document["score"] == 10 and document["execution_time"] > 0
    assert "MNIST sample" in document["output"]
    assert len(document["tests"]) == 2
    for test, points in zip(document["tests"], (4, 6), strict=True):
        assert set(test) >= {
            "name",
            "score",
            "max_score",
            "status",
            "output",
            "visibility",
        }
        assert test["status"] == "passed" and test["max_score"] == points
        assert test["visibility"] in {
            "hidden",
            "after_due_date",
            "after_published",
            "visible",
        }
        assert isinstance(test["number"], str)
        extra = test["extra_data"]
        assert 0.75 <= extra["accuracy"] <= 1 and 0 < extra["loss"] <= 1
        assert extra["dataset"] == "mnist-sample"


def test_a_notebook_submission_is_graded_like_its_code(tmp_path):
    code = (SUBMISSIONS / "good.py").read_text()
    cells = ["!pip install numpy\n%matplotlib inline\nimport numpy", code]
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# My lab"]},
            *[
                {
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": c.splitlines(keepends=True),
                }
                for c in cells
            ],
        ],
    }
    (tmp_path / "lab.ipynb").write_text(json.dumps(notebook))
    results = tmp_path / "results.json"
    assert main([str(tmp_path / "lab.ipynb"), "--results", str(results), *COMMON]) == 0
    assert json.loads(results.read_text())["score"] == 10


def test_grading_twice_gives_the_same_numbers(tmp_path):
    scores = []
    for attempt in range(2):
        results = tmp_path / f"results{attempt}.json"
        main([str(SUBMISSIONS / "good.py"), "--results", str(results), *COMMON])
        tests = json.loads(results.read_text())["tests"]
        scores.append(
            [(t["extra_data"]["accuracy"], t["extra_data"]["loss"]) for t in tests]
        )
    assert scores[0] == scores[1]


def test_a_second_run_skips_what_the_gradebook_holds_unless_forced(tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "good.py", folder / "alice.py")
    shutil.copy(SUBMISSIONS / "bad" / "sys_exit.py", folder / "bob.py")
    gradebook = tmp_path / "book.csv"
    arguments = [str(folder), "--gradebook", str(gradebook), *COMMON]

    assert main(arguments) == 0
    first = pd.read_csv(gradebook)
    capsys.readouterr()
    assert main(arguments) == 0
    assert "Skipping 2 submission(s)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(gradebook), first)

    (folder / "bob.py").write_text((SUBMISSIONS / "good.py").read_text())
    assert main(arguments) == 0
    assert "Skipping 1 submission(s)" in capsys.readouterr().out
    book = pd.read_csv(gradebook).set_index("submission")
    assert book.loc["bob", "score"] == 10 and len(book) == 2
    assert main([*arguments, "--force"]) == 0
    assert "Skipping" not in capsys.readouterr().out


def test_an_interrupted_batch_keeps_every_grade_already_given(tmp_path):
    from grader.outputs import Gradebook

    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(SUBMISSIONS / "bad" / "sys_exit.py", folder / f"{name}.py")
    rubric = load_rubric(RUBRIC)
    from framework.data import load_mnist

    data = GradingData.from_dataset(load_mnist("mnist-sample", validation=0.1))
    gradebook = Gradebook(tmp_path / "book.csv")

    def record_then_stop(result):
        gradebook.add(result, rubric)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_batch(
            find_submissions([folder]),
            rubric,
            data,
            workers=1,
            on_result=record_then_stop,
        )
    assert len(pd.read_csv(tmp_path / "book.csv")) == 1

    main([str(folder), "--gradebook", str(tmp_path / "book.csv"), *COMMON])
    assert len(pd.read_csv(tmp_path / "book.csv")) == 3


def test_fail_under_exits_with_status_1(tmp_path):
    arguments = [str(SUBMISSIONS / "bad" / "missing_entry.py"), *COMMON]
    assert main([*arguments, "--fail-under", "5"]) == 1
    assert main([*arguments, "--fail-under", "4"]) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["no/such/file.py"], "No such file or folder"),
        (
            [str(SUBMISSIONS / "good.py"), "--rubric", "no/such/rubric.toml"],
            "Cannot read the rubric",
        ),
        (
            [
                str(SUBMISSIONS / "good.py"),
                "--dataset",
                "fashion-mnist",
                "--data-dir",
                "{tmp}",
            ],
            "",
        ),
    ],
    ids=["missing-submission", "missing-rubric", "missing-thresholds"],
)
def test_usage_and_harness_errors_exit_with_status_2_and_still_write_results(
    tmp_path, capsys, arguments, message
):
    results = tmp_path / "results.json"
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    status = main([*arguments, "--results", str(results), "--no-progress"])
    assert status == 2
    assert message in capsys.readouterr().err
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "could not run" in document["output"]


def test_ctrl_c_stops_at_once_and_leaves_no_process_behind(tmp_path):
    import signal
    import subprocess
    import sys

    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "bad" / "infinite_loop.py", folder / "a.py")
    shutil.copy(SUBMISSIONS / "bad" / "infinite_loop.py", folder / "b.py")
    scratch = tmp_path / "scratch"  # where the grader makes working folders
    scratch.mkdir()
    command = [
        sys.executable,
        "-m",
        "grader",
        str(folder),
        "--gradebook",
        str(tmp_path / "book.csv"),
        *COMMON,
    ]
    grader = subprocess.Popen(
        command,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    time.sleep(4)
    assert processes_working_in(scratch), "the children should be running by now"
    os.kill(grader.pid, signal.SIGINT)
    started = time.perf_counter()
    _, stderr = grader.communicate(timeout=10)

    assert grader.returncode == 130 and "interrupted" in stderr
    assert time.perf_counter() - started < 5
    time.sleep(0.5)
    assert processes_working_in(scratch) == []


def processes_working_in(folder):
    """Pids of the processes whose working folder lies in ``folder``, from /proc."""
    pids = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)).is_relative_to(folder):
                pids.append(int(cwd.parent.name))
        except OSError:
            continue
    return pids


def test_a_forged_report_cannot_break_the_results_file(tmp_path):
    from grader.grading import _read_report

    report = tmp_path / "report.json"
    report.write_text(
        '{"stage": "done", "error": 7, "history": [{"epoch": 1, "loss": NaN, '
        '"val_accuracy": Infinity, "accuracy": 0.5, "note": "text"}, 3, []]}'
    )
    read = _read_report(report)
    assert read["error"] is None
    assert read["history"] == [{"epoch": 1, "accuracy": 0.5}]
    json.dumps(read, allow_nan=False)
