"""The op table: every chainrule op with its NumPy and PyTorch references.

Each ``OpSpec`` row says how to call the chainrule op, the NumPy forward reference (run in
float64), the PyTorch reference (autograd gives the reference gradient), which positional
arguments are differentiable, how to sample each argument (domains keep log/sqrt positive and
keep inputs away from kinks such as relu at 0 or ties in max), and the (shapes, kwargs) cases to
sweep. ``test_op_table.py`` and ``test_op_shapes_hypothesis.py`` drive every test from it
(the idea of Chainer's ``FunctionTestCase`` and PyTorch's OpInfo).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from _refs import (
    _np_gelu,
    _np_lse,
    _np_norm,
    _np_sigmoid,
    _np_softmax,
    _np_split,
    _t_expand,
    _t_index,
    _t_norm,
    _t_pad,
    _t_prod,
    _t_split,
    _tdim,
)

import chainrule as cr

# -- input domains: rng, shape, float dtype -> array ---------------------------------------


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def positive(rng, shape, dtype):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


def away0(rng, shape, dtype):
    """Magnitudes in [0.2, 2): away from the kink at 0 (relu, abs, elu, ...)."""
    mag = rng.uniform(0.2, 2.0, shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag).astype(dtype)


def grid(offset):
    """Values on the grid ``0.3 k + offset``: two grids with different offsets never tie."""

    def sample(rng, shape, dtype):
        return (0.3 * rng.integers(-5, 6, shape) + offset).astype(dtype)

    return sample


def distinct(rng, shape, dtype):
    """All values distinct, at least 0.1 apart (max/min/argmax reductions have no ties)."""
    n = int(np.prod(shape))
    return (0.1 * rng.permutation(n) - 0.05 * n).reshape(shape).astype(dtype)


def unit(rng, shape, dtype):
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


def above_m1(rng, shape, dtype):
    return rng.uniform(-0.5, 2.0, shape).astype(dtype)


def clip_safe(rng, shape, dtype):
    """Grid ``0.25 k + 0.125``: never equal to the clip bounds -0.5 or 0.5."""
    return (0.25 * rng.integers(-6, 6, shape) + 0.125).astype(dtype)


def boolean(rng, shape, dtype):
    return rng.random(shape) < 0.5


def labels(num_classes):
    def sample(rng, shape, dtype):
        return rng.integers(0, num_classes, shape)

    return sample


# -- the row -------------------------------------------------------------------------------


@dataclass
class OpSpec:
    """One op: chainrule function, references, domains, differentiable args and cases.

    ``cases`` is a list of ``(shapes, kwargs)``: one shape per positional argument.
    """

    name: str
    fn: object
    np_ref: object
    torch_ref: object | None
    domains: tuple
    cases: list
    diff: tuple = (0,)
    out_float: bool = True  # the result has the float dtype of the inputs
    rtol32: float = 2e-5
    torch_rtol64: float = 1e-9
    kinds: tuple = field(default_factory=tuple)  # "unary", "binary", "reduction"

    @property
    def differentiable(self) -> bool:
        return bool(self.diff)

    def sample(self, rng, shapes, dtype):
        # np.array: a 0-d draw comes back as a NumPy scalar; tests need a writable array.
        pairs = zip(self.domains, shapes, strict=True)
        return [np.array(d(rng, s, dtype)) for d, s in pairs]


def _ids(shapes, kw):
    text = ",".join("x".join(map(str, s)) or "0d" for s in shapes)
    if kw:
        text += "-" + ",".join(f"{k}={_short(v)}" for k, v in kw.items())
    return text


def _short(v):
    if isinstance(v, np.ndarray):
        return f"arr{v.shape}"
    if isinstance(v, tuple):
        return "(" + ",".join(_short(x) for x in v) + ")"
    if isinstance(v, slice):
        return f"{v.start}:{v.stop}:{v.step}"
    return str(v)


def case_id(spec, shapes, kw):
    return f"{spec.name}[{_ids(shapes, kw)}]"


# -- shared shape sweeps -------------------------------------------------------------------

UNARY_SHAPES = [(), (1,), (3,), (2, 3), (1, 4), (2, 1, 3), (0,), (2, 0)]
BINARY_SHAPES = [
    ((), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((), (2, 3)),
    ((2, 3), ()), ((1,), (2, 2)), ((2, 1, 3), (4, 1)), ((0, 3), (3,)), ((0,), ()), ((1, 0), (3, 1)),
]  # fmt: skip
RED_SHAPES = [(2, 3, 4), (3,), (1, 4), (0, 3), ()]


def red_cases(empty_reduce_ok=True, nonempty=False):
    """Axis None / int / negative / tuple, keepdims False and True, over RED_SHAPES."""
    out = []
    for shape in RED_SHAPES:
        nd = len(shape)
        axes = [None] + ([0, -1] if nd else []) + ([(0, 2), (-1, 0)] if nd == 3 else [])
        for axis in axes:
            if 0 in shape:
                red = range(nd) if axis is None else [a % nd for a in np.atleast_1d(axis)]
                if not empty_reduce_ok and any(shape[a] == 0 for a in red):
                    continue
            if nonempty and 0 in shape:
                continue
            for keepdims in (False, True):
                out.append(((shape,), {"axis": axis, "keepdims": keepdims}))
    return out


def unary(shapes=UNARY_SHAPES, variants=({},)):
    return [((s,), dict(v)) for s in shapes for v in variants]


def binary(shapes=BINARY_SHAPES):
    return [(pair, {}) for pair in shapes]


def _ew(name, np_ref, t_ref, domain=normal, variants=({},), shapes=UNARY_SHAPES, **kw):
    return OpSpec(name, getattr(cr, name), np_ref, t_ref, (domain,), unary(shapes, variants),
                  kinds=("unary",), **kw)  # fmt: skip


def _bin(name, np_ref, t_ref, domains=(normal, normal), **kw):
    return OpSpec(name, getattr(cr, name), np_ref, t_ref, domains, binary(), diff=(0, 1),
                  kinds=("binary",), **kw)  # fmt: skip


def _red(name, np_ref, t_ref, domain=normal, empty_reduce_ok=True, **kw):
    return OpSpec(name, getattr(cr, name), np_ref, t_ref, (domain,), red_cases(empty_reduce_ok),
                  kinds=("reduction",), **kw)  # fmt: skip


ELEMENTWISE = [
    _bin("add", np.add, torch.add),
    _bin("subtract", np.subtract, torch.sub),
    _bin("multiply", np.multiply, torch.mul),
    _bin("divide", np.divide, torch.div, domains=(normal, away0)),
    _bin("power", np.power, torch.pow, domains=(positive, normal)),
    _bin("maximum", np.maximum, torch.maximum, domains=(grid(0.0), grid(0.15))),
    _bin("minimum", np.minimum, torch.minimum, domains=(grid(0.0), grid(0.15))),
    OpSpec("where", cr.where, np.where, torch.where, (boolean, normal, normal),
           [(s, {}) for s in [((3,), (3,), (3,)), ((2, 3), (3,), ()), ((2, 1), (1, 3), (2, 3)),
                              ((), (2,), (2,)), ((0, 2), (2,), (1,))]],
           diff=(1, 2)),  # fmt: skip
    OpSpec("clip", cr.clip, lambda x, x_min, x_max: np.clip(x, x_min, x_max),
           lambda x, x_min, x_max: torch.clamp(x, x_min, x_max), (clip_safe,),
           unary(variants=({"x_min": -0.5, "x_max": 0.5},)), kinds=("unary",)),
    _ew("negative", np.negative, torch.neg),
    _ew("exp", np.exp, torch.exp),
    _ew("log", np.log, torch.log, positive),
    _ew("log1p", np.log1p, torch.log1p, above_m1),
    _ew("expm1", np.expm1, torch.expm1),
    _ew("sqrt", np.sqrt, torch.sqrt, positive),
    _ew("square", np.square, torch.square),
    _ew("abs", np.abs, torch.abs, away0),
    _ew("sign", np.sign, torch.sign, away0),
    _ew("sin", np.sin, torch.sin),
    _ew("cos", np.cos, torch.cos),
    _ew("tan", np.tan, torch.tan, unit),
    _ew("tanh", np.tanh, torch.tanh),
    _ew("sigmoid", _np_sigmoid, torch.sigmoid),
    _ew("relu", lambda x: np.maximum(x, 0), torch.relu, away0),
    _ew("leaky_relu", lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
        lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope), away0,
        variants=({}, {"negative_slope": 0.2})),  # fmt: skip
    _ew("elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
        lambda x, alpha=1.0: F.elu(x, alpha), away0, variants=({}, {"alpha": 0.5})),
    _ew("selu", lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))), F.selu, away0),
    _ew("gelu", _np_gelu,
        lambda x, approximate=False: F.gelu(x, approximate="tanh" if approximate else "none"),
        variants=({}, {"approximate": True}, {"approximate": False})),  # fmt: skip
    _ew("softplus", lambda x: np.logaddexp(0, x), F.softplus),
    _ew("silu", lambda x: x * _np_sigmoid(x), F.silu),
    _ew("softsign", lambda x: x / (1 + np.abs(x)), F.softsign),
    # torch's float64 hardsigmoid backward multiplies by the float32 constant 1.0f / 6.0f
    # (relative error 3e-8); chainrule's is exact, as finite differences confirm.
    _ew("hard_sigmoid", lambda x: np.clip(x / 6 + 0.5, 0, 1), F.hardsigmoid, away0,
        torch_rtol64=1e-7),
]

REDUCTIONS = [
    _red("sum", np.sum, lambda x, axis=None, keepdims=False: torch.sum(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims)),  # fmt: skip
    _red("mean", np.mean, lambda x, axis=None, keepdims=False: torch.mean(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims)),  # fmt: skip
    _red("max", np.max, lambda x, axis=None, keepdims=False: torch.amax(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims), distinct, empty_reduce_ok=False),
    _red("min", np.min, lambda x, axis=None, keepdims=False: torch.amin(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims), distinct, empty_reduce_ok=False),
    _red("prod", np.prod, _t_prod, away0),
    _red("var", np.var, lambda x, axis=None, keepdims=False: torch.var(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims, correction=0), rtol32=1e-4),
    _red("std", np.std, lambda x, axis=None, keepdims=False: torch.std(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims, correction=0), rtol32=1e-4),
    _red("logsumexp", _np_lse, lambda x, axis=None, keepdims=False: torch.logsumexp(
        x, dim=_tdim(axis, x.ndim), keepdim=keepdims), empty_reduce_ok=True),
    OpSpec("norm", cr.norm, _np_norm, _t_norm, (away0,),
           [(s, dict(kw, ord=None)) for s, kw in red_cases()]
           + [(s, dict(kw, ord=o)) for s, kw in red_cases() for o in (1, np.inf)
              if s[0] in ((2, 3, 4), (1, 4))], kinds=("reduction",)),  # fmt: skip
    _red("argmax", np.argmax, None, distinct, diff=(), out_float=False,
         empty_reduce_ok=False),
    _red("argmin", np.argmin, None, distinct, diff=(), out_float=False,
         empty_reduce_ok=False),
]
# argmax/argmin take a single axis (or None), as NumPy.
for _spec in REDUCTIONS[-2:]:
    _spec.cases = [c for c in _spec.cases if not isinstance(c[1]["axis"], tuple)]

_S = (2, 3, 4)
SHAPE_OPS = [
    OpSpec("reshape", cr.reshape, np.reshape, torch.reshape, (normal,),
           [((_S,), {"shape": (6, 4)}), ((_S,), {"shape": (-1,)}), (((), ), {"shape": (1, 1)}),
            (((0, 3),), {"shape": (3, 0)}), (((4,),), {"shape": (2, -1)})]),  # fmt: skip
    OpSpec("transpose", cr.transpose, np.transpose,
           lambda x, axes=None: x.permute(tuple(axes or range(x.ndim)[::-1])), (normal,),
           [((_S,), {}), ((_S,), {"axes": (1, 2, 0)}), ((_S,), {"axes": (-1, 0, 1)}),
            (((3,),), {}), (((),), {}), (((0, 2),), {})]),  # fmt: skip
    OpSpec("swapaxes", cr.swapaxes, np.swapaxes,
           lambda x, axis1, axis2: torch.swapaxes(x, axis1, axis2), (normal,),
           [((_S,), {"axis1": 0, "axis2": 2}), (((2, 3),), {"axis1": -1, "axis2": 0})]),
    OpSpec("broadcast_to", cr.broadcast_to, np.broadcast_to,
           lambda x, shape: torch.broadcast_to(x, shape), (normal,),
           [(((3,),), {"shape": (2, 3)}), (((2, 1),), {"shape": (2, 4)}),
            (((),), {"shape": (2, 2)}), (((1, 3),), {"shape": (0, 3)}),
            (((2, 1, 1),), {"shape": (3, 2, 4, 5)})]),  # fmt: skip
    OpSpec("expand_dims", cr.expand_dims, np.expand_dims, _t_expand, (normal,),
           [(((2, 3),), {"axis": 0}), (((2, 3),), {"axis": -1}), (((2, 3),), {"axis": (0, 2)}),
            (((),), {"axis": 0})]),  # fmt: skip
    OpSpec("squeeze", cr.squeeze, np.squeeze,
           lambda x, axis=None: torch.squeeze(x) if axis is None else torch.squeeze(x, axis),
           (normal,), [(((1, 3, 1),), {}), (((1, 3, 1),), {"axis": 0}),
                       (((1, 3, 1),), {"axis": (0, 2)}), (((1,),), {})]),  # fmt: skip
    OpSpec("flatten", cr.flatten, lambda x: x.reshape(-1), lambda x: x.reshape(-1), (normal,),
           unary([(), (3,), _S, (0, 2)])),
    OpSpec("concatenate", lambda *xs, axis=0: cr.concatenate(list(xs), axis=axis),
           lambda *xs, axis=0: np.concatenate(xs, axis), lambda *xs, axis=0: torch.cat(xs, axis),
           (normal, normal, normal),
           [(((2, 3), (1, 3), (4, 3)), {}), (((2, 3), (2, 1), (2, 0)), {"axis": -1}),
            (((3,), (2,), (1,)), {"axis": 0})], diff=(0, 1, 2)),  # fmt: skip
    OpSpec("stack", lambda *xs, axis=0: cr.stack(list(xs), axis=axis),
           lambda *xs, axis=0: np.stack(xs, axis), lambda *xs, axis=0: torch.stack(xs, axis),
           (normal, normal), [(((2, 3),) * 2, {}), (((2, 3),) * 2, {"axis": -1}),
                              (((),) * 2, {}), (((0, 2),) * 2, {"axis": 1})], diff=(0, 1)),
    OpSpec("split", cr.split, _np_split, _t_split, (normal,),
           [(((6, 2),), {"indices_or_sections": 3}), (((2, 5),), {"indices_or_sections": [1, 3],
             "axis": 1}), (((4,),), {"indices_or_sections": [0, 2]})]),  # fmt: skip
    OpSpec("pad", cr.pad, np.pad, _t_pad, (normal,),
           [(((2, 3),), {"pad_width": ((1, 0), (2, 1))}), (((3,),), {"pad_width": 2}),
            (((2, 2),), {"pad_width": ((0, 1), (1, 1)), "constant_values": 1.5})]),  # fmt: skip
    OpSpec("tile", cr.tile, np.tile, lambda x, reps: torch.tile(x, (reps,) if isinstance(
        reps, int) else reps), (normal,),
           [(((2, 3),), {"reps": (2, 1)}), (((3,),), {"reps": 2}), (((2,),), {"reps": (2, 1, 3)}),
            (((2, 3),), {"reps": (3,)})]),  # fmt: skip
    OpSpec("repeat", cr.repeat, np.repeat,
           lambda x, repeats, axis=None: torch.repeat_interleave(
               x, torch.as_tensor(repeats), dim=axis), (normal,),
           [(((2, 3),), {"repeats": 2, "axis": 1}), (((2, 3),), {"repeats": 3}),
            (((3,),), {"repeats": np.array([1, 0, 2]), "axis": 0})]),  # fmt: skip
    OpSpec("getitem", lambda x, index: x[index], lambda x, index: x[index],
           lambda x, index: x[_t_index(index)], (normal,),
           [((_S,), {"index": 1}), ((_S,), {"index": (slice(None), slice(1, None, 2))}),
            ((_S,), {"index": (Ellipsis, 0)}), ((_S,), {"index": (None, 0, slice(None), None)}),
            ((_S,), {"index": np.array([0, 1, 0, 0])}),
            ((_S,), {"index": (slice(None), np.array([2, 0, 2]))}),
            ((_S,), {"index": (np.array([1, 1]), np.array([0, 0]), np.array([3, 3]))}),
            (((3, 2),), {"index": np.array([True, False, True])}),
            (((3, 2),), {"index": np.array([[True, False], [False, False], [True, True]])}),
            (((4,),), {"index": -1}), (((4,),), {"index": np.array([], dtype=int)})]),  # fmt: skip
]

LINALG = [
    OpSpec("matmul", cr.matmul, np.matmul, torch.matmul, (normal, normal),
           [(s, {}) for s in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                              ((2, 2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)),
                              ((2, 1, 2, 3), (3, 3, 4)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]],
           diff=(0, 1)),  # fmt: skip
    OpSpec("tensordot", cr.tensordot, np.tensordot,
           lambda a, b, axes=2: torch.tensordot(a, b, dims=axes), (normal, normal),
           [(((2, 3, 4), (3, 4, 2)), {}), (((2, 3), (3, 4)), {"axes": 1}),
            (((2, 3, 4), (4, 2, 3)), {"axes": ([1, 2], [2, 0])}), (((2,), (3,)), {"axes": 0})],
           diff=(0, 1)),  # fmt: skip
    OpSpec("einsum", lambda *xs, subscripts: cr.einsum(subscripts, *xs),
           lambda *xs, subscripts: np.einsum(subscripts, *xs),
           lambda *xs, subscripts: torch.einsum(subscripts, *xs), (normal, normal),
           [(((2, 3), (3, 4)), {"subscripts": "ij,jk->ik"}),
            (((2, 3, 4), (2, 4, 5)), {"subscripts": "bij,bjk->bik"}),
            (((2, 3), (2, 3)), {"subscripts": "ij,ij->"}),
            (((2, 3), (4,)), {"subscripts": "ij,k->ijk"}),
            (((2, 3), (3, 5)), {"subscripts": "ij,jk"}),
            (((2, 2, 3), (3, 4)), {"subscripts": "...j,jk->...k"}),
            (((2, 3), (3,)), {"subscripts": "ij,j->i"})], diff=(0, 1)),  # fmt: skip
]


NN = [
    OpSpec("softmax", cr.softmax, _np_softmax, lambda x, axis=-1: torch.softmax(x, axis),
           (normal,), unary([(3,), (2, 3), (1, 1), (2, 3, 4), (0, 3)], ({}, {"axis": 0}))),
    OpSpec("log_softmax", cr.log_softmax, lambda x, axis=-1: x - _np_lse(x, axis, True),
           lambda x, axis=-1: torch.log_softmax(x, axis), (normal,),
           unary([(3,), (2, 3), (1, 1), (2, 3, 4), (0, 3)], ({}, {"axis": 0}))),
    OpSpec("one_hot", cr.one_hot, lambda i, num_classes: np.eye(num_classes)[i], None,
           (labels(4),), [(((5,),), {"num_classes": 4}), (((2, 3),), {"num_classes": 4}),
                          (((0,),), {"num_classes": 4})], diff=(), out_float=False),
]

OPS = ELEMENTWISE + REDUCTIONS + SHAPE_OPS + LINALG + NN
BY_NAME = {spec.name: spec for spec in OPS}


def all_cases(filter_fn=lambda spec: True):
    """``(spec, shapes, kwargs)`` for every case of every op passing ``filter_fn``."""
    return [(spec, shapes, kw) for spec in OPS if filter_fn(spec) for shapes, kw in spec.cases]
