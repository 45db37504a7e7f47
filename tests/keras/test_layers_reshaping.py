"""Reshaping layers (UpSampling, ZeroPadding, Cropping, Permute, RepeatVector) against real
Keras 3.15.1 (torch backend): outputs, input gradients, output shapes, a two-epoch ``fit``,
configs, and bad input."""

import numpy as np
import pytest

from .test_layers_conv import check_layer_parity, ck, fit_both, tk

R = np.random.default_rng(2)
X1 = R.normal(size=(2, 7, 3)).astype("float32")
X2 = R.normal(size=(2, 5, 6, 3)).astype("float32")
X3 = R.normal(size=(2, 4, 3, 5, 2)).astype("float32")
XV = R.normal(size=(3, 4)).astype("float32")

CASES = [
    ("UpSampling1D", {}, X1),
    ("UpSampling1D", {"size": 3}, X1),
    ("UpSampling2D", {}, X2),
    ("UpSampling2D", {"size": (2, 3), "data_format": "channels_first"}, X2),
    ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}, X2),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear", "data_format": "channels_first"},
     X2),
    ("UpSampling3D", {"size": (1, 2, 3)}, X3),
    ("ZeroPadding1D", {}, X1),
    ("ZeroPadding1D", {"padding": (2, 0)}, X1),
    ("ZeroPadding2D", {}, X2),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, X2),
    ("ZeroPadding2D", {"padding": (2, 1), "data_format": "channels_first"}, X2),
    ("ZeroPadding3D", {"padding": 1}, X3),
    ("Cropping1D", {}, X1),
    ("Cropping1D", {"cropping": (0, 3)}, X1),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, X2),
    ("Cropping2D", {"cropping": 1, "data_format": "channels_first"}, X2),
    ("Cropping3D", {}, X3),
    ("Permute", {"dims": (2, 1)}, X1),
    ("Permute", {"dims": (3, 1, 2)}, X2),
    ("RepeatVector", {"n": 3}, XV),
]


@pytest.mark.parametrize("name,kwargs,x", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_reshaping_layers_match_keras(name, kwargs, x):
    check_layer_parity(name, kwargs, x)


def test_reshaping_fit_matches_keras():
    x = R.normal(size=(24, 6, 5, 2)).astype("float32")
    y = R.normal(size=(24, 3)).astype("float32")

    def layers(L):
        return [L.ZeroPadding2D(((1, 0), (0, 2))), L.Conv2D(3, 3, activation="tanh"),
                L.UpSampling2D((2, 1)), L.Cropping2D(((1, 2), (0, 1))), L.Permute((3, 1, 2)),
                L.Flatten(), L.Dense(3)]

    (ours, ref), (h1, h2) = fit_both(layers, x, y, "mse", ("SGD", {"learning_rate": 0.05}),
                                     batch_size=8)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)


def test_configs_match_keras():
    for name, kwargs, _ in CASES:
        a = getattr(ck.layers, name)(**kwargs).get_config()
        b = getattr(tk.layers, name)(**kwargs).get_config()
        assert set(a) - {"dtype"} == set(b) - {"dtype"}, (name, set(a) ^ set(b))
        for key in b:
            if key not in ("name", "dtype"):
                assert a[key] == b[key], (name, key, a[key], b[key])
        assert getattr(ck.layers, name).from_config(a).get_config() == a


def test_nearest_upsampling_values():
    x = np.array([[[1.0], [2.0]]], "float32")
    out = ck.layers.UpSampling1D(3)(x).numpy()[0, :, 0]
    np.testing.assert_array_equal(out, [1, 1, 1, 2, 2, 2])


@pytest.mark.parametrize("make,shape,pattern", [
    (lambda: ck.layers.Cropping1D((2, 3)), (1, 5, 2), r"cropping \(2, 3\) must leave"),
    (lambda: ck.layers.Cropping2D(((1, 1), (3, 3))), (1, 4, 6, 1), r"cropping \(3, 3\)"),
    (lambda: ck.layers.UpSampling2D(), (2, 4, 4), r"expected ndim=4, found ndim=3"),
    (lambda: ck.layers.RepeatVector(2), (2, 3, 1), r"expected ndim=2, found ndim=3"),
    (lambda: ck.layers.Permute((2, 1)), (2, 3), r"expected ndim=3, found ndim=2"),
])
def test_bad_input_shapes(make, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()(np.zeros(shape, "float32"))


@pytest.mark.parametrize("make,pattern", [
    (lambda: ck.layers.Permute((1, 3)), r"dims must be a permutation of 1..n"),
    (lambda: ck.layers.RepeatVector(0), r"n must be a positive integer, received n=0"),
    (lambda: ck.layers.UpSampling1D(0), r"size must be a positive integer, received size=0"),
    (lambda: ck.layers.UpSampling2D(interpolation="bicubic"), r"interpolation must be"),
    (lambda: ck.layers.ZeroPadding2D(((1, 2, 3), 1)), r"padding\[0\] must be"),
    (lambda: ck.layers.Cropping2D(-1), r"cropping\[0\] must contain only non-negative"),
])
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
