"""CategoricalFocalCrossentropy, Dice, Tversky and Circle against real Keras 3.15.1 (torch).

Values and gradients w.r.t. ``y_pred`` (torch autograd through Keras's own loss) for the
function and class forms over shapes, axes, dtypes, reductions and sample weights; configs
key for key; ``losses.get``/``serialize``/``deserialize``; short ``fit`` runs from the same
weights; edge cases (all-zero masks, Circle rows without a positive pair) and bad arguments.
"""

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras import losses  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
REDUCTIONS = ["sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight"]


def _tensor(x, requires_grad=False):
    return torch.tensor(np.asarray(x), requires_grad=requires_grad)


def _check(ours, theirs, y_true, y_pred, rtol=RTOL, grad_atol=1e-5, keras_dtype=None):
    """Value and gradient of ``ours(y_true, y_pred)`` against Keras's, under a random
    upstream gradient (so every output entry's gradient is checked)."""
    tp = _tensor(y_pred, True)
    kv = theirs(_tensor(y_true), tp)
    up = np.random.default_rng(1).uniform(0.5, 1.5, tuple(kv.shape)).astype(y_pred.dtype)
    (kv * _tensor(up)).sum().backward()
    kv, kg = kv.detach().numpy(), tp.grad.numpy()

    yp = cr.tensor(y_pred, requires_grad=True)
    v = ours(y_true, yp)
    assert isinstance(v, cr.Tensor)
    (g,) = cr.grad(cr.sum(v * up), [yp])
    assert v.shape == kv.shape and v.dtype == y_pred.dtype
    assert kv.dtype == (keras_dtype or y_pred.dtype)
    np.testing.assert_allclose(v.numpy(), kv, rtol=rtol, atol=ATOL)
    assert g.shape == y_pred.shape and g.dtype == y_pred.dtype
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, kg, rtol=rtol, atol=grad_atol * max(1.0, np.abs(kg).max()))


# -- categorical focal cross-entropy --------------------------------------------------------


def _onehot(rng, shape, axis=-1):
    c = shape[axis]
    t = np.eye(c, dtype=np.float32)[
        rng.integers(0, c, shape[:axis] + shape[axis + 1 :] if axis != -1 else shape[:-1])
    ]
    return np.moveaxis(t, -1, axis) if axis != -1 else t


FOCAL = [
    ({}, "probs"),
    ({"gamma": 0.0}, "probs"),
    ({"gamma": 3.5, "alpha": 0.6}, "probs"),
    ({"alpha": [0.1, 0.2, 0.3, 0.4]}, "probs"),
    ({"label_smoothing": 0.2}, "probs"),
    ({"from_logits": True}, "logits"),
    ({"from_logits": True, "label_smoothing": 0.1, "alpha": (0.5, 0.25, 0.125, 0.125)}, "logits"),
    ({"from_logits": True, "gamma": 1.5}, "big_logits"),  # saturated softmax: clipping active
    ({}, "saturated"),
]


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)], ids=str)
@pytest.mark.parametrize("kwargs,kind", FOCAL, ids=str)
def test_focal_function_matches_keras(kwargs, kind, shape):
    rng = np.random.default_rng(0)
    y_true = _onehot(rng, shape)
    if kind == "probs":
        y_pred = rng.uniform(0.05, 1.0, shape)
    elif kind == "saturated":
        y_pred = rng.uniform(0.05, 1.0, shape) * (rng.uniform(size=shape) > 0.3)
        y_pred[..., 0] += 0.1
        y_pred.reshape(-1, shape[-1])[0] = np.eye(shape[-1])[1]
    else:
        y_pred = (2 if kind == "logits" else 25) * rng.normal(size=shape)
    y_pred = y_pred.astype(np.float32)
    _check(
        lambda t, p: losses.categorical_focal_crossentropy(t, p, **kwargs),
        lambda t, p: keras.losses.categorical_focal_crossentropy(t, p, **kwargs),
        y_true,
        y_pred,
    )


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
def test_focal_other_axis_matches_keras(axis, from_logits):
    rng = np.random.default_rng(2)
    shape = (4, 5, 3)
    y_true = _onehot(rng, shape, axis)
    y_pred = rng.normal(size=shape) if from_logits else rng.uniform(0.05, 1, shape)
    kw = {"axis": axis, "from_logits": from_logits, "label_smoothing": 0.1, "alpha": 0.3}
    _check(
        lambda t, p: losses.categorical_focal_crossentropy(t, p, **kw),
        lambda t, p: keras.losses.categorical_focal_crossentropy(t, p, **kw),
        y_true,
        y_pred.astype(np.float32),
    )


