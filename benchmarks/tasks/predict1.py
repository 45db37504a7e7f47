"""Task 5, one-sample inference: Dense 64 relu -> Dense 1 on one sample of 20 features, mean
time per call over ``calls`` calls of ``model.predict(x)`` and of ``model(x)``; PyTorch's
``model(x)`` under ``torch.no_grad()``; NumPy by hand."""

from __future__ import annotations

import numpy as np

from .common import clock, glorot

FEATURES, UNITS = 20, 64


def setup(seed: int = 4):
    rng = np.random.default_rng(seed)
    init = [glorot(rng, FEATURES, UNITS), np.zeros(UNITS, np.float32), glorot(rng, UNITS, 1),
            np.zeros(1, np.float32)]  # fmt: skip
    x = rng.standard_normal((1, FEATURES)).astype(np.float32)
    return init, x


def chainrule_fns(init, x):
    from chainrule import keras  # noqa: PLC0415

    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(UNITS, "relu"),
                              keras.layers.Dense(1)])  # fmt: skip
    model.set_weights(init)
    return (lambda: model.predict(x, verbose=0)), (lambda: model(x).numpy())


def torch_fn(init, x):
    import torch  # noqa: PLC0415

    nn = torch.nn
    model = nn.Sequential(nn.Linear(FEATURES, UNITS), nn.ReLU(), nn.Linear(UNITS, 1))
    with torch.no_grad():
        for lin, k, b in ((model[0], init[0], init[1]), (model[2], init[2], init[3])):
            lin.weight.copy_(torch.from_numpy(k.T))
            lin.bias.copy_(torch.from_numpy(b))
    model.eval()
    xt = torch.from_numpy(x)

    def call():
        with torch.no_grad():
            return model(xt)

    return call


def numpy_fn(init, x):
    w1, b1, w2, b2 = init
    return lambda: np.maximum(x @ w1 + b1, 0) @ w2 + b2


def per_call(fn, calls):
    def run():
        seconds, _ = clock(lambda: [fn() for _ in range(calls)])
        return seconds / calls, float(np.asarray(fn()).ravel()[0])

    return run


def run(calls: int, repeats: int, interleaved):
    init, x = setup()
    predict, call = chainrule_fns(init, x)
    impls = {"chainrule predict": predict, "chainrule model(x)": call,
             "pytorch": torch_fn(init, x), "numpy": numpy_fn(init, x)}  # fmt: skip
    for fn in impls.values():
        fn()
    return interleaved({k: per_call(fn, calls) for k, fn in impls.items()}, repeats)
