"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) against real Keras 3.15.1 (torch
backend): outputs and input gradients (PReLU's alpha gradient too) on inputs that hit the kinks
exactly, output shapes, Softmax masks, a short ``fit`` with PReLU, configs, ``.keras`` files
in both directions, and bad arguments (Keras's error conditions, plus our stricter ones)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

from ._keras_ref import assert_history_close, assert_weights_close  # noqa: E402

R = np.random.default_rng(7)


def _with_kinks(shape, specials):
    """Normal draws with every value of ``specials`` (0, a threshold, a max_value...) planted
    several times, so the subgradient conventions at the kinks are compared too."""
    x = (R.normal(size=shape) * 4).astype("float32")
    flat = x.reshape(-1)
    idx = R.permutation(flat.size)
    for k, v in enumerate(specials):
        flat[idx[3 * k : 3 * k + 3]] = v
    return x


X3 = _with_kinks((3, 5, 6), [0.0, 6.0, 2.5, 0.5, -0.5, 1.0])
X4 = _with_kinks((2, 4, 3, 5), [0.0, -0.0, 1.0])


def _parity(name, kwargs, x, call_kwargs=None, weights=True, rtol=1e-6, atol=1e-6):
    """Same layer in both libraries on ``x``: output, d(sum(out * G))/dx and the weight
    gradients compared; returns both layers."""
    ours, ref = getattr(ck.layers, name)(**kwargs), getattr(tk.layers, name)(**kwargs)
    call_kwargs = call_kwargs or {}
    rng = np.random.default_rng(0)
    ours(x, **call_kwargs)
    ref(x, **call_kwargs)
    if weights and ours.get_weights():
        w = [rng.uniform(-0.8, 0.8, v.shape).astype("float32") for v in ours.get_weights()]
        ours.set_weights(w)
        ref.set_weights(w)
    xt = cr.tensor(x, requires_grad=True)
    out = ours(xt, **call_kwargs)
    g = rng.normal(size=out.shape).astype("float32")
    grads = cr.grad((out * g).sum(), [xt, *ours.trainable_weights])
    xr = torch.tensor(x, requires_grad=True)
    out_r = ref(xr, **call_kwargs)
    (out_r * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(
        out.numpy(), out_r.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"{name}{kwargs} output"
    )
    np.testing.assert_allclose(
        grads[0], xr.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"{name}{kwargs} input gradient"
    )
    assert len(grads) - 1 == len(ref.trainable_weights)
    for got, var in zip(grads[1:], ref.trainable_weights):
        np.testing.assert_allclose(
            got,
            var.value.grad.numpy(),
            rtol=rtol,
            atol=atol,
            err_msg=f"{name}{kwargs} gradient of {var.name}",
        )
    return ours, ref


CASES = [
    ("ReLU", {}, X3),
    ("ReLU", {"max_value": 6.0}, X3),  # relu6: gradient 0 at 6
    ("ReLU", {"max_value": 2.5}, X3),  # clip: gradient 1 at 2.5
    ("ReLU", {"max_value": 0}, X3),
    ("ReLU", {"negative_slope": 0.3}, X3),  # the leaky_relu path
    ("ReLU", {"threshold": 0.5}, X3),
    ("ReLU", {"threshold": 1.0, "negative_slope": 0.2}, X3),
    ("ReLU", {"max_value": 6, "threshold": 0.5, "negative_slope": 0.1}, X3),
    ("ReLU", {"max_value": 2.5, "negative_slope": 0.25}, X3),
    ("LeakyReLU", {}, X3),
    ("LeakyReLU", {"negative_slope": 0.0}, X3),
    ("LeakyReLU", {"negative_slope": 1.5}, X4),
    ("ELU", {}, X3),
    ("ELU", {"alpha": 0.4}, X4),
    ("ELU", {"alpha": 2.0}, X3),
    ("Softmax", {}, X3),
    ("Softmax", {"axis": 1}, X3),
    ("Softmax", {"axis": [1, 2]}, X4),
    ("Softmax", {"axis": (2,)}, X4),
    ("PReLU", {}, X3),
    ("PReLU", {"alpha_initializer": "ones"}, X3),
    ("PReLU", {"shared_axes": 1}, X3),
    ("PReLU", {"shared_axes": [1, 2]}, X4),
    ("PReLU", {"shared_axes": (3,)}, X4),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,x", CASES, ids=IDS)
def test_outputs_and_gradients_match_keras(name, kwargs, x):
    # NOTE: over several axes Keras computes exp(x - logsumexp(x)), whose float32 gradient is
    # off by ~1e-6 where ours is within 1e-7 of float64 (test_multi_axis_softmax_gradient).
    multi = name == "Softmax" and len(np.atleast_1d(kwargs.get("axis", -1))) > 1
    ours, ref = _parity(name, kwargs, x, atol=1e-5 if multi else 1e-6)
    for shape in [(None, *x.shape[1:]), x.shape]:
        assert tuple(ours.compute_output_shape(shape)) == tuple(ref.compute_output_shape(shape))
    assert ours.built == ref.built
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in ref.weights]


def test_multi_axis_softmax_gradient_matches_float64():
    x = X4.astype("float64")
    g = np.random.default_rng(1).normal(size=x.shape)
    e = np.exp(x - x.max(axis=(1, 2), keepdims=True))
    s = e / e.sum(axis=(1, 2), keepdims=True)
    want = s * (g - (g * s).sum(axis=(1, 2), keepdims=True))
    xt = cr.tensor(X4, requires_grad=True)
    out = ck.layers.Softmax(axis=[1, 2])(xt)
    got = cr.grad((out * g.astype("float32")).sum(), [xt])[0]
    np.testing.assert_allclose(out.numpy(), s, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-7)


def test_prelu_default_alpha_is_zero_and_initializer_is_used():
    x = X3[:1]
    out = ck.layers.PReLU()(x).numpy()
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    layer = ck.layers.PReLU(alpha_initializer=ck.initializers.Constant(0.25))
    np.testing.assert_allclose(layer(x).numpy(), np.where(x > 0, x, 0.25 * x), rtol=1e-6)


MASK_CASES = [
    ("bool", (R.random((3, 5, 6)) > 0.4)),
    ("float-broadcast", R.choice([0.0, 0.3, 0.7, 1.0], size=(3, 1, 6)).astype("float32")),
    ("last-axis-only", np.array([1, 1, 0, 1, 0, 1], dtype=bool)),
    (
        "fully-masked-row",
        np.concatenate([np.zeros((3, 1, 6), bool), np.ones((3, 4, 6), bool)], axis=1),
    ),
]


@pytest.mark.parametrize("kind,mask", MASK_CASES, ids=[m[0] for m in MASK_CASES])
@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_mask_matches_keras(kind, mask, axis):
    ours, _ = _parity("Softmax", {"axis": axis}, X3, call_kwargs={"mask": mask})
    if kind == "fully-masked-row" and axis == -1:
        assert not ours(X3, mask=mask).numpy()[:, 0].any()


@pytest.mark.parametrize("mask_shape", [(1, 3, 5, 6), (3, 5, 4), (2, 6)])
def test_softmax_bad_mask_raises_like_keras(mask_shape):
    mask = np.ones(mask_shape, bool)
    with pytest.raises(ValueError):
        tk.layers.Softmax()(X3, mask=mask)
    with pytest.raises(ValueError, match=r"mask.*inputs.shape=\(3, 5, 6\).*mask.shape"):
        ck.layers.Softmax()(X3, mask=mask)


def test_softmax_uses_the_mask_its_input_carries_like_keras():
    # Masking makes a (batch, steps) mask, which Keras passes to Softmax's `mask` and
    # broadcasts right-aligned: (batch, steps, features) inputs are refused unless
    # batch == steps == features, when the mask lands on the last two axes. We do the same.
    def models(shape):
        out = []
        for lib in (ck, tk):
            inp = lib.Input(shape[1:])
            out.append(lib.Model(inp, lib.layers.Softmax()(lib.layers.Masking()(inp))))
        return out

    x = R.normal(size=(5, 5, 5)).astype("float32")
    x[:, 1] = 0.0
    x[0, 3] = 0.0
    outs = [np.asarray(m.predict(x, verbose=0)) for m in models(x.shape)]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6, atol=1e-7)
    assert (outs[0][:, :, 1] == 0).all()  # step 1 is masked everywhere: feature 1 is zeroed
    x = R.normal(size=(4, 5, 6)).astype("float32")
    for m in models(x.shape):
        with pytest.raises(ValueError, match="mask"):
            m.predict(x, verbose=0)


def test_fit_with_prelu_matches_keras():
    x = R.normal(size=(40, 6, 3)).astype("float32")
    y = R.normal(size=(40, 2)).astype("float32")

    def build(lib):
        L = lib.layers
        return lib.Sequential(
            [
                lib.Input((6, 3)),
                L.Dense(4),
                L.PReLU(shared_axes=1),
                L.Flatten(),
                L.Dense(8),
                L.PReLU(alpha_initializer="ones"),
                L.Dense(6),
                L.ReLU(max_value=1.5, negative_slope=0.1),
                L.LeakyReLU(0.2),
                L.ELU(0.7),
                L.Dense(2),
            ]
        )

    models = [build(ck), build(tk)]
    w = [R.uniform(-0.5, 0.5, v.shape).astype("float32") for v in models[0].get_weights()]
    hists = []
    for m, lib in zip(models, (ck, tk)):
        m.set_weights(w)
        m.compile(optimizer=lib.optimizers.Adam(0.02), loss="mse")
        hists.append(m.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0))
    assert_history_close(*hists, rtol=1e-5)
    assert_weights_close(*models, rtol=1e-5, atol=1e-6)
    assert not np.allclose(models[0].get_weights()[2], w[2])  # alpha was trained
    np.testing.assert_allclose(
        models[0].predict(x, verbose=0), models[1].predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_softmax_output_layer_fit_matches_keras():
    x = R.normal(size=(30, 5)).astype("float32")
    y = R.integers(0, 3, size=30)
    models = [
        lib.Sequential([lib.Input((5,)), lib.layers.Dense(3), lib.layers.Softmax()])
        for lib in (ck, tk)
    ]
    w = [R.uniform(-0.5, 0.5, v.shape).astype("float32") for v in models[0].get_weights()]
    hists = []
    for m in models:
        m.set_weights(w)
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        hists.append(m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0))
    assert_history_close(*hists, rtol=1e-5)


# -- configs and files ------------------------------------------------------------------------

CONFIG_CASES = [(n, k) for n, k, _ in CASES] + [
    ("PReLU", {"alpha_regularizer": "l2", "alpha_constraint": "non_neg"}),
]


@pytest.mark.parametrize(
    "name,kwargs", CONFIG_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIG_CASES)]
)
def test_config_matches_keras_and_round_trips(name, kwargs):
    ours, ref = getattr(ck.layers, name)(**kwargs), getattr(tk.layers, name)(**kwargs)
    a, b = ours.get_config(), ref.get_config()
    assert set(a) == set(b)
    for key in b:
        if key == "name":
            continue
        want = list(b[key]) if isinstance(b[key], tuple) else b[key]
        assert a[key] == want, (key, a[key], b[key])
    again = getattr(ck.layers, name).from_config(a)
    assert type(again) is type(ours) and again.get_config() == a
    # and Keras accepts our config
    assert getattr(tk.layers, name).from_config(a).get_config()["name"] == a["name"]


