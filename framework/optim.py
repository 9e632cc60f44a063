"""Optimisers (SGD with momentum, Adam) and learning-rate schedules.

An optimiser updates a net's parameters in place from the gradients its last
``backward`` stored: ``optimizer.step(net)``. It keeps its own state (velocities,
moment estimates) by parameter name, so one optimiser serves one net.
Weight decay is an L2 penalty on the weights ``W``; biases are not decayed.
"""

import math

import numpy as np


def _check_number(name, value, low, high=math.inf, low_open=False):
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    if too_low or value > high or math.isnan(value):
        bound = f"> {low}" if low_open else f">= {low}"
        bound += f" and <= {high}" if high != math.inf else ""
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    return float(value)


class Optimizer:
    """Base class: holds the learning rate and the per-parameter state."""

    def __init__(self, lr, weight_decay=0.0):
        self.lr = _check_number("Learning rate", lr, 0, low_open=True)
        self.weight_decay = _check_number("weight_decay", weight_decay, 0)
        self.state = {}

    def step(self, net):
        """Update every parameter of ``net`` from its stored gradient."""
        for name, value, grad in net.parameters():
            if self.weight_decay and name.endswith("W"):
                grad = grad + self.weight_decay * value
            self._update(name, value, grad)

    def _state(self, name, value, count):
        """The ``count`` state arrays of a parameter, created as zeros."""
        if name not in self.state or self.state[name][0].shape != value.shape:
            self.state[name] = [np.zeros_like(value) for _ in range(count)]
        return self.state[name]

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "state")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    With momentum μ the step is ``v = μ v + g; w -= lr v`` (Nesterov:
    ``w -= lr (g + μ v)``), the form PyTorch uses.
    """

    def __init__(self, lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(lr, weight_decay)
        self.momentum = _check_number("momentum", momentum, 0, 1)
        self.nesterov = bool(nesterov)
        if self.nesterov and not self.momentum:
            raise ValueError("Nesterov momentum needs momentum > 0, got momentum=0.")

    def _update(self, name, value, grad):
        if self.momentum:
            (velocity,) = self._state(name, value, 1)
            velocity *= self.momentum
            velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        value -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with bias-corrected moment estimates."""

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers, got {betas!r}.")
        self.betas = tuple(_check_number("beta", b, 0, 1) for b in betas)
        if self.betas[1] == 1 or self.betas[0] == 1:
            raise ValueError(f"betas must be < 1, got {betas!r}.")
        self.eps = _check_number("eps", eps, 0, low_open=True)
        self.steps = 0

    def step(self, net):
        self.steps += 1
        super().step(net)

    def _update(self, name, value, grad):
        beta1, beta2 = self.betas
        mean, square = self._state(name, value, 2)
        mean *= beta1
        mean += (1 - beta1) * grad
        square *= beta2
        square += (1 - beta2) * grad * grad

        correction2 = math.sqrt(1 - beta2**self.steps)
        step_size = self.lr * correction2 / (1 - beta1**self.steps)
        value -= step_size * mean / (np.sqrt(square) + self.eps * correction2)


#: Optimisers by the names ``fit`` accepts.
OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def constant_schedule(epoch, epochs):
    """Keep the learning rate."""
    return 1.0


def cosine_schedule(epoch, epochs):
    """Cosine decay from the full learning rate towards 0 over the epochs."""
    return 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def linear_schedule(epoch, epochs):
    """Linear decay from the full learning rate towards 0 over the epochs."""
    return 1 - epoch / epochs


#: Learning-rate schedules by name: each maps (epoch from 0, epochs) to the
#: factor applied to the optimiser's initial learning rate in that epoch.
SCHEDULES = {
    "constant": constant_schedule,
    "cosine": cosine_schedule,
    "linear": linear_schedule,
}
