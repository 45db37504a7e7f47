"""Task 3, the CNN: 28x28x1 -> Conv2D 16 3x3 relu -> MaxPool 2 -> Conv2D 32 3x3 relu ->
MaxPool 2 -> Flatten -> Dense 4; Adam(1e-3), sparse categorical cross-entropy from logits,
batch 64, one shuffled epoch. PyTorch runs channels-first (its native layout) on the same
images and the same initial weights (permuted to its layouts)."""

from __future__ import annotations

import numpy as np

from .common import fit_epoch, glorot, torch_fit_epoch

BATCH = 64
CLASSES = 4


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, CLASSES, n)


def weights(seed: int = 2):
    rng = np.random.default_rng(seed)
    k1 = glorot(rng, 9 * 1, 9 * 16, (3, 3, 1, 16))
    k2 = glorot(rng, 9 * 16, 9 * 32, (3, 3, 16, 32))
    k3 = glorot(rng, 800, CLASSES)
    z = np.zeros
    return [k1, z(16, np.float32), k2, z(32, np.float32), k3, z(CLASSES, np.float32)]


def chainrule_model(init):
    from chainrule import keras  # noqa: PLC0415

    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(CLASSES),
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
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 5 * 5, CLASSES),
    )  # fmt: skip
    k1, b1, k2, b2, k3, b3 = (torch.from_numpy(np.ascontiguousarray(a)) for a in (
        init[0].transpose(3, 2, 0, 1), init[1], init[2].transpose(3, 2, 0, 1), init[3],
        # Keras flattens (h, w, c); torch flattens (c, h, w).
        init[4].reshape(5, 5, 32, CLASSES).transpose(3, 2, 0, 1).reshape(CLASSES, -1), init[5],
    ))  # fmt: skip
    with torch.no_grad():
        for mod, k, b in ((model[0], k1, b1), (model[3], k2, b2), (model[7], k3, b3)):
            mod.weight.copy_(k)
            mod.bias.copy_(b)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def torch_epoch(model_opt, xt, yt, shuffle=True):
    """The idiomatic PyTorch loop over tensors made once (no DataLoader)."""
    import torch  # noqa: PLC0415

    return torch_fit_epoch(model_opt, xt, yt, BATCH, torch.nn.CrossEntropyLoss(), shuffle)


def to_torch(x, y):
    import torch  # noqa: PLC0415

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)


def run(n: int, repeats: int, interleaved):
    x, y = data(n)
    init = weights()
    cr_model, t_model = chainrule_model(init), torch_model(init)
    xt, yt = to_torch(x, y)
    chainrule_epoch(cr_model, x[: 2 * BATCH], y[: 2 * BATCH])
    torch_epoch(t_model, xt[: 2 * BATCH], yt[: 2 * BATCH])
    return interleaved({
        "chainrule": lambda: chainrule_epoch(cr_model, x, y),
        "pytorch": lambda: torch_epoch(t_model, xt, yt),
    }, repeats)  # fmt: skip
