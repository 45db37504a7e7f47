"""keras.losses against real Keras 3.15.1 (torch backend): values and gradients w.r.t. y_pred.

Every loss x (from_logits) x label_smoothing x shapes (N,), (N,1), (N,C), (N,T,C) for the
functions; every class x reduction x sample_weight for the reductions. Gradients come from
torch autograd through Keras's own loss (y_pred is a torch tensor that requires grad).
"""

import os
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras import losses  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
SHAPES = [(6,), (6, 1), (6, 4), (3, 5, 4)]


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _data(kind, shape, rng):
    """``(y_true, y_pred)`` float32 arrays suited to the loss family ``kind``."""
    f32 = np.float32
    if kind == "regression":
        return rng.normal(size=shape).astype(f32), rng.normal(size=shape).astype(f32)
    if kind == "positive":
        return rng.uniform(0, 3, shape).astype(f32), rng.uniform(0.05, 3, shape).astype(f32)
    if kind == "percentage":
        t = rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape)
        return t.astype(f32), rng.normal(size=shape).astype(f32)
    if kind == "binary_probs":
        p = rng.uniform(0.02, 0.98, shape)
        p.flat[0], p.flat[-1] = 0.0, 1.0  # exercise the clipping (value and zero gradient)
        return rng.integers(0, 2, shape).astype(f32), p.astype(f32)
    if kind == "soft_probs":
        return rng.uniform(0, 1, shape).astype(f32), rng.uniform(0.02, 0.98, shape).astype(f32)
    if kind == "logits":
        return rng.integers(0, 2, shape).astype(f32), (3 * rng.normal(size=shape)).astype(f32)
    if kind == "moderate_logits":
        # |x| <= 4: Keras's focal loss from logits takes log(1 - sigmoid(x)) in float32, which
        # loses digits for large |x|; there we compare with float64 instead (test below).
        x = np.clip(1.5 * rng.normal(size=shape), -4, 4)
        return rng.integers(0, 2, shape).astype(f32), x.astype(f32)
    if kind == "signed":
        return rng.choice([-1.0, 1.0], shape).astype(f32), rng.normal(size=shape).astype(f32)
    if kind == "onehot_probs":
        c = shape[-1]
        t = np.eye(c, dtype=f32)[rng.integers(0, c, shape[:-1])]
        # unnormalised rows: tests the renormalisation
        return t, rng.uniform(0.05, 1.0, shape).astype(f32)
    if kind == "saturated_probs":
        # exact zeros and a one-hot prediction row: clipping active on both sides
        c = shape[-1]
        t = np.eye(c, dtype=f32)[rng.integers(0, c, shape[:-1])]
        p = rng.uniform(0.05, 1.0, shape) * (rng.uniform(size=shape) > 0.3)
        p[..., 0] += 0.1  # no all-zero row (Keras gives NaN there; see the cases test)
        p.reshape(-1, c)[0] = np.eye(c)[0]
        return t, p.astype(f32)
    if kind == "onehot_logits":
        c = shape[-1]
        t = np.eye(c, dtype=f32)[rng.integers(0, c, shape[:-1])]
        return t, (2 * rng.normal(size=shape)).astype(f32)
    if kind == "distributions":
        return _softmax(rng.normal(size=shape)).astype(f32), _softmax(
            rng.normal(size=shape)
        ).astype(f32)
    raise AssertionError(kind)


# (our function, Keras function, data kind, kwargs, shapes it accepts)
ELEMENTWISE = ["mean_squared_error", "mean_absolute_error", "huber", "log_cosh"]
CASES = [
    *[(n, "regression", {}) for n in ELEMENTWISE],
    ("huber", "regression", {"delta": 0.5}),
    ("mean_absolute_percentage_error", "percentage", {}),
    ("mean_squared_logarithmic_error", "positive", {}),
    ("poisson", "positive", {}),
    ("cosine_similarity", "regression", {}),
    ("cosine_similarity", "regression", {"axis": 0}),
    ("hinge", "signed", {}),
    ("hinge", "logits", {}),  # {0, 1} labels are mapped to {-1, 1}
    ("squared_hinge", "signed", {}),
    ("squared_hinge", "logits", {}),
    ("categorical_hinge", "onehot_logits", {}),
    ("kl_divergence", "distributions", {}),
    ("binary_crossentropy", "binary_probs", {}),
    ("binary_crossentropy", "soft_probs", {}),
    ("binary_crossentropy", "binary_probs", {"label_smoothing": 0.2}),
    ("binary_crossentropy", "logits", {"from_logits": True}),
    ("binary_crossentropy", "logits", {"from_logits": True, "label_smoothing": 0.1}),
    ("binary_crossentropy", "soft_probs", {"axis": 0}),
    ("binary_focal_crossentropy", "soft_probs", {}),
    ("binary_focal_crossentropy", "binary_probs", {"gamma": 1.5, "label_smoothing": 0.1}),
    ("binary_focal_crossentropy", "soft_probs", {"apply_class_balancing": True, "alpha": 0.4}),
    ("binary_focal_crossentropy", "moderate_logits", {"from_logits": True}),
    (
        "binary_focal_crossentropy",
        "moderate_logits",
        {"from_logits": True, "apply_class_balancing": True, "label_smoothing": 0.3},
    ),
    ("categorical_crossentropy", "onehot_probs", {}),
    ("categorical_crossentropy", "onehot_probs", {"label_smoothing": 0.1}),
    ("categorical_crossentropy", "saturated_probs", {}),
    ("categorical_crossentropy", "onehot_logits", {"from_logits": True}),
    ("categorical_crossentropy", "onehot_logits", {"from_logits": True, "label_smoothing": 0.2}),
    ("categorical_crossentropy", "distributions", {"axis": 0}),
    ("categorical_crossentropy", "onehot_logits", {"from_logits": True, "axis": 0}),
]
MULTICLASS = {"categorical_crossentropy", "categorical_hinge", "kl_divergence"}


