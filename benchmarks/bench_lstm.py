"""Speed of an LSTM training epoch: chainrule against PyTorch, same run, same data.

Model: LSTM(64) over sequences of 20 steps with 16 features -> Dense(1); one epoch over
10,000 random sequences, batch 64, Adam(1e-3), mean squared error, no shuffling. Both
libraries get the same number of threads (``--threads``, default 1: the BLAS pool for NumPy,
``torch.set_num_threads``). PyTorch runs its fused ``nn.LSTM`` (the CPU kernel).

Run: ``python benchmarks/bench_lstm.py [--threads N] [--samples N] [--repeats N] [--profile]``.
Prints both times (the best of ``--repeats`` epochs) and the ratio chainrule / PyTorch.
"""

from __future__ import annotations

import cProfile
import pstats

import numpy as np
import torch
from _epochs import chainrule_epoch, parser, report, torch_epoch
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


class TorchLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
        self.head = torch.nn.Linear(UNITS, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true", help="print chainrule's profile")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, STEPS, FEATURES), dtype=np.float32)
    y = np.tanh(x[:, -5:, :2].sum(axis=(1, 2)))[:, None].astype(np.float32)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads, user_api="blas"):
        model = chainrule_model()
        ours = chainrule_epoch(model, x, y, BATCH, args.repeats)
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(model.fit, x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)
        torch.manual_seed(0)
        theirs = torch_epoch(TorchLSTM(), torch.nn.MSELoss(), torch.from_numpy(x),
                             torch.from_numpy(y), BATCH, args.repeats)  # fmt: skip
    report(f"threads: {args.threads}, samples: {args.samples}, LSTM({UNITS}) over {STEPS} "
           f"steps x {FEATURES} features, batch {BATCH}, one epoch", ours, theirs)  # fmt: skip


if __name__ == "__main__":
    main()
