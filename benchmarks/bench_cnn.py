"""Speed of a small CNN's training epoch: chainrule against PyTorch, same run, same data.

Model: Conv2D(16, 3, relu) -> MaxPool(2) -> Conv2D(32, 3, relu) -> MaxPool(2) -> Flatten ->
Dense(10); one epoch over 10,000 random 28x28x1 images, batch 64, Adam(1e-3), sparse
categorical cross-entropy from logits, no shuffling. Both libraries get the same number of
threads (``--threads``, default 1: the BLAS pool for NumPy, ``torch.set_num_threads``).

Run: ``python benchmarks/bench_cnn.py [--threads N] [--samples N] [--repeats N]``.
Prints both times (the best of ``--repeats`` epochs) and the ratio chainrule / PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch
from _epochs import chainrule_epoch, parser, report, torch_epoch
from threadpoolctl import threadpool_limits

import chainrule
from chainrule import keras


def chainrule_model(input_shape):
    chainrule.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input(input_shape), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def torch_model():
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
    )  # fmt: skip


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=args.samples)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, torch's layout
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads, user_api="blas"):
        ours = chainrule_epoch(chainrule_model(x.shape[1:]), x, y, 64, args.repeats)
        theirs = torch_epoch(torch_model(), torch.nn.CrossEntropyLoss(), xt, torch.from_numpy(y),
                             64, args.repeats)  # fmt: skip
    report(f"threads: {args.threads}, samples: {args.samples}, batch 64, one epoch", ours,
           theirs)  # fmt: skip


if __name__ == "__main__":
    main()
