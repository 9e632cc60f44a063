"""The lesson's three claims about multi-layer perceptrons, shown on small data sets.

1. A network with a softmax output classifies into many classes.
2. With squared or absolute error, the same machinery does regression.
3. Without a hidden layer a network stays near its linear limit on classes that
   are not linearly separable; one hidden layer is enough to separate them.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_circles, make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from framework import Linear, Net, ReLU, Sigmoid, Softmax, Tanh, evaluate, fit


def test_multi_class_classification_of_handwritten_digits():
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x / 16, y, test_size=0.3, random_state=0, stratify=y
    )
    net = Net(Linear(64, 64, rng=0), Tanh(), Linear(64, 10, rng=1), Softmax())
    fit(net, x_train, y_train, epochs=20, batch_size=32, lr=0.1, momentum=0.9,
        rng=0, progress=False)  # fmt: skip
    _, accuracy = evaluate(net, x_test, y_test)
    assert accuracy > 0.95


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error"])
def test_regression_of_a_curve_with_squared_and_absolute_error(loss):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (2000, 1))
    y = np.sin(x) + 0.1 * rng.standard_normal((2000, 1))
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)

    net = Net(Linear(1, 32, rng=0), Tanh(), Linear(32, 1, rng=1))
    fit(net, x_train, y_train, loss=loss, optimizer="adam", lr=0.01, epochs=60,
        rng=0, progress=False)  # fmt: skip
    prediction = net.predict_proba(x_test)

    assert r2_score(y_test, prediction) > 0.95
    linear = Net(Linear(1, 1, rng=0))
    fit(linear, x_train, y_train, loss=loss, optimizer="adam", lr=0.01, epochs=60,
        rng=0, progress=False)  # fmt: skip
    assert r2_score(y_test, linear.predict_proba(x_test)) < 0.8


def test_absolute_error_is_robust_to_outliers_where_squared_error_is_not():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (500, 1))
    y = 2 * x + 0.05 * rng.standard_normal((500, 1))
    y[:25] += 50  # five per cent of wild targets
    slopes = {}
    for loss in ("squared_error", "absolute_error"):
        net = Net(Linear(1, 1, rng=0))
        fit(net, x, y, loss=loss, optimizer="adam", lr=0.05, epochs=150,
            rng=0, progress=False)  # fmt: skip
        slopes[loss] = net.layers[0].W.item()
        intercept = net.layers[0].b.item()
        if loss == "absolute_error":
            assert abs(intercept) < 0.2
    assert abs(slopes["absolute_error"] - 2) < 0.1
    assert abs(slopes["squared_error"] - 2) > abs(slopes["absolute_error"] - 2)


@pytest.mark.parametrize("make", [make_moons, make_circles], ids=["moons", "circles"])
def test_one_hidden_layer_separates_what_no_hidden_layer_can(make):
    kwargs = {"noise": 0.1} if make is make_moons else {"noise": 0.05, "factor": 0.5}
    x, y = make(n_samples=1000, random_state=0, **kwargs)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    linear_limit = LogisticRegression().fit(x_train, y_train).score(x_test, y_test)

    flat = Net(Linear(2, 1, rng=0), Sigmoid())
    fit(flat, x_train, y_train, loss="logistic", lr=0.5, epochs=100, rng=0,
        progress=False)  # fmt: skip
    hidden = Net(Linear(2, 16, rng=0), ReLU(), Linear(16, 1, rng=1), Sigmoid())
    fit(hidden, x_train, y_train, loss="logistic", lr=0.5, momentum=0.9,
        epochs=100, rng=0, progress=False)  # fmt: skip

    flat_accuracy = evaluate(flat, x_test, y_test, loss="logistic")[1]
    hidden_accuracy = evaluate(hidden, x_test, y_test, loss="logistic")[1]
    # On circles every line does about as badly as guessing, hence the 0.6 floor.
    assert flat_accuracy < max(linear_limit, 0.6) + 0.04
    assert hidden_accuracy >= 0.95
