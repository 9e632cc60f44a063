import numpy as np

WEIGHTS = np.load("my_weights_at_home.npy")


def one_layer(n_inputs, n_classes):
    raise AssertionError("never reached")