def test_focal_float64_and_keras_doc_example():
    rng = np.random.default_rng(3)
    y_true, y_pred = _onehot(rng, (5, 3)).astype(np.float64), rng.uniform(0.05, 1, (5, 3))
    _check(
        lambda t, p: losses.categorical_focal_crossentropy(t, p, gamma=2.5),
        lambda t, p: keras.losses.categorical_focal_crossentropy(t, p, gamma=2.5),
        y_true,
        y_pred,
    )
    # Keras's docstring example, values computed by Keras
    t, p = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    ref = keras.losses.CategoricalFocalCrossentropy()(np.array(t), np.array(p, np.float32))
    got = losses.CategoricalFocalCrossentropy()(t, p)
    np.testing.assert_allclose(got.item(), float(ref), rtol=RTOL)


def test_focal_one_class_warns_as_keras():
    y = np.ones((3, 1), np.float32)
    with pytest.warns(SyntaxWarning, match="categorical_focal_crossentropy"):
        got = losses.categorical_focal_crossentropy(y, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = keras.losses.categorical_focal_crossentropy(_tensor(y), _tensor(y)).numpy()
    np.testing.assert_allclose(got.numpy(), ref, rtol=RTOL, atol=ATOL)


def _weights(rng, kind, n):
    if kind is None:
        return None
    if kind == "col":
        return rng.uniform(0, 2, (n, 1)).astype(np.float32)
    return rng.uniform(0, 2, n).astype(np.float32)


@pytest.mark.parametrize(
    "kwargs", [{}, {"from_logits": True, "label_smoothing": 0.1, "alpha": [0.2, 0.3, 0.5]}]
)
def test_focal_class_reductions_match_keras(kwargs):
    rng = np.random.default_rng(4)
    y_true = _onehot(rng, (6, 3))
    y_pred = rng.normal(size=(6, 3)) if kwargs else rng.uniform(0.05, 1, (6, 3))
    for reduction in REDUCTIONS:
        ours = losses.CategoricalFocalCrossentropy(reduction=reduction, **kwargs)
        theirs = keras.losses.CategoricalFocalCrossentropy(reduction=reduction, **kwargs)
        for sw_kind in (None, "flat", "col"):
            sw = _weights(rng, sw_kind, 6)
            _check(
                lambda t, p, w=sw: ours(t, p, sample_weight=w),
                lambda t, p, w=sw: theirs(t, p, sample_weight=w),
                y_true,
                y_pred.astype(np.float32),
            )


def test_focal_class_dtype_and_rank_matching():
    rng = np.random.default_rng(5)
    y_true, y_pred = _onehot(rng, (6, 3)), rng.uniform(0.05, 1, (6, 3)).astype(np.float32)
    ours = losses.CategoricalFocalCrossentropy(dtype="float64")
    theirs = keras.losses.CategoricalFocalCrossentropy(dtype="float64")
    got, ref = ours(y_true, y_pred), theirs(y_true, y_pred)
    # (Keras computes in float64 and hands back a float32 scalar, as we do)
    assert got.dtype == np.float32 and str(ref.dtype) == "torch.float32"
    np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-7)
    # (N,) one-hot rows against (N, 1)? no: rank matching only touches a trailing size-1 axis,
    # so targets (N, C, 1) line up with predictions (N, C) in the class form, as in Keras
    got = losses.CategoricalFocalCrossentropy()(y_true[..., None], y_pred)
    ref = keras.losses.CategoricalFocalCrossentropy()(y_true[..., None], y_pred)
    np.testing.assert_allclose(got.item(), ref.item(), rtol=RTOL)