def _keras_fn(name):
    return getattr(keras.losses, name)


def _ours_value_grad(fn, y_true, y_pred, upstream):
    yp = cr.tensor(y_pred, requires_grad=True)
    out = fn(y_true, yp)
    assert isinstance(out, cr.Tensor)
    (g,) = cr.grad(cr.sum(out * upstream), [yp])
    return out.numpy(), g


def _keras_value_grad(fn, y_true, y_pred, upstream):
    yp = torch.tensor(y_pred, requires_grad=True)
    out = fn(torch.tensor(y_true), yp)
    (out * torch.tensor(upstream)).sum().backward()
    return out.detach().numpy(), yp.grad.numpy()


def _check(ours_fn, keras_fn, y_true, y_pred, seed=0):
    rng = np.random.default_rng(seed)
    probe = keras_fn(torch.tensor(y_true), torch.tensor(y_pred)).detach().numpy()
    upstream = rng.uniform(0.5, 1.5, probe.shape).astype(np.float32)
    v, g = _ours_value_grad(ours_fn, y_true, y_pred, upstream)
    kv, kg = _keras_value_grad(keras_fn, y_true, y_pred, upstream)
    assert v.dtype == np.float32 and v.shape == kv.shape
    np.testing.assert_allclose(v, kv, rtol=RTOL, atol=ATOL)
    assert g.shape == y_pred.shape and g.dtype == np.float32  # no float64 promotion
    # float32 gradients: 1e-5 relative, and 1e-5 of the largest entry absolute (exact zeros,
    # such as the cosine gradient of a length-1 vector, come out as rounding noise).
    np.testing.assert_allclose(g, kg, rtol=RTOL, atol=1e-5 * max(1.0, np.abs(kg).max()))


def _function_cases():
    for name, kind, kwargs in CASES:
        for shape in SHAPES:
            if name in MULTICLASS and shape[-1] == 1:
                continue  # one class: see test_categorical_over_one_class_warns
            if kwargs.get("axis") == 0 and len(shape) == 1:
                continue  # axis 0 of a rank-1 input is the axis -1 case
            yield pytest.param(name, kind, kwargs, shape, id=f"{name}-{kind}-{kwargs}-{shape}")


@pytest.mark.parametrize("name,kind,kwargs,shape", list(_function_cases()))
def test_function_matches_keras(name, kind, kwargs, shape):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kind}{kwargs}{shape}".encode()))
    y_true, y_pred = _data(kind, shape, rng)
    ours = getattr(losses, name)
    _check(
        lambda t, p: ours(t, p, **kwargs),
        lambda t, p: _keras_fn(name)(t, p, **kwargs),
        y_true,
        y_pred,
    )


SPARSE = [
    ({}, "probs"),
    ({"from_logits": True}, "logits"),
    ({"axis": 1}, "probs"),
    ({"from_logits": True, "axis": 1}, "logits"),
]


def _sparse_cases():
    for kwargs, kind in SPARSE:
        for shape in [(6, 4), (3, 5, 4)]:
            for trailing_one in (False, True):
                if trailing_one and kwargs.get("axis", -1) % len(shape) != len(shape) - 1:
                    continue  # a trailing size-1 label axis needs the class axis last
                yield pytest.param(
                    kwargs, kind, shape, trailing_one, id=f"{kwargs}-{kind}-{shape}-{trailing_one}"
                )


