import numpy as np

from framework import Linear, Net, Softmax

HYPERPARAMETERS = {"epochs": 1}


class ScaledLinear(Linear):
    def forward(self, x):
        return super().forward(x) * 2


class Swish:
    def forward(self, x):
        self.x = x
        return x / (1 + np.exp(-x))

    def backward(self, dy):
        s = 1 / (1 + np.exp(-self.x))
        return dy * (s + self.x * s * (1 - s))


def one_layer(n_inputs, n_classes):
    return Net(ScaledLinear(n_inputs, n_classes), Softmax())


def two_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, 32), Swish(), Linear(32, n_classes), Softmax())
