"""Convolution and pooling layers against real Keras 3.15.1 (torch backend).

For each layer and its main arguments: same weights in, same outputs, input gradients and
weight gradients out (the Keras side differentiated by torch autograd); two-epoch ``fit``
histories with ``shuffle=False``; output shapes; bad input; and the digits example."""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402


def check_layer_parity(name, kwargs, x, rtol=1e-5, atol=1e-5, seed=0):
    """Build ``layers.<name>(**kwargs)`` in both libraries on ``x``, give both the same random
    weights, and compare output, d(sum(out * G))/dx and the weight gradients."""
    ours = getattr(ck.layers, name)(**kwargs)
    ref = getattr(tk.layers, name)(**kwargs)
    x = np.asarray(x, dtype="float32")
    ours(x)
    ref(x)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in ours.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in ref.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)

    xt = cr.tensor(x, requires_grad=True)
    y = ours(xt)
    g = rng.normal(size=y.shape).astype("float32")
    grads = cr.grad((y * g).sum(), [xt, *ours.trainable_weights])

    xr = torch.tensor(x, requires_grad=True)
    yr = ref(xr)
    (yr * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.numpy(), yr.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg=f"{name} output")
    np.testing.assert_allclose(grads[0], xr.grad.numpy(), rtol=rtol, atol=atol,
                               err_msg=f"{name} input gradient")
    for got, var in zip(grads[1:], ref.trainable_weights, strict=True):
        np.testing.assert_allclose(got, var.value.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name} gradient of {var.name}")
    shape = (None, *x.shape[1:])
    assert tuple(ours.compute_output_shape(shape)) == tuple(ref.compute_output_shape(shape))
    assert tuple(y.shape) == tuple(yr.shape)
    return ours, ref


def fit_both(layers_fn, x, y, loss, optimizer, epochs=2, batch_size=16, seed=0):
    """The same Sequential model (from ``layers_fn(module)``) trained in both libraries with
    identical initial weights and ``shuffle=False``; returns both models and histories.
    ``loss`` is a name or a function of the library module."""
    models = []
    for lib in (ck, tk):
        model = lib.Sequential([lib.Input(x.shape[1:]), *layers_fn(lib.layers)])
        opt_name, opt_kwargs = optimizer
        model.compile(optimizer=getattr(lib.optimizers, opt_name)(**opt_kwargs),
                      loss=loss(lib) if callable(loss) else loss)
        models.append(model)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in models[0].get_weights()]
    for m in models:
        m.set_weights(weights)
    hists = [m.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
             for m in models]  # fmt: skip
    return models, hists


# -- the tests ---------------------------------------------------------------------------------

R = np.random.default_rng(1)
X2 = R.normal(size=(2, 9, 8, 4)).astype("float32")
X2_CF = np.moveaxis(X2, -1, 1).copy()
X1 = R.normal(size=(3, 12, 4)).astype("float32")
X3 = R.normal(size=(2, 5, 6, 4, 2)).astype("float32")

CONV_CASES = [
    ("Conv2D", {"filters": 6, "kernel_size": 3}, X2),
    ("Conv2D", {"filters": 6, "kernel_size": (3, 2), "strides": 2, "padding": "same",
                "activation": "relu"}, X2),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "groups": 2,
                "use_bias": False}, X2),
    ("Conv2D", {"filters": 4, "kernel_size": 2, "strides": (1, 3), "groups": 4,
                "activation": "tanh"}, X2),
    ("Conv2D", {"filters": 5, "kernel_size": 3, "padding": "same",
                "data_format": "channels_first"}, X2_CF),
    ("Conv1D", {"filters": 5, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, X1),
    ("Conv1D", {"filters": 4, "kernel_size": 4, "strides": 3, "padding": "same",
                "groups": 2}, X1),
    ("Conv3D", {"filters": 3, "kernel_size": 2, "padding": "same", "strides": (2, 1, 2)}, X3),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3}, X2),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, X2),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": (2, 3), "strides": (2, 3),
                         "padding": "valid", "output_padding": 1}, X2),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": 2,
                         "padding": "same", "activation": "sigmoid"}, X2),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same",
                         "data_format": "channels_first"}, X2_CF),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, X1),
    ("DepthwiseConv2D", {"kernel_size": 3}, X2),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2,
                         "padding": "same", "activation": "relu"}, X2),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 3, "dilation_rate": 2}, X1),
    ("SeparableConv2D", {"filters": 5, "kernel_size": 3, "depth_multiplier": 2}, X2),
    ("SeparableConv2D", {"filters": 5, "kernel_size": 2, "strides": 2, "padding": "same",
                         "data_format": "channels_first"}, X2_CF),
    ("SeparableConv1D", {"filters": 3, "kernel_size": 3, "padding": "same"}, X1),
]


@pytest.mark.parametrize("name,kwargs,x", CONV_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV_CASES)])
def test_conv_layers_match_keras(name, kwargs, x):
    check_layer_parity(name, kwargs, x)



