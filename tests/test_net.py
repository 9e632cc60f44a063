"""The sequential Net: the lesson's way of building and training, modes, prediction."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from framework import (
    CrossEntropyLoss,
    Dropout,
    Linear,
    Net,
    ReLU,
    Sigmoid,
    Softmax,
    SquaredErrorLoss,
    Tanh,
    check_gradients,
    get_loss_acc,
    set_seed,
    train_epoch,
)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16, y, test_size=0.3, random_state=0, stratify=y)


def test_a_network_written_the_lessons_way_trains(digits):
    x_train, x_test, y_train, y_test = digits
    set_seed(0)
    net = Net()
    net.add(Linear(64, 32))
    net.add(Tanh())
    net.add(Linear(32, 10))
    net.add(Softmax())
    loss = CrossEntropyLoss()

    _, accuracy_before = get_loss_acc(net, x_test, y_test)
    for _ in range(3):
        for i in range(0, len(x_train), 16):
            p = net.forward(x_train[i : i + 16])
            value = loss.forward(p, y_train[i : i + 16])
            dp = loss.backward(value)
            net.backward(dp)
            net.update(0.1)
    _, accuracy = get_loss_acc(net, x_test, y_test)

    assert accuracy_before < 0.3 and accuracy > 0.9
    assert accuracy == pytest.approx(accuracy_score(y_test, net.predict(x_test)))


def test_the_lessons_train_epoch_runs_unchanged(digits):
    x_train, x_test, y_train, y_test = digits
    net = Net(Linear(64, 10, rng=0), Softmax())
    train_epoch(net, x_train, y_train)
    assert get_loss_acc(net, x_test, y_test)[1] > 0.85


@pytest.mark.parametrize(
    ("layers", "loss", "targets"),
    [
        (
            lambda: [Linear(5, 7, rng=0), Tanh(), Linear(7, 3, rng=1), Softmax()],
            CrossEntropyLoss(),
            np.array([0, 2, 1, 1, 0, 2]),
        ),
        (
            lambda: [
                Linear(5, 7, rng=0),
                Sigmoid(),
                Dropout(0.3, rng=1),
                Linear(7, 4, rng=2),
                ReLU(),
                Linear(4, 2, rng=3),
            ],
            SquaredErrorLoss(),
            np.random.default_rng(0).standard_normal((6, 2)),
        ),
    ],
    ids=["classifier", "regressor-with-dropout"],
)
def test_a_whole_net_passes_the_gradient_check(layers, loss, targets):
    x = np.random.default_rng(2).standard_normal((6, 5))
    net = Net(*layers())
    errors = check_gradients(net, x, targets, loss=loss)
    assert set(errors) >= {"x", "0.W", "0.b"}
    assert max(errors.values()) < 1e-7, errors
    assert net.dtype == np.float32, "the checker must work on a copy"


def test_backward_without_input_gradient_gives_the_same_parameter_gradients():
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    net = Net(Dropout(0.0), Linear(5, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
    dy = np.ones((4, 2), dtype=np.float32)
    net.forward(x)
    assert net.backward(dy).shape == x.shape
    full = [grad.copy() for _, _, grad in net.parameters()]
    net.forward(x)
    assert net.backward(dy, input_grad=False) is None
    for expected, (_, _, grad) in zip(full, net.parameters(), strict=True):
        np.testing.assert_array_equal(grad, expected)


def test_train_and_eval_modes_reach_every_layer():
    net = Net(Linear(2, 2, rng=0), Dropout(0.5))
    assert net.training and all(layer.training for layer in net.layers)
    net.eval()
    assert not net.training and not any(layer.training for layer in net.layers)
    net.add(Dropout(0.1))
    assert not net.layers[-1].training


def test_predict_and_predict_proba_use_evaluation_mode_and_restore_it():
    net = Net(Linear(3, 4, rng=0), Dropout(0.9, rng=0), Softmax())
    x = np.random.default_rng(4).standard_normal((50, 3))
    proba = net.predict_proba(x, batch_size=7)
    assert net.training
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(net.predict(x), proba.argmax(axis=1))
    np.testing.assert_array_equal(proba, net.predict_proba(x))


def test_predict_thresholds_a_single_sigmoid_output():
    net = Net(Linear(1, 1, rng=0), Sigmoid())
    net.layers[0].W[:] = 1
    np.testing.assert_array_equal(net.predict(np.array([[-2.0], [3.0]])), [0, 1])


def test_bad_layers_and_learning_rates_are_refused():
    with pytest.raises(TypeError, match="forward and backward methods, got ufunc"):
        Net().add(np.tanh)
    with pytest.raises(ValueError, match="Learning rate must be > 0, got 0"):
        Net(Linear(2, 2, rng=0)).update(0)


def test_astype_switches_every_parameter():
    net = Net(Linear(2, 3, rng=0), Tanh(), Linear(3, 1, rng=0)).astype(np.float64)
    assert net.dtype == np.float64
    assert all(value.dtype == np.float64 for _, value, _ in net.parameters())
    assert "Linear(n_in=2, n_out=3" in repr(net)


def test_a_layer_written_by_hand_as_in_the_lesson_is_accepted():
    class Square:
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, dy):
            return 2 * self.x * dy

    net = Net(Linear(3, 2, rng=0), Square())
    x = np.random.default_rng(5).standard_normal((4, 3))
    assert max(check_gradients(net, x).values()) < 1e-7
    assert len(net.parameters()) == 2
