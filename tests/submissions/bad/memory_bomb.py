import numpy as np


def one_layer(n_inputs, n_classes):
    hoard = []
    while True:
        hoard.append(np.ones(2**27))
