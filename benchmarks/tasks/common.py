"""Shared helpers: thread setup, interleaved timing, medians, resident memory."""

from __future__ import annotations

import statistics
import time

import numpy as np


def blas_threads() -> int:
    """NumPy's BLAS thread count (left as NumPy set it); torch is given the same."""
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        return 0
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else 0


def interleaved(impls: dict, repeats: int) -> dict:
    """Run each ``impls[name]() -> (seconds, loss)`` once per repeat, round-robin, so that load
    from other processes hits every implementation alike. Returns ``{name: (median, loss)}``."""
    times: dict = {name: [] for name in impls}
    losses: dict = {}
    for _ in range(repeats):
        for name, fn in impls.items():
            seconds, loss = fn()
            times[name].append(seconds)
            losses[name] = loss
    return {name: (statistics.median(ts), losses[name]) for name, ts in times.items()}


def clock(fn, *args):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def fit_epoch(model, x, y, batch_size: int, shuffle: bool = True):
    """``(seconds, epoch loss)`` of one chainrule ``fit`` epoch."""
    seconds, hist = clock(lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0,
                                            shuffle=shuffle))  # fmt: skip
    return seconds, hist.history["loss"][-1]


def torch_fit_epoch(model_opt, xt, yt, batch_size: int, loss_fn, shuffle=True, squeeze=False):
    """``(seconds, epoch loss)`` of the idiomatic PyTorch loop over tensors made once (no
    DataLoader): shuffle the indices, then step batch by batch. ``squeeze`` drops a trailing
    output axis of 1 (a single-output regression against targets of shape ``(n,)``)."""
    import torch  # noqa: PLC0415

    model, opt = model_opt
    n = len(xt)

    def epoch():
        order = torch.randperm(n) if shuffle else torch.arange(n)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            out = model(xt[idx])
            loss = loss_fn(out[:, 0] if squeeze else out, yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / n

    return clock(epoch)


def rss_mb(field: str = "VmRSS") -> float:
    """A field of ``/proc/self/status`` in MB (Linux); NaN elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def glorot(rng, fan_in: int, fan_out: int, shape=None) -> np.ndarray:
    """Keras's glorot_uniform draw (the same for every implementation of a task)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape or (fan_in, fan_out)).astype(np.float32)
