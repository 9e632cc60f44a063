"""The lab's experiments: an end-to-end run in --quick mode, the measurements
checked against plain numpy and scikit-learn, the answers checked against
hand-made results, and the command line's errors."""

import contextlib
import io
import logging
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, log_loss

from assignment import answers, experiments, plots
from assignment.experiments import Run, build_net, main, measure, run_one
from framework.data import Dataset

QUESTIONS = answers.QUESTIONS


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick run with full MNIST missing: (stdout, out folder, warnings)."""
    empty = tmp_path_factory.mktemp("no-mnist")
    out = tmp_path_factory.mktemp("out") / "experiments"
    argv = ["--quick", "--data-dir", str(empty), "--out", str(out), "--no-progress"]
    stdout = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(stdout),
    ):
        patch.setenv("MNIST_OFFLINE", "1")
        warnings.simplefilter("always")
        assert main(argv) == 0
    return stdout.getvalue(), out, caught


def random_data(n_train=120, n_val=40, n_test=40, seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)

    (x, y), (xv, yv), (xt, yt) = split(n_train), split(n_val), split(n_test)
    return Dataset(x, y, xv, yv, xt, yt, name="random", source="random pixels")


# --- the end-to-end run ---


def test_quick_run_falls_back_to_the_sample_in_one_line(quick):
    stdout, _, caught = quick
    data_lines = [line for line in stdout.splitlines() if line.startswith("Data:")]
    assert len(data_lines) == 1
    # The reason comes from framework.data's warning; only its gist is checked.
    assert "unavailable" in data_lines[0]
    assert "MNIST sample" in data_lines[0]
    assert "480 training, 120 validation and 200 test images" in data_lines[0]
    assert not [w for w in caught if issubclass(w.category, UserWarning)]


def test_quick_run_prints_the_table_and_four_answers(quick):
    stdout, out, _ = quick
    header = next(line for line in stdout.splitlines() if "activation" in line)
    assert header.split() == list(experiments.TABLE_COLUMNS.values())
    for number, question in enumerate(QUESTIONS, start=1):
        assert f"{number}. {question}\n   " in stdout
    assert (out / "report.txt").read_text(encoding="utf-8").strip() in stdout.strip()


def test_quick_run_writes_summary_with_one_row_per_run(quick):
    _, out, _ = quick
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=[""])
    assert list(summary.columns) == experiments.SUMMARY_COLUMNS
    assert list(zip(summary["layers"], summary["activation"], strict=True)) == [
        (1, "none"),
        (2, "tanh"),
        (2, "relu"),
        (2, "sigmoid"),
        (3, "tanh"),
        (3, "relu"),
        (3, "sigmoid"),
    ]
    assert (summary["status"] == "ok").all()
    assert (summary["epochs"] == experiments.QUICK["epochs"]).all()
    accuracy = summary.filter(like="_accuracy").to_numpy()
    assert ((0 <= accuracy) & (accuracy <= 1)).all()
    # A net has as many max |W| columns filled as it has Linear layers.
    counts = summary.filter(like="max_abs_W").notna().sum(axis=1)
    assert counts.tolist() == summary["layers"].tolist()


def test_quick_run_history_starts_from_the_initial_weights(quick):
    _, out, _ = quick
    history = pd.read_csv(out / "history.csv", keep_default_na=False, na_values=[""])
    assert history.groupby("run")["epoch"].apply(list).map(len).eq(3).all()
    start = history[history["epoch"] == 0].set_index("run")
    assert start["loss"].isna().all()  # no training yet, so no running loss

    # Same depth, same seed stream: the three 2-layer nets start alike, and as
    # build_net draws them with the experiments' seed.
    net = build_net(784, 10, (256,), "relu", np.random.default_rng([0, 2]))
    for activation in experiments.ACTIVATIONS:
        row = start.loc[f"2-layer {activation}"]
        assert row["max_abs_W1"] == pytest.approx(np.abs(net.layers[0].W).max())
        assert row["max_abs_W2"] == pytest.approx(np.abs(net.layers[2].W).max())


def test_quick_run_saves_plots_when_matplotlib_is_there(quick):
    pytest.importorskip("matplotlib")
    _, out, _ = quick
    for name in ("learning_curves.png", "weights.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")


def test_plots_are_skipped_with_one_line_without_matplotlib(
    quick, tmp_path, monkeypatch, caplog
):
    _, out, _ = quick
    histories = pd.read_csv(out / "history.csv")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with caplog.at_level(logging.INFO, logger="assignment"):
        assert plots.save_plots(histories, tmp_path) == []
    assert [r.getMessage() for r in caplog.records] == [
        "matplotlib is not installed: skipping the plots"
    ]
    assert not list(tmp_path.glob("*.png"))


# --- measurements ---


def test_measure_matches_scikit_learn_in_evaluation_mode():
    data = random_data()
    net = build_net(784, 10, (32,), "tanh", np.random.default_rng(1))
    net.train()
    measures = measure(net, data)
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        p = net.predict_proba(x)
        assert measures[f"{split}_accuracy"] == accuracy_score(y, p.argmax(axis=1))
        assert measures[f"{split}_loss"] == pytest.approx(
            log_loss(y, p, labels=range(10)), rel=1e-5
        )
    assert measures["max_abs_W2"] == np.abs(net.layers[2].W).max()


def test_build_net_has_the_layers_asked_for():
    net = build_net(784, 10, (256, 128), "sigmoid", np.random.default_rng(0))
    names = [type(layer).__name__ for layer in net.layers]
    assert names == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Softmax"]
    assert [(layer.n_in, layer.n_out) for layer in net.linear_layers()] == [
        (784, 256),
        (256, 128),
        (128, 10),
    ]
    with pytest.raises(ValueError, match="'swish'"):
        build_net(784, 10, (16,), "swish", np.random.default_rng(0))


def test_a_diverging_run_is_recorded_not_raised():
    row, history = run_one(Run(2, "relu"), random_data(), {"epochs": 2, "lr": 1e30}, 0)
    assert row["status"] == "diverged"
    assert "loss became nan" in row["message"]
    assert "train_accuracy" not in row
    assert history["epoch"].tolist() == [0]

    summary = pd.DataFrame([row]).reindex(columns=experiments.SUMMARY_COLUMNS)
    assert "diverged" in experiments.format_table(summary)


# --- the answers, from hand-made results ---

DEPTHS = {(1, "none"), (2, "tanh"), (2, "relu"), (2, "sigmoid")}
DEPTHS |= {(3, "tanh"), (3, "relu"), (3, "sigmoid")}


def make_results(val, *, train_gap=0.02, diverged=(), n_val=10_000):
    """A summary and flat histories from {(layers, activation): val accuracy}."""
    rows, histories = [], []
    for (layers, activation), accuracy in val.items():
        run = f"{layers}-layer {activation}"
        ok = (layers, activation) not in diverged
        rows.append(
            {
                "run": run,
                "layers": layers,
                "activation": activation,
                "status": "ok" if ok else "diverged",
                "message": "" if ok else "The loss became nan at epoch 3",
                "train_accuracy": accuracy + train_gap * layers if ok else np.nan,
                "val_accuracy": accuracy if ok else np.nan,
                "test_accuracy": accuracy - 0.001 if ok else np.nan,
                "seconds": 10.0 * layers,
                "n_val": n_val,
            }
        )
        epochs = [0, 1, 2, 3, 4] if ok else [0]
        curve = [0.1, accuracy - 0.03, accuracy - 0.02, accuracy - 0.01, accuracy]
        weights = {f"max_abs_W{k}": [0.1, 0.2, 0.3, 0.35, 0.4] for k in range(1, 4)}
        history = pd.DataFrame(
            {
                "run": run,
                "layers": layers,
                "activation": activation,
                "epoch": epochs,
                "val_loss": [2.3, 0.5, 0.4, 0.35, 0.3][: len(epochs)],
                "val_accuracy": curve[: len(epochs)],
            }
            | {name: values[: len(epochs)] for name, values in weights.items()}
        )
        for k in range(layers + 1, 4):
            history[f"max_abs_W{k}"] = np.nan
        histories.append(history)
    return pd.DataFrame(rows), pd.concat(histories, ignore_index=True)


def accuracies(best, margin=0.02, third_layer=0.0):
    """Validation accuracies where ``best`` leads by ``margin``."""
    val = {(1, "none"): 0.92}
    for layers, activation in sorted(DEPTHS - {(1, "none")}):
        base = 0.95 + (margin if activation == best else 0.0)
        val[(layers, activation)] = base + (third_layer if layers == 3 else 0.0)
    return val


def test_activation_answer_names_the_measured_winner():
    relu = answers.answer_activation(make_results(accuracies("relu"))[0])
    sigmoid = answers.answer_activation(make_results(accuracies("sigmoid"))[0])
    assert relu.startswith(
        "Yes: relu did best, with a mean validation accuracy of 97.00%"
    )
    assert "2.0 points ahead of" in relu
    assert sigmoid.startswith("Yes: sigmoid did best")
    assert "Best at each depth: 2 layers sigmoid, 3 layers sigmoid." in sigmoid


def test_activation_answer_weighs_the_lead_against_the_noise():
    # Two standard errors at 95% on 10,000 images: 2 * sqrt(.95 * .05 / 1e4) = 0.44
    small = answers.answer_activation(make_results(accuracies("tanh", 0.002))[0])
    assert small.startswith("Not measurably: tanh did best")
    assert "differences under 0.4 points are within the noise" in small

    val = accuracies("tanh", 0.02)
    val[(2, "relu")] = val[(3, "relu")] = 0.968  # 0.2 points behind tanh
    tie = answers.answer_activation(make_results(val)[0])
    assert tie.startswith("Yes: tanh did best")
    assert "0.2 points ahead of relu (a tie within the noise) and 2.0 ahead of" in tie


def test_depth_answer_follows_the_third_layer():
    helps = answers.answer_depth(make_results(accuracies("relu", third_layer=0.02))[0])
    hurts = answers.answer_depth(make_results(accuracies("relu", third_layer=-0.02))[0])
    even = answers.answer_depth(make_results(accuracies("relu", third_layer=0.001))[0])
    assert helps.startswith("Three layers: the third layer added 2.0 points")
    assert hurts.startswith("Two layers: the third layer lost 2.0 points")
    assert even.startswith("Two are enough")
    assert "Going from 1 to 2 layers changed it by +3.7 points." in helps
    assert "It helped beyond the noise for 3 of 3 activations and hurt" in helps
    assert "beyond it for 3 of 3" not in hurts and "hurt beyond it for 3." in hurts
    assert "A 3-layer run took 1.5× as long as a 2-layer one." in helps


def test_training_problems_answer_reports_a_diverged_run():
    val = accuracies("relu")
    fine = answers.answer_training_problems(*make_results(val))
    summary, histories = make_results(val, diverged={(3, "relu")})
    broken = answers.answer_training_problems(summary, histories)
    assert fine.startswith("No run diverged")
    assert broken.startswith(
        "Yes: 3-layer relu diverged (The loss became nan at epoch 3)."
    )
    assert "Not counted: 3-layer relu (diverged)." in answers.answer_activation(summary)
    assert "Not counted: 3-layer relu (diverged)." in answers.answer_depth(summary)


def test_training_problems_answer_reports_stalls_and_slow_starts():
    val = accuracies("relu")
    summary, histories = make_results(val)
    stuck = histories["run"] == "3-layer sigmoid"
    histories.loc[stuck & (histories["epoch"] > 0), "val_accuracy"] = 0.12
    summary.loc[summary["run"] == "3-layer sigmoid", "val_accuracy"] = 0.12
    slow = (histories["run"] == "2-layer sigmoid") & (histories["epoch"] == 1)
    histories.loc[slow, "val_accuracy"] = 0.11
    text = answers.answer_training_problems(summary, histories)
    assert "3-layer sigmoid stayed near chance (validation accuracy 12.0%)" in text
    assert "2-layer sigmoid was still near chance after the first epoch (11.0%)" in text


def test_training_problems_answer_tells_shallow_problems_from_deep_ones():
    summary, histories = make_results(accuracies("relu"))
    worse = (histories["run"] == "1-layer none") & (histories["epoch"] == 1)
    histories.loc[worse, "val_accuracy"] = 0.93  # then 0.92 at the end
    text = answers.answer_training_problems(summary, histories)
    assert text.startswith(
        "Not from adding layers: no deeper net diverged or stalled, but 1-layer none "
        "got worse after the first epoch (93.0% to 92.0%)."
    )


def test_training_problems_answer_reports_overfitting_and_the_gap():
    summary, histories = make_results(accuracies("relu"))
    rising = histories["run"] == "3-layer tanh"
    histories.loc[rising, "val_loss"] = [2.3, 0.5, 0.4, 0.5, 0.6]
    text = answers.answer_training_problems(summary, histories)
    assert "overfitting) in 3-layer tanh (50% above its minimum at epoch 2)" in text
    assert "1 layer 2.0, 2 layers 4.0, 3 layers 6.0 (it grew with depth)" in text

    flat = answers.answer_training_problems(
        *make_results(accuracies("relu"), train_gap=0)
    )
    assert "(it did not change steadily with depth)" in flat


def test_weights_answer_follows_growth_and_shrinkage():
    _, histories = make_results(accuracies("relu"))
    grew = answers.answer_weights(histories)
    # 0.1 -> 0.3 over the first half (epochs 0-2), 0.3 -> 0.4 over the second.
    assert grew.startswith("They grew: max |W| rose in 16, fell in 0 of 16 layers")
    assert "×4.00 to ×4.00" in grew
    assert "Growth slowed: in 16 of 16 growing layers" in grew
    assert "added 50% of the first half's growth" in grew

    columns = [c for c in histories if c.startswith("max_abs_W")]
    shrinking = histories.copy()
    shrinking[columns] = 0.5 - shrinking[columns]
    shrank = answers.answer_weights(shrinking)
    assert shrank.startswith("They shrank: max |W| rose in 0, fell in 16 of 16 layers")
    assert "No layer's max |W| grew" in shrank

    speeding = histories.copy()
    speeding[columns] = speeding[columns] ** 3
    assert "Growth did not slow" in answers.answer_weights(speeding)


def test_answers_handle_results_with_nothing_to_compare():
    summary, histories = make_results(
        {(1, "none"): 0.9, (2, "relu"): 0.9}, diverged={(2, "relu")}
    )
    answered = answers.answer_questions(summary, histories)
    assert list(answered) == list(QUESTIONS)
    assert answered[QUESTIONS[0]].startswith("Not answered")
    assert answered[QUESTIONS[1]].startswith("Not answered")
    assert answered[QUESTIONS[2]].startswith("Yes: 2-layer relu diverged")


# --- the command line ---


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--epochs", "ten"], "--epochs: expected a whole number, got 'ten'"),
        (["--seed", "-1"], "--seed: must be from 0 to 4294967295, got -1"),
        (["--dataset", "emnist"], "invalid choice: 'emnist'"),
        (["--data-dir", "{tmp}/missing"], "missing is not a folder"),
        (["--out", "{tmp}/file"], "file exists and is not a folder"),
        (["--fast"], "unrecognized arguments: --fast"),
    ],
)
def test_bad_options_exit_2_naming_the_value(argv, message, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_fashion_mnist_is_an_error_not_a_fallback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    argv = ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--quick"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("python -m assignment: error: ")
    assert not (tmp_path / "out").exists()