@pytest.mark.parametrize("kwargs", [
    {"filters": 5, "kernel_size": 3, "activation": "relu"},
    {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same", "use_bias": False,
     "activation": "relu", "data_format": "channels_first"},
])  # fmt: skip
def test_conv_relu_runs_as_one_fused_node_and_matches_keras(kwargs):
    x = X2 if kwargs.get("data_format") is None else X2_CF
    ours, _ = check_layer_parity("Conv2D", kwargs, x)
    y = ours(cr.tensor(x, requires_grad=True))
    node = y._node if kwargs.get("data_format") is None else y._node.parents[0][1]._node
    assert node.op.name == "conv_general"  # no separate relu node
    assert "relu" in [a for a in node.args if isinstance(a, str)]
    custom = ck.layers.Conv2D(**{**kwargs, "activation": lambda t: ck.activations.relu(t)})
    custom(x)
    custom.set_weights(ours.get_weights())
    np.testing.assert_array_equal(custom(x).numpy(), y.numpy())  # the unfused path agrees

POOL_CASES = [
    ("MaxPooling2D", {}, X2),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, X2),
    ("MaxPooling2D", {"pool_size": (2, 3), "strides": 1, "data_format": "channels_first"},
     X2_CF),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2}, X1),
    ("MaxPooling3D", {"pool_size": 2, "padding": "same"}, X3),
    ("AveragePooling2D", {"pool_size": 2}, X2),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, X2),
    ("AveragePooling2D", {"pool_size": (3, 2), "strides": 2, "padding": "valid",
                          "data_format": "channels_first"}, X2_CF),
    ("AveragePooling1D", {"pool_size": 3, "strides": 3, "padding": "same"}, X1),
    ("AveragePooling3D", {"pool_size": (2, 3, 2)}, X3),
    ("GlobalAveragePooling2D", {}, X2),
    ("GlobalAveragePooling2D", {"keepdims": True, "data_format": "channels_first"}, X2_CF),
    ("GlobalMaxPooling2D", {}, X2),
    ("GlobalMaxPooling1D", {"keepdims": True}, X1),
    ("GlobalAveragePooling1D", {}, X1),
    ("GlobalMaxPooling3D", {}, X3),
]


@pytest.mark.parametrize("name,kwargs,x", POOL_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL_CASES)])
def test_pooling_layers_match_keras(name, kwargs, x):
    check_layer_parity(name, kwargs, x)


def test_average_pooling_same_uneven_padding_excludes_padding():
    # pool 2, stride 1, "same" on 5 steps pads one zero on the right only. Keras's NumPy/JAX/TF
    # backends divide the last window by 1 (its one real element); its torch backend pads by
    # replicating the edge instead (giving the same value here: (x4 + x4) / 2 = x4).
    x = np.arange(5, dtype="float32").reshape(1, 5, 1)
    ours = ck.layers.AveragePooling1D(2, strides=1, padding="same")(x).numpy()[0, :, 0]
    np.testing.assert_allclose(ours, [0.5, 1.5, 2.5, 3.5, 4.0])
    ref = tk.layers.AveragePooling1D(2, strides=1, padding="same")(x).numpy()[0, :, 0]
    np.testing.assert_allclose(ours, ref)
    # pool 4 pads (1, 2): the first window holds x0..x2 (mean 1.0). Keras-torch's replicated
    # edge counts x0 twice (0.75); we follow the other backends and the docs (count only input).
    ours4 = ck.layers.AveragePooling1D(4, strides=1, padding="same")(x).numpy()[0, :, 0]
    np.testing.assert_allclose(ours4, [1.0, 1.5, 2.5, 3.0, 3.5])


def test_cnn_fit_matches_keras():
    x = R.normal(size=(40, 8, 8, 2)).astype("float32")
    y = R.integers(0, 3, size=40)

    def layers(L):
        return [L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(),
                L.Conv2D(6, 2, strides=2, groups=2, activation="tanh"),
                L.GlobalAveragePooling2D(), L.Dense(3)]

    def loss(lib):
        return lib.losses.SparseCategoricalCrossentropy(from_logits=True)

    (ours, ref), (h1, h2) = fit_both(layers, x, y, loss, ("Adam", {"learning_rate": 0.01}))
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)


def test_sequence_and_transpose_fit_matches_keras():
    x = R.normal(size=(30, 10, 3)).astype("float32")
    y = R.normal(size=(30, 4)).astype("float32")

    def layers(L):
        return [L.Conv1D(4, 3, padding="causal", activation="relu"),
                L.Conv1DTranspose(3, 3, strides=2, padding="same"),
                L.SeparableConv1D(4, 3, depth_multiplier=2), L.MaxPooling1D(),
                L.DepthwiseConv1D(2, padding="same"), L.GlobalMaxPooling1D(), L.Dense(4)]

    (ours, ref), (h1, h2) = fit_both(layers, x, y, "mse", ("SGD", {"learning_rate": 0.05}))
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)