# -- Dice and Tversky -----------------------------------------------------------------------


def _masks(rng, shape):
    return (
        (rng.uniform(size=shape) > 0.5).astype(np.float32),
        rng.uniform(0, 1, shape).astype(np.float32),
    )


OVERLAP = [
    ("dice", {}),
    ("tversky", {}),
    ("tversky", {"alpha": 0.7, "beta": 0.3}),
    ("tversky", {"alpha": 0.0, "beta": 2.0}),
]
AXES = [((8,), None), ((6, 4), None), ((6, 4), -1), ((6, 4), 0), ((2, 4, 4, 1), (1, 2, 3)),
        ((2, 4, 4, 1), [1, 2]), ((2, 4, 4, 1), -1), ((2, 3, 4), (0, 2))]  # fmt: skip


@pytest.mark.parametrize("shape,axis", AXES, ids=str)
@pytest.mark.parametrize("name,kwargs", OVERLAP, ids=str)
def test_overlap_function_matches_keras(name, kwargs, shape, axis):
    y_true, y_pred = _masks(np.random.default_rng(6), shape)
    _check(
        lambda t, p: getattr(losses, name)(t, p, axis=axis, **kwargs),
        lambda t, p: getattr(keras.losses, name)(t, p, axis=axis, **kwargs),
        y_true,
        y_pred,
    )


