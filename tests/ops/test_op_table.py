"""Every op in the table, every case: forward against NumPy (float32 and float64, dtype kept),
gradients against float64 central differences, and values and gradients against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from _harness import check_forward, check_grad_fd, check_torch, numpy_ref
from op_table import OPS, all_cases, case_id

import chainrule as cr

CASES = all_cases()
DIFF_CASES = all_cases(lambda s: s.differentiable)
TORCH_CASES = all_cases(lambda s: s.differentiable and s.torch_ref is not None)
DTYPES = ["float32", "float64"]


def _params(cases):
    return pytest.mark.parametrize(
        "spec,shapes,kw", cases, ids=[case_id(s, sh, kw) for s, sh, kw in cases]
    )


def _sample(spec, shapes, dtype, seed=0):
    return spec.sample(np.random.default_rng(seed), shapes, dtype)


@_params(CASES)
def test_forward_matches_numpy(spec, shapes, kw):
    for dtype in DTYPES:  # float32 in gives float32 out; float64 stays float64
        arrays = _sample(spec, shapes, dtype)
        numpy_ref(spec, arrays, kw)  # every case in the table is valid for NumPy
        check_forward(spec, arrays, kw, dtype)


@_params(DIFF_CASES)
def test_grad_matches_finite_differences(spec, shapes, kw):
    check_grad_fd(spec, _sample(spec, shapes, "float64"), kw)


@_params(TORCH_CASES)
def test_value_and_grad_match_torch(spec, shapes, kw):
    for dtype in DTYPES:
        check_torch(spec, _sample(spec, shapes, dtype, seed=1), kw, dtype)


def test_table_covers_the_spec():
    spec_ops = """add subtract multiply divide negative power exp log log1p expm1 sqrt square abs
    sign sin cos tanh sigmoid relu leaky_relu elu selu gelu softplus silu maximum minimum where
    clip sum mean max min prod var std logsumexp norm argmax argmin reshape transpose swapaxes
    broadcast_to expand_dims squeeze flatten concatenate stack split pad tile repeat getitem
    matmul tensordot einsum softmax log_softmax one_hot""".split()
    names = {s.name for s in OPS}
    assert not set(spec_ops) - names
    for name in spec_ops:
        assert hasattr(cr, name), name
    # every case set sweeps at least one 0-d or empty or size-1 input somewhere in the family
    shapes = [sh for s in OPS for sh, _ in s.cases for sh in sh]
    assert () in shapes and any(0 in s for s in shapes) and any(1 in s for s in shapes)


@pytest.mark.parametrize("name", ["argmax", "argmin", "one_hot"])
def test_nondifferentiable_ops_give_no_grad(name):
    x = cr.tensor([[0.3, 2.0, -1.0]], requires_grad=True)
    out = cr.one_hot(np.array([1, 2]), 3) if name == "one_hot" else getattr(cr, name)(x, axis=-1)
    assert not out.requires_grad
    assert out.dtype.kind == ("f" if name == "one_hot" else "i")