@pytest.mark.parametrize("kwargs,kind,shape,trailing_one", list(_sparse_cases()))
def test_sparse_function_matches_keras(kwargs, kind, shape, trailing_one):
    rng = np.random.default_rng(7)
    axis = kwargs.get("axis", -1) % len(shape)
    num = shape[axis]
    label_shape = shape[:axis] + shape[axis + 1 :]
    labels = rng.integers(0, num, label_shape)
    if trailing_one:
        labels = labels[..., None]
    if kind == "probs":
        y_pred = rng.uniform(0.05, 1.0, shape).astype(np.float32)
    else:
        y_pred = (2 * rng.normal(size=shape)).astype(np.float32)
    fn = losses.sparse_categorical_crossentropy
    kfn = keras.losses.sparse_categorical_crossentropy
    _check(
        lambda t, p: fn(t, p, **kwargs),
        lambda t, p: kfn(t, p, **kwargs),
        labels.astype(np.float32),
        y_pred,
    )
    # integer labels give the same numbers
    v = fn(labels, y_pred, **kwargs).numpy()
    np.testing.assert_allclose(v, fn(labels.astype(np.float32), y_pred, **kwargs).numpy())


# -- classes, reductions and sample weights --------------------------------------------------

CLASSES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "percentage"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {"delta": 0.7}, "regression"),
    ("LogCosh", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("Poisson", {}, "positive"),
    ("KLDivergence", {}, "distributions"),
    ("Hinge", {}, "signed"),
    ("SquaredHinge", {}, "signed"),
    ("CategoricalHinge", {}, "onehot_logits"),
    ("BinaryCrossentropy", {}, "binary_probs"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True}, "soft_probs"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "gamma": 3.0}, "moderate_logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot_probs"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot_logits"),
]
REDUCTIONS = ["sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight"]


def _weights(kind, value_shape, rng):
    if kind is None:
        return None
    if kind == "per_sample":
        return rng.uniform(0, 2, value_shape[:1]).astype(np.float32)
    if kind == "per_sample_col":
        return rng.uniform(0, 2, value_shape[:1] + (1,)).astype(np.float32)
    return rng.uniform(0, 2, value_shape).astype(np.float32)  # "full"


@pytest.mark.parametrize("cls,kwargs,kind", CLASSES, ids=lambda c: str(c))
def test_class_reductions_match_keras(cls, kwargs, kind):
    rng = np.random.default_rng(3)
    y_true, y_pred = _data(kind, (6, 4), rng)
    for reduction in REDUCTIONS:
        ours = getattr(losses, cls)(reduction=reduction, **kwargs)
        theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
        for sw_kind in (None, "per_sample", "per_sample_col", "full"):
            sw = _weights(sw_kind, (6,), rng)
            _check(
                lambda t, p, w=sw: ours(t, p, sample_weight=w),
                lambda t, p, w=sw: theirs(t, p, sample_weight=w),
                y_true,
                y_pred,
            )


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(
    "cls,kwargs,kind",
    [
        ("MeanSquaredError", {}, "regression"),
        ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary_probs"),
        ("BinaryCrossentropy", {"from_logits": True}, "logits"),
    ],
    ids=lambda c: str(c),
)
def test_class_shapes_match_keras(cls, kwargs, kind, shape):
    rng = np.random.default_rng(11)
    y_true, y_pred = _data(kind, shape, rng)
    value_shape = shape[:-1] if len(shape) > 1 else ()
    # a rank-1 input has a scalar loss: weights are checked on the (N, 1) shape
    sw_kinds = [None] if value_shape == () else [None, "full", "per_sample_col"]
    for reduction in REDUCTIONS:
        ours = getattr(losses, cls)(reduction=reduction, **kwargs)
        theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
        for sw_kind in sw_kinds:
            if sw_kind == "per_sample_col" and len(value_shape) < 2:
                sw_kind = "per_sample"
            sw = _weights(sw_kind, value_shape, rng)
            _check(
                lambda t, p, w=sw: ours(t, p, sample_weight=w),
                lambda t, p, w=sw: theirs(t, p, sample_weight=w),
                y_true,
                y_pred,
            )


@pytest.mark.parametrize("kind", ["probs", "logits"])
@pytest.mark.parametrize("ignore_class", [None, 0, -1])
def test_sparse_class_matches_keras(kind, ignore_class):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, (3, 5)).astype(np.float32)
    if ignore_class == -1:
        labels[0, :2] = -1
    y_pred = rng.uniform(0.05, 1, (3, 5, 4)) if kind == "probs" else rng.normal(size=(3, 5, 4))
    y_pred = y_pred.astype(np.float32)
    sw = rng.uniform(0, 2, (3, 5)).astype(np.float32)
    for reduction in REDUCTIONS:
        kw = {"from_logits": kind == "logits", "ignore_class": ignore_class, "reduction": reduction}
        ours = losses.SparseCategoricalCrossentropy(**kw)
        theirs = keras.losses.SparseCategoricalCrossentropy(**kw)
        for weight in (None, sw):
            _check(
                lambda t, p, w=weight: ours(t, p, sample_weight=w),
                lambda t, p, w=weight: theirs(t, p, sample_weight=w),
                labels,
                y_pred,
            )


