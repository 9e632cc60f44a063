"""Lab: multilayer perceptrons for MNIST, built with your own framework.

Write the three functions below. Each returns an untrained ``Net`` for images
of ``n_inputs`` pixels (784 for MNIST) and ``n_classes`` classes (10):

- ``one_layer``: one Linear layer, straight from the pixels to the classes;
- ``two_layer``: two Linear layers with an activation function between them;
- ``three_layer``: three Linear layers with an activation after each of the
  first two.

Every net ends in ``Softmax``, so that it outputs class probabilities for the
cross-entropy loss. The grader checks that the nets have exactly 1, 2 and 3
Linear layers, trains each one on MNIST with ``framework.fit`` and scores its
accuracy on the test set. A function that still raises ``NotImplementedError``
scores zero.

Submit this file, or this notebook, with the functions filled in. Then answer
the four questions at the end from what you measured.
"""

# %%
from framework import Linear, Net, ReLU, Sigmoid, Softmax, Tanh  # noqa: F401

# %% [markdown]
# ## Training settings (optional)
#
# The grader trains your nets with its own settings unless you define
# `HYPERPARAMETERS`: keyword arguments for `framework.fit`, either one dict for
# all three nets or one dict per function name
# (`{"one_layer": {...}, "two_layer": {...}, "three_layer": {...}}`). The keys
# it takes are `epochs`, `batch_size`, `optimizer` ("sgd" or "adam"), `lr`,
# `momentum`, `weight_decay`, `schedule` ("constant", "cosine" or "linear") and
# `restore_best`. Uncomment the example below to use it.
#
# To write the training yourself instead, define
# `train(net, x_train, y_train, x_val, y_val)`, which trains the net it is
# given, with the framework.

# %%
# HYPERPARAMETERS = {
#     "epochs": 10,
#     "batch_size": 64,
#     "optimizer": "sgd",
#     "lr": 0.05,
#     "momentum": 0.9,
# }

# %% [markdown]
# ## The three nets


# %%
def one_layer(n_inputs, n_classes):
    """Return an untrained net with one Linear layer, then Softmax.

    Parameters
    ----------
    n_inputs : int
        Pixels per image (784 for MNIST).
    n_classes : int
        Number of classes (10).

    Returns
    -------
    Net
        Maps a minibatch of shape (n, n_inputs) to class probabilities of
        shape (n, n_classes).

    Hints: ``Linear(n_in, n_out)`` draws its weights from N(0, 1/n_in), the
    lesson's initialisation, and starts its biases at zero. Build the net with
    ``Net(layer, ...)`` or with ``net.add(layer)``.
    """
    raise NotImplementedError(
        "one_layer is not implemented yet: build a Net with one Linear layer "
        "from n_inputs to n_classes, then Softmax."
    )


# %%
def two_layer(n_inputs, n_classes):
    """Return an untrained net: Linear, activation, Linear, Softmax.

    Parameters
    ----------
    n_inputs : int
        Pixels per image (784 for MNIST).
    n_classes : int
        Number of classes (10).

    Returns
    -------
    Net
        With exactly two Linear layers; maps (n, n_inputs) to (n, n_classes).

    Hints: choose the hidden width (a few hundred units is common) and try
    each of ``Tanh()``, ``ReLU()`` and ``Sigmoid()`` between the layers. No
    activation goes after the last Linear layer: Softmax does. For ReLU,
    ``Linear(n_in, n_out, init="he")`` keeps the signal's scale from layer to
    layer.
    """
    raise NotImplementedError(
        "two_layer is not implemented yet: build a Net with two Linear layers, "
        "an activation between them, then Softmax."
    )


# %%
def three_layer(n_inputs, n_classes):
    """Return an untrained net with three Linear layers, then Softmax.

    Parameters
    ----------
    n_inputs : int
        Pixels per image (784 for MNIST).
    n_classes : int
        Number of classes (10).

    Returns
    -------
    Net
        With exactly three Linear layers and an activation after each of the
        first two; maps (n, n_inputs) to (n, n_classes).

    Hints: hidden layers often narrow towards the output (for example 256,
    then 128 units). A deeper net fits the training images more easily, so
    compare its training and validation accuracy to see whether it overfits.
    """
    raise NotImplementedError(
        "three_layer is not implemented yet: build a Net with three Linear layers, "
        "an activation after each of the first two, then Softmax."
    )


# %% [markdown]
# ## Try your nets
#
# Train them yourself on a validation split carved from the training images,
# and watch training against validation accuracy, epoch by epoch:
#
# ```python
# from framework import evaluate, fit
# from framework.data import load_mnist
#
# data = load_mnist(validation=0.2, allow_sample=True)
# net = two_layer(784, 10)
# history = fit(net, data.x_train, data.y_train, epochs=10, lr=0.05, momentum=0.9,
#               validation_data=(data.x_val, data.y_val))
# print(history[["accuracy", "val_accuracy", "max_abs_W1", "max_abs_W2"]])
# print(evaluate(net, data.x_test, data.y_test))
# ```
#
# ## Questions
#
# Answer from the numbers you measured:
#
# 1. Does the activation function between the layers affect performance?
# 2. Do you need a 2- or a 3-layer network?
# 3. Were there problems training as you added layers?
# 4. How do the weights behave during training? Look at the largest absolute
#    weight of each layer per epoch (the `max_abs_W` columns of fit's history).
#
# Your answers:
