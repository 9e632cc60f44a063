"""The rubric: the default file, scoring shares, and malformed rubrics."""

import pytest

from grader.rubric import RubricError, Thresholds, load_rubric


def test_the_default_rubric_grades_the_labs_three_tasks():
    rubric = load_rubric()
    assert [task.entry_point for task in rubric.tasks] == [
        "one_layer",
        "two_layer",
        "three_layer",
    ]
    assert [task.linear_layers for task in rubric.tasks] == [1, 2, 3]
    assert rubric.max_score == 100
    for task in rubric.tasks:
        assert set(task.thresholds) == {"mnist", "mnist-sample", "fashion-mnist"}


@pytest.mark.parametrize(
    ("accuracy", "loss", "share"),
    [
        (0.95, 0.30, 1.0),  # both thresholds met
        (0.90, 0.40, 1.0),  # exactly at the thresholds
        (0.85, 0.40, 0.5),  # halfway up from the accuracy floor
        (0.95, 0.70, 0.5),  # halfway down from the loss ceiling
        (0.85, 0.85, 0.25),  # the smaller share counts
        (0.70, 0.30, 0.0),  # below the floor
        (0.95, 2.00, 0.0),  # above the ceiling
    ],
)
def test_partial_credit_is_linear_between_floor_and_threshold(accuracy, loss, share):
    thresholds = Thresholds(
        accuracy=0.9, loss=0.4, accuracy_floor=0.8, loss_ceiling=1.0
    )
    assert thresholds.share(accuracy, loss) == pytest.approx(share)


def test_without_partial_credit_it_is_all_or_nothing():
    thresholds = Thresholds(accuracy=0.9, loss=0.4)
    assert thresholds.share(0.9, 0.4) == 1.0
    assert thresholds.share(0.8999, 0.1) == 0.0
    assert thresholds.share(0.99, 0.41) == 0.0


TASK = """
[[task]]
entry_point = "one_layer"
linear_layers = 1
points = 10
[task.thresholds.mnist]
accuracy = 0.9
loss = 0.4
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = 'x'\n", "task must be a list"),
        ("colour = 'blue'\n" + TASK, "colour is not a known key"),
        (
            TASK.replace("points = 10", "points = 'ten'"),
            r"task\[1\]\.points must be a number",
        ),
        (
            TASK.replace('entry_point = "one_layer"\n', ""),
            r"task\[1\]\.entry_point must be",
        ),
        (TASK.replace('"one_layer"', '"one layer"'), "must be a Python name"),
        (
            TASK.replace("linear_layers = 1", "linear_layers = 0"),
            "linear_layers must be >= 1",
        ),
        (
            TASK.replace("linear_layers = 1", "linear_layers = 1.5"),
            "must be an integer",
        ),
        (TASK.replace("mnist]", "cifar]"), r"thresholds\.cifar is not a data set"),
        (
            TASK.replace("accuracy = 0.9", "accuracy = 90"),
            r"mnist\.accuracy must be >= 0 and <= 1",
        ),
        (TASK.replace("loss = 0.4", "loss = 0.4\naccuracy_floor = 0.5"), "needs both"),
        (
            TASK.replace(
                "loss = 0.4", "loss = 0.4\naccuracy_floor = 0.95\nloss_ceiling = 1"
            ),
            "below accuracy",
        ),
        (TASK + TASK, r"task\.name repeats a value"),
        (TASK.replace("loss = 0.4", "lost = 0.4"), r"lost is not a known key"),
        ("[[task]\n", "not valid TOML"),
        ("[limits]\ntime = -1\n" + TASK, r"limits\.time must be >= 1"),
    ],
    ids=[
        "no-tasks",
        "unknown-key",
        "points-type",
        "no-entry-point",
        "bad-name",
        "zero-layers",
        "float-layers",
        "unknown-dataset",
        "accuracy-range",
        "half-partial",
        "floor-above",
        "duplicate",
        "typo",
        "toml",
        "limits",
    ],
)
def test_a_malformed_rubric_is_one_error_naming_the_key(tmp_path, text, message):
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    with pytest.raises(RubricError, match=message):
        load_rubric(path)


def test_a_missing_rubric_and_missing_thresholds_are_clear_errors(tmp_path):
    with pytest.raises(RubricError, match="Cannot read the rubric"):
        load_rubric(tmp_path / "none.toml")
    (tmp_path / "rubric.toml").write_text(TASK)
    task = load_rubric(tmp_path / "rubric.toml").tasks[0]
    with pytest.raises(
        RubricError, match=r"no thresholds for data set 'fashion-mnist'"
    ):
        task.thresholds_for("fashion-mnist")
