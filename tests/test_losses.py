"""Losses: values against scikit-learn, gradients against centred differences."""

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error

from framework import (
    AbsoluteErrorLoss,
    CrossEntropyLoss,
    LogisticLoss,
    Sigmoid,
    Softmax,
    SquaredErrorLoss,
    check_gradients,
)

RNG = np.random.default_rng(1)


def probabilities(n=8, classes=4):
    return softmax(RNG.standard_normal((n, classes)), axis=1)


def test_cross_entropy_matches_scikit_learn_log_loss():
    p, y = probabilities(), RNG.integers(0, 4, 8)
    assert CrossEntropyLoss().forward(p, y) == pytest.approx(
        log_loss(y, p, labels=range(4)), rel=1e-12
    )


def test_cross_entropy_with_one_hot_targets_equals_labels():
    p, y = probabilities(), RNG.integers(0, 4, 8)
    with_labels, with_one_hot = CrossEntropyLoss(), CrossEntropyLoss()
    assert with_labels.forward(p, y) == pytest.approx(
        with_one_hot.forward(p, np.eye(4)[y])
    )
    np.testing.assert_allclose(with_labels.backward(), with_one_hot.backward())


def test_logistic_loss_matches_scikit_learn_log_loss():
    p, y = RNG.uniform(0.05, 0.95, 10), RNG.integers(0, 2, 10)
    assert LogisticLoss().forward(p, y) == pytest.approx(log_loss(y, p), rel=1e-12)
    assert LogisticLoss().forward(p[:, None], y) == pytest.approx(log_loss(y, p))


def test_regression_losses_match_scikit_learn_metrics():
    p, y = RNG.standard_normal((9, 3)), RNG.standard_normal((9, 3))
    assert SquaredErrorLoss().forward(p, y) == pytest.approx(mean_squared_error(y, p))
    assert AbsoluteErrorLoss().forward(p, y) == pytest.approx(mean_absolute_error(y, p))
    column, flat = RNG.standard_normal((9, 1)), RNG.standard_normal(9)
    assert SquaredErrorLoss().forward(column, flat) == pytest.approx(
        mean_squared_error(flat, column.ravel())
    )


@pytest.mark.parametrize(
    ("loss", "p", "y"),
    [
        (CrossEntropyLoss(), probabilities(), RNG.integers(0, 4, 8)),
        (
            CrossEntropyLoss(),
            probabilities(),
            softmax(RNG.standard_normal((8, 4)), axis=1),
        ),
        (LogisticLoss(), RNG.uniform(0.05, 0.95, (8, 1)), RNG.integers(0, 2, 8)),
        (SquaredErrorLoss(), RNG.standard_normal((8, 2)), RNG.standard_normal((8, 2))),
        (AbsoluteErrorLoss(), RNG.standard_normal((8, 2)), RNG.standard_normal((8, 2))),
    ],
    ids=["cross-entropy", "cross-entropy-soft", "logistic", "squared", "absolute"],
)
def test_every_loss_passes_the_gradient_check_in_float64(loss, p, y):
    assert check_gradients(loss, p, y)["p"] < 1e-7


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6])
def test_softmax_and_cross_entropy_back_propagate_p_minus_onehot(scale):
    z = (RNG.standard_normal((6, 10)) * scale).astype(np.float32)
    y = RNG.integers(0, 10, 6)
    softmax_layer, loss = Softmax(), CrossEntropyLoss()

    p = softmax_layer.forward(z)
    value = loss.forward(p, y)
    dz = softmax_layer.backward(loss.backward(value))

    assert np.isfinite(value) and np.isfinite(dz).all() and dz.dtype == np.float32
    expected = (softmax(z.astype(np.float64), axis=1) - np.eye(10)[y]) / len(y)
    np.testing.assert_allclose(dz, expected, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_finite_when_the_true_class_underflows():
    z = np.array([[0.0, 1e4], [1e4, 0.0]], dtype=np.float32)
    p = Softmax().forward(z)
    value = CrossEntropyLoss().forward(p, np.array([0, 1]))
    assert np.isfinite(value) and value > 80


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e5])
def test_sigmoid_and_logistic_loss_back_propagate_p_minus_y(scale):
    z = (RNG.standard_normal((8, 1)) * scale).astype(np.float32)
    y = RNG.integers(0, 2, 8)
    sigmoid, loss = Sigmoid(), LogisticLoss()

    value = loss.forward(sigmoid.forward(z), y)
    dz = sigmoid.backward(loss.backward())

    assert np.isfinite(value) and np.isfinite(dz).all()
    expected = (expit(z.astype(np.float64)).ravel() - y) / len(y)
    np.testing.assert_allclose(dz.ravel(), expected, rtol=1e-4, atol=1e-7)


def test_backward_accepts_the_loss_value_as_in_the_lesson():
    loss = CrossEntropyLoss()
    value = loss.forward(probabilities(), RNG.integers(0, 4, 8))
    np.testing.assert_array_equal(loss.backward(value), loss.backward())


@pytest.mark.parametrize(
    ("loss", "p", "y", "error", "message"),
    [
        (
            CrossEntropyLoss(),
            probabilities(),
            np.full(8, 4),
            ValueError,
            r"\[0, 4\).*4 to 4",
        ),
        (CrossEntropyLoss(), probabilities(), np.full(8, -1), ValueError, "-1 to -1"),
        (
            CrossEntropyLoss(),
            probabilities(),
            np.zeros(7, int),
            ValueError,
            "8 outputs, 7",
        ),
        (CrossEntropyLoss(), probabilities(), np.full(8, 0.5), TypeError, "integers"),
        (
            CrossEntropyLoss(),
            probabilities(),
            np.zeros((8, 3)),
            ValueError,
            "shape of p",
        ),
        (
            CrossEntropyLoss(),
            np.ones(8),
            np.zeros(8, int),
            ValueError,
            r"\(n, classes\)",
        ),
        (LogisticLoss(), np.full(4, 0.5), np.array([0, 1, 2, 1]), ValueError, "0 to 2"),
        (LogisticLoss(), np.full((4, 2), 0.5), np.zeros(4), ValueError, r"\(n, 1\)"),
        (SquaredErrorLoss(), np.zeros((4, 2)), np.zeros(4), ValueError, "shaped like"),
    ],
)
def test_losses_reject_bad_targets_with_a_clear_message(loss, p, y, error, message):
    with pytest.raises(error, match=message):
        loss.forward(p, y)
