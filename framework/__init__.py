"""A small neural-network framework in numpy, grown from the lesson's.

Build a network layer by layer, train it, check its gradients, save it::

    from framework import Net, Linear, ReLU, Softmax, fit
    net = Net(Linear(784, 128), ReLU(), Linear(128, 10), Softmax())
    history = fit(net, x_train, y_train, epochs=5, validation_data=(x_val, y_val))

Modules: ``layers`` and ``losses`` (each a forward and a backward), ``net``
(the sequential container), ``optim`` (SGD, Adam, schedules), ``training``
(``fit``, ``evaluate``), ``gradcheck``, ``serialization`` (data-only files),
``random`` (seeds) and ``data`` (MNIST). Dense networks only; no GPU, no
automatic differentiation: every layer writes its own backward.
"""

from framework.gradcheck import check_gradients
from framework.layers import Dropout, Layer, Linear, ReLU, Sigmoid, Softmax, Tanh
from framework.losses import (
    AbsoluteErrorLoss,
    CrossEntropyLoss,
    LogisticLoss,
    Loss,
    SquaredErrorLoss,
)
from framework.net import Net
from framework.optim import SGD, Adam, Optimizer
from framework.random import set_seed
from framework.serialization import NetFileError, load, save
from framework.training import (
    TrainingDiverged,
    evaluate,
    fit,
    get_loss_acc,
    max_abs_weights,
    train_epoch,
)

__all__ = [
    "SGD",
    "AbsoluteErrorLoss",
    "Adam",
    "CrossEntropyLoss",
    "Dropout",
    "Layer",
    "Linear",
    "LogisticLoss",
    "Loss",
    "Net",
    "NetFileError",
    "Optimizer",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "SquaredErrorLoss",
    "Tanh",
    "TrainingDiverged",
    "check_gradients",
    "evaluate",
    "fit",
    "get_loss_acc",
    "load",
    "max_abs_weights",
    "save",
    "set_seed",
    "train_epoch",
]
