"""Layers of a sequential network: Linear, the activations, Softmax and Dropout.

Every layer is a pair of methods. ``forward(x)`` takes a minibatch of shape
(n, features), keeps what its backward will need, and returns the output.
``backward(dy)`` takes the gradient of the loss with respect to that output and
returns the gradient with respect to the input; a layer with parameters also
stores their gradients (``Linear`` keeps ``dW`` and ``db`` beside ``W`` and ``b``).

The layers carry no optimiser state and know nothing of losses. Parameters are
reached through ``parameters()``, which optimisers use; ``update(lr)`` is the
lesson's plain gradient step. Convolutions and other non-dense layers are left
out: the lesson needs dense networks only.
"""

import functools

import numpy as np

from framework.random import default_rng, to_rng

#: Weight initialisations Linear understands: the standard deviation of the
#: normal distribution each weight is drawn from, as a function of fan-in and fan-out.
INITS = {
    "lecun": lambda n_in, n_out: np.sqrt(1.0 / n_in),
    "he": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "glorot": lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out)),
}


def _float_dtype(dtype):
    """Return ``dtype`` as a numpy floating dtype, or raise a clear error."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    return dtype


class Layer:
    """Base class of the layers: identity forward and backward, no parameters.

    Subclasses override ``forward`` and ``backward``. A layer with parameters
    overrides ``parameters`` and ``astype``. ``training`` is switched by
    ``Net.train()`` and ``Net.eval()``; only Dropout behaves differently.
    """

    training = True

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy

    def parameters(self):
        """List the layer's parameters as ``(name, value, gradient)`` triples."""
        return []

    def astype(self, dtype):
        """Cast parameters to ``dtype`` (float32 or float64) in place; return self."""
        _float_dtype(dtype)
        return self

    def config(self):
        """The constructor arguments that rebuild this layer, as plain data."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build a layer from the output of ``config``."""
        return cls(**config)

    @classmethod
    def parameter_shapes(cls, config):
        """The shape of each parameter a layer built from ``config`` holds."""
        return {}

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({args})"


class Linear(Layer):
    """Fully connected layer: ``z = x @ W.T + b``.

    Parameters
    ----------
    n_in, n_out : int
        Width of the input and of the output.
    init : {"lecun", "he", "glorot"}, default "lecun"
        Weights are drawn from N(0, s²) with s = sqrt(1/n_in) ("lecun", the
        lesson's choice), sqrt(2/n_in) ("he", suited to ReLU) or
        sqrt(2/(n_in + n_out)) ("glorot"). Biases start at zero.
    rng : int, numpy Generator or None
        Source of the initial weights; None draws from the framework's default
        generator (see ``framework.set_seed``).
    dtype : float32 (default) or float64

    Attributes
    ----------
    W : ndarray of shape (n_out, n_in)
    b : ndarray of shape (n_out,)
    dW, db : ndarrays of the same shapes, set by ``backward``.
    """

    def __init__(self, n_in, n_out, *, init="lecun", rng=None, dtype=np.float32):
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"Linear {name} must be an int, got {value!r}.")
            if value < 1:
                raise ValueError(f"Linear {name} must be >= 1, got {value}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {sorted(INITS)}, got {init!r}.")
        dtype = _float_dtype(dtype)
        rng = default_rng() if rng is None else to_rng(rng)

        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        scale = INITS[init](self.n_in, self.n_out)
        self.W = (rng.standard_normal((self.n_out, self.n_in)) * scale).astype(dtype)
        self.b = np.zeros(self.n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"Linear({self.n_in}, {self.n_out}) expects input of shape "
                f"(n, {self.n_in}), got {x.shape}."
            )
        self.x = x if x.dtype == self.W.dtype else x.astype(self.W.dtype)
        z = self.x @ self.W.T
        z += self.b
        return z

    def backward(self, dz, input_grad=True):
        """Store dW and db; return dx, or None when ``input_grad`` is False.

        The first layer of a net has no use for dx, the most expensive of the
        three products, so ``Net.backward`` asks for it only where it is needed.
        """
        self.dW = dz.T @ self.x
        self.db = dz.sum(axis=0)
        return dz @ self.W if input_grad else None

    def update(self, lr):
        """The lesson's plain gradient step: ``W -= lr * dW``, ``b -= lr * db``."""
        self.W -= lr * self.dW
        self.b -= lr * self.db

    def parameters(self):
        return [("W", self.W, self.dW), ("b", self.b, self.db)]

    def astype(self, dtype):
        dtype = _float_dtype(dtype)
        for name in ("W", "b", "dW", "db"):
            setattr(self, name, getattr(self, name).astype(dtype))
        return self

    def config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init}

    @classmethod
    def from_config(cls, config):
        # The weights are about to be overwritten: draw them from a throwaway
        # generator so that loading leaves the default one untouched.
        return cls(**config, rng=0)

    @classmethod
    def parameter_shapes(cls, config):
        return {
            "W": (config.get("n_out"), config.get("n_in")),
            "b": (config.get("n_out"),),
        }