def test_half_mse_is_half_of_mse_and_its_gradient_is_the_residual():
    rng = np.random.default_rng(2)
    y, yhat = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3))
    yhat = yhat.astype(np.float32)
    yp = cr.tensor(yhat, requires_grad=True)
    loss = losses.HalfMeanSquaredError()(y, yp)
    (g,) = cr.grad(loss, [yp])
    np.testing.assert_allclose(loss.item(), 0.5 * np.mean((y - yhat) ** 2), rtol=RTOL)
    np.testing.assert_allclose(g, (yhat - y) / y.size, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        losses.half_mse(y, yhat).numpy(), 0.5 * losses.mse(y, yhat).numpy(), rtol=RTOL
    )


def test_per_sample_weights_weight_whole_sequences():
    # NOTE: a deliberate difference from Keras, which broadcasts (N,) against (N, T) from
    # the right (an error when T != N). The reference is plain NumPy.
    rng = np.random.default_rng(4)
    y, yhat = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    y, yhat = y.astype(np.float32), yhat.astype(np.float32)
    sw = np.array([0.0, 1.0, 2.0], np.float32)
    per = ((y - yhat) ** 2).mean(-1)
    got = losses.MeanSquaredError()(y, yhat, sample_weight=sw).item()
    np.testing.assert_allclose(got, (per * sw[:, None]).sum() / per.size, rtol=RTOL)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4,\).*\(3, 5\)"):
        losses.MeanSquaredError()(y, yhat, sample_weight=np.ones(4))


@pytest.mark.parametrize("balance", [False, True])
def test_focal_from_large_logits_matches_float64(balance):
    # Reference: the definition in float64 (Lin et al. 2017, as Keras writes it), where
    # log(1 - sigmoid(x)) keeps its digits.
    rng = np.random.default_rng(8)
    t = rng.integers(0, 2, (4, 6)).astype(np.float32)
    x = (12 * rng.normal(size=(4, 6))).astype(np.float32)
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    p = 1 / (1 + np.exp(-x64))
    bce = np.maximum(x64, 0) - x64 * t64 + np.log1p(np.exp(-np.abs(x64)))
    focal = (t64 * (1 - p) + (1 - t64) * p) ** 2 * bce
    if balance:
        focal *= t64 * 0.25 + (1 - t64) * 0.75
    ref = focal.mean(-1)
    xp = cr.tensor(x, requires_grad=True)
    got = losses.binary_focal_crossentropy(t, xp, apply_class_balancing=balance, from_logits=True)
    np.testing.assert_allclose(got.numpy(), ref, rtol=RTOL, atol=ATOL)
    # gradient: float64 central differences of the same definition
    (g,) = cr.grad(cr.sum(got), [xp])
    h = 1e-6
    num = np.zeros_like(x64)
    for i in np.ndindex(x.shape):
        for sgn in (1, -1):
            xx = x64.copy()
            xx[i] += sgn * h
            pp = 1 / (1 + np.exp(-xx))
            b = np.maximum(xx, 0) - xx * t64 + np.log1p(np.exp(-np.abs(xx)))
            f = (t64 * (1 - pp) + (1 - t64) * pp) ** 2 * b
            if balance:
                f *= t64 * 0.25 + (1 - t64) * 0.75
            num[i] += sgn * f.mean(-1).sum() / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-6)


def test_sparse_from_non_contiguous_logits_matches_keras():
    # logits that are a transposed view (as a layer's output can be): the gradient must not
    # depend on the memory layout
    rng = np.random.default_rng(9)
    logits = (2 * rng.normal(size=(4, 6))).astype(np.float32).T
    labels = rng.integers(0, 4, 6).astype(np.float32)
    assert not logits.flags.c_contiguous
    fn, kfn = losses.sparse_categorical_crossentropy, keras.losses.sparse_categorical_crossentropy
    yp = cr.tensor(logits, requires_grad=True)
    (g,) = cr.grad(cr.sum(fn(labels, yp, from_logits=True)), [yp])
    tp = torch.tensor(np.ascontiguousarray(logits), requires_grad=True)
    kfn(torch.tensor(labels), tp, from_logits=True).sum().backward()
    np.testing.assert_allclose(g, tp.grad.numpy(), rtol=RTOL, atol=1e-5)