def test_summary_shapes_match_keras():
    def build(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((28, 28, 1)), L.Conv2D(16, 3, activation="relu"),
                               L.MaxPooling2D(), L.Conv2D(32, 3, strides=2, padding="same"),
                               L.Conv2DTranspose(8, 3, strides=2),
                               L.DepthwiseConv2D(3, depth_multiplier=2),
                               L.SeparableConv2D(4, 3, padding="same"),
                               L.AveragePooling2D(2), L.GlobalMaxPooling2D(), L.Dense(10)])

    ours, ref = build(ck), build(tk)
    assert [tuple(la.output.shape) if hasattr(la, "output") else None for la in ref.layers]
    for a, b in zip(ours.layers, ref.layers, strict=True):
        assert tuple(a.output_shape) == tuple(b.output.shape), a.name
    assert ours.count_params() == ref.count_params()


def test_get_config_matches_keras_and_round_trips():
    for name, kwargs, _ in CONV_CASES[:12:3] + POOL_CASES[:3] + CONV_CASES[14:20:2]:
        ours, ref = getattr(ck.layers, name)(**kwargs), getattr(tk.layers, name)(**kwargs)
        a, b = ours.get_config(), ref.get_config()
        assert set(b) - {"dtype"} <= set(a), (name, set(b) - set(a))
        for key in b:
            if key not in ("name", "dtype") and not isinstance(b[key], dict):
                assert a[key] == b[key], (name, key, a[key], b[key])
        again = type(ours).from_config(a)
        assert again.get_config() == a


# -- bad input -----------------------------------------------------------------------------------
def test_wrong_rank_names_expected_and_received():
    with pytest.raises(ValueError, match=r"expected min_ndim=4, found ndim=3\. Full shape "
                                         r"received: \(2, 8, 8\)"):
        ck.layers.Conv2D(2, 3)(np.zeros((2, 8, 8), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        ck.layers.MaxPooling2D()(np.zeros((2, 8, 8), "float32"))


def test_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"output size would be -1.*kernel_size=\(5, 5\).*"
                                         r"\(1, 3, 3, 1\)"):
        ck.layers.Conv2D(2, 5)(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match=r"pool_size 3 is larger than the input size 2"):
        ck.layers.MaxPooling2D(3)(np.zeros((1, 2, 2, 1), "float32"))


@pytest.mark.parametrize("kwargs,pattern", [
    ({"filters": 0, "kernel_size": 3}, r"filters must be a positive integer, received filters=0"),
    ({"filters": 2, "kernel_size": 0}, r"kernel_size must contain only positive.*kernel_size=0"),
    ({"filters": 2, "kernel_size": (3,)}, r"kernel_size must be an integer or a tuple of 2"),
    ({"filters": 2, "kernel_size": 3, "strides": -1}, r"strides must contain only positive"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
     r"strides > 1 is not supported together with dilation_rate > 1"),
    ({"filters": 3, "kernel_size": 3, "groups": 2}, r"filters must be divisible by groups"),
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, r"padding must be one of"),
    ({"filters": 2, "kernel_size": 3, "data_format": "NHWC"}, r"data_format must be"),
])
def test_conv2d_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ck.layers.Conv2D(**kwargs)


def test_groups_must_divide_input_channels():
    with pytest.raises(ValueError, match=r"groups=2 and an input with 3 channels"):
        ck.layers.Conv2D(4, 1, groups=2)(np.zeros((1, 4, 4, 3), "float32"))


def test_transpose_output_padding_must_be_below_strides():
    with pytest.raises(ValueError, match=r"output_padding must be smaller than strides"):
        ck.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)


def test_pooling_bad_arguments():
    with pytest.raises(ValueError, match=r"pool_size must contain only positive"):
        ck.layers.MaxPooling2D(0)
    with pytest.raises(ValueError, match=r"strides must contain only positive"):
        ck.layers.AveragePooling1D(2, strides=0)
    with pytest.raises(ValueError, match=r"padding must be one of"):
        ck.layers.MaxPooling1D(padding="full")


# -- the example ---------------------------------------------------------------------------------
def test_digits_cnn_example_reaches_097(capsys, monkeypatch):
    from threadpoolctl import threadpool_limits

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "examples"))
    sys.modules.pop("digits_cnn", None)
    import digits_cnn

    # NOTE: one BLAS thread: these GEMMs are tiny, and a multi-threaded OpenBLAS on a busy
    # 2-core machine spends most of its time waiting for its own threads.
    with threadpool_limits(1, user_api="blas"):
        accuracy = digits_cnn.main(epochs=8)
    assert accuracy >= 0.97
    assert f"digits_cnn test accuracy: {accuracy:.4f}" in capsys.readouterr().out
