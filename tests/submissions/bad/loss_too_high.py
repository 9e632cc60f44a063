from framework import Linear, Net, Softmax

# Accurate enough, but far too sure of its mistakes: the loss threshold fails.
HYPERPARAMETERS = {"epochs": 2, "lr": 1e30}


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes), Softmax())
