"""Patches the framework's evaluation in memory and on disk, trains nothing.

The test replaces $PROJECT with the project's folder.
"""

import numpy as np

import framework
import framework.training
from framework import Linear, Net, Softmax

framework.evaluate = framework.training.evaluate = lambda *args, **kwargs: (0.0, 1.0)
framework.Net.predict = lambda self, x, batch_size=0: np.zeros(len(x), dtype=int)

for path in ["$PROJECT/framework/training.py", framework.training.__file__]:
    try:
        with open(path, "a") as file:
            file.write("\n# patched by a submission\n")
        print("TAMPERED", path)
    except OSError as error:
        print("DENIED", path, error.errno)


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes), Softmax())


def train(net, x_train, y_train, x_val, y_val):
    pass