def test_overlap_keras_doc_example_and_float64():
    # Keras's Dice docstring example: [0.5, 0.75757575] per image, 0.6164384 overall
    y_true = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
    y_pred = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
    per_image = losses.Dice(axis=(1, 2, 3), reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(per_image.numpy(), [0.5, 0.75757575], rtol=RTOL)
    np.testing.assert_allclose(losses.Dice()(y_true, y_pred).item(), 0.6164384, rtol=RTOL)
    for name in ("dice", "tversky"):
        _check(
            lambda t, p, n=name: getattr(losses, n)(t, p, axis=(1, 2)),
            lambda t, p, n=name: getattr(keras.losses, n)(t, p, axis=(1, 2)),
            y_true,
            y_pred,
        )


@pytest.mark.parametrize("cls,kwargs", [("Dice", {}), ("Tversky", {"alpha": 0.3, "beta": 0.9})])
@pytest.mark.parametrize("axis", [None, (1, 2, 3), (1, 2)], ids=str)
def test_overlap_class_reductions_match_keras(cls, kwargs, axis):
    rng = np.random.default_rng(7)
    y_true, y_pred = _masks(rng, (4, 3, 3, 1))
    for reduction in REDUCTIONS:
        ours = getattr(losses, cls)(reduction=reduction, axis=axis, **kwargs)
        theirs = getattr(keras.losses, cls)(reduction=reduction, axis=axis, **kwargs)
        # weights the value shape takes the same way in both: per sample for (N,) values,
        # one weight per value for (N, 1) values, per sample (N,) on a scalar
        sws = [None, rng.uniform(0, 2, 4).astype(np.float32)]
        if axis == (1, 2):
            sws = [None, rng.uniform(0, 2, (4, 1)).astype(np.float32)]
        for sw in sws:
            _check(
                lambda t, p, w=sw: ours(t, p, sample_weight=w),
                lambda t, p, w=sw: theirs(t, p, sample_weight=w),
                y_true,
                y_pred,
            )


def test_overlap_class_matches_rank_as_keras():
    # (N,) targets against (N, 1) predictions: the class form lines them up, as Keras's
    rng = np.random.default_rng(8)
    y_true, y_pred = _masks(rng, (6, 1))
    for cls in ("Dice", "Tversky"):
        got = getattr(losses, cls)()(y_true[:, 0], y_pred)
        ref = getattr(keras.losses, cls)()(y_true[:, 0], y_pred)
        np.testing.assert_allclose(got.item(), ref.item(), rtol=RTOL)
    # the function refuses shapes that would broadcast to (N, N) instead of guessing
    with pytest.raises(ValueError, match=r"\(6, 3\).*\(6, 4\)"):
        losses.dice(np.ones((6, 3)), np.ones((6, 4)))


@pytest.mark.parametrize("name", ["dice", "tversky"])
def test_all_zero_masks_give_one_as_keras(name):
    # no numerator smoothing: an empty target predicted empty has loss 1 (eps = 1e-7 only in
    # the denominator), in Keras as here; the gradient stays finite
    y = np.zeros((3, 4, 4, 1), np.float32)
    for axis in (None, (1, 2, 3)):
        _check(
            lambda t, p, a=axis: getattr(losses, name)(t, p, axis=a),
            lambda t, p, a=axis: getattr(keras.losses, name)(t, p, axis=a),
            y,
            y,
        )
        assert np.all(getattr(losses, name)(y, y, axis=axis).numpy() == 1.0)
    # a mix: one empty image among non-empty ones
    rng = np.random.default_rng(9)
    y_true, y_pred = _masks(rng, (3, 4, 4, 1))
    y_true[1] = 0.0
    y_pred[1] = 0.0
    _check(
        lambda t, p: getattr(losses, name)(t, p, axis=(1, 2, 3)),
        lambda t, p: getattr(keras.losses, name)(t, p, axis=(1, 2, 3)),
        y_true,
        y_pred,
    )


# -- Circle ---------------------------------------------------------------------------------


def _embeddings(rng, n, d=6, dtype=np.float32):
    e = rng.normal(size=(n, d))
    return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(dtype)


CIRCLE = [{}, {"remove_diagonal": False}, {"gamma": 16, "margin": 0.25}, {"gamma": 256.0}]


@pytest.mark.parametrize("kwargs", CIRCLE, ids=str)
def test_circle_function_matches_keras(kwargs):
    rng = np.random.default_rng(10)
    # label 4 has one member (no positive pair: loss 0) and labels repeat otherwise
    labels = np.array([0, 1, 0, 2, 1, 4, 2, 0])
    for y_true in (labels, labels.astype(np.float32), labels[:, None]):
        _check(
            lambda t, p: losses.circle(t, p, **kwargs),
            lambda t, p: keras.losses.circle(t, p, **kwargs),
            y_true,
            _embeddings(rng, 8),
        )


def test_circle_with_reference_set_matches_keras():
    rng = np.random.default_rng(11)
    ref_e, ref_l = _embeddings(rng, 5), np.array([0, 1, 1, 2, 3])
    y_pred, y_true = _embeddings(rng, 4), np.array([1, 0, 3, 5])  # label 5: no positive
    for kw in ({}, {"remove_diagonal": False}):
        _check(
            lambda t, p, k=kw: losses.circle(t, p, ref_l, ref_e, **k),
            lambda t, p, k=kw: keras.losses.circle(
                t, p, ref_labels=_tensor(ref_l), ref_embeddings=_tensor(ref_e), **k
            ),
            y_true,
            y_pred,
        )


def test_circle_float64():
    rng = np.random.default_rng(12)
    labels = np.array([0, 1, 0, 1, 2, 2])
    # Keras hands back float32 values here (its torch ops drop to floatx on the way); ours
    # stay float64, and agree to float32 rounding
    _check(
        losses.circle,
        keras.losses.circle,
        labels,
        _embeddings(rng, 6, dtype=np.float64),
        keras_dtype=np.float32,
    )
    got = losses.Circle(dtype="float64")(labels, _embeddings(rng, 6))
    assert got.dtype == np.float32  # (a mean: float32, as Keras's divide_no_nan gives)


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 30.0, "margin": 0.3}], ids=str)
def test_circle_class_reductions_and_mask_match_keras(kwargs):
    rng = np.random.default_rng(13)
    labels = np.array([0, 1, 0, 3, 1, 2, 2, 0]).astype(np.float32)  # row 3: no positive
    y_pred = _embeddings(rng, 8)
    for reduction in REDUCTIONS:
        ours = losses.Circle(reduction=reduction, **kwargs)
        theirs = keras.losses.Circle(reduction=reduction, **kwargs)
        for sw in (None, rng.uniform(0, 2, 8).astype(np.float32)):
            _check(
                lambda t, p, w=sw: ours(t, p, sample_weight=w),
                lambda t, p, w=sw: theirs(t, p, sample_weight=w),
                labels,
                y_pred,
            )
    # the masked row is left out of the mean: the mean is over the 7 other rows
    values = losses.circle(labels, y_pred, **kwargs).numpy()
    assert values[3] == 0.0 and np.all(values[np.arange(8) != 3] > 0)
    np.testing.assert_allclose(
        losses.Circle(**kwargs)(labels, y_pred).item(), values.sum() / 7, rtol=RTOL
    )


