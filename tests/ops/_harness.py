"""The checks every op-table test runs: forward against NumPy, gradients against float64
central differences and against PyTorch autograd. Shared by the table-driven tests and the
hypothesis shape sweeps."""

from __future__ import annotations

import warnings

import numpy as np
import torch

import chainrule as cr

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared machine
FD_EPS = 1e-6


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def call_cr(spec, arrays, kw, requires_grad=False):
    """Run the chainrule op on fresh tensors; returns (tensors, list of output Tensors)."""
    ts = [cr.tensor(a, requires_grad=requires_grad and i in spec.diff)
          for i, a in enumerate(arrays)]  # fmt: skip
    return ts, as_list(spec.fn(*ts, **kw))


def numpy_ref(spec, arrays, kw):
    """The NumPy reference in float64, or the exception NumPy raises."""
    a64 = [a.astype(np.float64) if is_float(a) else a for a in arrays]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [np.asarray(r) for r in as_list(spec.np_ref(*a64, **kw))]


def tolerances(spec, dtype):
    return (spec.rtol32, spec.rtol32) if np.dtype(dtype) == np.float32 else (1e-10, 1e-12)


def assert_close(got, ref, rtol, atol, what):
    """``|got - ref| <= atol * max(1, max|ref|) + rtol * |ref|``, NaN and inf matching exactly.

    Checked with plain NumPy first (``assert_allclose`` is slow); on failure it reports.
    """
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.max(np.abs(ref[finite]), initial=0.0)))
    with np.errstate(invalid="ignore", over="ignore"):
        ok = (np.abs(got - ref) <= atol * scale + rtol * np.abs(ref)) | (got == ref)
        ok |= np.isnan(got) & np.isnan(ref)
    if not ok.all():
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * scale, equal_nan=True,
                                   err_msg=what)  # fmt: skip
        raise AssertionError(f"{what}: {got} != {ref}")  # pragma: no cover


def projections(outs, seed=1):
    """A fixed random upstream gradient for each output (checks non-scalar outputs fully)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]


def check_forward(spec, arrays, kw, dtype):
    ref = numpy_ref(spec, arrays, kw)
    _, outs = call_cr(spec, arrays, kw)
    assert len(outs) == len(ref)
    rtol, atol = tolerances(spec, dtype)
    for k, (o, r) in enumerate(zip(outs, ref, strict=True)):
        assert isinstance(o, cr.Tensor)
        if spec.out_float:
            assert o.dtype == np.dtype(dtype), f"output {k}: dtype {o.dtype}, input {dtype}"
        assert_close(o.data, r, rtol, atol, f"{spec.name} output {k}")


def fd_gradients(spec, arrays, kw, ws):
    """float64 central differences of ``sum_k sum(w_k * out_k)`` for each differentiable arg."""
    arrays = [a.copy() for a in arrays]

    def f():
        with cr.no_grad():
            outs = as_list(spec.fn(*[cr.tensor(a) for a in arrays], **kw))
        pairs = zip(outs, ws, strict=True)
        return sum(float(np.sum(o.data.astype(np.float64) * w)) for o, w in pairs)

    grads = []
    for i in spec.diff:
        a = arrays[i]
        g = np.zeros_like(a, dtype=np.float64)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + FD_EPS
            fp = f()
            flat[j] = orig - FD_EPS
            fm = f()
            flat[j] = orig
            gflat[j] = (fp - fm) / (2 * FD_EPS)
        grads.append(g)
    return grads


def cr_gradients(spec, arrays, kw, ws=None):
    ts, outs = call_cr(spec, arrays, kw, requires_grad=True)
    ws = projections(outs) if ws is None else ws
    wanted = [ts[i] for i in spec.diff]
    return outs, ws, cr.grad(outs, wanted, ws)


def check_grad_fd(spec, arrays, kw):
    outs, ws, grads = cr_gradients(spec, arrays, kw)
    numeric = fd_gradients(spec, arrays, kw, ws)
    for i, g, n in zip(spec.diff, grads, numeric, strict=True):
        assert g.shape == arrays[i].shape, f"{spec.name}: grad {i} shape {g.shape}"
        assert g.dtype == arrays[i].dtype
        assert_close(g, n, 1e-5, 1e-6, f"{spec.name} d/d arg {i} vs finite differences")


def torch_run(spec, arrays, kw, ws):
    """PyTorch forward outputs and gradients (None for unused inputs) on the same arrays."""
    ts = []
    for i, a in enumerate(arrays):
        t = torch.from_numpy(np.array(a))
        if i in spec.diff:
            t.requires_grad_(True)
        ts.append(t)
    with warnings.catch_warnings():  # torch warns on var/std of an empty reduction
        warnings.simplefilter("ignore", UserWarning)
        outs = as_list(spec.torch_ref(*ts, **kw))
    wanted = [ts[i] for i in spec.diff]
    go = [torch.from_numpy(np.array(w)) for w in ws]
    pairs = [(o, g) for o, g in zip(outs, go, strict=True) if o.requires_grad]
    if pairs and wanted:
        grads = torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                    allow_unused=True)  # fmt: skip
    else:
        grads = [None] * len(wanted)
    return [o.detach().numpy() for o in outs], grads


def check_torch(spec, arrays, kw, dtype):
    outs, ws, grads = cr_gradients(spec, arrays, kw)
    t_outs, t_grads = torch_run(spec, arrays, kw, ws)
    if np.dtype(dtype) == np.float32:
        rtol, atol = 1e-4, 1e-5
    else:
        rtol, atol = spec.torch_rtol64, spec.torch_rtol64 / 100
    for k, (o, t) in enumerate(zip(outs, t_outs, strict=True)):
        assert_close(o.data, t, rtol, atol, f"{spec.name} output {k} vs torch")
    for i, g, tg in zip(spec.diff, grads, t_grads, strict=True):
        assert g.shape == arrays[i].shape and g.dtype == arrays[i].dtype
        ref = np.zeros(arrays[i].shape) if tg is None else tg.numpy()
        assert_close(g, ref, rtol, atol, f"{spec.name} d/d arg {i} vs torch")
