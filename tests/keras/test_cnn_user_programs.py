"""Convolutional models written as a Keras user writes them, run in chainrule and in real
Keras 3.15.1 (torch backend) from the same weights and the same data order.

Each test is one small program in the style of Keras's guides and examples (the "Simple MNIST
convnet" example, functional conv blocks, ``Conv2D`` + ``BatchNormalization`` +
``Activation``, separable and depthwise convolutions, ``EarlyStopping``, saving and loading a
``.keras`` file, a model on images of any size). The data are scikit-learn's 8x8 digits,
upsampled or padded. Chainrule's initial weights are copied into the Keras model with
``set_weights``; both fit with ``shuffle=False`` and no dropout where numbers are compared (or
only ``training=False`` outputs are compared). The references are real Keras's per-epoch
losses and metrics, final weights (moving statistics included) and predictions; the
tolerance is float32 rounding grown over a few epochs (relative 1e-4).

Chainrule replays each ``Conv2D(activation="relu") -> MaxPooling2D(2)`` pair as one fused op
(``keras/layers/fused_calls.py``): where a program has such pairs, it also asserts that a pair
was fused, so that the comparison is one of the fused path.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # (before any import of real Keras)

import keras as tk  # noqa: E402  (real Keras 3.15.1, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import chainrule  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers import fused_calls  # noqa: E402

from ._direct_calls_util import recorded  # noqa: E402

RTOL = 1e-4  # float32 rounding grown over a few epochs
ATOL = 1e-6
_LARGEST = {}  # what -> the largest relative difference seen in the running test


@pytest.fixture(autouse=True)
def _report_largest_differences(capsys, request):
    """With ``CNN_PARITY_REPORT=1``, print each test's largest relative difference."""
    _LARGEST.clear()
    yield
    if os.environ.get("CNN_PARITY_REPORT") and _LARGEST:
        what = max(_LARGEST, key=_LARGEST.get)
        with capsys.disabled():
            print(
                f"\n  {request.node.name}: largest relative difference "
                f"{_LARGEST[what]:.2e} ({what})"
            )


# -- data and helpers --------------------------------------------------------------------------
def _digits(n=96, scale=2, pad=0, seed=None):
    """``n`` digits as ``(n, 8*scale + 2*pad, same, 1)`` float32 images in [0, 1], int labels."""
    d = load_digits()
    order = np.arange(len(d.target))
    idx = order[:n] if seed is None else np.random.default_rng(seed).permutation(order)[:n]
    x = np.kron(d.images[idx] / 16.0, np.ones((scale, scale)))
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))[..., None].astype("float32")
    return x, d.target[idx]


def _same_weights(ours, ref):
    """Copy ``ours``'s weights (chainrule's own initialization) into ``ref``."""
    ref.set_weights(ours.get_weights())
    _assert_weights(ours, ref, rtol=0, atol=0)


def _rel(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)) if b.size else 0.0


def _assert_close(got, want, what, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got, "float64"), np.asarray(want, "float64")
    assert got.shape == want.shape, (what, got.shape, want.shape)
    # relative to the array's scale: a weight near zero is compared at its tensor's size
    scale = max(float(np.abs(want).max()), 1.0) if want.size else 1.0
    err = float(np.abs(got - want).max()) if want.size else 0.0
    _LARGEST[what] = max(_LARGEST.get(what, 0.0), err / scale)
    assert err <= atol + rtol * scale, (
        f"{what}: max |chainrule - keras| = {err:.3g} "
        f"(scale {scale:.3g}, relative {_rel(got, want):.3g})"
    )


def _assert_weights(ours, ref, rtol=RTOL, atol=ATOL):
    ws_ours, ws_ref = ours.get_weights(), ref.get_weights()
    assert len(ws_ours) == len(ws_ref)
    for i, (a, b) in enumerate(zip(ws_ours, ws_ref, strict=True)):
        _assert_close(a, b, f"weight {i} {ref.weights[i].path}", rtol, atol)


def _assert_history(h_ours, h_ref, rtol=RTOL):
    assert sorted(h_ours.history) == sorted(h_ref.history)
    for key in h_ref.history:
        _assert_close(h_ours.history[key], h_ref.history[key], f"history[{key!r}]", rtol)


def _fused_pairs(model):
    """How many fused conv-relu-pool pairs ``model`` holds in its recorded steps."""
    steps = [s for steps in recorded(model).values() for s in steps if s is not None]
    steps = [s[0] if isinstance(s[0], tuple) else s for s in steps]
    return sum(isinstance(s[0], fused_calls.ConvReluPool) for s in steps)


