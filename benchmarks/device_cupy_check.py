"""Which ops run on CuPy arrays: a device check, run where CuPy and a GPU are present.

For every row of the op table (``tests/ops/op_table.py``) and its first ``--cases`` (shapes,
kwargs) cases (default 1), and for the convolution and pooling cases (``tests/ops/conv_cases.py``),
the op runs forward and backward on CuPy arrays and on NumPy arrays, and the results are
compared (float32, rtol 1e-4). Also a dense + softmax cross-entropy training step on the GPU,
and the time of a larger MLP step and of the benchmark CNN's step on the GPU and on the CPU. Prints
one line per failing op and a summary; exits 0 whatever it
finds (it maps the work a CuPy backend still needs, it does not gate anything). Not part of
``make test``: CI has no GPU; ``tests/ops/test_array_backend.py`` runs the same checks on a
CPU stand-in for CuPy arrays.

    python benchmarks/device_cupy_check.py [--cases N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "ops"))


def _to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def check_op(cr, cp, spec, shapes, kwargs):
    rng = np.random.default_rng(0)
    host = spec.sample(rng, shapes, np.float32)
    dev = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in host]

    def run(arrays):
        ts = [cr.tensor(a, requires_grad=(i in spec.diff and a.dtype.kind == "f"))
              for i, a in enumerate(arrays)]  # fmt: skip
        out = spec.fn(*ts, **kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]  # split gives a list
        wanted = [t for t in ts if t.requires_grad]
        live = [o for o in outs if o.requires_grad and o.size]
        grads = []
        if wanted and live:
            grads = cr.grad(sum(cr.sum(o) for o in live), wanted)
        return [o.data for o in outs], grads

    ref_outs, ref_grads = run(host)
    outs, grads = run(dev)
    for out, ref_out in zip(outs, ref_outs, strict=True):
        if not isinstance(out, cp.ndarray):
            return f"forward returned {type(out).__name__}, not a CuPy array"
        np.testing.assert_allclose(_to_numpy(out), ref_out, rtol=1e-4, atol=1e-5)
    for g, rg in zip(grads, ref_grads, strict=True):
        if not isinstance(g, cp.ndarray):
            return f"gradient is {type(g).__name__}, not a CuPy array"
        np.testing.assert_allclose(_to_numpy(g), rg, rtol=1e-4, atol=1e-5)
    return None


def mlp_step(cr, xp, sizes, batch, lr, scale):
    """One SGD step of an MLP (dense + relu layers, a dense output, sparse softmax
    cross-entropy) on ``xp``'s arrays, as a function returning the loss; weights drawn with
    standard deviation ``scale(fan_in)``, biases zero."""
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = xp.asarray(rng.integers(0, sizes[-1], batch))
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((a, b)).astype(np.float32) * np.float32(scale(a))
        params += [cr.tensor(xp.asarray(w), requires_grad=True),
                   cr.tensor(xp.zeros(b, np.float32), requires_grad=True)]  # fmt: skip

    def step():
        h = x
        for k in range(0, len(params) - 2, 2):
            h = cr.dense(h, params[k], params[k + 1], activation="relu")
        loss = cr.mean(cr.sparse_softmax_cross_entropy(y, cr.dense(h, params[-2], params[-1])))
        for p, g in zip(params, cr.grad(loss, params), strict=True):
            p.data -= np.float32(lr) * g
        return loss

    return step


def cnn_step(cr, xp, batch, lr=0.01):
    """One SGD step of the benchmark CNN (``benchmarks/tasks/cnn.py``: 28x28x1, conv 16 relu,
    pool, conv 32 relu, pool, dense 4) on ``xp``'s arrays, written with the ops."""
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.random((batch, 28, 28, 1), dtype=np.float32))
    y = xp.asarray(rng.integers(0, 4, batch))
    shapes = [(3, 3, 1, 16), (16,), (3, 3, 16, 32), (32,), (800, 4), (4,)]
    params = [cr.tensor(xp.asarray((rng.standard_normal(s) * 0.1).astype(np.float32)),
                        requires_grad=True) for s in shapes]  # fmt: skip

    def step():
        k1, b1, k2, b2, w, b = params
        h = cr.max_pool(cr.conv(x, k1, b1, activation="relu"), 2)
        h = cr.max_pool(cr.conv(h, k2, b2, activation="relu"), 2)
        logits = cr.dense(cr.reshape(h, (batch, -1)), w, b)
        loss = cr.mean(cr.sparse_softmax_cross_entropy(y, logits))
        for p, g in zip(params, cr.grad(loss, params), strict=True):
            p.data -= np.float32(lr) * g
        return loss

    return step


