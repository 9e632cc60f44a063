"""The sequential network: layers applied in order, gradients in reverse order."""

import numpy as np

from framework.layers import Linear


class Net:
    """A stack of layers, built with ``add`` as in the lesson.

    >>> net = Net()
    >>> net.add(Linear(784, 10))
    >>> net.add(Softmax())

    ``Net(layer, layer, ...)`` builds the same in one call.

    Attributes
    ----------
    layers : list of Layer
        In the order ``forward`` applies them.
    training : bool
        True after ``train()`` (the default), False after ``eval()``.
    """

    def __init__(self, *layers):
        self.layers = []
        self.training = True
        for layer in layers:
            self.add(layer)

    def add(self, layer):
        """Append a layer; return the net, so that calls can be chained.

        Any object with ``forward`` and ``backward`` methods is accepted, as in
        the lesson; only the framework's own layers can be saved.
        """
        if not all(callable(getattr(layer, m, None)) for m in ("forward", "backward")):
            raise TypeError(
                "Net.add expects a layer with forward and backward methods, "
                f"got {type(layer).__name__}."
            )
        layer.training = self.training
        self.layers.append(layer)
        return self

    def forward(self, x):
        """Run a minibatch of shape (n, n_inputs) through every layer."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dloss, input_grad=True):
        """Back-propagate the loss gradient; return the gradient of the input.

        ``dloss`` is the gradient of the loss with respect to the net's output.
        Returns None when ``input_grad`` is False.

        Every layer stores its parameter gradients on the way. Layers before
        the first one with parameters are skipped when ``input_grad`` is False,
        and that first one is spared its input gradient: training never needs
        the gradient of the data, and it is the costliest product of the pass.
        """
        stop = 0 if input_grad else self._first_trainable()
        for i in reversed(range(stop, len(self.layers))):
            layer = self.layers[i]
            if i == stop and not input_grad and isinstance(layer, Linear):
                layer.backward(dloss, input_grad=False)
                return None
            dloss = layer.backward(dloss)
        return dloss if input_grad else None

    def _first_trainable(self):
        for i, layer in enumerate(self.layers):
            if _parameters(layer):
                return i
        return len(self.layers)

    def update(self, lr):
        """The lesson's step: plain gradient descent on every layer that has one."""
        if not lr > 0:
            raise ValueError(f"Learning rate must be > 0, got {lr!r}.")
        for layer in self.layers:
            if hasattr(layer, "update"):
                layer.update(lr)

    def parameters(self):
        """Every parameter as (name, value, gradient), named "<layer index>.<name>"."""
        return [
            (f"{i}.{name}", value, grad)
            for i, layer in enumerate(self.layers)
            for name, value, grad in _parameters(layer)
        ]

    def linear_layers(self):
        """The Linear layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def train(self):
        """Training mode: Dropout drops. Returns the net."""
        return self._set_mode(True)

    def eval(self):
        """Evaluation mode: Dropout passes everything through. Returns the net."""
        return self._set_mode(False)

    def _set_mode(self, training):
        self.training = training
        for layer in self.layers:
            layer.training = training
        return self

    def astype(self, dtype):
        """Cast every parameter to float32 or float64 in place; return the net."""
        for layer in self.layers:
            if hasattr(layer, "astype"):
                layer.astype(dtype)
        return self

    @property
    def dtype(self):
        """The float type of the parameters (float32 when there are none)."""
        params = self.parameters()
        return params[0][1].dtype if params else np.dtype(np.float32)

    @property
    def n_inputs(self):
        """Input width, read from the first Linear layer (None without one)."""
        linear = self.linear_layers()
        return linear[0].n_in if linear else None

    def predict_proba(self, x, batch_size=4096):
        """Outputs for ``x`` in evaluation mode, by minibatches of ``batch_size``.

        Returns
        -------
        ndarray of shape (n, n_outputs)
            Class probabilities when the net ends in Softmax or Sigmoid.
        """
        was_training = self.training
        self.eval()
        try:
            x = np.asarray(x)
            parts = [
                self.forward(x[i : i + batch_size])
                for i in range(0, len(x), batch_size)
            ]
        finally:
            self._set_mode(was_training)
        return np.concatenate(parts) if parts else np.empty((0, 0), dtype=self.dtype)

    def predict(self, x, batch_size=4096):
        """Predicted class of each row of ``x``, as int64 of shape (n,).

        The most probable class; for a single output (Sigmoid), 1 where it
        exceeds 0.5.
        """
        return predicted_labels(self.predict_proba(x, batch_size))

    def save(self, path):
        """Save to a data-only ``.npz`` file (see ``framework.save``)."""
        from framework.serialization import save

        save(self, path)

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "".join(f"\n  {layer!r}," for layer in self.layers)
        return f"Net({inner}\n)" if inner else "Net()"


def _parameters(layer):
    """A layer's (name, value, gradient) triples; none for layers without any."""
    return layer.parameters() if hasattr(layer, "parameters") else []


def predicted_labels(p):
    """Class labels from outputs: argmax per row, or ``p > 0.5`` for one output."""
    p = np.asarray(p)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    return (p.reshape(len(p)) > 0.5).astype(np.int64)
