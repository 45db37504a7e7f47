"""keras.activations against real Keras 3.15.1 on torch: values, and gradients through torch
autograd (Keras's activation applied to a torch tensor), plus float64 finite differences."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras import activations  # noqa: E402

GRID = np.array(
    [0.0, 1e-3, -1e-3, 0.3, -0.3, 0.7, -0.7, 1.5, -1.5, 2.5, -2.5, 4.0, -4.0, 7.5, -7.5,
     20.0, -20.0, 1000.0, -1000.0, 0.05],
    dtype=np.float32,
)  # fmt: skip
# Kinks of the piecewise activations: the subgradient conventions must match torch's.
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 2.0], dtype=np.float32)
WEIGHTS = np.random.default_rng(0).uniform(0.5, 1.5, size=(2, 10)).astype(np.float32)

# (name, kwargs): every Keras activation, plus non-default arguments.
CASES = [
    ("relu", {}), ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 6.0}),
    ("relu", {"max_value": 1.5}), ("relu", {"threshold": 1.0}),
    ("relu", {"negative_slope": 0.1, "max_value": 6.0}),
    ("relu", {"negative_slope": 0.2, "max_value": 2.0, "threshold": 0.5}),
    ("relu", {"max_value": 6.0, "threshold": 1.0}),
    ("relu", {"negative_slope": 0.1, "threshold": -1.0}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.05}), ("relu6", {}),
    ("sigmoid", {}), ("tanh", {}), ("softmax", {}), ("softmax", {"axis": 0}), ("log_softmax", {}),
    ("log_softmax", {"axis": 0}), ("linear", {}), ("elu", {}), ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {}), ("celu", {"alpha": 2.0}), ("gelu", {}), ("gelu", {"approximate": True}),
    ("softplus", {}), ("softsign", {}), ("silu", {}), ("swish", {}), ("hard_sigmoid", {}),
    ("hard_silu", {}), ("hard_swish", {}), ("mish", {}), ("hard_tanh", {}), ("tanh_shrink", {}),
    ("soft_shrink", {}), ("soft_shrink", {"threshold": 1.0}), ("hard_shrink", {}),
    ("hard_shrink", {"threshold": 1.0}), ("sparse_plus", {}), ("sparse_sigmoid", {}),
    ("squareplus", {}), ("squareplus", {"b": 1}), ("log_sigmoid", {}), ("glu", {}),
    ("glu", {"axis": 0}), ("threshold", {"threshold": 0.5, "default_value": -2.0}),
]  # fmt: skip
IDS = [n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in CASES]


def ours_value_and_grad(name, kwargs, x, w):
    xc = cr.tensor(x, requires_grad=True)
    out = getattr(activations, name)(xc, **kwargs)
    g = cr.grad((out * w[..., : out.shape[-1]]).sum(), [xc])[0]
    return out.numpy(), g


def keras_value_and_grad(name, kwargs, x, w):
    xt = torch.tensor(x, requires_grad=True)
    out = getattr(keras.activations, name)(xt, **kwargs)
    (out * torch.tensor(w[..., : out.shape[-1]])).sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


def assert_close(actual, desired, rtol, atol, slack=0.0):
    err = np.abs(actual.astype(np.float64) - desired)
    bound = rtol * np.abs(desired) + atol + slack
    ok = (err <= bound) | (actual == desired)
    assert ok.all(), f"at {np.argwhere(~ok).tolist()}: {actual[~ok]} vs {desired[~ok]}"


def check(name, kwargs, x, rtol, atol, grad_rtol=None):
    w = WEIGHTS[: x.shape[0], : x.shape[-1]].astype(x.dtype)
    val, grad = ours_value_and_grad(name, kwargs, x, w)
    kval, kgrad = keras_value_and_grad(name, kwargs, x, w)
    assert val.dtype == kval.dtype and val.shape == kval.shape
    vslack = gslack = 0.0
    if x.dtype == np.float32:
        # NOTE: where Keras's own float32 result is off from its float64 result (cancellation
        # in 1 - tanh**2, 1 + erf near -1), we may differ from it by as much, plus atol.
        kval64, kgrad64 = keras_value_and_grad(name, kwargs, x.astype(np.float64), w)
        vslack, gslack = np.abs(kval - kval64), np.abs(kgrad - kgrad64)
    assert_close(val, kval, rtol, atol, vslack)
    assert_close(grad, kgrad, grad_rtol or rtol, atol, gslack)


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_float32_matches_keras(name, kwargs):
    # NOTE: atol 2.5e-7 = two float32 ulps of an O(1) intermediate: results that are a small
    # difference of O(1) terms (the elu/selu gradient out + alpha at x = -4) carry that much.
    check(name, kwargs, GRID.reshape(2, 10), rtol=1e-6, atol=2.5e-7)


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_float64_matches_keras_tightly(name, kwargs):
    # In float64 rounding is negligible, so this checks that the formulas are the same.
    # torch's hardsigmoid backward multiplies by float32(1/6) even in float64 (3e-8 off).
    grad_rtol = 1e-7 if name in ("hard_sigmoid", "hard_silu", "hard_swish") else 1e-9
    check(name, kwargs, GRID.reshape(2, 10).astype(np.float64), 1e-10, 1e-12, grad_rtol)


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_subgradients_at_kinks_match_torch(name, kwargs):
    check(name, kwargs, np.stack([KINKS, -KINKS]), rtol=1e-6, atol=2.5e-7)


def test_relu_gradient_at_zero_is_zero():
    x = cr.tensor([0.0, 1.0, -1.0], requires_grad=True)
    np.testing.assert_array_equal(cr.grad(activations.relu(x).sum(), [x])[0], [0.0, 1.0, 0.0])


def test_exponential_matches_keras_where_finite():
    x = np.array([[-80.0, -1.0, 0.0, 1e-3, 2.0, 80.0]], dtype=np.float32)
    w = np.ones_like(x)
    val, grad = ours_value_and_grad("exponential", {}, x, w)
    kval, kgrad = keras_value_and_grad("exponential", {}, x, w)
    np.testing.assert_allclose(val, kval, rtol=1e-6)
    np.testing.assert_allclose(grad, kgrad, rtol=1e-6)


@pytest.mark.parametrize(
    "name", sorted(set(activations.ALL_OBJECTS_DICT) - {"exponential", "threshold"})
)
def test_finite_value_and_gradient_at_plus_minus_1000(name):
    x = cr.tensor([[1000.0, 0.0, -1000.0, 3.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        out = activations.get(name)(x)
        g = cr.grad(out.sum(), [x])[0]
    assert np.isfinite(out.numpy()).all() and np.isfinite(g).all()


def test_softmax_case_02_4():
    out = activations.softmax(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32))
    np.testing.assert_array_equal(out.numpy(), [[1.0, 0.0, 0.0]])
    assert out.dtype == np.float32


def _central_difference(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


SMOOTH = ["sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "celu", "gelu",
          "softplus", "softsign", "silu", "mish", "tanh_shrink", "squareplus", "log_sigmoid",
          "glu"]  # fmt: skip


@pytest.mark.parametrize("name", SMOOTH)
def test_gradient_against_float64_finite_differences(name):
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, size=(3, 4))
    w = rng.uniform(0.5, 1.5, size=(3, 4))
    fn = activations.get(name)

    def loss(arr):
        out = fn(cr.tensor(arr)).numpy()
        return float((out * w[..., : out.shape[-1]]).sum())

    xc = cr.tensor(x, requires_grad=True)
    out = fn(xc)
    g = cr.grad((out * w[..., : out.shape[-1]]).sum(), [xc])[0]
    np.testing.assert_allclose(g, _central_difference(loss, x), rtol=1e-6, atol=1e-8)


# -- sparsemax (Martins & Astudillo 2016) --------------------------------------------------


def _sparsemax_reference(z):
    # Independent algorithm: bisection on tau for sum(max(z - tau, 0)) = 1, in float64.
    lo, hi = z.max() - 1.0, z.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(z - mid, 0).sum() > 1 else (lo, mid)
    return np.maximum(z - (lo + hi) / 2, 0)


def test_sparsemax_against_reference_and_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6)) * 0.8
    out = activations.sparsemax(x).numpy()
    ref = np.stack([_sparsemax_reference(row) for row in x])
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-12)
    assert (out == 0).any() and ((out > 0).sum(-1) > 1).any()  # sparse, with wider supports
    w = rng.uniform(0.5, 1.5, size=x.shape)
    xc = cr.tensor(x, requires_grad=True)
    g = cr.grad((activations.sparsemax(xc) * w).sum(), [xc])[0]

    def loss(arr):
        return float((np.stack([_sparsemax_reference(r) for r in arr]) * w).sum())

    np.testing.assert_allclose(g, _central_difference(loss, x, eps=1e-7), rtol=1e-5, atol=1e-7)
    # Along axis 0 it is the transpose.
    np.testing.assert_allclose(activations.sparsemax(x.T, axis=0).numpy(), out.T, rtol=1e-12)


def test_sparsemax_matches_keras_when_support_is_one_element():
    # Keras 3.15.1 computes tau from the sum of all support cumulative sums, which is the
    # paper's value only for a one-element support; compare there.
    x = np.array([[3.0, 0.5, -1.0, 1.0], [0.0, 4.0, 2.5, -2.0]], dtype=np.float32)
    check("sparsemax", {}, x, rtol=1e-6, atol=1e-7)


# -- get / serialize / deserialize ---------------------------------------------------------


def test_names_match_keras():
    assert sorted(activations.ALL_OBJECTS_DICT) == sorted(keras.src.activations.ALL_OBJECTS_DICT)


@pytest.mark.parametrize("name", sorted(keras.src.activations.ALL_OBJECTS_DICT))
def test_get_and_serialize_match_keras(name):
    ours, theirs = activations.get(name), keras.activations.get(name)
    assert ours.__name__ == theirs.__name__
    assert activations.serialize(ours) == keras.activations.serialize(theirs)
    assert activations.deserialize(activations.serialize(ours)) is ours
    keras_dict = {"module": "keras.activations", "class_name": "function",
                  "config": name, "registered_name": name}  # fmt: skip
    assert activations.deserialize(keras_dict) is ours
    assert activations.get(keras_dict) is ours


def test_get_other_identifiers_and_aliases():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.swish) == "silu"
    fn = lambda x: x * 2  # noqa: E731
    assert activations.get(fn) is fn
    assert activations.deserialize("mine", custom_objects={"mine": fn}) is fn
    x = np.ones((2, 3), np.float32)
    assert activations.linear(x) is x


def test_unknown_names_raise_listing_valid_names():
    with pytest.raises(ValueError, match=r"'rellu'.*gelu.*relu"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="activation"):
        activations.get(3)
    with pytest.raises(ValueError, match=r"cannot be serialized.*relu"):
        activations.serialize(lambda x: x)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: activations.relu(x, max_value=-1.0), r"max_value.*-1.0"),
        (lambda x: activations.relu(x, negative_slope="a"), r"negative_slope.*'a'"),
        (lambda x: activations.relu(x, threshold=float("nan")), r"threshold.*nan"),
        (lambda x: activations.leaky_relu(x, negative_slope=None), r"negative_slope"),
        (lambda x: activations.celu(x, alpha=0.0), r"alpha"),
        (lambda x: activations.elu(x, alpha="1"), r"alpha"),
        (lambda x: activations.squareplus(x, b=-1), r"b must.*b=-1"),
        (lambda x: activations.glu(x[:, :3]), r"even.*\(2, 3\)"),
        (lambda x: activations.glu(x, axis=2), r"axis.*axis=2"),
        (lambda x: activations.soft_shrink(x, threshold=[1]), r"threshold"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.ones((2, 4), np.float32))
