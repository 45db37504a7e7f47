"""Normalization and regularization layers against real Keras 3.15.1 (torch backend).

Same weights in; same outputs, input gradients and weight gradients out (the Keras side
differentiated by torch autograd); two-epoch ``fit`` with ``shuffle=False`` (histories and
final weights, BatchNormalization's moving statistics included); training vs inference
behaviour of the dropout family; bad input. ``parity`` and ``fit_both`` are shared with the
recurrent and attention tests."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402


def _flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def parity(ours, ref, inputs, call_kw=None, rtol=1e-5, atol=1e-5, seed=0, weights=None,
           scale=0.5, ref_call_kw=None):  # fmt: skip
    """Call both layers on ``inputs`` (a list of arrays, positional), give them the same
    random weights, and compare every output, d(sum(out * G))/d(float inputs) and the
    trainable-weight gradients. Returns our outputs."""
    call_kw = dict(call_kw or {})
    ref_kw = dict(call_kw if ref_call_kw is None else ref_call_kw)
    xs = [np.asarray(x) for x in inputs]
    ours(*xs, **call_kw)
    ref(*[torch.tensor(x) for x in xs], **ref_kw)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in ref.get_weights()]
    rng = np.random.default_rng(seed)
    if weights is None:
        weights = [rng.uniform(-scale, scale, w.shape).astype("float32")
                   for w in ours.get_weights()]  # fmt: skip
    ours.set_weights(weights)
    ref.set_weights(weights)

    floats = [i for i, x in enumerate(xs) if x.dtype.kind == "f"]
    ts = [cr.tensor(x, requires_grad=i in floats) for i, x in enumerate(xs)]
    outs = _flat(ours(*ts, **call_kw))
    gs = [rng.normal(size=o.shape).astype("float32") for o in outs]
    loss = sum((o * g).sum() for o, g in zip(outs, gs))
    wanted = [ts[i] for i in floats] + list(ours.trainable_weights)
    grads = cr.grad(loss, wanted) if wanted else []

    tr = [torch.tensor(x, requires_grad=i in floats) for i, x in enumerate(xs)]
    routs = _flat(ref(*tr, **ref_kw))
    rloss = sum((o * torch.tensor(g)).sum() for o, g in zip(routs, gs))
    if rloss.requires_grad:
        rloss.backward()
    assert len(outs) == len(routs)
    for k, (o, r) in enumerate(zip(outs, routs)):
        np.testing.assert_allclose(o.numpy(), r.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"output {k}")  # fmt: skip
    rgrads = [tr[i].grad for i in floats] + [v.value.grad for v in ref.trainable_weights]
    for k, (got, want) in enumerate(zip(grads, rgrads, strict=True)):
        want = np.zeros_like(got) if want is None else want.numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"gradient {k}")
    return outs


def fit_both(layers_fn, x, y, loss="mse", epochs=2, batch_size=16, lr=0.01, rtol=1e-5,
             atol=1e-6, seed=0, scale=0.3):  # fmt: skip
    """The same Sequential model ``layers_fn(lib)`` in both libraries, same initial weights,
    Adam(lr), ``fit(shuffle=False)``; compares histories and final weights (all of them,
    non-trainable included). Returns both models."""
    models = []
    for lib in (ck, tk):
        m = lib.Sequential(layers_fn(lib))
        m.compile(optimizer=lib.optimizers.Adam(lr), loss=loss)
        models.append(m)
    ours, ref = models
    rng = np.random.default_rng(seed)
    # Set layer by layer: Keras orders a model's weights layer by layer (each layer's
    # trainable then non-trainable), chainrule all trainable first.
    for lo, lr in zip(ours.layers, ref.layers, strict=True):
        w0 = [rng.uniform(-scale, scale, w.shape).astype("float32") for w in lo.get_weights()]
        # moving variances must stay positive
        w0 = [np.abs(w) + 0.5 if "variance" in v.name else w for w, v in zip(w0, lo.weights)]
        lo.set_weights(w0)
        lr.set_weights(w0)
    h1 = ours.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=rtol, atol=atol)
    for lo, lr in zip(ours.layers, ref.layers):
        for a, b in zip(lo.get_weights(), lr.get_weights(), strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=rtol * 10, atol=atol * 10,
                                       err_msg=lo.name)  # fmt: skip
    return ours, ref


RNG = np.random.default_rng(42)
X4 = RNG.normal(1.0, 2.0, size=(6, 4, 5, 8)).astype("float32")
X3 = RNG.normal(0.5, 1.5, size=(5, 7, 6)).astype("float32")


# -- BatchNormalization ---------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,x", [
    ({}, X3), ({"axis": 1}, X4), ({"center": False}, X3), ({"scale": False, "epsilon": 0.1}, X4),
    ({"momentum": 0.5}, X3[:, 0]),
])  # fmt: skip
def test_batch_norm_training_parity(kwargs, x):
    ours, ref = ck.layers.BatchNormalization(**kwargs), tk.layers.BatchNormalization(**kwargs)
    parity(ours, ref, [x], {"training": True}, seed=1)
    # the moving statistics were updated by the training calls exactly as Keras did
    for a, b in zip(ours.non_trainable_weights, ref.non_trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_inference_uses_moving_statistics():
    ours, ref = ck.layers.BatchNormalization(), tk.layers.BatchNormalization()
    w = [np.linspace(0.5, 2, 6), np.linspace(-1, 1, 6), np.linspace(-0.3, 0.4, 6),
         np.linspace(0.2, 3, 6)]  # fmt: skip
    w = [a.astype("float32") for a in w]
    outs = parity(ours, ref, [X3], {"training": False}, weights=w)
    want = (X3 - w[2]) / np.sqrt(w[3] + 1e-3) * w[0] + w[1]  # formula in float64
    np.testing.assert_allclose(outs[0].numpy(), want, rtol=1e-5, atol=1e-5)
    before = [v.numpy().copy() for v in ours.non_trainable_weights]
    ours(X3, training=False)
    for a, b in zip(before, ours.non_trainable_weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_batch_norm_frozen_layer_uses_moving_statistics_in_training():
    ours = ck.layers.BatchNormalization()
    ours(X3)
    ours.trainable = False
    a = ours(X3, training=True).numpy()
    b = ours(X3, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), np.zeros(6, "float32"))


def test_batch_norm_fit_moving_statistics_match_keras():
    x = RNG.normal(2.0, 3.0, size=(50, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.3]], "float32")).astype("float32")

    def layers(lib):
        # No bias before BN: its true gradient is 0, and Adam would turn float32 rounding
        # noise in it into full-size steps in both libraries.
        return [lib.Input((4,)), lib.layers.Dense(5, use_bias=False),
                lib.layers.BatchNormalization(momentum=0.9), lib.layers.Dense(1)]  # fmt: skip

    ours, ref = fit_both(layers, x, y, rtol=1e-5, atol=1e-5)
    bn = ours.layers[1]
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert not np.allclose(bn.moving_mean.numpy(), 0)  # they moved during fit
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)  # fmt: skip


def test_batch_norm_masked_moments_match_keras():
    x = RNG.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], bool)
    ours, ref = ck.layers.BatchNormalization(), tk.layers.BatchNormalization()
    a = ours(x, training=True, mask=mask).numpy()
    b = ref(torch.tensor(x), training=True, mask=torch.tensor(mask)).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), ref.moving_variance.numpy(),
                               rtol=1e-5)  # fmt: skip


# -- LayerNormalization / GroupNormalization ------------------------------------------------
@pytest.mark.parametrize("kwargs,x", [
    ({}, X3), ({"axis": [1, 2]}, X3), ({"axis": [-2, -1], "epsilon": 1e-5}, X4),
    ({"center": False}, X3), ({"scale": False}, X3), ({"rms_scaling": True}, X3),
])  # fmt: skip
@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")  # deprecated in Keras
def test_layer_norm_parity(kwargs, x):
    parity(ck.layers.LayerNormalization(**kwargs), tk.layers.LayerNormalization(**kwargs), [x],
           seed=2)  # fmt: skip


def test_layer_norm_non_trailing_axis_against_numpy():
    # Keras-torch cannot run this case (F.layer_norm needs trailing axes): float64 formula.
    layer = ck.layers.LayerNormalization(axis=1, epsilon=1e-3)
    xt = cr.tensor(X4, requires_grad=True)
    y = layer(xt)
    x64 = X4.astype("float64")
    mean, var = x64.mean(axis=1, keepdims=True), x64.var(axis=1, keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x64 - mean) / np.sqrt(var + 1e-3), rtol=1e-5,
                               atol=1e-5)  # fmt: skip
    assert layer.gamma.shape == (4,)
    g = np.random.default_rng(0).normal(size=X4.shape)

    def f(a):
        m, v = a.mean(axis=1, keepdims=True), a.var(axis=1, keepdims=True)
        return ((a - m) / np.sqrt(v + 1e-3) * g).sum()

    eps, num = 1e-6, np.zeros_like(x64)
    for idx in [(0, 0, 0, 0), (1, 2, 3, 4), (5, 3, 4, 7), (2, 1, 0, 5)]:
        d = np.zeros_like(x64)
        d[idx] = eps
        num[idx] = (f(x64 + d) - f(x64 - d)) / (2 * eps)
        got = cr.grad((y * g.astype("float32")).sum(), [xt])[0][idx]
        np.testing.assert_allclose(got, num[idx], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kwargs,x", [
    ({"groups": 2}, X4), ({"groups": 4}, X4), ({"groups": -1}, X3), ({"groups": 1}, X3),
    ({"groups": 3, "center": False, "epsilon": 1e-5}, X3), ({"groups": 2, "axis": 1}, X4),
])  # fmt: skip
def test_group_norm_parity(kwargs, x):
    parity(ck.layers.GroupNormalization(**kwargs), tk.layers.GroupNormalization(**kwargs), [x],
           seed=3)  # fmt: skip


def test_layer_norm_fit_parity():
    x = RNG.normal(size=(40, 6)).astype("float32")
    y = np.tanh(x[:, :2]).astype("float32")
    fit_both(lambda lib: [lib.Input((6,)), lib.layers.Dense(8), lib.layers.LayerNormalization(),
                          lib.layers.Dense(2)], x, y)  # fmt: skip


def test_norm_bad_input():
    with pytest.raises(ValueError, match=r"groups.*received groups=0"):
        ck.layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match=r"multiple"):
        ck.layers.GroupNormalization(groups=4)(np.zeros((2, 6), "float32"))
    with pytest.raises(ValueError, match=r"cannot be more than"):
        ck.layers.GroupNormalization(groups=32)(np.zeros((2, 6), "float32"))
    with pytest.raises(ValueError, match=r"axis 3 is out of bounds.*rank 3"):
        ck.layers.BatchNormalization(axis=3)(X3)
    with pytest.raises(TypeError, match="axis"):
        ck.layers.LayerNormalization(axis="x")
    bn = ck.layers.BatchNormalization()
    bn(X3)
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 6"):
        bn(np.zeros((2, 7, 5), "float32"))


# -- the dropout family ---------------------------------------------------------------------
@pytest.mark.parametrize("layer,x", [
    (lambda lib: lib.layers.SpatialDropout1D(0.5), X3),
    (lambda lib: lib.layers.SpatialDropout2D(0.5), X4),
    (lambda lib: lib.layers.SpatialDropout2D(0.5, data_format="channels_first"), X4),
    (lambda lib: lib.layers.GaussianNoise(0.3), X3),
    (lambda lib: lib.layers.GaussianDropout(0.4), X3),
    (lambda lib: lib.layers.ActivityRegularization(0.1, 0.2), X3),
])  # fmt: skip
def test_identity_at_inference(layer, x):
    ours, ref = layer(ck), layer(tk)
    np.testing.assert_array_equal(np.asarray(ours(x)), x)
    np.testing.assert_array_equal(np.asarray(ours(cr.tensor(x), training=False)), x)
    np.testing.assert_array_equal(np.asarray(ref(x, training=False)), x)


def test_spatial_dropout_drops_whole_feature_maps():
    cr.set_random_seed(0)
    x = np.ones((64, 10, 8), "float32")
    y = ck.layers.SpatialDropout1D(0.25)(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert np.all(y == y[:, :1, :])  # constant along time: whole channels dropped
    assert 0.2 < (y[:, 0] == 0).mean() < 0.3
    x4 = np.ones((32, 2, 5, 5), "float32")
    y4 = ck.layers.SpatialDropout2D(0.5, data_format="channels_first")(x4, training=True).numpy()
    assert np.all(y4 == y4[:, :, :1, :1])
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2"):
        ck.layers.SpatialDropout1D(0.5)(np.ones((2, 3), "float32"))


def test_gaussian_layers_training_statistics():
    cr.set_random_seed(1)
    x = np.full((200, 100), 2.0, "float32")
    noisy = ck.layers.GaussianNoise(0.5)(x, training=True).numpy()
    assert abs(noisy.mean() - 2.0) < 0.02 and abs(noisy.std() - 0.5) < 0.02
    rate = 0.2
    dropped = ck.layers.GaussianDropout(rate)(x, training=True).numpy()
    assert abs(dropped.mean() - 2.0) < 0.02
    assert abs(dropped.std() - 2.0 * np.sqrt(rate / (1 - rate))) < 0.02
    # the gradient is the noise itself
    xt = cr.tensor(x[:3], requires_grad=True)
    cr.set_random_seed(2)
    y = ck.layers.GaussianDropout(rate)(xt, training=True)
    np.testing.assert_allclose(cr.grad(y.sum(), [xt])[0], y.numpy() / 2.0, rtol=1e-6)


def test_activity_regularization_loss_matches_keras():
    ours, ref = ck.layers.ActivityRegularization(0.01, 0.02), tk.layers.ActivityRegularization(
        0.01, 0.02)  # fmt: skip
    ours(X3)
    ref(X3)
    np.testing.assert_allclose(float(ours.losses[0].numpy()), float(ref.losses[0]), rtol=1e-5)
    assert ours.get_config()["l1"] == ref.get_config()["l1"] == 0.01
    x = RNG.normal(size=(32, 3)).astype("float32")
    y = x[:, :1] * 2
    fit_both(lambda lib: [lib.Input((3,)), lib.layers.Dense(4),
                          lib.layers.ActivityRegularization(0.01, 0.01), lib.layers.Dense(1)],
             x, y)  # fmt: skip


def test_dropout_family_bad_input():
    with pytest.raises(ValueError, match=r"stddev.*received stddev=2"):
        ck.layers.GaussianNoise(2)
    with pytest.raises(ValueError, match=r"rate.*received rate=1"):
        ck.layers.GaussianDropout(1)
    with pytest.raises(ValueError, match=r"rate.*received rate=1.5"):
        ck.layers.SpatialDropout1D(1.5)
    with pytest.raises(ValueError, match=r"l1.*received l1=-1"):
        ck.layers.ActivityRegularization(l1=-1)
