"""Numerical gradient checking by centred differences.

``check_gradients`` compares the gradients a layer, a loss or a whole net
computes in its backward with numerical ones, ``(f(v + h) - f(v - h)) / 2h`` for
every entry v, and reports the relative error ``|a - n| / (|a| + |n|)`` (norms
over each array). It works on a float64 copy, so the object checked is left as
it was; in float64 a correct backward gives errors around 1e-8 or less, a wrong
one errors near 1. Kinks (ReLU and absolute error at 0) have no derivative:
keep the inputs away from them.
"""

import copy

import numpy as np

from framework.layers import Layer
from framework.losses import Loss
from framework.net import Net
from framework.random import to_rng


def check_gradients(target, x, y=None, *, loss=None, h=1e-6, samples=None, rng=0):
    """Relative error of each analytic gradient of ``target``.

    Parameters
    ----------
    target : Layer, Net or Loss
    x : array-like
        The input (for a Loss: the predictions it compares with ``y``).
    y : array-like, optional
        Targets, for a Loss, or for a Net checked through ``loss``.
    loss : Loss, optional
        With a Net: check the gradients of ``loss(net(x), y)``. Without it, a
        Layer or Net is checked through the scalar ``sum(output * g)`` for a
        fixed random ``g``, which exercises every output.
    h : float, default 1e-6
        Step of the centred differences.
    samples : int, optional
        Check only this many randomly chosen entries of each array (for big
        nets); every entry by default.
    rng : int or numpy Generator, default 0

    Returns
    -------
    dict
        ``{"x": error, "<parameter>": error, ...}``; for a Loss, ``{"p": error}``.
    """
    rng = to_rng(rng)
    x = np.array(x, dtype=np.float64)
    if isinstance(target, Loss):
        return {"p": _check_loss(copy.deepcopy(target), x, y, h, samples, rng)}
    if not isinstance(target, Layer | Net):
        raise TypeError(
            "check_gradients expects a Layer, Net or Loss, "
            f"got {type(target).__name__}."
        )
    model = copy.deepcopy(target).astype(np.float64)
    if isinstance(model, Layer):
        model = Net(model)
    if loss is None:
        g = rng.standard_normal(np.shape(_freeze(model)(x)))
        objective, seed = (lambda out: float(np.sum(out * g))), (lambda: g)
    else:
        loss = copy.deepcopy(loss)
        objective, seed = (lambda out: loss.forward(out, y)), (lambda: loss.backward())
    return _check_net(model, x, objective, seed, h, samples, rng)


def _check_loss(loss, p, y, h, samples, rng):
    loss.forward(p, y)
    analytic = loss.backward()
    numeric = _numeric(lambda: loss.forward(p, y), p, h, samples, rng)
    return _relative_error(analytic, numeric)


def _check_net(net, x, objective, seed, h, samples, rng):
    replay = _freeze(net)

    def f():
        return objective(replay(x))

    f()
    analytic = {"x": net.backward(seed())}
    analytic.update({name: grad.copy() for name, _, grad in net.parameters()})
    arrays = {"x": x, **{name: value for name, value, _ in net.parameters()}}
    return {
        name: _relative_error(
            analytic[name], _numeric(f, arrays[name], h, samples, rng)
        )
        for name in arrays
    }


def _freeze(net):
    """A forward pass that replays the same random draws (dropout masks) each call."""
    generators = [layer.rng for layer in net.layers if hasattr(layer, "rng")]
    states = [generator.bit_generator.state for generator in generators]

    def forward(x):
        for generator, state in zip(generators, states, strict=True):
            generator.bit_generator.state = state
        return net.forward(x)

    return forward


def _numeric(f, array, h, samples, rng):
    """Centred-difference gradient of the scalar ``f()`` with respect to ``array``.

    ``array`` is perturbed in place and restored. With ``samples``, only that
    many entries are perturbed; the others stay NaN, and ``_relative_error``
    compares the perturbed entries only.
    """
    grad = np.full(array.shape, np.nan)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    indices = range(flat.size)
    if samples is not None and samples < flat.size:
        indices = rng.choice(flat.size, size=samples, replace=False)
    for i in indices:
        saved = flat[i]
        flat[i] = saved + h
        up = f()
        flat[i] = saved - h
        down = f()
        flat[i] = saved
        grad_flat[i] = (up - down) / (2 * h)
    return grad


def _relative_error(analytic, numeric):
    checked = ~np.isnan(numeric)
    a, n = np.asarray(analytic)[checked], numeric[checked]
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / scale) if scale > 0 else 0.0
