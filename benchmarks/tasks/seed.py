"""Task 1, the seed program's fit: 100 points, Dense(1), SGD(0.01), mse, batch 32, shuffled
each epoch, ``epochs`` epochs (1,000 in the suite): per-step overhead, almost no arithmetic."""

from __future__ import annotations

import numpy as np

from .common import clock

LR = np.float32(0.01)  # Keras's SGD default


def data(n: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, n).reshape(-1, 1)  # float64, as the seed program passes it
    y = 2 * x[:, 0] + rng.standard_normal(n)
    w = rng.uniform(-1, 1, (1, 1)).astype(np.float32)  # glorot_uniform limit for 1x1 is ~1.22
    return x, y, w, np.zeros(1, np.float32)


def run_chainrule(x, y, w, b, epochs, shuffle=True):
    from chainrule import keras  # noqa: PLC0415

    model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([w, b])
    seconds, hist = clock(lambda: model.fit(x, y, epochs=epochs, batch_size=32, verbose=0,
                                            shuffle=shuffle))  # fmt: skip
    return seconds, hist.history["loss"][-1]


def run_torch(x, y, w, b, epochs, shuffle=True):
    import torch  # noqa: PLC0415

    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w.T))
        model.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(model.parameters(), lr=float(LR))
    loss_fn = torch.nn.MSELoss()
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    n = len(xt)

    def fit():
        for _ in range(epochs):
            order = torch.randperm(n) if shuffle else torch.arange(n)
            total = 0.0
            for i in range(0, n, 32):
                idx = order[i : i + 32]
                opt.zero_grad()
                loss = loss_fn(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
        return total / n

    return clock(fit)


def run_numpy(x, y, w, b, epochs, shuffle=True):
    """Forward and backward by hand: the floor for a NumPy engine."""
    x = x.astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    w, b = w.copy(), b.copy()
    n = len(x)
    rng = np.random.default_rng(0)

    def fit():
        for _ in range(epochs):
            order = rng.permutation(n) if shuffle else np.arange(n)
            total = 0.0
            for i in range(0, n, 32):
                idx = order[i : i + 32]
                xb, yb = x[idx], y[idx]
                d = xb @ w + b - yb
                total += float(np.mean(d * d)) * len(idx)
                d *= np.float32(2 / d.size)
                np.subtract(w, LR * (xb.T @ d), out=w)
                np.subtract(b, LR * d.sum(0), out=b)
        return total / n

    return clock(fit)


def run(epochs: int, repeats: int, interleaved):
    x, y, w, b = data()
    return interleaved({
        "chainrule": lambda: run_chainrule(x, y, w, b, epochs),
        "pytorch": lambda: run_torch(x, y, w, b, epochs),
        "numpy": lambda: run_numpy(x, y, w, b, epochs),
    }, repeats)  # fmt: skip
