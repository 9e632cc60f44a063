"""Benchmark: one training epoch of the framework against plain numpy and PyTorch.

The network is the classic 784-256-128-10 ReLU perceptron with a softmax
output and cross-entropy, trained in float32 by SGD with momentum 0.9 on
minibatches of 128, over 60,000 images (Fashion-MNIST when its files are found,
random pixels otherwise: the cost does not depend on the values). Each
contender does the same work per epoch: shuffle, forward, loss, backward,
update, and running loss and accuracy.

- framework: ``framework.fit`` for one epoch, as a user would call it;
- numpy: the same computation written inline in plain numpy, the floor that
  any numpy framework is measured against;
- torch: ``torch.nn`` and ``torch.optim.SGD`` on the CPU, when PyTorch is
  installed (never a dependency of the project).

Each contender runs in its own process, so that its peak memory can be read,
in interleaved rounds, so that a change in the machine's load affects all of
them alike. The medians of the epoch times and their ratios are printed::

    python benchmarks/training.py [--rounds 3] [--epochs 2] [--data-dir DIR]
"""

import argparse
import gzip
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (784, 256, 128, 10)
BATCH = 128
LR, MOMENTUM = 0.01, 0.9
FASHION = Path("/usr/share/datasets/fashion-mnist")


def load_data(data_dir):
    """60,000 training images as float32 in [0, 1], and their labels."""
    images = data_dir / "train-images-idx3-ubyte.gz"
    labels = data_dir / "train-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        x = np.frombuffer(gzip.decompress(images.read_bytes()), np.uint8, offset=16)
        y = np.frombuffer(gzip.decompress(labels.read_bytes()), np.uint8, offset=8)
        source = f"Fashion-MNIST training images from {data_dir}"
    else:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, 60_000 * 784, dtype=np.uint8)
        y = rng.integers(0, 10, 60_000, dtype=np.uint8)
        source = "random pixels (no data set found)"
    x = x.reshape(-1, 784).astype(np.float32) / np.float32(255)
    return x, y.astype(np.int64), source


def framework_epochs(x, y, epochs):
    from framework import SGD, Linear, Net, ReLU, Softmax, fit

    net = Net(
        Linear(784, 256, init="he", rng=0),
        ReLU(),
        Linear(256, 128, init="he", rng=1),
        ReLU(),
        Linear(128, 10, rng=2),
        Softmax(),
    )
    optimizer = SGD(lr=LR, momentum=MOMENTUM)
    start = time.perf_counter()
    fit(
        net,
        x,
        y,
        epochs=epochs,
        batch_size=BATCH,
        optimizer=optimizer,
        rng=0,
        progress=False,
    )
    # The whole call, its checks of the data included, shared by its epochs.
    return [(time.perf_counter() - start) / epochs] * epochs


def numpy_epochs(x, y, epochs):
    """The same training written inline: no classes, no checks."""
    rng = np.random.default_rng(0)
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(SIZES):
        scale = np.sqrt((2.0 if n_out != 10 else 1.0) / n_in)
        weights.append((rng.standard_normal((n_out, n_in)) * scale).astype(np.float32))
        biases.append(np.zeros(n_out, np.float32))
    params = weights + biases
    velocity = [np.zeros_like(p) for p in params]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            xb, yb = x[idx], y[idx]
            n = len(idx)
            # forward
            z1 = xb @ weights[0].T + biases[0]
            h1 = np.maximum(z1, 0)
            z2 = h1 @ weights[1].T + biases[1]
            h2 = np.maximum(z2, 0)
            z3 = h2 @ weights[2].T + biases[2]
            e = np.exp(z3 - z3.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            total_loss -= np.log(p[np.arange(n), yb]).sum()
            correct += np.count_nonzero(p.argmax(axis=1) == yb)
            # backward
            dz3 = p
            dz3[np.arange(n), yb] -= 1
            dz3 /= n
            dz2 = (dz3 @ weights[2]) * (z2 > 0)
            dz1 = (dz2 @ weights[1]) * (z1 > 0)
            grads = [dz1.T @ xb, dz2.T @ h1, dz3.T @ h2]
            grads += [dz1.sum(axis=0), dz2.sum(axis=0), dz3.sum(axis=0)]
            # momentum update
            for param, v, grad in zip(params, velocity, grads, strict=True):
                v *= MOMENTUM
                v += grad
                param -= LR * v
        times.append(time.perf_counter() - start)
    return times


def torch_epochs(x, y, epochs):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    criterion = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(xt), generator=generator)
        total_loss, correct = 0.0, 0
        for i in range(0, len(xt), BATCH):
            idx = order[i : i + BATCH]
            xb, yb = xt[idx], yt[idx]
            logits = model(xb)
            loss = criterion(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(dim=1) == yb).sum())
        times.append(time.perf_counter() - start)
    return times


CONTENDERS = {
    "framework": framework_epochs,
    "numpy": numpy_epochs,
    "torch": torch_epochs,
}


def worker(name, epochs, data_dir):
    """Run one contender in this process and print its figures as JSON."""
    x, y, source = load_data(data_dir)
    CONTENDERS[name](x[:2048], y[:2048], 1)  # warm up libraries and caches
    times = CONTENDERS[name](x, y, epochs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "peak_mb": peak_mb, "source": source}))


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per round")
    parser.add_argument("--data-dir", type=Path, default=FASHION)
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs, args.data_dir)

    names = ["framework", "numpy"] + (["torch"] if torch_available() else [])
    results = {name: {"times": [], "peak_mb": 0.0} for name in names}
    for round_ in range(args.rounds):
        for name in names:
            command = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--epochs",
                str(args.epochs),
                "--data-dir",
                str(args.data_dir),
            ]
            out = json.loads(
                subprocess.run(
                    command, check=True, capture_output=True, text=True
                ).stdout
            )
            results[name]["times"] += out["times"]
            results[name]["peak_mb"] = max(results[name]["peak_mb"], out["peak_mb"])
            source = out["source"]
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)

    print(
        f"data: {source}; 784-256-128-10 ReLU, minibatch {BATCH}, float32, "
        f"SGD momentum {MOMENTUM}"
    )
    print(f"{'contender':<10} {'median epoch (s)':>17} {'epochs':>7} {'peak MB':>8}")
    medians = {}
    for name in names:
        medians[name] = statistics.median(results[name]["times"])
        print(
            f"{name:<10} {medians[name]:>17.3f} {len(results[name]['times']):>7} "
            f"{results[name]['peak_mb']:>8.0f}"
        )
    print(
        f"framework / numpy: {medians['framework'] / medians['numpy']:.3f} "
        "(target <= 1.10)"
    )
    if "torch" in medians:
        print(
            f"framework / torch: {medians['framework'] / medians['torch']:.3f} "
            "(target <= 0.90)"
        )
    else:
        print("framework / torch: PyTorch is not installed (pip install torch)")


if __name__ == "__main__":
    main()
