"""The reference solution and the student template, graded as submissions are."""

import json
from pathlib import Path

import pytest

from grader.cli import main
from grader.rubric import load_rubric

ASSIGNMENT = Path(__file__).parent.parent / "assignment"


@pytest.fixture(scope="module")
def solution_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("solution") / "results.json"
    status = main(
        [
            str(ASSIGNMENT / "solution.py"),
            "--dataset",
            "mnist-sample",
            "--results",
            str(results),
            "--no-progress",
        ]
    )
    return status, json.loads(results.read_text())


def test_the_reference_solution_clears_every_sample_threshold_with_margin(
    solution_results,
):
    status, document = solution_results
    assert status == 0 and document["score"] == 100
    for test, task in zip(document["tests"], load_rubric().tasks, strict=True):
        thresholds = task.thresholds["mnist-sample"]
        measured = test["extra_data"]
        assert measured["accuracy"] >= thresholds.accuracy + 0.015, test["name"]
        assert measured["loss"] <= thresholds.loss - 0.05, test["name"]


def test_the_reference_solution_gets_better_with_depth(solution_results):
    accuracy = [t["extra_data"]["accuracy"] for t in solution_results[1]["tests"]]
    assert accuracy == sorted(accuracy)


@pytest.mark.parametrize("template", ["template.py", "template.ipynb"])
def test_the_template_scores_zero_with_a_message_for_each_task(tmp_path, template):
    results = tmp_path / "results.json"
    status = main(
        [
            str(ASSIGNMENT / template),
            "--dataset",
            "mnist-sample",
            "--results",
            str(results),
            "--no-progress",
        ]
    )
    document = json.loads(results.read_text())
    assert status == 0 and document["score"] == 0
    for test in document["tests"]:
        assert test["status"] == "failed"
        assert "is not implemented yet" in test["output"]