def _zoo(lib):
    L = lib.layers
    inp = lib.Input((4, 6))
    h = L.Dense(6)(inp)
    h = L.PReLU(shared_axes=[1], alpha_initializer="random_uniform")(h)
    h = L.ReLU(max_value=6.0, threshold=0.1)(h)
    h = L.LeakyReLU(negative_slope=0.05)(h)
    h = L.ELU(alpha=0.5)(h)
    return lib.Model(inp, L.Softmax(axis=1)(L.Dense(3)(h)))


def test_keras_file_round_trips_in_both_directions(tmp_path):
    x = R.normal(size=(5, 4, 6)).astype("float32")
    ours = _zoo(ck)
    ours.set_weights([R.uniform(-1, 1, w.shape).astype("float32") for w in ours.get_weights()])
    want = ours.predict(x, verbose=0)
    ours.save(tmp_path / "c.keras")
    mine = ck.models.load_model(tmp_path / "c.keras")
    np.testing.assert_array_equal(mine.predict(x, verbose=0), want)
    assert [type(v).__name__ for v in mine.layers] == [type(v).__name__ for v in ours.layers]
    theirs = tk.models.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "k.keras")
    back = ck.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    relu = next(v for v in back.layers if isinstance(v, ck.layers.ReLU))
    assert (relu.max_value, relu.threshold) == (6.0, 0.1)


