"""Benchmark of the autodiff core against PyTorch (CPU), in one run on the same data.

(a) Per-op overhead: forward + backward of a chain of 10 elementwise ops (tanh, then multiply by
    a constant, alternating) on a 1-element tensor; reported per op in microseconds.
(b) A training step of a 2-layer MLP (Dense 100->64, relu, Dense 64->10, softmax cross-entropy
    from logits, plain SGD) on a 32x100 batch: chainrule core ops (``dense``, ``relu``,
    ``sparse_softmax_cross_entropy``, ``grad``), PyTorch, and hand-written NumPy (the floor).

Both libraries run on the same number of threads (``--threads``, default 1); the median of
``--repeats`` timings is reported. Target: chainrule's per-op time at most half of PyTorch's.

Usage: python benchmarks/bench_core.py [--threads 1] [--repeats 7] [--profile]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _set_threads(n: int) -> None:
    # NumPy's BLAS reads these at import time, so they are set before anything imports it.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def median_time(fn, number: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean seconds per call of ``fn`` over ``number`` calls."""
    fn()  # warm up (lazy imports, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    times.sort()
    return times[len(times) // 2]


def chain_cr(cr, n_ops=10):
    x = cr.tensor([0.5], requires_grad=True)

    def step():
        y = x
        for i in range(n_ops):
            y = cr.tanh(y) if i % 2 == 0 else y * 0.9
        return cr.grad(y, [x])[0]

    return step


def chain_torch(torch, n_ops=10):
    x = torch.tensor([0.5], requires_grad=True)

    def step():
        y = x
        for i in range(n_ops):
            y = torch.tanh(y) if i % 2 == 0 else y * 0.9
        return torch.autograd.grad(y, [x])[0]

    return step


def mlp_data(np, seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    params = [
        (rng.standard_normal((100, 64)) * 0.1).astype(f32), np.zeros(64, f32),
        (rng.standard_normal((64, 10)) * 0.1).astype(f32), np.zeros(10, f32),
    ]  # fmt: skip
    x = rng.standard_normal((32, 100)).astype(f32)
    y = rng.integers(0, 10, 32)
    return params, x, y


def mlp_cr(cr, np, lr=0.1):
    arrays, x, y = mlp_data(np)
    params = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    w1, b1, w2, b2 = params

    def step():
        h = cr.relu(cr.dense(x, w1, b1))
        loss = cr.mean(cr.sparse_softmax_cross_entropy(y, cr.dense(h, w2, b2)))
        for p, g in zip(params, cr.grad(loss, params), strict=True):
            p.data -= lr * g
        return loss

    return step


def mlp_torch(torch, np, lr=0.1):
    arrays, x, y = mlp_data(np)
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    w1, b1, w2, b2 = params
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    F = torch.nn.functional

    def step():
        h = torch.relu(torch.addmm(b1, tx, w1))
        loss = F.cross_entropy(torch.addmm(b2, h, w2), ty)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(lr * g)
        return loss

    return step


def mlp_numpy(np, lr=0.1):
    """The same step written by hand in NumPy: the floor any NumPy framework can reach."""
    (w1, b1, w2, b2), x, y = mlp_data(np)
    n = x.shape[0]
    rows = np.arange(n)

    def step():
        a = x @ w1 + b1
        h = np.maximum(a, 0)
        z = h @ w2 + b2
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - z[rows, y])
        dz = e / s
        dz[rows, y] -= 1
        dz /= n
        dw2, db2 = h.T @ dz, dz.sum(0)
        da = (dz @ w2.T) * (a > 0)
        dw1, db1 = x.T @ da, da.sum(0)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
            p -= lr * g
        return loss

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="cProfile the chainrule op chain")
    args = ap.parse_args(argv)
    _set_threads(args.threads)

    import numpy as np  # noqa: PLC0415 - after the thread variables are set
    import torch  # noqa: PLC0415

    import chainrule as cr  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    n_ops, reps = 10, args.repeats

    cr_chain = median_time(chain_cr(cr, n_ops), 2000, reps) / n_ops
    t_chain = median_time(chain_torch(torch, n_ops), 2000, reps) / n_ops
    cr_mlp = median_time(mlp_cr(cr, np), 300, reps)
    t_mlp = median_time(mlp_torch(torch, np), 300, reps)
    np_mlp = median_time(mlp_numpy(np), 300, reps)

    us = 1e6
    print(f"chainrule core vs PyTorch {torch.__version__} (CPU), NumPy {np.__version__}, "
          f"{args.threads} thread(s), median of {reps}\n")  # fmt: skip
    print("| benchmark | chainrule (us) | PyTorch (us) | NumPy floor (us) | chainrule / PyTorch |")
    print("|---|---:|---:|---:|---:|")
    print(f"| (a) per op, fwd+bwd, 1-element chain of {n_ops} | {cr_chain * us:.2f} | "
          f"{t_chain * us:.2f} | - | {cr_chain / t_chain:.2f} |")  # fmt: skip
    print(f"| (b) MLP 100-64-10 SGD step, batch 32 | {cr_mlp * us:.1f} | {t_mlp * us:.1f} | "
          f"{np_mlp * us:.1f} | {cr_mlp / t_mlp:.2f} |")  # fmt: skip
    ok = cr_chain <= 0.5 * t_chain
    print(f"\nTarget (a): chainrule per-op time <= 0.5 x PyTorch's: "
          f"{'met' if ok else 'NOT met'} ({cr_chain / t_chain:.2f}x).")  # fmt: skip

    if args.profile:
        import cProfile  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        step = chain_cr(cr, n_ops)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3000):
            step()
        prof.disable()
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