def test_circle_rows_without_pairs_give_zero_loss_and_gradient():
    rng = np.random.default_rng(14)
    y_pred = _embeddings(rng, 4)
    # every label distinct: no positive pair anywhere (Keras: 0, masked, zero gradient)
    # every label equal: no negative pair anywhere
    for labels in (np.arange(4), np.zeros(4, int)):
        _check(losses.Circle(), keras.losses.Circle(), labels, y_pred)
        yp = cr.tensor(y_pred, requires_grad=True)
        loss = losses.Circle()(labels, yp)
        (g,) = cr.grad(loss, [yp])
        assert loss.item() == 0.0 and np.all(g == 0.0)
    # one query whose loss underflows to exactly 0 in float32 (well separated classes at
    # gamma=400) is masked as in Keras (its mask is loss > 0): the mean is 0, not NaN
    e = np.array([[1, 0], [0.999, 0.0447], [0, 1], [0.0447, 0.999]], np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    lab = np.array([0, 0, 1, 1])
    assert np.all(losses.circle(lab, e, gamma=400).numpy() == 0.0)
    _check(losses.Circle(gamma=400.0), keras.losses.Circle(gamma=400.0), lab, e)


# -- configs, names and get/serialize/deserialize -------------------------------------------

CONFIG_CASES = [
    ("CategoricalFocalCrossentropy", {}),
    (
        "CategoricalFocalCrossentropy",
        {"alpha": [0.1, 0.9], "gamma": 1.0, "from_logits": True, "label_smoothing": 0.2,
         "axis": 1, "reduction": "sum", "name": "focal"},
    ),
    ("Dice", {}),
    ("Dice", {"axis": (1, 2, 3), "reduction": None, "name": "d"}),
    ("Tversky", {}),
    ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": [1, 2], "reduction": "mean"}),
    ("Circle", {}),
    ("Circle", {"gamma": 32.0, "margin": 0.1, "remove_diagonal": False, "reduction": "sum"}),
]  # fmt: skip


@pytest.mark.parametrize("cls,kwargs", CONFIG_CASES, ids=str)
def test_configs_match_keras_key_for_key(cls, kwargs):
    ours = getattr(losses, cls)(**kwargs)
    theirs = getattr(keras.losses, cls)(**kwargs)
    assert list(ours.get_config().items()) == list(theirs.get_config().items())
    assert ours.name == theirs.name and ours.reduction == theirs.reduction
    assert ours.dtype == theirs.dtype
    assert losses.serialize(ours) == keras.losses.serialize(theirs)
    # round trips, ours and through Keras's serialized form
    again = losses.deserialize(keras.losses.serialize(theirs))
    assert type(again) is type(ours) and again.get_config() == theirs.get_config()
    back = keras.losses.deserialize(losses.serialize(ours))
    assert back.get_config() == ours.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


@pytest.mark.parametrize("name", ["categorical_focal_crossentropy", "dice", "tversky", "circle"])
def test_function_names_resolve_as_keras(name):
    fn = getattr(losses, name)
    assert losses.deserialize(name) is fn
    assert losses.serialize(fn) == keras.losses.serialize(getattr(keras.losses, name))
    wrapped = losses.get(name)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.fn is fn
    assert wrapped.name == name
    cls = {"categorical_focal_crossentropy": "CategoricalFocalCrossentropy"}.get(
        name, name.capitalize()
    )
    obj = losses.get(cls)
    assert type(obj) is getattr(losses, cls)
    assert obj.get_config() == keras.losses.get(cls).get_config()


def test_get_circle_applies_the_mask_as_keras():
    # Keras's circle function carries its mask on the output, so compile(loss="circle")
    # leaves rows without a positive pair out of the mean; ours through get() does too
    rng = np.random.default_rng(15)
    labels, y_pred = np.array([0, 0, 1, 2, 1, 3]), _embeddings(rng, 6)
    from keras.src.losses.losses import LossFunctionWrapper  # what Keras's compile wraps in

    ref = LossFunctionWrapper(keras.losses.circle)(_tensor(labels), _tensor(y_pred))
    got = losses.get("circle")(labels, y_pred)
    np.testing.assert_allclose(got.item(), ref.item(), rtol=RTOL)
    assert losses.serialize(losses.get("circle"))["class_name"] == "LossFunctionWrapper"


# -- compile and fit against Keras ----------------------------------------------------------


def _pair(layers_ours, layers_theirs, x, seed=0):
    ours, theirs = ck.Sequential(layers_ours), keras.Sequential(layers_theirs)
    ours.build((None, x.shape[1]))
    theirs.build((None, x.shape[1]))
    rng = np.random.default_rng(seed)
    w = [rng.uniform(-0.5, 0.5, np.shape(v)).astype(np.float32) for v in ours.get_weights()]
    ours.set_weights(w)
    theirs.set_weights(w)
    return ours, theirs


def _fit_compare(ours, theirs, loss_ours, loss_theirs, x, y, lr=0.1):
    ours.compile(optimizer=ck.optimizers.SGD(lr), loss=loss_ours)
    theirs.compile(optimizer=keras.optimizers.SGD(lr), loss=loss_theirs)
    h1 = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=2e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(
        ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=2e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "loss",
    ["dice", "tversky", "Dice", ("Tversky", {"alpha": 0.8, "beta": 0.2, "axis": -1})],
    ids=str,
)
def test_fit_segmentation_matches_keras(loss):
    rng = np.random.default_rng(16)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)
    ours, theirs = _pair(
        [ck.layers.Dense(3, activation="sigmoid")],
        [keras.layers.Dense(3, activation="sigmoid")],
        x,
    )
    if isinstance(loss, tuple):
        loss_ours, loss_theirs = (
            getattr(losses, loss[0])(**loss[1]),
            getattr(keras.losses, loss[0])(**loss[1]),
        )
    else:
        loss_ours = loss_theirs = loss
    _fit_compare(ours, theirs, loss_ours, loss_theirs, x, y)


