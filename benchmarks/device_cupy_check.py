"""Which ops run on CuPy arrays: a device check, run where CuPy and a GPU are present.

For every row of the op table (``tests/ops/op_table.py``) and its first (shapes, kwargs) case,
the op runs forward and backward on CuPy arrays and on NumPy arrays, and the results are
compared (float32, rtol 1e-4). Also a dense + softmax cross-entropy training step on the GPU.
Prints one line per op and a summary; exits 0 whatever it finds (it maps the work a CuPy
backend still needs, it does not gate anything). Not part of ``make test``: CI has no GPU.

    python benchmarks/device_cupy_check.py
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "ops"))


def _to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def check_op(cr, cp, spec):
    shapes, kwargs = spec.cases[0]
    rng = np.random.default_rng(0)
    host = spec.sample(rng, shapes, np.float32)
    dev = [cp.asarray(a) for a in host]

    def run(arrays):
        ts = [cr.tensor(a, requires_grad=(i in spec.diff and a.dtype.kind == "f"))
              for i, a in enumerate(arrays)]  # fmt: skip
        out = spec.fn(*ts, **kwargs)
        wanted = [t for t in ts if t.requires_grad]
        grads = []
        if wanted and out.dtype.kind == "f" and out.size:
            grads = cr.grad(cr.sum(out), wanted)
        return out.data, grads

    ref_out, ref_grads = run(host)
    out, grads = run(dev)
    if type(out).__module__.split(".")[0] != "cupy":
        return f"forward returned {type(out).__name__}, not a CuPy array"
    np.testing.assert_allclose(_to_numpy(out), ref_out, rtol=1e-4, atol=1e-5)
    for g, rg in zip(grads, ref_grads, strict=True):
        if type(g).__module__.split(".")[0] != "cupy":
            return f"gradient is {type(g).__name__}, not a CuPy array"
        np.testing.assert_allclose(_to_numpy(g), rg, rtol=1e-4, atol=1e-5)
    return None


def training_step(cr, cp):
    """Dense + relu, dense, sparse softmax cross-entropy, SGD: ten steps on the GPU."""
    rng = np.random.default_rng(0)
    x = cp.asarray(rng.standard_normal((256, 32)).astype(np.float32))
    y = cp.asarray(rng.integers(0, 4, 256))
    w1 = cr.tensor(cp.asarray(rng.standard_normal((32, 64)).astype(np.float32) * 0.1),
                   requires_grad=True)  # fmt: skip
    b1 = cr.tensor(cp.zeros(64, np.float32), requires_grad=True)
    w2 = cr.tensor(cp.asarray(rng.standard_normal((64, 4)).astype(np.float32) * 0.1),
                   requires_grad=True)  # fmt: skip
    b2 = cr.tensor(cp.zeros(4, np.float32), requires_grad=True)
    losses = []
    for _ in range(10):
        h = cr.dense(x, w1, b1, activation="relu")
        loss = cr.mean(cr.sparse_softmax_cross_entropy(y, cr.dense(h, w2, b2)))
        grads = cr.grad(loss, [w1, b1, w2, b2])
        for p, g in zip((w1, b1, w2, b2), grads, strict=True):
            p.data -= 0.5 * g
        losses.append(float(_to_numpy(loss.data)))
    assert losses[-1] < losses[0], losses
    return losses


def main() -> int:
    import chainrule as cr  # noqa: PLC0415
    from chainrule import backend  # noqa: PLC0415

    cp = backend.use_cupy()
    print(f"CuPy {cp.__version__}, device {cp.cuda.runtime.getDeviceProperties(0)['name']}")
    from op_table import OPS  # noqa: PLC0415

    ok, failed = [], []
    for spec in OPS:
        try:
            problem = check_op(cr, cp, spec)
        except Exception as err:  # noqa: BLE001 - a map of failures, not a test
            problem = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
        if problem is None:
            ok.append(spec.name)
        else:
            failed.append((spec.name, problem))
            print(f"FAIL {spec.name}: {problem}")
    print(f"ops on CuPy: {len(ok)} pass, {len(failed)} fail of {len(OPS)}")
    print("pass:", " ".join(ok))
    try:
        losses = training_step(cr, cp)
        print(f"training step on the GPU: loss {losses[0]:.4f} -> {losses[-1]:.4f} in 10 steps")
    except Exception:  # noqa: BLE001
        print("training step on the GPU FAILED:")
        traceback.print_exc(limit=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
