"""Prints megabytes, then trains a good network: the output must not matter."""

from framework import Linear, Net, Softmax

HYPERPARAMETERS = {"epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.002}

for line in range(200_000):
    print(f"line {line}: {'spam ' * 20}")


def one_layer(n_inputs, n_classes):
    print('{"score": 100, "tests": []}')
    return Net(Linear(n_inputs, n_classes), Softmax())
