"""keras.regularizers and keras.constraints against real Keras 3.15.1 (torch backend):
regularizer values and gradients (torch autograd through Keras's regularizer), constraint
outputs, configs, get/serialize/deserialize and bad input."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras import constraints, regularizers  # noqa: E402

RNG = np.random.default_rng(0)
W2 = RNG.normal(size=(5, 4)).astype(np.float32)
W2[1, 2] = 0.0  # the L1 subgradient at 0
W4 = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)


def keras_value_and_grad(reg, w):
    wt = torch.tensor(w, requires_grad=True)
    out = reg(wt)
    out.backward()
    return out.detach().numpy(), wt.grad.numpy()


def ours_value_and_grad(reg, w):
    wc = cr.tensor(w, requires_grad=True)
    out = reg(wc)
    return out.numpy(), cr.grad(out, [wc])[0], out


REG_CASES = [
    ("L1", {}), ("L1", {"l1": 0.3}), ("L2", {}), ("L2", {"l2": 0.25}), ("L1L2", {"l1": 0.1}),
    ("L1L2", {"l2": 0.2}), ("L1L2", {"l1": 0.05, "l2": 0.5}),
    ("OrthogonalRegularizer", {}), ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", REG_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regularizer_value_and_gradient_match_keras(name, kwargs, dtype):
    weights = [W2] if name == "OrthogonalRegularizer" else [W2, W4]
    for w in weights:
        w = w.astype(dtype)
        val, grad, out = ours_value_and_grad(getattr(regularizers, name)(**kwargs), w)
        kval, kgrad = keras_value_and_grad(getattr(keras.regularizers, name)(**kwargs), w)
        assert out.shape == () and out.dtype == np.dtype(dtype)
        rtol = 1e-6 if dtype == "float32" else 1e-12
        if name == "OrthogonalRegularizer" and dtype == "float64":
            # Keras's normalize() rounds the inverse norms to float32 even for float64 input
            # (3.5e-8 relative); we keep float64.
            rtol = 2e-7
        np.testing.assert_allclose(val, kval, rtol=rtol)
        np.testing.assert_allclose(grad, kgrad, rtol=rtol, atol=rtol * 1e-2)


def test_l2_has_no_one_half_and_l1_subgradient_at_zero():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    val, grad, _ = ours_value_and_grad(regularizers.L2(0.1), w)
    assert val == pytest.approx(0.1 * 14.0, rel=1e-15)  # l2 * sum(w**2)
    np.testing.assert_allclose(grad, 0.2 * w, rtol=1e-15)
    _, grad, _ = ours_value_and_grad(regularizers.L1(0.5), w)
    np.testing.assert_array_equal(grad, 0.5 * np.sign(w))  # 0 at w == 0


def test_regularizer_accepts_numpy_and_zero_factors():
    assert float(regularizers.L2(0.5)(np.ones((2, 2), np.float32))) == pytest.approx(2.0)
    zero = regularizers.L1L2()(W2)
    assert float(zero) == 0.0 and zero.dtype == np.float32
    assert regularizers.Regularizer()(W2) == 0.0


def test_orthogonal_regularizer_zero_row_and_orthogonal_input():
    q = np.linalg.qr(RNG.normal(size=(6, 6)))[0]
    assert float(regularizers.OrthogonalRegularizer(1.0)(q[:3])) == pytest.approx(0, abs=1e-12)
    w = W2.copy()
    w[0] = 0.0  # an all-zero row: Keras's rsqrt gives a NaN gradient there; ours stays finite
    val, grad, _ = ours_value_and_grad(regularizers.OrthogonalRegularizer(), w)
    kval, _ = keras_value_and_grad(keras.regularizers.OrthogonalRegularizer(), w)
    np.testing.assert_allclose(val, kval, rtol=1e-6)
    assert np.isfinite(grad).all()


def test_orthogonal_regularizer_against_float64_finite_differences():
    w = RNG.normal(size=(4, 3))
    reg = regularizers.OrthogonalRegularizer(0.7)
    _, grad, _ = ours_value_and_grad(reg, w)
    num = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        d = np.zeros_like(w)
        d[i] = 1e-6
        num[i] = (float(reg(w + d)) - float(reg(w - d))) / 2e-6
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


# -- regularizer configs and names ----------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", REG_CASES + [("L1", {"l1": None}), ("L2", {"l2": None})])
def test_regularizer_serialize_matches_keras_and_round_trips(name, kwargs):
    ours = getattr(regularizers, name)(**kwargs)
    config = regularizers.serialize(ours)
    assert config == keras.regularizers.serialize(getattr(keras.regularizers, name)(**kwargs))
    back = regularizers.deserialize(config)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert keras.regularizers.deserialize(config).get_config() == ours.get_config()


@pytest.mark.parametrize("name", ["l1", "l2", "L1L2", "l1l2", "orthogonal_regularizer", "L1"])
def test_regularizer_get_by_name_matches_keras(name):
    ours, theirs = regularizers.get(name), keras.regularizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() == theirs.get_config()


def test_regularizer_get_other_identifiers():
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)  # Keras's exported name
    assert regularizers.get(None) is None
    assert isinstance(regularizers.get(regularizers.L2), regularizers.L2)
    reg = regularizers.L1(0.2)
    assert regularizers.get(reg) is reg
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.3}}).l2 == 0.3
    assert set(keras.src.regularizers.ALL_OBJECTS_DICT) <= set(regularizers.ALL_OBJECTS_DICT)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: regularizers.L1(-0.1), r"l1.*l1=-0.1"),
        (lambda: regularizers.L2(float("inf")), r"l2.*inf"),
        (lambda: regularizers.L1L2(l1="a"), r"l1.*'a'"),
        (lambda: regularizers.OrthogonalRegularizer(mode="diag"), r"mode.*'diag'"),
        (lambda: regularizers.OrthogonalRegularizer()(W4), r"rank 2.*\(3, 3, 2, 4\)"),
        (lambda: regularizers.L2()(np.ones(3, "int32")), r"float weight.*int32"),
        (lambda: regularizers.get("l3"), r"'l3'.*L1L2.*l2"),
        (lambda: regularizers.get(5), r"regularizer"),
    ],
)
def test_regularizer_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- constraints ---------------------------------------------------------------------------

CON_CASES = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 0.5}), ("MaxNorm", {"max_value": 1.0, "axis": 1}),
    ("MaxNorm", {"max_value": 2.0, "axis": [0, 1, 2]}), ("NonNeg", {}), ("UnitNorm", {}),
    ("UnitNorm", {"axis": -1}), ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 2.0, "rate": 0.5}),
    ("MinMaxNorm", {"min_value": 2.5, "max_value": 3.0, "axis": [0, 1, 2]}),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", CON_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_constraint_matches_keras(name, kwargs, dtype):
    ndim = 4 if isinstance(kwargs.get("axis"), list) else 2
    w = (W4 if ndim == 4 else W2).astype(dtype)
    ours = getattr(constraints, name)(**kwargs)(w)
    theirs = getattr(keras.constraints, name)(**kwargs)(torch.tensor(w)).numpy()
    assert isinstance(ours, np.ndarray) and ours.dtype == w.dtype and ours.shape == w.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == "float32" else 1e-12)


def test_constraints_accept_variables_and_project():
    v = cr.keras.Variable(np.array([[3.0, 0.1], [4.0, 0.1]], np.float32))
    out = constraints.MaxNorm(1.0)(v)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, np.hypot(0.1, 0.1)], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(v), axis=0), 1.0, rtol=1e-6)
    assert constraints.Constraint()(W2) is W2


@pytest.mark.parametrize("name, kwargs", CON_CASES)
def test_constraint_serialize_matches_keras_and_round_trips(name, kwargs):
    ours = getattr(constraints, name)(**kwargs)
    config = constraints.serialize(ours)
    assert config == keras.constraints.serialize(getattr(keras.constraints, name)(**kwargs))
    back = constraints.deserialize(config)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


@pytest.mark.parametrize("name", sorted(keras.src.constraints.ALL_OBJECTS_DICT))
def test_constraint_get_by_name_matches_keras(name):
    ours, theirs = constraints.get(name), keras.constraints.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() == theirs.get_config()


def test_constraint_names_and_other_identifiers():
    assert sorted(constraints.ALL_OBJECTS_DICT) == sorted(keras.src.constraints.ALL_OBJECTS_DICT)
    assert constraints.get(None) is None
    fn = lambda w: w  # noqa: E731
    assert constraints.get(fn) is fn
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: constraints.MaxNorm(max_value=-1), r"max_value.*-1"),
        (lambda: constraints.MaxNorm(axis="0"), r"axis.*'0'"),
        (lambda: constraints.MinMaxNorm(min_value=2.0, max_value=1.0), r"max_value.*>= 2.0"),
        (lambda: constraints.MinMaxNorm(rate=1.5), r"rate.*\[0, 1\].*1.5"),
        (lambda: constraints.UnitNorm(axis=3)(W2), r"axis=3.*\(5, 4\)"),
        (lambda: constraints.NonNeg()(np.ones(3, "int64")), r"float weight.*int64"),
        (lambda: constraints.get("max_nrom"), r"'max_nrom'.*max_norm"),
    ],
)
def test_constraint_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
