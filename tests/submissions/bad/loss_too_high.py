from framework import Linear, Net, Softmax

HYPERPARAMETERS = {"epochs": 2, "lr": 1e30}  # accurate, but far too sure of its mistakes


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes), Softmax())
