"""Adversarial checks of the new preprocessing and augmentation layers against Keras 3.15.1.

Each test pins a fault found by feeding the new public API the inputs a user might pass by
accident; the expected values come from real Keras (torch backend) or from NumPy.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402

# values on and next to the boundaries: a cast to int32 or float16 moves them between bins
_EDGES = np.array([[-1.5, 0.0, 0.5, 0.7, 1.0, 1.0002, 2.0, 1e6]], "float32")


@pytest.mark.parametrize(
    ("output_mode", "dtype"),
    [
        ("one_hot", "int32"),
        ("count", "float16"),
        ("int", "float16"),
        ("multi_hot", "int32"),
        ("int", "float64"),
    ],  # fmt: skip
)
def test_discretization_bins_in_float32_whatever_the_layer_dtype(output_mode, dtype):
    # The layer's dtype is its output dtype; Keras compares inputs in floatx (input_dtype).
    kw = {"bin_boundaries": [0.5, 1.0001], "output_mode": output_mode, "dtype": dtype}
    expected = keras.ops.convert_to_numpy(keras.layers.Discretization(**kw)(_EDGES))
    got = np.asarray(ck.layers.Discretization(**kw)(_EDGES))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_discretization_int32_dtype_in_a_model_and_after_reload(tmp_path):
    layer_kw = {"bin_boundaries": [0.5], "output_mode": "one_hot", "dtype": "int32"}
    x = np.array([[0.5, 0.2, 0.7, 1.0]], "float32")
    expected = keras.ops.convert_to_numpy(keras.layers.Discretization(**layer_kw)(x))
    model = ck.Sequential([ck.Input((4,)), ck.layers.Discretization(**layer_kw)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    model.save(tmp_path / "d.keras")
    loaded = ck.models.load_model(tmp_path / "d.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)


@pytest.mark.parametrize("dtype", ["int32", "float16", "float64"])
def test_category_encoding_count_weights_keep_the_layer_dtype(dtype):
    x = np.array([[0, 1, 1, 2]])
    w = np.array([[0.5, 1.7, 2.9, 3.2]])
    kw = {"num_tokens": 4, "output_mode": "count", "dtype": dtype}
    expected = keras.ops.convert_to_numpy(keras.layers.CategoryEncoding(**kw)(x, count_weights=w))
    got = np.asarray(ck.layers.CategoryEncoding(**kw)(x, count_weights=w))
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got.astype("float64"), expected.astype("float64"), rtol=1e-3)


def test_random_flip_takes_a_negative_seed_as_keras_does():
    images = np.random.default_rng(3).random((6, 4, 5, 2)).astype("float32")
    # Keras accepts seed=-1 (the layer runs); numpy's generator refused it with an error
    # naming no argument
    keras.layers.RandomFlip(seed=-1)(images, training=True)
    a = np.asarray(ck.layers.RandomFlip(seed=-1)(images, training=True))
    b = np.asarray(ck.layers.RandomFlip(seed=-1)(images, training=True))
    c = np.asarray(ck.layers.RandomFlip(seed=1)(images, training=True))
    np.testing.assert_array_equal(a, b)  # a seed still makes the layer reproducible
    assert not np.array_equal(a, c) or not np.array_equal(a, images)
    for img, out in zip(images, a):  # every output is the image flipped one of four ways
        candidates = [img, img[::-1], img[:, ::-1], img[::-1, ::-1]]
        assert any(np.array_equal(out, cand) for cand in candidates)
    assert ck.layers.RandomFlip(seed=-1).get_config()["seed"] == -1


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("RandomRotation", {"factor": 0.1}),
        ("RandomZoom", {"height_factor": 0.2}),
        ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1}),
        ("RandomContrast", {"factor": 0.3}),
        ("RandomBrightness", {"factor": 0.2}),
        ("RandomCrop", {"height": 3, "width": 2}),
    ],  # fmt: skip
)
def test_augmentation_layers_take_negative_seeds(name, kwargs):
    images = np.random.default_rng(4).random((2, 5, 4, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(
        getattr(keras.layers, name)(**kwargs, seed=-7)(images, training=True)
    )
    got = np.asarray(getattr(ck.layers, name)(**kwargs, seed=-7)(images, training=True))
    again = np.asarray(getattr(ck.layers, name)(**kwargs, seed=-7)(images, training=True))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, again)


@pytest.mark.parametrize("make", [
    lambda k: k.layers.Dropout(0.5, seed=-1),
    lambda k: k.layers.GaussianNoise(0.5, seed=-1),
    lambda k: k.layers.GaussianDropout(0.5, seed=-1),
    lambda k: k.layers.SimpleRNN(2, dropout=0.5, seed=-1, kernel_initializer="ones",
                                 recurrent_initializer="zeros"),
    lambda k: k.layers.Dense(2, kernel_initializer=k.initializers.RandomNormal(seed=-1)),
])
def test_a_negative_seed_is_accepted_as_keras_and_reproducible(make):
    # (NumPy's default_rng refused negative seeds with a message naming no argument)
    x = np.ones((2, 3, 4), "float32")
    make(keras)(x, training=True)  # Keras accepts it
    outs = [np.asarray(make(ck)(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])
