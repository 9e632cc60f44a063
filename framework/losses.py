"""Losses: cross-entropy, logistic, squared error and absolute error.

A loss compares a network's output with the targets. ``forward(p, y)`` returns
the mean over the minibatch as a Python float and keeps what ``backward`` needs;
``backward()`` returns the gradient of that mean with respect to the output, of
the output's shape and dtype. As in the lesson, ``backward`` accepts the loss
value as an argument and ignores it.

Cross-entropy and logistic loss take probabilities (after ``Softmax`` or
``Sigmoid``) and guard every log and every division, so no probability, however
small, makes them infinite. Regression losses average over every output value,
as scikit-learn's ``mean_squared_error`` and ``mean_absolute_error`` do.
"""

import numpy as np

from framework.layers import probability_limits


def _as_float_array(p):
    p = np.asarray(p)
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    return p


def _check_batch(p, y):
    if len(p) != len(y):
        raise ValueError(
            f"Output and targets differ in length: {len(p)} outputs, {len(y)} targets."
        )


class Loss:
    """Base class: ``loss(p, y)`` is ``loss.forward(p, y)``."""

    #: Whether the targets are classes, so that accuracy means something.
    classification = False

    def __call__(self, p, y):
        return self.forward(p, y)

    def __repr__(self):
        return f"{type(self).__name__}()"


class CrossEntropyLoss(Loss):
    """Multi-class cross-entropy, ``-mean(log p[y])``.

    ``p`` has shape (n, classes), rows summing to 1 (the output of Softmax).
    ``y`` is either integer labels of shape (n,) in [0, classes), or target
    distributions of shape (n, classes) such as one-hot rows.
    After a Softmax layer, backward through both gives ``(p - onehot) / n``.
    """

    classification = True

    def forward(self, p, y):
        p = _as_float_array(p)
        if p.ndim != 2:
            raise ValueError(
                f"CrossEntropyLoss expects p of shape (n, classes), got {p.shape}."
            )
        y = np.asarray(y)
        _check_batch(p, y)
        tiny = probability_limits(p.dtype)[0]
        n, classes = p.shape
        self.p, self.n = p, n

        if y.ndim == 2:
            if y.shape != p.shape:
                raise ValueError(
                    f"Target distributions must have the shape of p {p.shape}, "
                    f"got {y.shape}."
                )
            self.t, self.y = y.astype(p.dtype, copy=False), None
            return float(-np.sum(self.t * np.log(np.maximum(p, tiny))) / n)

        self.y, self.t = check_labels(y, classes), None
        self.p_y = np.maximum(p[np.arange(n), self.y], tiny)
        return float(-np.log(self.p_y).sum() / n)

    def backward(self, loss=None):
        if self.t is not None:
            tiny = probability_limits(self.p.dtype)[0]
            return -self.t / (self.n * np.maximum(self.p, tiny))
        dp = np.zeros_like(self.p)
        dp[np.arange(self.n), self.y] = -1 / (self.n * self.p_y)
        return dp


class LogisticLoss(Loss):
    """Two-class cross-entropy, ``-mean(y log p + (1 - y) log(1 - p))``.

    ``p`` is the probability of class 1 (the output of Sigmoid), of shape (n,)
    or (n, 1); ``y`` holds 0 or 1 (or probabilities), of the same length.
    After a Sigmoid layer, backward through both gives ``(p - y) / n``.
    """

    classification = True

    def forward(self, p, y):
        p = _as_float_array(p)
        if p.ndim > 2 or (p.ndim == 2 and p.shape[1] != 1):
            raise ValueError(
                f"LogisticLoss expects p of shape (n,) or (n, 1), got {p.shape}."
            )
        y = np.asarray(y)
        _check_batch(p, y)
        if y.size != p.size:
            raise ValueError(
                f"LogisticLoss expects one target per output, got y of shape {y.shape}."
            )
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "LogisticLoss targets must be in [0, 1], "
                f"got values from {y.min()} to {y.max()}."
            )
        self.p = np.clip(p, *probability_limits(p.dtype))
        self.y = y.reshape(p.shape).astype(p.dtype, copy=False)
        terms = self.y * np.log(self.p) + (1 - self.y) * np.log1p(-self.p)
        return float(-np.mean(terms))

    def backward(self, loss=None):
        return (self.p - self.y) / (self.p * (1 - self.p) * self.p.shape[0])


class _RegressionLoss(Loss):
    """Shared checks of the regression losses: targets shaped like the output."""

    def _prepare(self, p, y):
        p = _as_float_array(p)
        y = np.asarray(y)
        _check_batch(p, y)
        if y.size != p.size:
            raise ValueError(
                f"{type(self).__name__} expects targets shaped like the output "
                f"{p.shape}, got {y.shape}."
            )
        self.diff = p - y.reshape(p.shape).astype(p.dtype, copy=False)
        return self.diff


class SquaredErrorLoss(_RegressionLoss):
    """Mean squared error, ``mean((p - y)²)`` over every output value."""

    def forward(self, p, y):
        diff = self._prepare(p, y)
        return float(np.mean(diff * diff))

    def backward(self, loss=None):
        return self.diff * (2 / self.diff.size)


class AbsoluteErrorLoss(_RegressionLoss):
    """Mean absolute error, ``mean(|p - y|)``; its gradient at 0 is taken as 0."""

    def forward(self, p, y):
        return float(np.mean(np.abs(self._prepare(p, y))))

    def backward(self, loss=None):
        return np.sign(self.diff) / self.diff.size


def check_labels(y, classes):
    """Return integer class labels ``y`` as int64, or raise a clear error.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, of an integer dtype (floats holding whole numbers are accepted).
    classes : int
        The labels must lie in [0, classes).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"Labels must have shape (n,), got {y.shape}.")
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"Labels must be integers, got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"Labels must lie in [0, {classes}) for an output of {classes} classes, "
            f"got values from {y.min()} to {y.max()}."
        )
    return y.astype(np.int64, copy=False)


#: Losses by the short names ``fit`` accepts.
LOSSES = {
    "cross_entropy": CrossEntropyLoss,
    "logistic": LogisticLoss,
    "squared_error": SquaredErrorLoss,
    "absolute_error": AbsoluteErrorLoss,
}