# -- bad arguments ---------------------------------------------------------------------------

KERAS_ERRORS = [
    ("ReLU", {"max_value": -1.0}, "max_value"),
    ("ReLU", {"negative_slope": -0.1}, "negative_slope"),
    ("ReLU", {"negative_slope": None}, "negative_slope"),
    ("ReLU", {"threshold": -0.5}, "threshold"),
    ("ReLU", {"threshold": None}, "threshold"),
    ("LeakyReLU", {"negative_slope": -0.3}, "negative_slope"),
    ("LeakyReLU", {"negative_slope": None}, "negative_slope"),
]


@pytest.mark.parametrize(
    "name,kwargs,arg",
    KERAS_ERRORS,
    ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(KERAS_ERRORS)],
)
def test_bad_arguments_raise_where_keras_raises(name, kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        getattr(tk.layers, name)(**kwargs)
    with pytest.raises(ValueError, match=rf"{arg}.*received {arg}="):
        getattr(ck.layers, name)(**kwargs)


def test_leaky_relu_alpha_is_deprecated_and_validated_like_keras():
    with pytest.warns(UserWarning, match="alpha"):
        layer = ck.layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="negative_slope=-1"):
        ck.layers.LeakyReLU(alpha=-1)


# Where Keras computes a silent NaN or a wrong shape, or fails later with an unrelated error,
# we refuse at construction, naming the argument.
STRICTER = [
    ("ReLU", {"max_value": float("nan")}, "max_value"),
    ("ReLU", {"max_value": "6"}, "max_value"),
    ("ReLU", {"negative_slope": True}, "negative_slope"),
    ("LeakyReLU", {"negative_slope": float("nan")}, "negative_slope"),
    ("ELU", {"alpha": None}, "alpha"),
    ("ELU", {"alpha": float("inf")}, "alpha"),
    ("Softmax", {"axis": "last"}, "axis"),
    ("Softmax", {"axis": []}, "axis"),
    ("PReLU", {"shared_axes": 0}, "shared_axes"),
    ("PReLU", {"shared_axes": [1, -1]}, "shared_axes"),
    ("PReLU", {"alpha_initializer": "no_such_initializer"}, "no_such_initializer"),
]


