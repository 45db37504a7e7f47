"""Task 2, the MLP: 784 -> Dense 256 relu -> Dense 128 relu -> Dense 10, Adam(1e-3), sparse
categorical cross-entropy from logits, batch 128, one shuffled epoch. Also used by task 7
(time per epoch against the number of samples, and ``fit`` on a memory-mapped file)."""

from __future__ import annotations

import numpy as np

from .common import clock, fit_epoch, glorot, torch_fit_epoch

SIZES = (784, 256, 128, 10)
BATCH = 128
FLOP_PER_SAMPLE = 6 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))  # fwd 2, bwd 4 per MAC


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n)
    return x, y


def weights(seed: int = 1):
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        out += [glorot(rng, a, b), np.zeros(b, np.float32)]
    return out


def chainrule_model(init):
    from chainrule import keras  # noqa: PLC0415

    model = keras.Sequential([
        keras.Input((SIZES[0],)), keras.layers.Dense(SIZES[1], activation="relu"),
        keras.layers.Dense(SIZES[2], activation="relu"), keras.layers.Dense(SIZES[3]),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.set_weights(init)
    return model


def chainrule_epoch(model, x, y, shuffle=True):
    return fit_epoch(model, x, y, BATCH, shuffle)


def torch_model(init):
    import torch  # noqa: PLC0415

    nn = torch.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]),
                          nn.ReLU(), nn.Linear(SIZES[2], SIZES[3]))  # fmt: skip
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin, (k, b) in zip(linears, zip(init[::2], init[1::2])):
            lin.weight.copy_(torch.from_numpy(k.T))
            lin.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return model, opt


def torch_epoch(model_opt, xt, yt, shuffle=True):
    """The idiomatic PyTorch loop over tensors made once (no DataLoader)."""
    import torch  # noqa: PLC0415

    return torch_fit_epoch(model_opt, xt, yt, BATCH, torch.nn.CrossEntropyLoss(), shuffle)


class NumpyMLP:
    """Forward, backward and Adam written by hand in NumPy (float32 throughout)."""

    def __init__(self, init, lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7):
        self.params = [p.copy() for p in init]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, eps
        self.t = 0
        self.rng = np.random.default_rng(0)

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.params
        a1 = x @ w1
        a1 += b1
        h1 = np.maximum(a1, 0, out=a1)
        a2 = h1 @ w2
        a2 += b2
        h2 = np.maximum(a2, 0, out=a2)
        z = h2 @ w3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
        dz = np.divide(e, s, out=e)
        dz[rows, y] -= 1
        dz *= np.float32(1 / len(y))
        dh2 = dz @ w3.T
        dh2 *= h2 > 0
        dh1 = dh2 @ w2.T
        dh1 *= h1 > 0
        grads = [x.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dz, dz.sum(0)]
        self.t += 1
        f32 = np.float32
        lr = f32(self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t))
        c1, c2, eps = f32(1 - self.b1), f32(1 - self.b2), f32(self.eps)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (g - m) * c1
            v += (g * g - v) * c2
            p -= lr * m / (np.sqrt(v) + eps)
        return loss

    def epoch(self, x, y, shuffle=True):
        def run():
            n = len(x)
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            total = 0.0
            for i in range(0, n, BATCH):
                idx = order[i : i + BATCH]
                total += self.step(x[idx], y[idx]) * len(idx)
            return total / n

        return clock(run)


def run(n: int, repeats: int, interleaved):
    import torch  # noqa: PLC0415

    x, y = data(n)
    init = weights()
    cr_model, t_model, np_model = chainrule_model(init), torch_model(init), NumpyMLP(init)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    warm = min(n, 4 * BATCH)
    chainrule_epoch(cr_model, x[:warm], y[:warm])
    torch_epoch(t_model, xt[:warm], yt[:warm])
    np_model.epoch(x[:warm], y[:warm])
    return interleaved({
        "chainrule": lambda: chainrule_epoch(cr_model, x, y),
        "pytorch": lambda: torch_epoch(t_model, xt, yt),
        "numpy": lambda: np_model.epoch(x, y),
    }, repeats)  # fmt: skip


def scale(sizes, repeats: int):
    """chainrule seconds per epoch for each number of samples (median of ``repeats``)."""
    import statistics  # noqa: PLC0415

    x, y = data(max(sizes))
    model = chainrule_model(weights())
    chainrule_epoch(model, x[: 4 * BATCH], y[: 4 * BATCH])
    times = {n: [] for n in sizes}
    for _ in range(repeats):  # round-robin over the sizes, so a change of load hits all alike
        for n in sizes:
            times[n].append(chainrule_epoch(model, x[:n], y[:n])[0])
    return {n: statistics.median(t) for n, t in times.items()}


def gemm_gflops(n: int = 1024, repeats: int = 5) -> float:
    """float32 GEMM throughput of NumPy's BLAS here (GFLOP/s, best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b
    best = min(clock(np.matmul, a, b)[0] for _ in range(repeats))
    return 2 * n**3 / best / 1e9
