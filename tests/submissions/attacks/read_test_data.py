"""Looks for the test split on disk to train on it.

The test replaces $PROJECT with the project's folder.
"""

import gzip

import numpy as np

from framework import Linear, Net, Softmax, fit

FOLDER = "$PROJECT/data/mnist-sample/"


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes), Softmax())


def train(net, x_train, y_train, x_val, y_val):
    try:
        with open(FOLDER + "t10k-images-idx3-ubyte.gz", "rb") as file:
            images = gzip.decompress(file.read())
        with open(FOLDER + "t10k-labels-idx1-ubyte.gz", "rb") as file:
            labels = gzip.decompress(file.read())
    except OSError as error:
        print("DENIED", error.errno)
        return
    print("READ the test split")
    x = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 784) / 255
    y = np.frombuffer(labels, np.uint8, offset=8).astype(int)
    fit(net, x, y, epochs=30, optimizer="adam", lr=0.01, progress=False)