def training_step(cr, cp):
    """32-64-4, batch 256: ten steps on the GPU; the loss must fall."""
    step = mlp_step(cr, cp, (32, 64, 4), 256, 0.5, lambda fan_in: 0.1)
    losses = [float(_to_numpy(step().data)) for _ in range(10)]
    assert losses[-1] < losses[0], losses
    return losses


def step_time(cr, xp, sync, batch=1024, sizes=(784, 2048, 2048, 10), steps=30, step=None):
    """Seconds per training step of ``step`` (default :func:`mlp_step`, He-scaled weights) on
    ``xp``'s arrays."""
    if step is None:
        step = mlp_step(cr, xp, sizes, batch, 0.01, lambda fan_in: np.sqrt(2 / fan_in))
    for _ in range(3):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1, help="cases per op (default 1)")
    args = parser.parse_args()
    import chainrule as cr  # noqa: PLC0415
    from chainrule import backend  # noqa: PLC0415

    cp = backend.use_cupy()
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    print(f"CuPy {cp.__version__}, NumPy {np.__version__}, device {name}")
    from conv_cases import CONV_CASES  # noqa: PLC0415
    from op_table import OPS  # noqa: PLC0415

    rows = [(spec, spec.cases[: args.cases]) for spec in OPS]
    rows += [(case, [(case.shapes, {})]) for case in CONV_CASES]
    ok, failed = [], []
    start = time.perf_counter()
    n_cases = 0
    for spec, cases in rows:
        problems = []
        for shapes, kwargs in cases:
            n_cases += 1
            try:
                problem = check_op(cr, cp, spec, shapes, kwargs)
            except Exception as err:  # noqa: BLE001 - a map of failures, not a test
                problem = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
            if problem is not None:
                problems.append(f"{shapes} {kwargs}: {problem}")
        if not problems:
            ok.append(spec.name)
        else:
            failed.append(spec.name)
            print(f"FAIL {spec.name} ({len(problems)} cases), first: {problems[0]}")
    print(f"ops on CuPy: {len(ok)} pass, {len(failed)} fail of {len(rows)} "
          f"({n_cases} cases, {time.perf_counter() - start:.0f} s)")  # fmt: skip
    print("pass:", " ".join(ok))
    try:
        losses = training_step(cr, cp)
        print(f"training step on the GPU: loss {losses[0]:.4f} -> {losses[-1]:.4f} in 10 steps")
    except Exception:  # noqa: BLE001
        print("training step on the GPU FAILED:")
        traceback.print_exc(limit=4)
    try:
        gpu = step_time(cr, cp, cp.cuda.Device().synchronize)
        cpu = step_time(cr, np, lambda: None, steps=5)
        print(f"MLP 784-2048-2048-10, batch 1024, one training step: GPU {gpu * 1e3:.2f} ms, "
              f"this machine's CPU (NumPy) {cpu * 1e3:.1f} ms ({cpu / gpu:.0f}x)")
    except Exception:  # noqa: BLE001
        print("timing FAILED:")
        traceback.print_exc(limit=4)
    try:
        gpu = step_time(cr, cp, cp.cuda.Device().synchronize, step=cnn_step(cr, cp, 256))
        cpu = step_time(cr, np, lambda: None, steps=5, step=cnn_step(cr, np, 256))
        print(f"CNN (benchmarks/tasks/cnn.py), batch 256, one training step: GPU "
              f"{gpu * 1e3:.2f} ms, this machine's CPU (NumPy) {cpu * 1e3:.1f} ms "
              f"({cpu / gpu:.0f}x)")  # fmt: skip
    except Exception:  # noqa: BLE001
        print("CNN timing FAILED:")
        traceback.print_exc(limit=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
