"""Hypothesis sweeps over shapes: broadcastable pairs for binary ops, reduction axes, batched
matmul with broadcast batch axes. Each example checks the op-table row against NumPy, PyTorch
(values and gradients, float32 and float64) and float64 central differences."""

from __future__ import annotations

import numpy as np
import pytest
from _harness import check_forward, check_grad_fd, check_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_table import BY_NAME, OPS

SETTINGS = settings(
    max_examples=12, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip

BINARY = [s.name for s in OPS if "binary" in s.kinds]
REDUCTIONS = [s.name for s in OPS if "reduction" in s.kinds and s.name != "norm"]
UNARY = [s.name for s in OPS if "unary" in s.kinds]


def _check_all(spec, shapes, kw, seed):
    rng = np.random.default_rng(seed)
    for dtype in ("float32", "float64"):
        arrays = spec.sample(rng, shapes, dtype)
        check_forward(spec, arrays, kw, dtype)
        if spec.torch_ref is not None and spec.differentiable:
            check_torch(spec, arrays, kw, dtype)
    if spec.differentiable:
        check_grad_fd(spec, spec.sample(rng, shapes, "float64"), kw)


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0,
                                             max_side=3),  # fmt: skip
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting(name, shapes, seed):
    _check_all(BY_NAME[name], shapes.input_shapes, {}, seed)


@pytest.mark.parametrize("name", REDUCTIONS + ["norm"])
@SETTINGS
@given(data=st.data(), keepdims=st.booleans(), seed=st.integers(0, 2**16))
def test_reduction_axes(name, data, keepdims, seed):
    spec = BY_NAME[name]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    if name in ("argmax", "argmin"):
        axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    else:
        axis = data.draw(st.none() | hnp.valid_tuple_axes(len(shape), min_size=1))
    _check_all(spec, (shape,), {"axis": axis, "keepdims": keepdims}, seed)


@pytest.mark.parametrize("name", ["exp", "tanh", "gelu", "softplus", "sigmoid", "relu"])
@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_unary_any_shape(name, shape, seed):
    assert name in UNARY
    _check_all(BY_NAME[name], (shape,), {}, seed)


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4,
                                             min_side=1, max_side=3),  # fmt: skip
    seed=st.integers(0, 2**16),
)
def test_matmul_batched_broadcasting(shapes, seed):
    _check_all(BY_NAME["matmul"], shapes.input_shapes, {}, seed)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_softmax_any_axis(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    for name in ("softmax", "log_softmax"):
        _check_all(BY_NAME[name], (shape,), {"axis": axis}, seed)
