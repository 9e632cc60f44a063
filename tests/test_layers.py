"""Layers: values against numpy and scipy, gradients against centred differences."""

import numpy as np
import pytest
from scipy.special import expit, softmax

from framework import (
    Dropout,
    Linear,
    Net,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    check_gradients,
    set_seed,
)

RNG = np.random.default_rng(0)


def away_from_zero(shape, rng=RNG):
    """Inputs whose entries keep clear of ReLU's kink at 0."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * 0.1


@pytest.mark.parametrize(
    "layer",
    [
        Linear(5, 3, rng=0),
        Linear(5, 3, init="he", rng=1),
        Tanh(),
        ReLU(),
        Sigmoid(),
        Softmax(),
        Dropout(0.4, rng=0),
    ],
    ids=repr,
)
def test_every_layer_passes_the_gradient_check_in_float64(layer):
    errors = check_gradients(layer, away_from_zero((6, 5)))
    assert max(errors.values()) < 1e-7, errors


def test_linear_forward_and_backward_follow_the_lesson_formulas():
    layer = Linear(4, 3, rng=0, dtype=np.float64)
    layer.b[:] = [0.5, -1.0, 2.0]
    x, dz = RNG.standard_normal((7, 4)), RNG.standard_normal((7, 3))

    np.testing.assert_allclose(layer.forward(x), x @ layer.W.T + layer.b)
    dx = layer.backward(dz)
    np.testing.assert_allclose(layer.dW, dz.T @ x)
    np.testing.assert_allclose(layer.db, dz.sum(axis=0))
    np.testing.assert_allclose(dx, dz @ layer.W)


def test_linear_shapes_dtype_and_zero_bias():
    layer = Linear(784, 10, rng=0)
    assert layer.W.shape == (10, 784) and layer.b.shape == (10,)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
    assert not layer.b.any()
    assert layer.forward(np.ones((2, 784), dtype=np.uint8)).dtype == np.float32
    assert Linear(3, 2, dtype=np.float64, rng=0).W.dtype == np.float64


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("lecun", np.sqrt(1 / 400)),
        ("he", np.sqrt(2 / 400)),
        ("glorot", np.sqrt(2 / 700)),
    ],
)
def test_linear_initialisation_has_the_stated_spread(init, std):
    weights = Linear(400, 300, init=init, rng=0).W
    assert abs(weights.std() / std - 1) < 0.02
    assert abs(weights.mean()) < 0.05 * std


def test_linear_rejects_input_of_the_wrong_width():
    with pytest.raises(
        ValueError,
        match=r"Linear\(4, 3\) expects input of shape \(n, 4\), got \(2, 5\)",
    ):
        Linear(4, 3, rng=0).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        Linear(4, 3, rng=0).forward(np.zeros(4))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 3), {}, ValueError, "n_in must be >= 1, got 0"),
        ((3, 2.5), {}, TypeError, "n_out must be an int, got 2.5"),
        ((3, True), {}, TypeError, "n_out must be an int"),
        ((3, 2), {"init": "xavier"}, ValueError, "init must be one of"),
        ((3, 2), {"dtype": np.int32}, TypeError, "float32 or float64"),
        ((3, 2), {"rng": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_linear_rejects_bad_settings(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        Linear(*args, **kwargs)


def test_activations_match_their_definitions():
    x = RNG.standard_normal((4, 6)) * 5
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))
    np.testing.assert_allclose(ReLU().forward(x), np.where(x > 0, x, 0))
    np.testing.assert_allclose(Sigmoid().forward(x), expit(x), rtol=1e-12)
    np.testing.assert_allclose(Softmax().forward(x), softmax(x, axis=1), rtol=1e-12)


def test_activations_accept_integer_inputs():
    x = np.array([[1, -2, 3]])
    np.testing.assert_allclose(Softmax().forward(x), softmax(x, axis=1))
    np.testing.assert_allclose(Sigmoid().forward(x), expit(x))
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))
    np.testing.assert_array_equal(ReLU().forward(x), [[1, 0, 3]])


def test_softmax_and_sigmoid_stay_finite_on_huge_float32_inputs():
    z = np.array([[0, 255 * 784, -255 * 784], [1e30, 0, -1e30]], dtype=np.float32)
    p = Softmax().forward(z)
    assert p.dtype == np.float32 and np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert p[0, 1] == 1 and 0 < p[0, 0] < 1e-37

    s = Sigmoid().forward(z)
    assert np.isfinite(s).all() and (s > 0).all() and (s < 1).all()


def test_dropout_drops_at_its_rate_and_keeps_the_expectation():
    layer = Dropout(0.3, rng=0)
    x = np.ones((1000, 100), dtype=np.float32)
    y = layer.forward(x)
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01
    np.testing.assert_array_equal(layer.backward(x), y)


def test_dropout_is_the_identity_in_evaluation_mode():
    net = Net(Dropout(0.5, rng=0)).eval()
    x = RNG.standard_normal((3, 4))
    assert net.forward(x) is x
    assert net.train().forward(x) is not x


def test_dropout_rejects_a_rate_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1"):
        Dropout(1)


def test_the_same_seed_gives_the_same_weights_bit_for_bit():
    assert np.array_equal(Linear(30, 20, rng=5).W, Linear(30, 20, rng=5).W)
    assert not np.array_equal(Linear(30, 20, rng=5).W, Linear(30, 20, rng=6).W)

    set_seed(3)
    first = [Linear(30, 20).W, Dropout(0.5).forward(np.ones((4, 4)))]
    set_seed(3)
    second = [Linear(30, 20).W, Dropout(0.5).forward(np.ones((4, 4)))]
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