@pytest.mark.parametrize("from_logits", [False, True])
def test_fit_focal_matches_keras(from_logits):
    rng = np.random.default_rng(17)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    act = None if from_logits else "softmax"
    ours, theirs = _pair([ck.layers.Dense(3, activation=act)],
                         [keras.layers.Dense(3, activation=act)], x)  # fmt: skip
    if from_logits:
        kw = {"from_logits": True, "alpha": [0.2, 0.3, 0.5], "label_smoothing": 0.1}
        loss_ours = losses.CategoricalFocalCrossentropy(**kw)
        loss_theirs = keras.losses.CategoricalFocalCrossentropy(**kw)
    else:
        loss_ours = loss_theirs = "categorical_focal_crossentropy"
    _fit_compare(ours, theirs, loss_ours, loss_theirs, x, y, lr=0.5)


def _unit_norm(x):
    # the formula of Keras's UnitNormalization: x / sqrt(max(sum(x**2), 1e-12))
    return x / cr.sqrt(cr.maximum(cr.sum(x * x, axis=-1, keepdims=True), 1e-12))


@pytest.mark.parametrize("loss", ["circle", "Circle"])
def test_fit_circle_matches_keras(loss):
    rng = np.random.default_rng(18)
    x = rng.normal(size=(24, 5)).astype(np.float32)
    y = rng.integers(0, 4, 24)
    y[7] = 9  # alone in its class: masked wherever its batch is
    ours, theirs = _pair(
        [ck.layers.Dense(4), ck.layers.Lambda(_unit_norm)],
        [keras.layers.Dense(4), keras.layers.UnitNormalization()],
        x,
    )
    _fit_compare(ours, theirs, loss, loss, x, y, lr=0.01)


