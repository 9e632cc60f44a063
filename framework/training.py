"""Training and evaluation: ``fit``, ``evaluate`` and the lesson's two helpers.

``fit`` runs minibatch training for a number of epochs, reshuffling every epoch,
and returns the history as a pandas DataFrame. It stops with ``TrainingDiverged``
as soon as the loss or a weight stops being finite, rather than training on
NaN. ``evaluate`` measures loss and accuracy in evaluation mode.
``train_epoch`` and ``get_loss_acc`` keep the lesson's signatures, with the net
passed in rather than read from a global.
"""

import ctypes
import functools
import logging
import sys
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from framework.losses import LOSSES, Loss, check_labels
from framework.net import Net, predicted_labels
from framework.optim import OPTIMIZERS, SCHEDULES, SGD, Optimizer
from framework.random import default_rng, to_rng

logger = logging.getLogger(__name__)


class TrainingDiverged(FloatingPointError):
    """The loss or the weights became infinite or NaN during training."""


@functools.cache
def keep_freed_memory():
    """Ask glibc's malloc to keep freed memory for reuse; return whether it agreed.

    Every minibatch allocates and frees the same temporaries, a few of them
    above glibc's default mmap threshold (128 KiB). By default glibc hands such
    memory back to the kernel when it is freed and takes it again for the next
    minibatch, paying a page fault per 4 KiB: up to half an epoch's time for a
    784-256-128-10 net. Raising the mmap and trim thresholds (to 32 MiB and
    256 MiB) keeps that memory in the process instead, as PyTorch's advice to
    preload jemalloc or tcmalloc does. The setting is process-wide, made once,
    and skipped where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    agreed = mallopt(m_mmap_threshold, 32 * 2**20) and mallopt(
        m_trim_threshold, 256 * 2**20
    )
    logger.debug("glibc malloc thresholds raised: %s", bool(agreed))
    return bool(agreed)


def fit(
    net,
    x,
    y,
    *,
    epochs=10,
    batch_size=32,
    optimizer="sgd",
    lr=None,
    momentum=None,
    weight_decay=None,
    schedule="constant",
    loss="cross_entropy",
    validation_data=None,
    restore_best=False,
    shuffle=True,
    rng=None,
    progress=True,
):
    """Train ``net`` on ``(x, y)`` by minibatch gradient descent.

    Parameters
    ----------
    net : Net
    x : array-like of shape (n, n_inputs)
        Converted once to the net's float type.
    y : array-like of shape (n,) or (n, n_outputs)
        Class labels, one-hot rows or regression targets, as the loss expects.
    epochs : int, default 10
    batch_size : int, default 32
        The last minibatch of an epoch may be smaller.
    optimizer : {"sgd", "adam"} or Optimizer, default "sgd"
        A name builds a new optimiser from ``lr`` (default 0.1 for SGD, 0.001
        for Adam), ``momentum`` (SGD only) and ``weight_decay``. An Optimizer
        instance is used as it is; those three must then be left out.
    schedule : {"constant", "cosine", "linear"} or callable, default "constant"
        Factor ``f(epoch, epochs)`` on the initial learning rate in each epoch.
    loss : {"cross_entropy", "logistic", "squared_error", "absolute_error"} or Loss
    validation_data : tuple (x_val, y_val), optional
        Measured in evaluation mode after every epoch.
    restore_best : bool, default False
        At the end, put back the weights of the epoch with the lowest validation
        loss. Needs ``validation_data``.
    shuffle : bool, default True
        Visit the samples in a new random order every epoch.
    rng : int or numpy Generator, optional
        Source of the shuffling; the framework's default generator if omitted.
    progress : bool, default True
        Show a progress bar on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch``, ``loss`` and ``accuracy`` (averaged over
        the epoch's minibatches while the weights changed), ``val_loss`` and
        ``val_accuracy`` (with validation data), ``lr``, ``seconds`` (the
        epoch's training time), and ``max_abs_W1`` ... one per Linear layer, the
        largest absolute weight at the end of the epoch. Accuracy columns are
        left out for regression losses.

    Raises
    ------
    TrainingDiverged
        When the loss or the weights stop being finite.
    """
    if not isinstance(net, Net):
        raise TypeError(f"fit expects a framework Net, got {type(net).__name__}.")
    _check_count("epochs", epochs, minimum=1)
    _check_count("batch_size", batch_size, minimum=1)
    loss = make_loss(loss)
    optimizer = make_optimizer(optimizer, lr, momentum, weight_decay)
    schedule = make_schedule(schedule)
    rng = default_rng() if rng is None else to_rng(rng)
    x, y, labels = _check_data(net, x, y, loss, "x", "y")
    if validation_data is not None:
        validation_data = _check_validation(net, validation_data, loss)
    if restore_best and validation_data is None:
        raise ValueError(
            "restore_best=True needs validation_data to choose the best epoch."
        )

    keep_freed_memory()
    n = len(x)
    n_batches = -(-n // batch_size)
    base_lr = optimizer.lr
    best = (np.inf, None)
    rows = []
    net.train()
    bar = tqdm(
        total=epochs * n_batches,
        unit="batch",
        desc="fit",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    # Overflow and NaN are caught below, as TrainingDiverged with advice;
    # numpy's warnings about them would only repeat it less clearly.
    with bar, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            optimizer.lr = base_lr * schedule(epoch, epochs)
            order = rng.permutation(n) if shuffle else np.arange(n)
            start = time.perf_counter()
            total_loss, correct = _run_epoch(
                net, x, y, labels, order, batch_size, loss, optimizer, epoch, bar
            )
            row = {"epoch": epoch + 1, "loss": total_loss / n}
            if labels is not None:
                row["accuracy"] = correct / n
            row["lr"] = optimizer.lr
            row["seconds"] = time.perf_counter() - start
            _check_weights(net, epoch)
            row.update(max_abs_weights(net))

            if validation_data is not None:
                row["val_loss"], row["val_accuracy"] = evaluate(
                    net, *validation_data, loss=loss
                )
                net.train()
                if restore_best and row["val_loss"] < best[0]:
                    best = (row["val_loss"], _copy_parameters(net))
            rows.append(row)
            bar.set_postfix(
                {k: f"{v:.4g}" for k, v in row.items() if "loss" in k or "acc" in k}
            )
            logger.info("epoch %d/%d: %s", epoch + 1, epochs, _describe(row))

    optimizer.lr = base_lr
    if restore_best and best[1] is not None:
        _restore_parameters(net, best[1])
    history = pd.DataFrame(rows)
    if labels is None and "val_accuracy" in history:
        history = history.drop(columns="val_accuracy")
    first = ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    columns = [c for c in first if c in history] + list(max_abs_weights(net))
    return history.set_index("epoch")[columns]


def _run_epoch(net, x, y, labels, order, batch_size, loss, optimizer, epoch, bar):
    """One pass over the data; returns the summed loss and the correct count."""
    total_loss, correct = 0.0, 0
    for batch, i in enumerate(range(0, len(x), batch_size)):
        idx = order[i : i + batch_size]
        p = net.forward(x[idx])
        batch_loss = loss.forward(p, y[idx])
        if not np.isfinite(batch_loss):
            raise TrainingDiverged(
                f"The loss became {batch_loss} at epoch {epoch + 1}, minibatch "
                f"{batch + 1} (learning rate {optimizer.lr:g}). Lower the learning "
                "rate, or scale the inputs to a small range (pixels: divide by 255)."
            )
        net.backward(loss.backward(), input_grad=False)
        optimizer.step(net)

        total_loss += batch_loss * len(idx)
        if labels is not None:
            correct += int(np.count_nonzero(predicted_labels(p) == labels[idx]))
        bar.update()
    return total_loss, correct


def evaluate(net, x, y, loss="cross_entropy", batch_size=4096):
    """Loss and accuracy of ``net`` on ``(x, y)``, in evaluation mode.

    Parameters
    ----------
    net : Net
    x : array-like of shape (n, n_inputs)
    y : array-like of shape (n,) or (n, n_outputs)
    loss : str or Loss, default "cross_entropy"
    batch_size : int, default 4096
        Rows per forward pass; bounds memory on large sets.

    Returns
    -------
    (float, float)
        Mean loss over the samples, and the fraction of correct predictions
        (NaN for regression losses).
    """
    loss = make_loss(loss)
    _check_count("batch_size", batch_size, minimum=1)
    x, y, labels = _check_data(net, x, y, loss, "x", "y")
    was_training = net.training
    net.eval()
    try:
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            p = net.forward(x[i : i + batch_size])
            total_loss += loss.forward(p, y[i : i + batch_size]) * len(p)
            if labels is not None:
                correct += int(
                    np.count_nonzero(predicted_labels(p) == labels[i : i + batch_size])
                )
    finally:
        net._set_mode(was_training)
    accuracy = correct / len(x) if labels is not None else float("nan")
    return total_loss / len(x), accuracy


def max_abs_weights(net):
    """The largest absolute weight of each Linear layer: ``{"max_abs_W1": ...}``."""
    return {
        f"max_abs_W{k}": float(np.abs(layer.W).max())
        for k, layer in enumerate(net.linear_layers(), start=1)
    }


def train_epoch(net, train_x, train_labels, loss=None, batch_size=4, lr=0.1):
    """The lesson's loop: one epoch of plain SGD, minibatches in order, no shuffling.

    Prefer ``fit``, which shuffles, checks for divergence and keeps a history.
    """
    loss = make_loss("cross_entropy" if loss is None else loss)
    for i in range(0, len(train_x), batch_size):
        xb = train_x[i : i + batch_size]
        yb = train_labels[i : i + batch_size]
        p = net.forward(xb)
        value = loss.forward(p, yb)
        dp = loss.backward(value)
        net.backward(dp)
        net.update(lr)


def get_loss_acc(net, x, y, loss=None):
    """The lesson's helper: ``(loss, accuracy)`` of ``net`` on ``(x, y)``."""
    return evaluate(net, x, y, loss="cross_entropy" if loss is None else loss)


def make_loss(loss):
    """A fresh Loss from a name, or the given Loss instance."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(
            f"loss must be a Loss or one of {sorted(LOSSES)}, got {loss!r}."
        )
    return LOSSES[loss]()


def make_optimizer(optimizer, lr=None, momentum=None, weight_decay=None):
    """An Optimizer from a name and settings, or the given instance unchanged."""
    settings = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    settings = {key: value for key, value in settings.items() if value is not None}
    if isinstance(optimizer, Optimizer):
        if settings:
            raise ValueError(
                f"Settings {sorted(settings)} were given beside an Optimizer instance; "
                "pass them to the optimiser itself."
            )
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be an Optimizer or one of {sorted(OPTIMIZERS)}, "
            f"got {optimizer!r}."
        )
    if "momentum" in settings and OPTIMIZERS[optimizer] is not SGD:
        raise ValueError(f"momentum applies to SGD only, not to {optimizer!r}.")
    return OPTIMIZERS[optimizer](**settings)


def make_schedule(schedule):
    """A schedule function from a name, or the given callable."""
    if callable(schedule):
        return schedule
    if schedule not in SCHEDULES:
        raise ValueError(
            f"schedule must be a callable or one of {sorted(SCHEDULES)}, "
            f"got {schedule!r}."
        )
    return SCHEDULES[schedule]


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")


def _check_data(net, x, y, loss, x_name, y_name):
    """Validate a data set once, before the minibatch loop.

    Returns x as a contiguous array of the net's float type, y as an array, and
    the class labels for accuracy (None for regression losses).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"{x_name} must have shape (n, features), got {x.shape}.")
    if len(x) == 0:
        raise ValueError(f"{x_name} is empty.")
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} differ in length: "
            f"{len(x)} samples, {len(y)} targets."
        )
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{x_name} must hold numbers, got dtype {x.dtype}.")
    x = np.ascontiguousarray(x, dtype=net.dtype)
    # A NaN or an infinity anywhere makes the float64 sum non-finite; float32
    # values cannot overflow it. Only then is the slower element test needed.
    if not np.isfinite(x.sum(dtype=np.float64)) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{x_name} holds a non-finite value ({x[tuple(bad)]} at row {bad[0]}, "
            f"column {bad[1]}); remove or impute such values before training."
        )
    if n_in := net.n_inputs:
        if x.shape[1] != n_in:
            raise ValueError(
                f"{x_name} has {x.shape[1]} features but the net's first Linear layer "
                f"expects {n_in}."
            )
    if not loss.classification:
        return x, y, None
    if y.ndim == 2 and y.shape[1] > 1:
        return x, y, y.argmax(axis=1)
    linear = net.linear_layers()
    n_out = linear[-1].n_out if linear else None
    if n_out == 1:
        return x, y, (y.reshape(len(y)) > 0.5).astype(np.int64)
    labels = check_labels(y, n_out if n_out else np.iinfo(np.int64).max)
    return x, labels, labels


def _check_validation(net, validation_data, loss):
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ValueError("validation_data must be a pair (x_val, y_val).")
    x_val, y_val, _ = _check_data(net, *validation_data, loss, "x_val", "y_val")
    return x_val, y_val


def _check_weights(net, epoch):
    for name, value, _ in net.parameters():
        if not np.isfinite(value).all():
            raise TrainingDiverged(
                f"Parameter {name} holds non-finite values after epoch {epoch + 1}. "
                "Lower the learning rate or add weight decay."
            )


def _copy_parameters(net):
    return [value.copy() for _, value, _ in net.parameters()]


def _restore_parameters(net, values):
    for (_, value, _), saved in zip(net.parameters(), values, strict=True):
        value[...] = saved


def _describe(row):
    return ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