def _both(build, seed=0):
    """``build(K)`` for chainrule and real Keras, with chainrule's weights copied across (the
    two must also agree on the parameter count and every layer's output shape)."""
    chainrule.set_random_seed(seed)
    ours, ref = build(ck), build(tk)
    assert ours.count_params() == ref.count_params()
    assert [la.output.shape for la in ours.layers] == [tuple(la.output.shape) for la in ref.layers]
    _same_weights(ours, ref)
    return ours, ref


# -- 1. "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet) ------------------------
def _mnist_convnet(K, dropout):
    L = K.layers
    return K.Sequential([
        K.Input(shape=(16, 16, 1)),
        L.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Flatten(),
        *([L.Dropout(0.5)] if dropout else []),
        L.Dense(10, activation="softmax"),
    ])  # fmt: skip


def test_simple_mnist_convnet_fit_evaluate_predict():
    """The example as written (categorical labels, adam, accuracy, validation_split), without
    its Dropout: per-epoch losses, accuracies and validation values, final weights,
    evaluate and predict."""
    x, y = _digits(96)
    y = ck.utils.to_categorical(y, 10)
    ours, ref = _both(lambda K: _mnist_convnet(K, dropout=False))
    for m in (ours, ref):
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    kw = dict(batch_size=32, epochs=3, validation_split=0.25, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    assert _fused_pairs(ours) >= 2
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    _assert_close(ours.evaluate(x, y, verbose=0), ref.evaluate(x, y, verbose=0), "evaluate")
    _assert_close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), "predict")


def test_simple_mnist_convnet_with_dropout_at_inference():
    """With the example's Dropout(0.5) the fits draw different masks; what must agree is the
    model at inference: chainrule's trained weights in Keras give the same evaluate, predict
    and ``model(x, training=False)``, and both libraries' training losses go down."""
    x, y = _digits(96)
    y = ck.utils.to_categorical(y, 10)
    ours, ref = _both(lambda K: _mnist_convnet(K, dropout=True))
    for m in (ours, ref):
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    kw = dict(batch_size=32, epochs=4, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    assert h_ours.history["loss"][-1] < h_ours.history["loss"][0]
    assert h_ref.history["loss"][-1] < h_ref.history["loss"][0]
    ref.set_weights(ours.get_weights())
    _assert_close(ours.evaluate(x, y, verbose=0), ref.evaluate(x, y, verbose=0), "evaluate")
    _assert_close(ours.predict(x, batch_size=40, verbose=0),
                  ref.predict(x, batch_size=40, verbose=0), "predict")  # fmt: skip
    _assert_close(ours(x[:10], training=False).numpy(),
                  ref(x[:10], training=False).detach().cpu().numpy(), "call")  # fmt: skip


# -- 2. a functional model: two conv blocks ("same" padding) and a dense head -------------------
def _two_blocks(K):
    L = K.layers
    inputs = K.Input(shape=(16, 16, 1), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(32, activation="relu")(x)
    outputs = L.Dense(10, name="logits")(x)
    return K.Model(inputs, outputs, name="two_blocks")


def test_functional_two_conv_blocks_and_dense_head():
    x, y = _digits(80, seed=1)
    ours, ref = _both(_two_blocks)
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])  # fmt: skip
    x_val, y_val = _digits(32, seed=2)
    kw = dict(batch_size=16, epochs=3, shuffle=False, verbose=0, validation_data=(x_val, y_val))
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    assert _fused_pairs(ours) >= 2
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    _assert_close(ours.predict(x_val, verbose=0), ref.predict(x_val, verbose=0), "predict")
    _assert_close(
        ours.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"],
        ref.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"],
        "evaluate",
    )


# -- 3. Conv2D + BatchNormalization + Activation("relu") + MaxPooling2D, a global-pooling head ---
def _conv_bn(K):
    L = K.layers
    return K.Sequential([
        K.Input((16, 16, 1)),
        L.Conv2D(8, 3, use_bias=False),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", use_bias=False),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.MaxPooling2D(),
        L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
    ])  # fmt: skip


def test_conv_batchnorm_activation_pool_with_global_average_head():
    """Moving statistics, the inference output and the training-mode output (batch
    statistics) too."""
    x, y = _digits(96, seed=3)
    ours, ref = _both(_conv_bn)
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    kw = dict(batch_size=24, epochs=3, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    _assert_close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), "predict")
    _assert_close(ours(x[:16], training=True).numpy(),
                  ref(x[:16], training=True).detach().cpu().numpy(), "training call")  # fmt: skip


