import os
import signal

from framework import Linear, Net, Softmax


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes), Softmax())


def train(net, x_train, y_train, x_val, y_val):
    os.kill(os.getpid(), signal.SIGSEGV)