@pytest.mark.parametrize(
    "name,kwargs,arg", STRICTER, ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(STRICTER)]
)
def test_bad_arguments_name_the_argument(name, kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        getattr(ck.layers, name)(**kwargs)


def test_infinite_max_value_is_no_ceiling_like_keras():
    x = X3 * 100
    ours = ck.layers.ReLU(max_value=float("inf"))(x).numpy()
    np.testing.assert_array_equal(ours, tk.layers.ReLU(max_value=float("inf"))(x).numpy())


def test_prelu_input_checks():
    layer = ck.layers.PReLU(shared_axes=[1])
    layer(X3)
    ref = tk.layers.PReLU(shared_axes=[1])
    ref(X3)
    # a new size on a shared axis is fine; a new size on an unshared axis, or a new rank, is not
    np.testing.assert_allclose(layer(X3[:, :2]).numpy(), ref(X3[:, :2]).detach().numpy())
    for bad in (X3[:, :, :4], X4):
        with pytest.raises(ValueError):
            ref(bad)
        with pytest.raises(ValueError, match="incompatible"):
            layer(bad)
    with pytest.raises(ValueError, match=r"shared_axes.*\[1, 3\)"):
        ck.layers.PReLU(shared_axes=3)(X3)
    with pytest.raises(ValueError, match="shared_axes"):
        ck.layers.PReLU().build((None, None, 6))
