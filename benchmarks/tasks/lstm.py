"""Task 4, the LSTM: LSTM(64) over sequences of 20 steps x 16 features (last state) ->
Dense 1; Adam(1e-3), mean squared error, batch 64, one shuffled epoch. Keras and PyTorch
share the gate order (input, forget, cell, output), so the same weights go to both; torch's
second bias is zero."""

from __future__ import annotations

import numpy as np

from .common import fit_epoch, glorot, torch_fit_epoch

BATCH, STEPS, FEATURES, UNITS = 64, 20, 16, 64


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, STEPS, FEATURES)).astype(np.float32)
    y = x[:, -5:, :4].mean(axis=(1, 2)) + 0.1 * rng.standard_normal(n).astype(np.float32)
    return x, y.astype(np.float32)


def weights(seed: int = 3):
    rng = np.random.default_rng(seed)
    kernel = glorot(rng, FEATURES, 4 * UNITS)
    recurrent = np.linalg.qr(rng.standard_normal((4 * UNITS, UNITS)))[0].T.astype(np.float32)
    bias = np.zeros(4 * UNITS, np.float32)
    bias[UNITS : 2 * UNITS] = 1.0  # unit_forget_bias
    return [kernel, recurrent, bias, glorot(rng, UNITS, 1), np.zeros(1, np.float32)]


def chainrule_model(init):
    from chainrule import keras  # noqa: PLC0415

    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS),
                              keras.layers.Dense(1)])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.set_weights(init)
    return model


def chainrule_epoch(model, x, y, shuffle=True):
    return fit_epoch(model, x, y, BATCH, shuffle)


def torch_model(init):
    import torch  # noqa: PLC0415

    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.dense = nn.Linear(UNITS, 1)

        def forward(self, x):
            return self.dense(self.lstm(x)[0][:, -1])

    model = Net()
    kernel, recurrent, bias, k2, b2 = (torch.from_numpy(np.ascontiguousarray(a)) for a in init)
    with torch.no_grad():
        model.lstm.weight_ih_l0.copy_(kernel.T)
        model.lstm.weight_hh_l0.copy_(recurrent.T)
        model.lstm.bias_ih_l0.copy_(bias)
        model.lstm.bias_hh_l0.zero_()
        model.dense.weight.copy_(k2.T)
        model.dense.bias.copy_(b2)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def torch_epoch(model_opt, xt, yt, shuffle=True):
    """The idiomatic PyTorch loop over tensors made once (no DataLoader)."""
    import torch  # noqa: PLC0415

    return torch_fit_epoch(model_opt, xt, yt, BATCH, torch.nn.MSELoss(), shuffle, squeeze=True)


def run(n: int, repeats: int, interleaved):
    import torch  # noqa: PLC0415

    x, y = data(n)
    init = weights()
    cr_model, t_model = chainrule_model(init), torch_model(init)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    chainrule_epoch(cr_model, x[: 2 * BATCH], y[: 2 * BATCH])
    torch_epoch(t_model, xt[: 2 * BATCH], yt[: 2 * BATCH])
    return interleaved({
        "chainrule": lambda: chainrule_epoch(cr_model, x, y),
        "pytorch": lambda: torch_epoch(t_model, xt, yt),
    }, repeats)  # fmt: skip