# -- 4. separable and depthwise convolutions ---------------------------------------------------
def _separable(K):
    L = K.layers
    inputs = K.Input((16, 16, 1))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = L.SeparableConv2D(16, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.GlobalMaxPooling2D()(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return K.Model(inputs, outputs)


def test_separable_and_depthwise_convolutions():
    x, y = _digits(64, seed=4)
    ours, ref = _both(_separable)
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy")
    kw = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    _assert_close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), "predict")


# -- 5. EarlyStopping on the validation loss, restoring the best weights -----------------------
def test_early_stopping_restores_the_same_best_weights():
    x, y = _digits(64, seed=5)
    x_val, y_val = _digits(32, seed=6)
    ours, ref = _both(lambda K: _mnist_convnet(K, dropout=False))
    hists = []
    for K, m in ((ck, ours), (tk, ref)):
        # a learning rate high enough that the validation loss turns up within a few epochs
        m.compile(optimizer=K.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
        stop = K.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                         restore_best_weights=True)  # fmt: skip
        hists.append(m.fit(x, y, batch_size=16, epochs=12, shuffle=False, verbose=0,
                           validation_data=(x_val, y_val), callbacks=[stop]))  # fmt: skip
        hists[-1].stopped_epoch = stop.stopped_epoch
    h_ours, h_ref = hists
    assert h_ref.stopped_epoch > 0  # the program stops early in Keras
    assert h_ours.stopped_epoch == h_ref.stopped_epoch
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    _assert_close(ours.predict(x_val, verbose=0), ref.predict(x_val, verbose=0), "predict")


# -- 6. model.save("m.keras") then keras.models.load_model, and training on ----------------------
def test_save_load_and_continue_training(tmp_path):
    """Each library saves its trained model and loads it back; the loaded models predict as
    before and, their optimizer state restored, train on to the same numbers."""
    x, y = _digits(64, seed=7)
    ours, ref = _both(_two_blocks)
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer="adam", loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    paths = {"ours": str(tmp_path / "ours" / "m.keras"), "ref": str(tmp_path / "ref" / "m.keras")}
    for key, m in (("ours", ours), ("ref", ref)):
        os.makedirs(os.path.dirname(paths[key]))
        m.save(paths[key])
    ours2, ref2 = ck.models.load_model(paths["ours"]), tk.models.load_model(paths["ref"])
    np.testing.assert_array_equal(ours2.predict(x, verbose=0), ours.predict(x, verbose=0))
    _assert_close(ours2.predict(x, verbose=0), ref2.predict(x, verbose=0), "loaded predict")
    kw = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_ours, h_ref = ours2.fit(x, y, **kw), ref2.fit(x, y, **kw)
    assert _fused_pairs(ours2) >= 1
    _assert_history(h_ours, h_ref)
    _assert_weights(ours2, ref2)


def test_a_keras_file_saved_by_one_library_loads_in_the_other(tmp_path):
    """The ``.keras`` format is Keras's: chainrule loads a file real Keras saved and real
    Keras loads one chainrule saved, with the same predictions."""
    x, _ = _digits(16, seed=8)
    ours, ref = _both(_two_blocks)
    ours.save(str(tmp_path / "ours.keras"))
    ref.save(str(tmp_path / "ref.keras"))
    from_ref = ck.models.load_model(str(tmp_path / "ref.keras"))
    from_ours = tk.models.load_model(str(tmp_path / "ours.keras"))
    want = ref.predict(x, verbose=0)
    _assert_close(from_ref.predict(x, verbose=0), want, "chainrule loading Keras's file")
    _assert_close(from_ours.predict(x, verbose=0), want, "Keras loading chainrule's file")


