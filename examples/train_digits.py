"""Train a small CNN on scikit-learn's handwritten digits with fastconv, in NumPy.

    python examples/train_digits.py [--epochs 12] [--out docs/images]

The 8x8 digits need no download. The network: conv 3x3 (16 filters) -> ReLU -> max-pool 2 ->
conv 3x3 (32) -> ReLU -> max-pool 2 -> linear (10), trained with SGD and momentum. It prints a
progress bar with the loss and accuracy, the test accuracy, where the time went, and saves
PNGs of the 16 learned first-layer filters and of the feature maps of one digit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import fastconv
from fastconv import nn


def load(seed: int):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    split = int(0.8 * len(x))
    return x[order[:split]], y[order[:split]], x[order[split:]], y[order[split:]]


def model(seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=rng),
    )


def accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((net(x).argmax(axis=1) == y).mean())


def bar(done: int, total: int, text: str) -> None:
    fill = int(30 * done / total)
    sys.stdout.write(f"\r[{'#' * fill}{'.' * (30 - fill)}] {text}")
    sys.stdout.flush()


def train(epochs: int = 12, batch: int = 32, lr: float = 0.05, seed: int = 0, verbose: bool = True):
    """Trains and returns (network, per-epoch losses, per-epoch test accuracies, its conv layers)."""
    x_train, y_train, x_test, y_test = load(seed)
    net, loss_fn = model(seed), nn.CrossEntropyLoss()
    opt = nn.SGD(net, lr=lr, momentum=0.9)
    convs = [layer for layer in net.layers if isinstance(layer, nn.Conv2d)]
    losses, accuracies = [], []
    rng = np.random.default_rng(seed)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            logits = net(x_train[idx])
            loss = loss_fn(logits, y_train[idx])
            net.backward(loss_fn.backward())
            opt.step()
            total += loss * len(idx)
            step += 1
            if verbose and step % 5 == 0:
                bar(step, steps, f"epoch {epoch + 1}/{epochs} loss {loss:.3f}")
        losses.append(total / len(x_train))
        accuracies.append(accuracy(net, x_test, y_test))
        if verbose:
            bar(step, steps, f"epoch {epoch + 1}/{epochs} loss {losses[-1]:.3f} test accuracy {accuracies[-1]:.3f}")
            print()
    return net, losses, accuracies, convs


def profile(net: nn.Sequential, seed: int = 0) -> dict:
    """Seconds per layer type for one epoch's worth of forward and backward passes."""
    x_train, y_train, _, _ = load(seed)
    loss_fn = nn.CrossEntropyLoss()
    times: dict = {}
    for i in range(0, len(x_train), 32):
        x, y = x_train[i : i + 32], y_train[i : i + 32]
        for layer in net.layers:
            t0 = time.perf_counter()
            x = layer(x)
            times[type(layer).__name__] = times.get(type(layer).__name__, 0.0) + time.perf_counter() - t0
        loss_fn(x, y)
        g = loss_fn.backward()
        for layer in reversed(net.layers):
            t0 = time.perf_counter()
            g = layer.backward(g)
            times[type(layer).__name__] = times.get(type(layer).__name__, 0.0) + time.perf_counter() - t0
    return times


def save_pictures(net: nn.Sequential, out: str, seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    filters = net.layers[0].weight[:, 0]
    fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
    for ax, f, i in zip(axes.ravel(), filters, range(16)):
        ax.imshow(f, cmap="gray")
        ax.set_title(str(i), fontsize=8)
        ax.axis("off")
    fig.suptitle("16 learned 3x3 filters of the first layer")
    fig.savefig(os.path.join(out, "digits_filters.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)

    _, _, x_test, y_test = load(seed)
    digit = x_test[:1]
    maps = net.layers[1](net.layers[0](digit))[0]  # after conv and ReLU
    fig, axes = plt.subplots(2, 9, figsize=(9, 2.3))
    axes[0, 0].imshow(digit[0, 0], cmap="gray")
    axes[0, 0].set_title(f"digit {y_test[0]}", fontsize=8)
    axes[1, 0].axis("off")
    for i, ax in enumerate(list(axes[0, 1:]) + list(axes[1, 1:])):
        ax.imshow(maps[i], cmap="viridis")
        ax.set_title(f"map {i}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("a test digit and its 16 feature maps after the first convolution and ReLU", y=1.06)
    fig.savefig(os.path.join(out, "digits_feature_maps.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="digits_output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    fastconv.show_config()
    t0 = time.perf_counter()
    net, losses, accuracies, _ = train(args.epochs, seed=args.seed)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - t0:.1f} s; "
          f"test accuracy {accuracies[-1]:.3f}")
    times = profile(net, args.seed)
    total = sum(times.values())
    print("time per layer type over one epoch:",
          ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(times.items(), key=lambda kv: -kv[1])))
    try:
        save_pictures(net, args.out, args.seed)
        print(f"saved {args.out}/digits_filters.png and {args.out}/digits_feature_maps.png")
    except ImportError:
        print("matplotlib is not installed: no pictures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
