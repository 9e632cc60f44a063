"""Tries to overwrite the grader's outputs, now and from a daemon later on.

The test replaces $RESULTS and $GRADEBOOK with the paths it grades into.
"""

import os
import time

from framework import Linear, Net

TARGETS = ["$RESULTS", "$GRADEBOOK"]


def tamper():
    for target in TARGETS:
        try:
            with open(target, "w") as file:
                file.write('{"score": 1000, "tests": []}\n')
            print("TAMPERED", target, flush=True)
        except OSError as error:
            print("DENIED", target, error.errno, flush=True)


tamper()
if os.fork() == 0:
    os.setsid()
    time.sleep(3)
    tamper()
    os._exit(0)


def one_layer(n_inputs, n_classes):
    return Net(Linear(n_inputs, n_classes))


def train(net, x_train, y_train, x_val, y_val):
    pass
