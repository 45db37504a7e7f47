"""Speed of a small CNN's training epoch: chainrule against PyTorch, same run, same data.

Model: Conv2D(16, 3, relu) -> MaxPool(2) -> Conv2D(32, 3, relu) -> MaxPool(2) -> Flatten ->
Dense(10); one epoch over 10,000 random 28x28x1 images, batch 64, Adam(1e-3), sparse
categorical cross-entropy from logits, no shuffling. Both libraries get the same number of
threads (``--threads``, default 1: the BLAS pool for NumPy, ``torch.set_num_threads``).

Run: ``python benchmarks/bench_cnn.py [--threads N] [--samples N] [--repeats N]``.
Prints both times (the best of ``--repeats`` epochs) and the ratio chainrule / PyTorch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import chainrule
from chainrule import keras


def chainrule_epoch(x, y, repeats):
    chainrule.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input(x.shape[1:]), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:128], y[:128], batch_size=64, epochs=1, shuffle=False, verbose=0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        hist = model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        best = min(best, time.perf_counter() - start)
    return best, hist.history["loss"][-1]


def torch_epoch(x, y, repeats):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, torch's layout
    yt = torch.from_numpy(y)

    def epoch(n):
        total = 0.0
        for i in range(0, n, 64):
            opt.zero_grad()
            loss = loss_fn(model(xt[i:i + 64]), yt[i:i + 64])
            loss.backward()
            opt.step()
            total += loss.item() * len(yt[i:i + 64])
        return total / n

    epoch(128)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        loss = epoch(len(yt))
        best = min(best, time.perf_counter() - start)
    return best, loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=args.samples)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads, user_api="blas"):
        t_ours, loss_ours = chainrule_epoch(x, y, args.repeats)
        t_torch, loss_torch = torch_epoch(x, y, args.repeats)
    print(f"threads: {args.threads}, samples: {args.samples}, batch 64, one epoch")
    print(f"chainrule: {t_ours:.2f} s (loss {loss_ours:.4f})")
    print(f"pytorch:   {t_torch:.2f} s (loss {loss_torch:.4f})")
    print(f"ratio chainrule / pytorch: {t_ours / t_torch:.2f}x")


if __name__ == "__main__":
    main()
