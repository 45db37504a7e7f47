"""Fused direct calls (``keras/layers/fused_calls.py``): a Sequential replays each
``Conv2D(relu) -> MaxPooling2D(2)`` pair as one op, and must give the two layers' own
values, gradients and fits bit for bit; pairs that cannot be fused, or that change after
they were recorded, go through the layers' calls. The op itself
(``ops.pooling.conv_relu_max_pool``) is checked against the two ops in
``tests/ops/test_conv_ops.py``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import keras
from chainrule.keras.layers import fused_calls

from ._direct_calls_util import recorded

L = keras.layers


def _images(n=24, size=14, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, size, size, channels)).astype("float32"), rng.integers(0, 3, n)


def _cnn(conv1=None, pool1=None, size=14, channels=2, seed=0):
    """14x14 -> conv 12 -> pool 6 -> conv "same" 6 -> pool "same" 3 (even: no padding)."""
    chainrule.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((size, size, channels)),
        conv1 or L.Conv2D(4, 3, activation="relu"), pool1 or L.MaxPooling2D(2),
        L.Conv2D(6, 3, activation="relu", padding="same"), L.MaxPooling2D(2, padding="same"),
        L.Flatten(), L.Dense(3),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def _pairs(model):
    return [s[0] for steps in recorded(model).values() for s in steps
            if isinstance(s[0], fused_calls.ConvReluPool)]  # fmt: skip


def _fit(model, x, y, epochs=3):
    hist = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)
    return hist.history["loss"], model.get_weights(), model.predict(x, verbose=0)


def _assert_same(a, b):
    losses_a, weights_a, pred_a = a
    losses_b, weights_b, pred_b = b
    assert losses_a == losses_b
    for wa, wb in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(pred_a, pred_b)


@pytest.fixture
def unfused(monkeypatch):
    """Switch the fusion off: every step replays its own layer."""
    from chainrule.keras.models import sequential  # noqa: PLC0415

    def off():
        monkeypatch.setattr(sequential, "fuse_steps", tuple)

    return off


def test_a_fused_fit_equals_the_layers_own_calls_bit_for_bit(unfused):
    x, y = _images()
    x[3, 4:8, 4:8] = 0.0  # flat patches: ties in the pooling windows
    fused_model = _cnn()
    fused = _fit(fused_model, x, y)
    assert len(_pairs(fused_model)) == 4  # both pairs, for predict and for fit
    unfused()
    plain_model = _cnn()
    plain = _fit(plain_model, x, y)
    assert _pairs(plain_model) == []
    _assert_same(fused, plain)


def test_gradients_through_a_fused_pair_equal_the_layers_own(unfused):
    x, _ = _images(n=5)
    x[0, 0, 0, 0] = np.nan  # the backward's non-finite branch

    def grads():
        model = _cnn()
        model(x)  # records the steps
        out = model(chainrule.tensor(x))
        return chainrule.grad(out.sum(), model.trainable_weights), model

    fused, model = grads()
    assert len(_pairs(model)) == 4  # two pairs, for arrays and for Tensors
    unfused()
    plain, _ = grads()
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_array_equal(a, b)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


class _MyConv(L.Conv2D):
    def call(self, inputs):
        return super().call(inputs) * 1.0


@pytest.mark.parametrize("conv1,pool1,size", [
    (L.Conv2D(4, 3, activation="tanh"), None, 14),  # not a relu
    (L.Conv2D(4, 3), None, 14),  # no activation
    (None, L.MaxPooling2D(3), 14),  # a 3x3 pool
    (None, L.MaxPooling2D(2, strides=1), 14),  # stride 1
    (None, L.AveragePooling2D(2), 14),  # average pooling
    (None, L.MaxPooling2D(2, padding="same"), 15),  # "same" on an odd size (13) pads
    (_MyConv(4, 3, activation="relu"), None, 14),  # a subclass with its own call
])  # fmt: skip
def test_pairs_that_cannot_be_fused_are_replayed_layer_by_layer(conv1, pool1, size, unfused):
    x, y = _images(size=size)
    model = _cnn(conv1, pool1, size=size, channels=x.shape[-1])
    got = _fit(model, x, y, epochs=2)
    assert all(pair.conv is not model.layers[0] for pair in _pairs(model))
    unfused()
    fresh = _cnn(type(conv1).from_config(conv1.get_config()) if conv1 else None,
                 type(pool1).from_config(pool1.get_config()) if pool1 else None, size=size,
                 channels=x.shape[-1])  # fmt: skip
    _assert_same(got, _fit(fresh, x, y, epochs=2))


def test_channels_first_pairs_are_not_fused():
    relu = {"activation": "relu"}
    assert fused_calls._fusable(L.Conv2D(4, 3, **relu), L.MaxPooling2D(2), (1, 12, 12, 4))
    first = {"data_format": "channels_first"}
    assert not fused_calls._fusable(L.Conv2D(4, 3, **relu, **first),
                                    L.MaxPooling2D(2, **first), (1, 4, 12, 12))  # fmt: skip


@pytest.mark.parametrize("change", ["activation", "pool_mode", "padding", "call"])
def test_a_pair_changed_after_it_was_recorded_runs_the_layers_again(change):
    x, y = _images()
    model = _cnn()
    _fit(model, x, y, epochs=1)
    assert len(_pairs(model)) == 4  # two pairs, for fit and for predict
    conv, pool = model.layers[0], model.layers[1]
    if change == "activation":
        conv.activation = keras.activations.tanh
    elif change == "pool_mode":
        pool.pool_mode = "average"
    elif change == "padding":
        pool.padding = "same"
    else:
        conv.call = lambda inputs, f=conv.call: f(inputs) * 0.5
    got = model.predict(x, verbose=0)
    ref = x
    for layer in model.layers:
        ref = layer(ref)
    np.testing.assert_array_equal(got, ref.numpy())


# -- functional models ---------------------------------------------------------------------------
def _functional(branch=False, conv_out=False):
    """The CNN of ``_cnn`` as a functional model; ``branch``: the first conv's output also
    feeds a second head; ``conv_out``: it is also a model output."""
    chainrule.set_random_seed(0)
    inp = keras.Input((14, 14, 2))
    c1 = L.Conv2D(4, 3, activation="relu")(inp)
    h = L.MaxPooling2D(2)(c1)
    h = L.MaxPooling2D(2, padding="same")(L.Conv2D(6, 3, activation="relu", padding="same")(h))
    out = L.Dense(3)(L.Flatten()(h))
    if branch:
        out = L.Add()([out, L.Dense(3)(L.GlobalAveragePooling2D()(c1))])
    model = keras.Model(inp, [out, c1] if conv_out else out)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def _functional_pairs(model):
    return [s[0][0] for steps in recorded(model).values() for s in steps
            if s is not None and isinstance(s[0][0], fused_calls.ConvReluPool)]  # fmt: skip


@pytest.mark.parametrize("branch,pairs", [(False, 2), (True, 1)])
def test_a_functional_fit_fuses_pairs_and_equals_the_layers_own_calls(branch, pairs, monkeypatch):
    from chainrule.keras.models import functional  # noqa: PLC0415

    x, y = _images()
    fused_model = _functional(branch)
    fused = _fit(fused_model, x, y)
    # per record (fit's and predict's); with the branch, the first conv's output has a
    # second reader and is computed as usual
    assert len(_functional_pairs(fused_model)) == 2 * pairs
    monkeypatch.setattr(functional, "fuse_node_steps", lambda record, read_once: tuple(record))
    plain_model = _functional(branch)
    plain = _fit(plain_model, x, y)
    assert _functional_pairs(plain_model) == []
    _assert_same(fused, plain)


def test_a_functional_model_whose_output_is_the_conv_output_computes_it():
    x, _ = _images(n=5)
    model = _functional(conv_out=True)
    for _ in range(3):  # the first call records, the later ones replay
        out, c1 = model(x)
    assert len(_functional_pairs(model)) == 1  # the second pair only
    ref = model.layers[1](x)  # the first Conv2D, called on its own
    np.testing.assert_array_equal(c1.numpy(), ref.numpy())