# -- bad arguments --------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    y2 = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CategoricalFocalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"gamma.*received gamma=-1"):
        losses.CategoricalFocalCrossentropy(gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        losses.CategoricalFocalCrossentropy(alpha="big")
    with pytest.raises(ValueError, match=r"alpha has 2 entries but y_pred.shape\[-1\] is 3"):
        losses.categorical_focal_crossentropy(y2, y2, alpha=[0.5, 0.5])
    # Keras's own check: a bool axis
    with pytest.raises(ValueError, match="axis"):
        keras.losses.categorical_focal_crossentropy(y2, y2, axis=True)
    with pytest.raises(ValueError, match="axis"):
        losses.categorical_focal_crossentropy(y2, y2, axis=True)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        losses.categorical_focal_crossentropy(y2, y2, axis=2)
    with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(2, 4\)"):
        losses.categorical_focal_crossentropy(y2, np.ones((2, 4)))
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        losses.Dice(reduction="avg")
    with pytest.raises(ValueError, match="axis must be None, an int or a tuple"):
        losses.Dice(axis="1")
    with pytest.raises(ValueError, match=r"axis=\(1, 5\) is out of range"):
        losses.dice(y2, y2, axis=(1, 5))
    with pytest.raises(ValueError, match="repeats"):
        losses.tversky(y2, y2, axis=(1, -1))
    with pytest.raises(ValueError, match=r"alpha must be a non-negative.*alpha=-0.5"):
        losses.Tversky(alpha=-0.5)
    with pytest.raises(ValueError, match="beta"):
        losses.tversky(y2, y2, beta=None)
    emb = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="gamma must be a positive"):
        losses.Circle(gamma=0)
    with pytest.raises(ValueError, match="remove_diagonal must be a bool"):
        losses.Circle(remove_diagonal="yes")
    with pytest.raises(ValueError, match=r"y_true must have shape \(3,\)"):
        losses.circle(np.arange(4), emb)
    with pytest.raises(ValueError, match=r"integer labels, received 0.5"):
        losses.circle(np.array([0.5, 1.0, 2.0]), emb)
    with pytest.raises(ValueError, match=r"y_pred.shape=\(3,\)"):
        losses.circle(np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match="ref_labels is needed"):
        losses.circle(np.arange(3), emb, ref_embeddings=np.eye(4, 3))
    with pytest.raises(ValueError, match=r"ref_embeddings of shape \(num_references, 3\)"):
        losses.circle(np.arange(3), emb, np.arange(2), np.ones((2, 4)))
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'dicee'"):
        losses.get("dicee")


def test_every_keras_loss_name_but_ctc_resolves():
    # Keras 3.15.1's registry (keras/src/losses/__init__.py); CTC is built in its own module
    import keras.src.losses as keras_losses

    missing = set(keras_losses.ALL_OBJECTS_DICT) - set(losses.ALL_OBJECTS_DICT)
    assert missing <= {"CTC", "ctc"}, missing
    for name in ("CategoricalFocalCrossentropy", "Dice", "Tversky", "Circle"):
        assert name in losses.__all__ and type(losses.get(name)) is getattr(losses, name)
    for name in ("categorical_focal_crossentropy", "dice", "tversky", "circle"):
        assert name in losses.__all__ and losses.get(name).fn is getattr(losses, name)


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_smooths_over_the_last_axis_as_keras(from_logits):
    # Keras counts the classes on the last axis even when `axis` is another
    rng = np.random.default_rng(11)
    y_true = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, 4))].transpose(0, 2, 1)
    y_pred = rng.random((2, 3, 4)).astype("float32") + 0.1
    kwargs = {"from_logits": from_logits, "label_smoothing": 0.2, "axis": 1}
    ours = losses.categorical_crossentropy(y_true, y_pred, **kwargs).numpy()
    theirs = keras.losses.categorical_crossentropy(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), rtol=RTOL)
