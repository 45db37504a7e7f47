"""What bench_cnn.py and bench_lstm.py share: the command line, the timed training epochs of
both libraries, and the report.

Each epoch runs over the data in order (no shuffling) in batches; the time is the best of
``repeats`` epochs after a warm-up on the first 128 samples.
"""

from __future__ import annotations

import argparse
import time

import torch


def parser(description: str) -> argparse.ArgumentParser:
    """``--threads`` (default 1), ``--samples`` (default 10,000), ``--repeats`` (default 1)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=1)
    return p


def chainrule_epoch(model, x, y, batch: int, repeats: int):
    """``(best seconds, last loss)`` of ``repeats`` epochs of ``model.fit`` (compiled)."""
    model.fit(x[:128], y[:128], batch_size=batch, epochs=1, shuffle=False, verbose=0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        hist = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        best = min(best, time.perf_counter() - start)
    return best, hist.history["loss"][-1]


def torch_epoch(model, loss_fn, xt, yt, batch: int, repeats: int):
    """``(best seconds, mean loss)`` of ``repeats`` epochs of a plain PyTorch loop with
    ``Adam(lr=1e-3, eps=1e-7)`` (Keras's epsilon)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def epoch(n):
        total = 0.0
        for i in range(0, n, batch):
            opt.zero_grad()
            loss = loss_fn(model(xt[i : i + batch]), yt[i : i + batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(yt[i : i + batch])
        return total / n

    epoch(128)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        loss = epoch(len(yt))
        best = min(best, time.perf_counter() - start)
    return best, loss


def report(setup: str, ours: tuple, theirs: tuple) -> None:
    """Print ``setup``, both ``(seconds, loss)`` results and the ratio chainrule / PyTorch."""
    print(setup)
    print(f"chainrule: {ours[0]:.2f} s (loss {ours[1]:.4f})")
    print(f"pytorch:   {theirs[0]:.2f} s (loss {theirs[1]:.4f})")
    print(f"ratio chainrule / pytorch: {ours[0] / theirs[0]:.2f}x")