class Tanh(Layer):
    """Hyperbolic tangent, ``y = tanh(x)``; backward ``(1 - y²) dy``."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return (1 - self.y * self.y) * dy


class ReLU(Layer):
    """Rectified linear unit, ``y = max(x, 0)``; backward passes dy where x > 0."""

    def forward(self, x):
        self.mask = x > 0
        return np.multiply(x, self.mask, dtype=x.dtype)

    def backward(self, dy):
        return np.multiply(dy, self.mask, dtype=dy.dtype)


@functools.cache
def probability_limits(dtype):
    """The smallest and largest probability an output layer hands a loss.

    The smallest positive normal number and the largest number below 1 of the
    float type: between them, log(p), log(1 - p) and 1/p are all finite.
    """
    finfo = np.finfo(dtype)
    return finfo.dtype.type(finfo.tiny), finfo.dtype.type(1 - finfo.epsneg)


class Sigmoid(Layer):
    """Logistic function, ``y = 1 / (1 + exp(-x))``; backward ``y (1 - y) dy``.

    Computed as ``(1 + tanh(x/2)) / 2``, which never overflows. The output is
    kept inside [tiny, 1 - eps] of its float type, so that a logistic loss after
    it never takes log(0) or divides by zero, even when the sigmoid saturates.
    The shift is below anything the rest of the network can see.
    """

    def forward(self, x):
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self.y = np.clip(y, *probability_limits(y.dtype), out=y)
        return self.y

    def backward(self, dy):
        return self.y * (1 - self.y) * dy


class Softmax(Layer):
    """Softmax over the last axis: ``p = exp(z - max z) / sum(exp(z - max z))``.

    Shifting by the row maximum makes large logits (raw 0–255 pixels, float32)
    safe. Probabilities that underflow are raised to the smallest positive
    normal number of the float type (1.2e-38 in float32): a cross-entropy loss
    after it then never takes log(0), and the pair back-propagates exactly
    ``(p - onehot) / n``. The raised values change no sum the network can see.
    """

    def forward(self, z):
        z = np.asarray(z)
        if z.dtype.kind != "f":
            z = z.astype(np.float64)
        e = z - z.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        self.p = np.maximum(e, probability_limits(e.dtype)[0], out=e)
        return self.p

    def backward(self, dp):
        pdp = self.p * dp
        return pdp - self.p * pdp.sum(axis=1, keepdims=True)


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``p``.

    Survivors are scaled by 1 / (1 - p), so evaluation (``Net.eval()``) is the
    identity and needs no rescaling.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping a unit.
    rng : int, numpy Generator or None
        Source of the masks; None uses the framework's default generator.
    """

    def __init__(self, p=0.5, *, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p!r}.")
        self.p = float(p)
        self.rng = default_rng() if rng is None else to_rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep * x.dtype.type(1 / (1 - self.p))
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def config(self):
        return {"p": self.p}


#: The layer classes a saved network may name, by class name.
LAYERS = {cls.__name__: cls for cls in (Linear, Tanh, ReLU, Sigmoid, Softmax, Dropout)}
