"""fit, evaluate and the optimisers, checked against plain numpy and scikit-learn."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss

from framework import (
    SGD,
    Adam,
    Dropout,
    Linear,
    Net,
    ReLU,
    Softmax,
    Tanh,
    TrainingDiverged,
    evaluate,
    fit,
    train_epoch,
)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16).astype(np.float32), y


def small_net(seed=0, dropout=0.0):
    return Net(
        Linear(64, 16, rng=seed), ReLU(), Dropout(dropout, rng=seed),
        Linear(16, 10, rng=seed + 1), Softmax(),
    )  # fmt: skip


def test_fit_returns_one_history_row_per_epoch(digits):
    x, y = digits
    net = small_net()
    history = fit(net, x[:1200], y[:1200], epochs=3, batch_size=32, momentum=0.9,
                  validation_data=(x[1200:], y[1200:]), progress=False)  # fmt: skip

    assert list(history.index) == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(
        history.columns
    )
    assert history["val_accuracy"].iloc[-1] > 0.85
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    for k, layer in enumerate(net.linear_layers(), start=1):
        assert history[f"max_abs_W{k}"].iloc[-1] == np.abs(layer.W).max()
    val_loss, val_accuracy = evaluate(net, x[1200:], y[1200:])
    assert history["val_loss"].iloc[-1] == pytest.approx(val_loss)
    assert history["val_accuracy"].iloc[-1] == val_accuracy


def test_evaluate_matches_scikit_learn(digits):
    x, y = digits
    net = small_net()
    fit(net, x, y, epochs=1, progress=False)
    value, accuracy = evaluate(net, x, y, batch_size=100)
    proba = net.predict_proba(x).astype(np.float64)
    proba /= proba.sum(axis=1, keepdims=True)
    assert accuracy == pytest.approx(accuracy_score(y, proba.argmax(axis=1)))
    assert value == pytest.approx(log_loss(y, proba, labels=range(10)), rel=1e-5)


def test_fit_without_shuffling_is_the_lessons_train_epoch(digits):
    x, y = digits
    lesson, ours = small_net(), small_net()
    for _ in range(2):
        train_epoch(lesson, x[:400], y[:400], batch_size=4, lr=0.1)
    fit(ours, x[:400], y[:400], epochs=2, batch_size=4, lr=0.1, shuffle=False,
        progress=False)  # fmt: skip
    for (_, a, _), (_, b, _) in zip(
        lesson.parameters(), ours.parameters(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_same_seed_trains_the_same_weights_bit_for_bit(digits):
    x, y = digits

    def train(seed):
        net = small_net(dropout=0.3)
        fit(net, x[:500], y[:500], epochs=2, batch_size=32, optimizer="adam",
            rng=seed, progress=False)  # fmt: skip
        return [value.copy() for _, value, _ in net.parameters()]

    first, second, other = train(1), train(1), train(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_each_epoch_visits_the_samples_in_a_new_order(digits):
    x, y = digits
    net_a, net_b = small_net(), small_net()
    fit(net_a, x[:256], y[:256], epochs=1, batch_size=256, rng=0, progress=False)
    fit(net_b, x[:256], y[:256], epochs=1, batch_size=32, rng=0, shuffle=False,
        progress=False)  # fmt: skip
    assert not np.allclose(net_a.layers[0].W, net_b.layers[0].W)


def one_step(optimizer, steps=3):
    """Run ``steps`` updates on a 2x2 Linear with fixed gradients; return W, b."""
    layer = Linear(2, 2, rng=0, dtype=np.float64)
    net = Net(layer)
    start = layer.W.copy()
    for _ in range(steps):
        layer.dW[:] = [[1.0, -2.0], [0.5, 0.0]]
        layer.db[:] = [0.25, -1.0]
        optimizer.step(net)
    return start, layer


def test_sgd_with_momentum_and_weight_decay_matches_the_textbook_update():
    start, layer = one_step(SGD(lr=0.1, momentum=0.9, weight_decay=0.01))
    w, v = start.copy(), np.zeros((2, 2))
    for _ in range(3):
        g = np.array([[1.0, -2.0], [0.5, 0.0]]) + 0.01 * w
        v = 0.9 * v + g
        w = w - 0.1 * v
    np.testing.assert_allclose(layer.W, w)
    bias_velocity = np.array([0.25, -1.0]) * (1 + 1.9 + 2.71)
    np.testing.assert_allclose(
        layer.b, -0.1 * bias_velocity, err_msg="bias not decayed"
    )


def test_adam_matches_the_paper_algorithm():
    start, layer = one_step(Adam(lr=0.01), steps=4)
    w, m, v = start.copy(), np.zeros((2, 2)), np.zeros((2, 2))
    g = np.array([[1.0, -2.0], [0.5, 0.0]])
    for t in range(1, 5):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(layer.W, w, rtol=1e-10)


def test_cosine_schedule_sets_the_learning_rate_of_each_epoch(digits):
    x, y = digits
    history = fit(small_net(), x[:200], y[:200], epochs=4, lr=0.1, schedule="cosine",
                  progress=False)  # fmt: skip
    expected = 0.05 * (1 + np.cos(np.pi * np.arange(4) / 4))
    np.testing.assert_allclose(history["lr"], expected)


def test_restore_best_keeps_the_epoch_with_the_lowest_validation_loss(digits):
    x, y = digits
    net = small_net()
    history = fit(net, x[:300], y[:300], epochs=6, lr=2.0, batch_size=8,
                  validation_data=(x[300:600], y[300:600]), restore_best=True,
                  progress=False)  # fmt: skip
    assert evaluate(net, x[300:600], y[300:600])[0] == pytest.approx(
        history["val_loss"].min()
    )


def test_divergence_stops_training_with_a_clear_error():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)) * 1e3
    y = rng.standard_normal((64, 1)) * 1e3
    net = Net(Linear(4, 8, rng=0), Tanh(), Linear(8, 1, rng=1))
    with pytest.raises(TrainingDiverged, match=r"learning rate 100\)"):
        fit(net, x, y, loss="squared_error", lr=100.0, epochs=5, progress=False)


def test_progress_bar_goes_to_stderr_and_can_be_turned_off(digits, capsys):
    x, y = digits
    fit(small_net(), x[:64], y[:64], epochs=1, progress=False)
    assert capsys.readouterr().err == ""
    fit(small_net(), x[:64], y[:64], epochs=1, progress=True)
    captured = capsys.readouterr()
    assert "fit" in captured.err and captured.out == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": 0}, ValueError, "Learning rate must be > 0, got 0"),
        ({"lr": -0.1}, ValueError, "got -0.1"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs must be an int, got 1.5"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be .* got 'rmsprop'"),
        ({"optimizer": "adam", "momentum": 0.9}, ValueError, "momentum applies to SGD"),
        ({"optimizer": SGD(), "lr": 0.1}, ValueError, "pass them to the optimiser"),
        ({"loss": "hinge"}, ValueError, "loss must be .* got 'hinge'"),
        ({"schedule": "step"}, ValueError, "schedule must be .* got 'step'"),
        ({"restore_best": True}, ValueError, "needs validation_data"),
        ({"validation_data": [1, 2, 3]}, ValueError, "pair"),
    ],
)
def test_fit_rejects_bad_options(digits, kwargs, error, message):
    x, y = digits
    with pytest.raises(error, match=message):
        fit(small_net(), x[:10], y[:10], progress=False, **kwargs)


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        (np.zeros((10, 64)), np.zeros(9, int), ValueError, "10 samples, 9 targets"),
        (np.zeros((10, 63)), np.zeros(10, int), ValueError, "63 features.*expects 64"),
        (np.zeros((10, 64)), np.full(10, 10), ValueError, r"\[0, 10\).*10 to 10"),
        (np.zeros(64), np.zeros(1, int), ValueError, r"shape \(n, features\)"),
        (np.full((10, 64), np.nan), np.zeros(10, int), ValueError, "non-finite.*row 0"),
        (np.zeros((0, 64)), np.zeros(0, int), ValueError, "empty"),
        (np.array([["a"] * 64]), np.zeros(1, int), TypeError, "must hold numbers"),
    ],
    ids=["lengths", "width", "labels", "1-d", "nan", "empty", "strings"],
)
def test_fit_rejects_bad_data_before_training(x, y, error, message):
    with pytest.raises(error, match=message):
        fit(small_net(), x, y, progress=False)
