"""Speed of an LSTM training epoch: chainrule against PyTorch, same run, same data.

Model: LSTM(64) over sequences of 20 steps with 16 features -> Dense(1); one epoch over
10,000 random sequences, batch 64, Adam(1e-3), mean squared error, no shuffling. Both
libraries get the same number of threads (``--threads``, default 1: the BLAS pool for NumPy,
``torch.set_num_threads``). PyTorch runs its fused ``nn.LSTM`` (the CPU kernel).

Run: ``python benchmarks/bench_lstm.py [--threads N] [--samples N] [--repeats N] [--profile]``.
Prints both times (the best of ``--repeats`` epochs) and the ratio chainrule / PyTorch.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import chainrule
from chainrule import keras

STEPS, FEATURES, UNITS, BATCH = 20, 16, 64, 64


def chainrule_model():
    chainrule.set_random_seed(0)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS),
                              keras.layers.Dense(1)])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def chainrule_epoch(x, y, repeats, profile=False):
    model = chainrule_model()
    model.fit(x[:128], y[:128], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        hist = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        best = min(best, time.perf_counter() - start)
    if profile:
        prof = cProfile.Profile()
        prof.runcall(model.fit, x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return best, hist.history["loss"][-1]


class TorchLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
        self.head = torch.nn.Linear(UNITS, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def torch_epoch(x, y, repeats):
    torch.manual_seed(0)
    model = TorchLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def epoch(n):
        total = 0.0
        for i in range(0, n, BATCH):
            opt.zero_grad()
            loss = loss_fn(model(xt[i : i + BATCH]), yt[i : i + BATCH])
            loss.backward()
            opt.step()
            total += loss.item() * len(yt[i : i + BATCH])
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
    parser.add_argument("--profile", action="store_true", help="print chainrule's profile")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, STEPS, FEATURES), dtype=np.float32)
    y = np.tanh(x[:, -5:, :2].sum(axis=(1, 2)))[:, None].astype(np.float32)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads, user_api="blas"):
        t_ours, loss_ours = chainrule_epoch(x, y, args.repeats, args.profile)
        t_torch, loss_torch = torch_epoch(x, y, args.repeats)
    print(f"threads: {args.threads}, samples: {args.samples}, LSTM({UNITS}) over {STEPS} steps "
          f"x {FEATURES} features, batch {BATCH}, one epoch")
    print(f"chainrule: {t_ours:.2f} s (loss {loss_ours:.4f})")
    print(f"pytorch:   {t_torch:.2f} s (loss {loss_torch:.4f})")
    print(f"ratio chainrule / pytorch: {t_ours / t_torch:.2f}x")


if __name__ == "__main__":
    main()