# -- 7. a model on images of any size: Input((None, None, 1)) -----------------------------------
def _any_size(K):
    L = K.layers
    return K.Sequential([
        K.Input((None, None, 1)),
        L.Conv2D(8, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu", padding="same"),
        L.MaxPooling2D(2, padding="same"),
        L.Conv2D(16, 3, activation="relu", padding="same"),
        L.GlobalAveragePooling2D(),
        L.Dense(10),
    ])  # fmt: skip


@pytest.mark.parametrize("sizes", [(16, 20), (15, 21)], ids=["even", "odd"])
def test_a_model_on_images_of_any_size(sizes):
    """Fit on one size, then predict and evaluate on others (odd sizes: the "valid" pool
    drops a row and the "same" pool pads one)."""
    train_size, other = sizes
    x, y = _digits(64, seed=9)
    x = np.pad(x, ((0, 0), (0, 5), (0, 5), (0, 0)))[:, :train_size, :train_size]
    ours, ref = _both(_any_size)
    assert ours.output_shape == ref.output_shape
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer="adam", loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    kw = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    _assert_history(h_ours, h_ref)
    _assert_weights(ours, ref)
    for size in (train_size, other, 9, 12, 13):
        xs = np.random.default_rng(size).random((5, size, size + 1, 1), dtype=np.float32)
        _assert_close(ours.predict(xs, verbose=0), ref.predict(xs, verbose=0), f"size {size}")
        _assert_close(ours.evaluate(xs, y[:5], verbose=0), ref.evaluate(xs, y[:5], verbose=0),
                      f"evaluate size {size}")  # fmt: skip


# -- 8. one epoch of a moderately sized CNN in both libraries, timed (for information) ----------
def _timed_cnn(K):
    L = K.layers
    return K.Sequential([
        K.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(10),
    ])  # fmt: skip


def test_one_epoch_of_a_moderate_cnn_timed(capsys):
    """28x28 digits (8x8 upsampled 3x and padded), 512 samples, batch 64: the epoch's loss and
    the weights agree; both epochs' times are printed (``pytest -s``), not asserted."""
    x, y = _digits(512, scale=3, pad=2, seed=12)
    ours, ref = _both(_timed_cnn)
    times = {}
    for name, K, m in (("chainrule", ck, ours), ("keras", tk, ref)):
        m.compile(optimizer=K.optimizers.Adam(1e-3),
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        start = time.perf_counter()
        times[name] = (m.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0),
                       time.perf_counter() - start)  # fmt: skip
    assert _fused_pairs(ours) == 2
    _assert_history(times["chainrule"][0], times["keras"][0])
    _assert_weights(ours, ref)
    with capsys.disabled():
        print(f"\none epoch, 512 28x28 images, batch 64: chainrule {times['chainrule'][1]:.2f} s, "
              f"keras 3.15.1 (torch backend) {times['keras'][1]:.2f} s")  # fmt: skip


# -- 9. "Image classification from scratch" (keras.io/examples/vision/image_classification_from_
# scratch): augmentation, Rescaling, BatchNormalization, residual SeparableConv2D blocks with a
# 3x3 "same" max pooling, a global average pooling head with Dropout ------------------------------
def _from_scratch(K, augment):
    L = K.layers
    inputs = K.Input((16, 16, 1))
    x = inputs
    if augment:
        x = K.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)])(x)
    x = L.Rescaling(1.0 / 255)(x)
    x = L.Conv2D(8, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    previous = x
    for size in (8, 16):
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = L.Conv2D(size, 1, strides=2, padding="same")(previous)
        x = L.add([x, residual])
        previous = x
    x = L.GlobalAveragePooling2D()(x)
    if augment:
        x = L.Dropout(0.25)(x)
    outputs = L.Dense(1, activation=None)(x)
    return K.Model(inputs, outputs)


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_image_classification_from_scratch(augment):
    """A binary classifier (digit < 5) on 0-255 pixels. Without augmentation and Dropout the
    fits agree; with them (random in training), chainrule's trained model in Keras gives the
    same inference outputs.

    NOTE: SGD, not the example's Adam: the biases of the convolutions before a
    BatchNormalization have a gradient of exactly 0 in exact arithmetic, which each library
    computes as float32 rounding noise (~1e-7, the same size in both); Adam divides it by its
    own root mean square and moves those biases (and the moving means after them) by up to
    the learning rate per step in directions set by the noise, so the two fits part (1e-2 in
    predict after 12 steps) through no fault of either."""
    x, y = _digits(64, seed=13)
    x, y = x * 255.0, (y < 5).astype("float32")
    ours, ref = _both(lambda K: _from_scratch(K, augment))
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.SGD(0.05, momentum=0.9),
                  loss=K.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[K.metrics.BinaryAccuracy(name="acc")])  # fmt: skip
    kw = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)
    h_ours, h_ref = ours.fit(x, y, **kw), ref.fit(x, y, **kw)
    if augment:
        ref.set_weights(ours.get_weights())
    else:
        _assert_history(h_ours, h_ref)
        _assert_weights(ours, ref)
    _assert_close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), "predict")
    _assert_close(ours.evaluate(x, y, verbose=0), ref.evaluate(x, y, verbose=0), "evaluate")
